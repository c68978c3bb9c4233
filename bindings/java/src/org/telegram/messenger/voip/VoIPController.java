package org.telegram.messenger.voip;

import org.telegram.tgnet.TLRPC;

/**
 * Telegram Android's {@code VoIPController}: the same class name, native methods, signatures and
 * up-calls ({@code handleStateChange(I)V}, {@code handleSignalBarsChange(I)V}) as libtgvoip's JNI
 * surface, so code written for libtgvoip works against tgvoip-rs. The natives are registered by
 * {@code tgvoipRegisterNatives} (Android: from the app's {@code JNI_OnLoad}) or by
 * {@link org.tgvoip.NativeLoader#load()}. Misuse (bad key length, no endpoints, wrong order)
 * throws {@link IllegalArgumentException} or {@link IllegalStateException}.
 */
public class VoIPController {
    /** Network types ({@code NET_TYPE_*}). */
    public static final int NET_TYPE_UNKNOWN = 0, NET_TYPE_GPRS = 1, NET_TYPE_EDGE = 2, NET_TYPE_3G = 3,
            NET_TYPE_HSPA = 4, NET_TYPE_LTE = 5, NET_TYPE_WIFI = 6, NET_TYPE_ETHERNET = 7,
            NET_TYPE_OTHER_HIGH_SPEED = 8, NET_TYPE_OTHER_LOW_SPEED = 9, NET_TYPE_DIALUP = 10,
            NET_TYPE_OTHER_MOBILE = 11;
    /** Data saving modes ({@code DATA_SAVING_*}). */
    public static final int DATA_SAVING_NEVER = 0, DATA_SAVING_MOBILE = 1, DATA_SAVING_ALWAYS = 2;
    /** Call errors ({@code ERROR_*}). */
    public static final int ERROR_UNKNOWN = 0, ERROR_INCOMPATIBLE = 1, ERROR_TIMEOUT = 2, ERROR_AUDIO_IO = 3,
            ERROR_PROXY = 4;
    /** Connection states ({@code STATE_*}). */
    public static final int STATE_WAIT_INIT = 1, STATE_WAIT_INIT_ACK = 2, STATE_ESTABLISHED = 3, STATE_FAILED = 4,
            STATE_RECONNECTING = 5;

    /** The native handle (0 after {@link #release()}). */
    protected long nativeInst;
    /** {@link System#currentTimeMillis()} when the call first became established (0 before). */
    protected long callStartTime;
    /** Receives state and signal changes. */
    protected ConnectionStateListener listener;

    /** A controller without a persistent state file. */
    public VoIPController() {
        this(null);
    }

    /**
     * A controller whose persistent state is loaded from and saved to {@code persistentStateFile}
     * (may be null). Reports {@code STATE_WAIT_INIT} right away (to a subclass's
     * {@link #handleStateChange}).
     */
    public VoIPController(String persistentStateFile) {
        nativeInst = nativeInit(persistentStateFile);
    }

    /** Opens the socket. */
    public void start() {
        ensureNativeInstance();
        nativeStart(nativeInst);
    }

    /** Starts the handshake. */
    public void connect() {
        ensureNativeInstance();
        nativeConnect(nativeInst);
    }

    /** Sets the 256-byte call key and whether this side is the caller. */
    public void setEncryptionKey(byte[] key, boolean isOutgoing) {
        ensureNativeInstance();
        nativeSetEncryptionKey(nativeInst, key, isOutgoing);
    }

    /** Sets the relays (UDP, or TCP if {@code tcp}). */
    public void setRemoteEndpoints(TLRPC.TL_phoneConnection[] endpoints, boolean allowP2p, boolean tcp,
            int connectionMaxLayer) {
        if (endpoints == null || endpoints.length == 0) {
            throw new IllegalArgumentException("endpoints size is 0");
        }
        for (TLRPC.TL_phoneConnection endpoint : endpoints) {
            if (endpoint.ip == null || endpoint.ip.length() == 0) {
                throw new IllegalArgumentException("endpoint " + endpoint + " has empty/null ipv4");
            }
            if (endpoint.peer_tag != null && endpoint.peer_tag.length != 16) {
                throw new IllegalArgumentException("peer_tag must be null or 16 bytes long");
            }
        }
        ensureNativeInstance();
        nativeSetRemoteEndpoints(nativeInst, endpoints, allowP2p, tcp, connectionMaxLayer);
    }

