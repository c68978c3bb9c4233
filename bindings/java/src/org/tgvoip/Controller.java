package org.tgvoip;

import java.util.List;
import org.telegram.messenger.voip.VoIPController;
import org.telegram.tgnet.TLRPC;

/**
 * One call, built on the Telegram-compatible {@link VoIPController}. Use try-with-resources:
 * {@link #close()} stops the call and frees the native controller (it is not freed by the
 * garbage collector). Misuse throws {@link IllegalArgumentException} (bad argument, e.g. a key
 * that is not 256 bytes) or {@link IllegalStateException} (wrong order, e.g. connect without
 * endpoints, or any call after close), with the library's message. Listeners and audio
 * callbacks run on library threads; an exception thrown there is printed and dropped.
 *
 * <pre>{@code
 * try (Controller c = new Controller()) {
 *     c.setEncryptionKey(key, true);
 *     c.setRemoteEndpoints(List.of(new Endpoint(1, "127.0.0.1", "", port, tag)));
 *     c.setStateListener(s -> System.out.println(s));
 *     c.setAudio(buf -> mic.read(buf), buf -> speaker.write(buf));
 *     c.start();
 *     c.connect();
 *     ...
 * }
 * }</pre>
 */
public final class Controller implements AutoCloseable {
    /** The Telegram-compatible controller, dispatching its up-calls to our listeners. */
    private static final class Peer extends VoIPController {
        volatile StateListener stateListener;
        volatile SignalBarsListener barsListener;

        long handle() {
            ensureNativeInstance();
            return nativeInst;
        }

        boolean released() {
            return nativeInst == 0;
        }

        @Override
        protected void handleStateChange(int state) {
            super.handleStateChange(state);
            StateListener l = stateListener;
            CallState s = CallState.of(state);
            if (l != null && s != null) {
                l.onStateChanged(s);
            }
        }

        @Override
        protected void handleSignalBarsChange(int count) {
            super.handleSignalBarsChange(count);
            SignalBarsListener l = barsListener;
            if (l != null) {
                l.onSignalBarsChanged(count);
            }
        }
    }

    private final Peer peer;

    /** A new controller (loads the library on first use). */
    public Controller() {
        NativeLoader.load();
        peer = new Peer();
    }

    /** The libtgvoip version this library is compatible with ("2.4.4"). */
    public static String version() {
        NativeLoader.load();
        return VoIPController.getVersion();
    }

    /** The version of the Rust implementation. */
    public static String implVersion() {
        NativeLoader.load();
        return Native.implVersion();
    }

    /** The layer for {@code phoneCallProtocol.max_layer} (92). */
    public static int connectionMaxLayer() {
        NativeLoader.load();
        return VoIPController.getConnectionMaxLayer();
    }

    /** Merges {@code phone.getCallConfig} JSON into the process-wide server config. */
    public static void updateServerConfig(String json) {
        NativeLoader.load();
        org.telegram.messenger.voip.VoIPServerConfig.setConfig(json);
    }

    /** The Telegram-compatible controller underneath (for its remaining methods). */
    public VoIPController voipController() {
        return peer;
    }

    /** Sets timeouts in seconds and the data saving mode ({@code VoIPController.DATA_SAVING_*}). */
    public void setConfig(double initTimeoutSeconds, double recvTimeoutSeconds, int dataSaving) {
        peer.setConfig(recvTimeoutSeconds, initTimeoutSeconds, dataSaving, false, false, false, null, null, false);
    }

    /** Sets the 256-byte call key and whether this side is the caller. */
    public void setEncryptionKey(byte[] key, boolean isOutgoing) {
        peer.setEncryptionKey(key, isOutgoing);
    }

    /** Sets the UDP relays (at least one). */
    public void setRemoteEndpoints(List<Endpoint> endpoints) {
        if (endpoints == null || endpoints.isEmpty()) {
            throw new IllegalArgumentException("tgvoip: at least one endpoint is needed");
        }
        TLRPC.TL_phoneConnection[] eps = new TLRPC.TL_phoneConnection[endpoints.size()];
        for (int i = 0; i < eps.length; i++) {
            Endpoint e = endpoints.get(i);
            eps[i] = new TLRPC.TL_phoneConnection(e.id, e.ipv4, e.ipv6, e.port, e.peerTag);
        }
        peer.setRemoteEndpoints(eps, false, false, VoIPController.getConnectionMaxLayer());
    }

    /** Sets the network type ({@code VoIPController.NET_TYPE_*}). */
    public void setNetworkType(int type) {
        peer.setNetworkType(type);
    }

    /** Mutes or unmutes the microphone. */
    public void setMicMute(boolean mute) {
        peer.setMicMute(mute);
    }

    /**
     * Sets the state listener. Unlike libtgvoip (which reports WAIT_INIT at construction) it hears
     * only later changes.
     */
    public void setStateListener(StateListener listener) {
        peer.stateListener = listener;
    }

    /** Sets the signal bars listener. */
    public void setSignalBarsListener(SignalBarsListener listener) {
        peer.barsListener = listener;
    }

    /**
     * Sets the audio callbacks (either may be null: silence in / output dropped). Before
     * {@link #connect()}. They run on the real-time audio thread: see {@link AudioSource}.
     */
    public void setAudio(AudioSource source, AudioSink sink) {
        Native.setAudioCallbacks(peer.handle(), source, sink);
    }

