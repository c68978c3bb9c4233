package org.tgvoip;

/** Natives beyond Telegram's surface, used by {@link Controller}; {@code handle} is the controller's. */
final class Native {
    private Native() {}

    static native void setAudioCallbacks(long handle, AudioSource source, AudioSink sink);

    static native void setNativeIO(long handle, boolean enabled);

    static native void play(long handle, String path);

    static native void setOutputFile(long handle, String path);

    static native void stop(long handle);

    static native int getState(long handle);

    static native int getSignalBars(long handle);

    static native double getCallDuration(long handle);

    static native double getAverageRtt(long handle);

    static native String implVersion();

    static native String[] supportedVersions();

    static native void setProtocolVersion(long handle, String version);

    static native String getProtocolVersion(long handle);

    static native void setWebrtcEndpoints(long handle, long[] ids, String[] ipv4, String[] ipv6, int[] ports,
            boolean[] turn, boolean[] stun, String[] usernames, String[] passwords);

    static native void setSignalingListener(long handle, SignalingListener listener);

    static native void receiveSignalingData(long handle, byte[] data);

    static native int getRemoteMicMuted(long handle);

    static native long getMediaConnectTimeMs(long handle);

    static native long[] getRtpPacketCounts(long handle);
}