    /** Mutes or unmutes the microphone. */
    public void setMicMute(boolean mute) {
        ensureNativeInstance();
        nativeSetMicMute(nativeInst, mute);
    }

    /** Stops the call, saves the persistent state and frees the native controller. */
    public void release() {
        ensureNativeInstance();
        nativeRelease(nativeInst);
        nativeInst = 0;
    }

    /** The debug log JSON. */
    public String getDebugLog() {
        ensureNativeInstance();
        return nativeGetDebugLog(nativeInst);
    }

    /** Throws {@link IllegalStateException} after {@link #release()}. */
    protected void ensureNativeInstance() {
        if (nativeInst == 0) {
            throw new IllegalStateException("Native instance is not valid");
        }
    }

    /** Sets the listener for state and signal changes. */
    public void setConnectionStateListener(ConnectionStateListener connectionStateListener) {
        listener = connectionStateListener;
    }

    /** Up-call from the library's callback thread. */
    protected void handleStateChange(int state) {
        if (state == STATE_ESTABLISHED && callStartTime == 0) {
            callStartTime = System.currentTimeMillis();
        }
        if (listener != null) {
            listener.onConnectionStateChanged(state);
        }
    }

    /** Up-call from the library's callback thread. */
    protected void handleSignalBarsChange(int count) {
        if (listener != null) {
            listener.onSignalBarCountChanged(count);
        }
    }

    /** Sets the network type ({@code NET_TYPE_*}). */
    public void setNetworkType(int type) {
        ensureNativeInstance();
        nativeSetNetworkType(nativeInst, type);
    }

    /** Milliseconds since the call became established (0 before). */
    public long getCallDuration() {
        return callStartTime == 0 ? 0 : System.currentTimeMillis() - callStartTime;
    }

    /** Stored only. */
    public void setAudioOutputGainControlEnabled(boolean enabled) {
        ensureNativeInstance();
        nativeSetAudioOutputGainControlEnabled(nativeInst, enabled);
    }

    /** Stored only (no echo canceller). */
    public void setEchoCancellationStrength(int strength) {
        ensureNativeInstance();
        nativeSetEchoCancellationStrength(nativeInst, strength);
    }

    /** SOCKS5 proxy with optional username/password; before start. */
    public void setProxy(String address, int port, String username, String password) {
        ensureNativeInstance();
        if (address == null) {
            throw new NullPointerException("address can't be null");
        }
        nativeSetProxy(nativeInst, address, port, username, password);
    }

    /** Timeouts (seconds), data saving and the DSP flags (stored; no DSP in tgvoip-rs). */
    public void setConfig(double recvTimeout, double initTimeout, int dataSavingOption, boolean enableAec,
            boolean enableNs, boolean enableAgc, String logFilePath, String statsDumpFilePath,
            boolean logPacketStats) {
        ensureNativeInstance();
        nativeSetConfig(nativeInst, recvTimeout, initTimeout, dataSavingOption, enableAec, enableNs, enableAgc,
                logFilePath, statsDumpFilePath, logPacketStats);
    }

    /** libtgvoip's {@code DebugCtl} (not supported requests are logged). */
    public void debugCtl(int request, int param) {
        ensureNativeInstance();
        nativeDebugCtl(nativeInst, request, param);
    }

    /** The preferred relay id. */
    public long getPreferredRelayID() {
        ensureNativeInstance();
        return nativeGetPreferredRelayID(nativeInst);
    }

    /** Why the call failed ({@code ERROR_*}). */
    public int getLastError() {
        ensureNativeInstance();
        return nativeGetLastError(nativeInst);
    }

    /** Fills {@code stats} with the traffic counters. */
    public void getStats(Stats stats) {
        ensureNativeInstance();
        if (stats == null) {
            throw new NullPointerException("You're not supposed to pass null here");
        }
        nativeGetStats(nativeInst, stats);
    }

