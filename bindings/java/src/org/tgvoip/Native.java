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
}