    /**
     * Native file I/O instead of the audio callbacks: the play queue is the microphone, heard
     * audio goes to the output file; no Java code runs on the audio thread.
     */
    public void setNativeIO(boolean enabled) {
        Native.setNativeIO(peer.handle(), enabled);
    }

    /** Appends a raw PCM file (s16le, 48 kHz, mono) to the play queue (native I/O). */
    public void play(String path) {
        Native.play(peer.handle(), path);
    }

    /** Writes what is heard to {@code path} (native I/O). */
    public void setOutputFile(String path) {
        Native.setOutputFile(peer.handle(), path);
    }

    /**
     * The protocol versions this library speaks, best first ("9.0.0", "8.0.0", "2.4.4"): put them
     * all into {@code phoneCallProtocol.library_versions}.
     */
    public static String[] supportedVersions() {
        NativeLoader.load();
        return Native.supportedVersions();
    }

    /**
     * Sets the version the server chose ({@code phoneCall.protocol.library_versions[0]}): "9.0.0"
     * or "8.0.0" run a tgcalls call, "2.4.4" (default) a libtgvoip one. Before {@link #start()}.
     */
    public void setProtocolVersion(String version) {
        Native.setProtocolVersion(peer.handle(), version);
    }

    /** The protocol version in use. */
    public String getProtocolVersion() {
        return Native.getProtocolVersion(peer.handle());
    }

    /** The {@code phoneConnectionWebrtc} servers of a tgcalls call (empty: direct paths only). */
    public void setWebrtcEndpoints(List<WebrtcEndpoint> endpoints) {
        int n = endpoints == null ? 0 : endpoints.size();
        long[] ids = new long[n];
        String[] v4 = new String[n];
        String[] v6 = new String[n];
        int[] ports = new int[n];
        boolean[] turn = new boolean[n];
        boolean[] stun = new boolean[n];
        String[] users = new String[n];
        String[] passwords = new String[n];
        for (int i = 0; i < n; i++) {
            WebrtcEndpoint e = endpoints.get(i);
            ids[i] = e.id;
            v4[i] = e.ipv4;
            v6[i] = e.ipv6;
            ports[i] = e.port;
            turn[i] = e.turn;
            stun[i] = e.stun;
            users[i] = e.username;
            passwords[i] = e.password;
        }
        Native.setWebrtcEndpoints(peer.handle(), ids, v4, v6, ports, turn, stun, users, passwords);
    }

    /** Receives outgoing tgcalls signaling (null removes it). Before {@link #connect()}. */
    public void setSignalingListener(SignalingListener listener) {
        Native.setSignalingListener(peer.handle(), listener);
    }

    /** Feeds {@code updatePhoneCallSignalingData.data}; any time before stop (kept until the call runs). */
    public void receiveSignalingData(byte[] data) {
        Native.receiveSignalingData(peer.handle(), data);
    }

    /** The peer's mute flag (tgcalls calls), or null until it is known. */
    public Boolean getRemoteMicMuted() {
        int v = Native.getRemoteMicMuted(peer.handle());
        return v < 0 ? null : Boolean.valueOf(v == 1);
    }

    /** Milliseconds from connect until media connected (tgcalls calls), -1 before. */
    public long getMediaConnectTimeMs() {
        return Native.getMediaConnectTimeMs(peer.handle());
    }

    /** RTP audio packets {sent, received} (tgcalls calls). */
    public long[] getRtpPacketCounts() {
        return Native.getRtpPacketCounts(peer.handle());
    }

    /** Opens the socket (once, before {@link #connect()}). */
    public void start() {
        peer.start();
    }

    /** Starts the handshake, audio and network (once; key and endpoints set). */
    public void connect() {
        peer.connect();
    }

    /** Ends the call (idempotent); afterwards no listener or audio callback runs, getters work. */
    public void stop() {
        Native.stop(peer.handle());
    }

    /** The connection state. */
    public CallState getState() {
        return CallState.of(Native.getState(peer.handle()));
    }

    /** Why the call failed ({@code VoIPController.ERROR_*}). */
    public int getLastError() {
        return peer.getLastError();
    }

    /** Signal bars 0..4. */
    public int getSignalBars() {
        return Native.getSignalBars(peer.handle());
    }

    /** Seconds since the call became established (frozen at stop). */
    public double getCallDuration() {
        return Native.getCallDuration(peer.handle());
    }

    /** Mean round-trip time in seconds (999 before any measurement). */
    public double getAverageRtt() {
        return Native.getAverageRtt(peer.handle());
    }

    /** The traffic counters. */
    public TrafficStats getStats() {
        VoIPController.Stats s = new VoIPController.Stats();
        peer.getStats(s);
        return new TrafficStats(s.bytesSentWifi, s.bytesRecvdWifi, s.bytesSentMobile, s.bytesRecvdMobile);
    }

    /** The debug log JSON. */
    public String getDebugLog() {
        return peer.getDebugLog();
    }

    /** Stops the call and frees the native controller; idempotent. */
    @Override
    public void close() {
        synchronized (peer) {
            if (!peer.released()) {
                peer.release();
            }
        }
    }
}