    /** "2.4.4". */
    public static String getVersion() {
        return nativeGetVersion();
    }

    /** The human-readable debug text. */
    public String getDebugString() {
        ensureNativeInstance();
        return nativeGetDebugString(nativeInst);
    }

    /** The peer's {@code PEER_CAP_*} bits. */
    public int getPeerCapabilities() {
        ensureNativeInstance();
        return nativeGetPeerCapabilities(nativeInst);
    }

    /** Group calls are not supported (logged and ignored). */
    public void sendGroupCallKey(byte[] key) {
        if (key == null || key.length != 256) {
            throw new IllegalArgumentException("key must be 256 bytes long");
        }
        ensureNativeInstance();
        nativeSendGroupCallKey(nativeInst, key);
    }

    /** Group calls are not supported (logged and ignored). */
    public void requestCallUpgrade() {
        ensureNativeInstance();
        nativeRequestCallUpgrade(nativeInst);
    }

    /** Whether to ask the user to rate the call. */
    public boolean needRate() {
        ensureNativeInstance();
        return nativeNeedRate(nativeInst);
    }

    private native long nativeInit(String persistentStateFile);

    private native void nativeStart(long inst);

    private native void nativeConnect(long inst);

    private native void nativeSetProxy(long inst, String address, int port, String username, String password);

    private native void nativeSetEncryptionKey(long inst, byte[] key, boolean isOutgoing);

    private native void nativeSetRemoteEndpoints(long inst, TLRPC.TL_phoneConnection[] endpoints, boolean allowP2p,
            boolean tcp, int connectionMaxLayer);

    /** OpenSL ES buffer size (no effect in tgvoip-rs). */
    public static native void nativeSetNativeBufferSize(int size);

    private native void nativeRelease(long inst);

    private native String nativeGetDebugString(long inst);

    private native void nativeSetNetworkType(long inst, int type);

    private native void nativeSetMicMute(long inst, boolean mute);

    private native void nativeSetConfig(long inst, double recvTimeout, double initTimeout, int dataSavingOption,
            boolean enableAEC, boolean enableNS, boolean enableAGC, String logFilePath, String statsDumpPath,
            boolean logPacketStats);

    private native void nativeDebugCtl(long inst, int request, int param);

    private static native String nativeGetVersion();

    private native long nativeGetPreferredRelayID(long inst);

    private native int nativeGetLastError(long inst);

    private native void nativeGetStats(long inst, Stats stats);

    private native String nativeGetDebugLog(long inst);

    private native void nativeSetAudioOutputGainControlEnabled(long inst, boolean enabled);

    private native void nativeSetEchoCancellationStrength(long inst, int strength);

    private native int nativeGetPeerCapabilities(long inst);

    private native void nativeSendGroupCallKey(long inst, byte[] key);

    private native void nativeRequestCallUpgrade(long inst);

    private native boolean nativeNeedRate(long inst);

    /** The layer for {@code phoneCallProtocol.max_layer} (92). */
    public static native int getConnectionMaxLayer();

    /** Traffic counters, filled by {@link #getStats}. */
    public static class Stats {
        /** Bytes sent on Wi-Fi and other non-mobile networks. */
        public long bytesSentWifi;
        /** Bytes received on non-mobile networks. */
        public long bytesRecvdWifi;
        /** Bytes sent on mobile networks. */
        public long bytesSentMobile;
        /** Bytes received on mobile networks. */
        public long bytesRecvdMobile;

        @Override
        public String toString() {
            return "Stats{sentWifi=" + bytesSentWifi + ", recvdWifi=" + bytesRecvdWifi + ", sentMobile="
                    + bytesSentMobile + ", recvdMobile=" + bytesRecvdMobile + '}';
        }
    }

    /** Receives connection state and signal strength changes (on the library's callback thread). */
    public interface ConnectionStateListener {
        /** A {@code STATE_*} value (may repeat). */
        void onConnectionStateChanged(int newState);

        /** Signal bars 0..4. */
        void onSignalBarCountChanged(int newCount);
    }
}
