package org.tgvoip;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.telegram.messenger.voip.Resampler;
import org.telegram.messenger.voip.VoIPController;
import org.telegram.messenger.voip.VoIPServerConfig;
import org.telegram.tgnet.TLRPC;

/**
 * The Java binding's tests, run with plain {@code java} (no test framework): two controllers
 * call each other through tgvoip-reflector (wifi profile), each recording must hold the other's
 * speech (PESQ-WB >= 3.0), states, stats, misuse, and the Telegram-compatible surface. Prints
 * one line per check and closes with "N passed, N failed"; exit status 1 on any failure.
 *
 * <p>Properties: {@code tgvoip.root} (repository root), {@code tgvoip.shared} (shared data dir),
 * {@code tgvoip.python} (python with the scoring venv).
 */
public final class CallTest {
    private static int passed;
    private static int failed;

    private CallTest() {}

    private static void check(String name, boolean ok, String detail) {
        if (ok) {
            passed++;
            System.out.println("PASS " + name + (detail.isEmpty() ? "" : ": " + detail));
        } else {
            failed++;
            System.out.println("FAIL " + name + (detail.isEmpty() ? "" : ": " + detail));
        }
    }

    private interface Body {
        void run() throws Exception;
    }

    private static void test(String name, Body body) {
        System.out.println("== " + name);
        try {
            body.run();
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            check(name + " (no unexpected exception)", false, t.toString());
        }
    }

    /** Runs {@code r} and checks it throws {@code type}. */
    private static void expectThrows(String name, Class<? extends Throwable> type, Body r) {
        try {
            r.run();
            check(name, false, "no exception");
        } catch (Throwable t) {
            check(name, type.isInstance(t), t.toString());
        }
    }

    static byte[] testKey() {
        byte[] k = new byte[256];
        for (int i = 0; i < k.length; i++) {
            k[i] = (byte) (i * 7 + 3);
        }
        return k;
    }

    static short[] readPcm(Path p) throws IOException {
        byte[] b = Files.readAllBytes(p);
        short[] s = new short[b.length / 2];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(s);
        return s;
    }

    static void writePcm(Path p, short[] s, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
        b.asShortBuffer().put(s, 0, n);
        Files.write(p, b.array());
    }

    static double pesq(Path ref, Path deg) throws Exception {
        String root = System.getProperty("tgvoip.root");
        Process p = new ProcessBuilder(System.getProperty("tgvoip.python"),
                root + "/tests/quality/score.py", "--ref", ref.toString(), "--deg", deg.toString(), "--json")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        Matcher m = Pattern.compile("\"pesq_wb\"\\s*:\\s*([0-9.]+)").matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("score.py said: " + out);
        }
        return Double.parseDouble(m.group(1));
    }

    /** The reflector process and its address. */
    static final class Reflector implements AutoCloseable {
        final Process process;
        final String host;
        final int port;

        Reflector(String profile) throws IOException {
            String bin = System.getProperty("tgvoip.root") + "/target/release/tgvoip-reflector";
            process = new ProcessBuilder(bin, "--listen", "127.0.0.1:0", "--profile", profile, "--seed", "1")
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8));
            String line = r.readLine();
            if (line == null || !line.startsWith("listening on ")) {
                throw new IOException("reflector said " + line);
            }
            String addr = line.substring("listening on ".length()).trim();
            int colon = addr.lastIndexOf(':');
            host = addr.substring(0, colon);
            port = Integer.parseInt(addr.substring(colon + 1));
            Thread drain = new Thread(() -> {
                try {
                    while (r.readLine() != null) {
                        // discard
                    }
                } catch (IOException e) {
                    // reflector gone
                }
            });
            drain.setDaemon(true);
            drain.start();
        }

        @Override
        public void close() {
            process.destroy();
        }
    }

    static Controller peer(Reflector relay, int tagLast, boolean caller) {
        Controller c = new Controller();
        c.setConfig(10, 20, VoIPController.DATA_SAVING_NEVER);
        c.setEncryptionKey(testKey(), caller);
        byte[] tag = "0123456789abcde_".getBytes(StandardCharsets.US_ASCII);
        tag[15] = (byte) tagLast;
        c.setRemoteEndpoints(List.of(new Endpoint(42, relay.host, "", relay.port, tag)));
        c.setNetworkType(VoIPController.NET_TYPE_WIFI);
        return c;
    }

    static boolean inOrder(List<CallState> states, CallState... want) {
        int i = 0;
        for (CallState s : states) {
            if (i < want.length && s == want[i]) {
                i++;
            }
        }
        return i == want.length;
    }

    /** The call: caller with Java audio callbacks, callee with native file I/O. */
    static void callThroughReflector() throws Exception {
        Path shared = Path.of(System.getProperty("tgvoip.shared"), "samples");
        Path callerSample = shared.resolve("sample05_14ae7b1886265e54e7f2c83d67eb802e.pcm");
        Path calleeSample = shared.resolve("sample05_44823b5704b026f2930ad862576bef3c.pcm");
        short[] mic = readPcm(callerSample);
        Path dir = Files.createTempDirectory("tgvoip-java");
        Path calleeOut = dir.resolve("callee_heard.pcm");
        Path callerOut = dir.resolve("caller_heard.pcm");
        short[] heard = new short[mic.length + 48000 * 15];
        AtomicInteger micPos = new AtomicInteger();
        AtomicInteger heardPos = new AtomicInteger();
        AtomicBoolean established = new AtomicBoolean();
        AtomicInteger bars = new AtomicInteger(-1);
        List<CallState> callerStates = new ArrayList<>();
        List<CallState> calleeStates = new ArrayList<>();
        AtomicInteger listenerThrows = new AtomicInteger();
        try (Reflector relay = new Reflector("wifi");
                Controller caller = peer(relay, 0, true);
                Controller callee = peer(relay, 1, false)) {
            caller.setStateListener(s -> {
                synchronized (callerStates) {
                    callerStates.add(s);
                }
                if (s == CallState.ESTABLISHED) {
                    established.set(true);
                }
            });
            caller.setSignalBarsListener(bars::set);
            // The callee's listener throws: the exception is printed and dropped on the library
            // thread, never crossing into Rust; the call goes on.
            callee.setStateListener(s -> {
                synchronized (calleeStates) {
                    calleeStates.add(s);
                }
                if (s == CallState.ESTABLISHED) {
                    listenerThrows.incrementAndGet();
                    throw new RuntimeException("deliberate exception from a listener (expected in the log)");
                }
            });
            // Real-time side: pre-allocated arrays, no allocation per chunk.
            caller.setAudio(buf -> {
                if (!established.get()) {
                    return;
                }
                int p = micPos.get();
                int n = Math.max(0, Math.min(buf.length, mic.length - p));
                System.arraycopy(mic, p, buf, 0, n);
                micPos.set(p + n);
            }, buf -> {
                int p = heardPos.get();
                int n = Math.max(0, Math.min(buf.length, heard.length - p));
                System.arraycopy(buf, 0, heard, p, n);
                heardPos.set(p + n);
            });
            callee.setNativeIO(true);
            callee.setOutputFile(calleeOut.toString());

            caller.start();
            callee.start();
            caller.connect();
            callee.connect();
            long deadline = System.currentTimeMillis() + 10_000;
            while (!(caller.getState() == CallState.ESTABLISHED && callee.getState() == CallState.ESTABLISHED)) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("not established: caller " + caller.getState() + ", callee "
                            + callee.getState());
                }
                Thread.sleep(50);
            }
            callee.play(calleeSample.toString());
            Thread.sleep(mic.length * 1000L / 48000 + 2000);
            caller.stop();
            callee.stop();

            synchronized (callerStates) {
                check("caller states WAIT_INIT_ACK then ESTABLISHED",
                        inOrder(callerStates, CallState.WAIT_INIT_ACK, CallState.ESTABLISHED)
                                && !callerStates.contains(CallState.FAILED), callerStates.toString());
            }
            synchronized (calleeStates) {
                check("callee states WAIT_INIT_ACK then ESTABLISHED",
                        inOrder(calleeStates, CallState.WAIT_INIT_ACK, CallState.ESTABLISHED)
                                && !calleeStates.contains(CallState.FAILED), calleeStates.toString());
            }
            check("listener exception did not break the call", listenerThrows.get() >= 1,
                    listenerThrows.get() + " thrown");
            for (Controller c : List.of(caller, callee)) {
                TrafficStats st = c.getStats();
                check("stats non-zero", st.bytesSentWifi > 10000 && st.bytesRecvdWifi > 10000, st.toString());
                check("call duration", c.getCallDuration() > 3, c.getCallDuration() + " s");
                check("debug log", c.getDebugLog().startsWith("{"), "");
            }
            check("signal bars reported", bars.get() >= 0, "bars " + bars.get());
            check("caller sent its sample", micPos.get() == mic.length, micPos.get() + " of " + mic.length);
            writePcm(callerOut, heard, heardPos.get());
        }
        double pCaller = pesq(calleeSample, callerOut);
        double pCallee = pesq(callerSample, calleeOut);
        check("PESQ-WB caller heard callee >= 3.0", pCaller >= 3.0, String.format("%.2f", pCaller));
        check("PESQ-WB callee heard caller >= 3.0", pCallee >= 3.0, String.format("%.2f", pCallee));
        System.out.printf("PESQ-WB: caller heard callee %.2f, callee heard caller %.2f%n", pCaller, pCallee);
    }

    /** Misuse is an exception, never a crash. */
    static void misuse() {
        Controller c = new Controller();
        expectThrows("255-byte key -> IllegalArgumentException", IllegalArgumentException.class,
                () -> c.setEncryptionKey(new byte[255], true));
        expectThrows("null key -> IllegalArgumentException", IllegalArgumentException.class,
                () -> c.setEncryptionKey(null, true));
        expectThrows("no endpoints -> IllegalArgumentException", IllegalArgumentException.class,
                () -> c.setRemoteEndpoints(List.of()));
        expectThrows("bad network type -> IllegalArgumentException", IllegalArgumentException.class,
                () -> c.setNetworkType(99));
        c.setEncryptionKey(testKey(), true);
        c.start();
        expectThrows("connect without endpoints -> IllegalStateException", IllegalStateException.class,
                c::connect);
        try {
            c.connect();
        } catch (IllegalStateException e) {
            check("exception carries the library message", e.getMessage().contains("endpoint"), e.getMessage());
        }
        c.close();
        c.close();
        expectThrows("use after close -> IllegalStateException", IllegalStateException.class, c::start);
        expectThrows("getState after close -> IllegalStateException", IllegalStateException.class, c::getState);
    }

    /** The Telegram-compatible classes directly. */
    static void telegramSurface() {
        check("version", "2.4.4".equals(VoIPController.getVersion()) && "2.4.4".equals(Controller.version()),
                VoIPController.getVersion());
        check("connection max layer", VoIPController.getConnectionMaxLayer() == 92, "");
        List<Integer> states = new ArrayList<>();
        VoIPController v = new VoIPController() {
            @Override
            protected void handleStateChange(int state) {
                states.add(state);
            }
        };
        check("nativeInit reports WAIT_INIT synchronously", states.equals(List.of(1)), states.toString());
        VoIPController.Stats stats = new VoIPController.Stats();
        stats.bytesSentWifi = -1;
        v.getStats(stats);
        check("getStats fills the Stats fields", stats.bytesSentWifi == 0, stats.toString());
        v.setConfig(20, 30, VoIPController.DATA_SAVING_NEVER, true, true, true, null, null, false);
        v.setProxy("127.0.0.1", 1080, "u", "p"); // SOCKS5 is accepted before start
        v.debugCtl(1, 1);
        v.setAudioOutputGainControlEnabled(true);
        v.setEchoCancellationStrength(1);
        VoIPController.nativeSetNativeBufferSize(960);
        check("getLastError", v.getLastError() == VoIPController.ERROR_UNKNOWN, "");
        check("needRate", !v.needRate(), "");
        check("getDebugString", v.getDebugString() != null, "");
        expectThrows("empty endpoint array -> IllegalArgumentException", IllegalArgumentException.class,
                () -> v.setRemoteEndpoints(new TLRPC.TL_phoneConnection[0], false, false, 92));
        v.setRemoteEndpoints(new TLRPC.TL_phoneConnection[] {
                new TLRPC.TL_phoneConnection(1, "127.0.0.1", "", 1234, null)}, false, false, 92);
        check("endpoint with null peer_tag accepted", true, "");
        expectThrows("bad port -> IllegalArgumentException", IllegalArgumentException.class,
                () -> v.setRemoteEndpoints(new TLRPC.TL_phoneConnection[] {
                        new TLRPC.TL_phoneConnection(1, "127.0.0.1", "", 70000, new byte[16])}, false, false, 92));
        v.release();
        expectThrows("release twice -> IllegalStateException", IllegalStateException.class, v::release);

        VoIPServerConfig.setConfig("{\"audio_max_bitrate\": 20000}");
        VoIPServerConfig.setConfig("{not json"); // logged, like libtgvoip
        check("server config accepted", true, "");

        ByteBuffer in = ByteBuffer.allocateDirect(441 * 2).order(ByteOrder.nativeOrder());
        for (int i = 0; i < 441; i++) {
            in.putShort((short) (i * 10));
        }
        ByteBuffer out = ByteBuffer.allocateDirect(480 * 2).order(ByteOrder.nativeOrder());
        int n = Resampler.convert44to48(in, out);
        check("Resampler.convert44to48", n == 480 && out.getShort(0) == 0 && out.getShort(2 * 479) > 4000,
                n + " samples");
        ByteBuffer back = ByteBuffer.allocateDirect(441 * 2).order(ByteOrder.nativeOrder());
        check("Resampler.convert48to44", Resampler.convert48to44(out, back) == 441, "");
    }

    /** nativeInit loads and nativeRelease saves the persistent state file. */
    static void persistentState() throws IOException {
        Path f = Files.createTempFile("tgvoip-state", ".json");
        Files.delete(f);
        new VoIPController(f.toString()).release();
        String saved = Files.exists(f) ? Files.readString(f) : "";
        check("release writes the persistent state file", saved.contains("ver"), saved);
        new VoIPController(f.toString()).release(); // loads it again
        Files.writeString(f, "garbage");
        new VoIPController(f.toString()).release(); // a bad file is ignored
        check("a bad persistent state file is ignored", Files.readString(f).contains("ver"), "");
        Files.deleteIfExists(f);
    }

    /** Entry point: runs every test; exit status 1 if any check failed. */
    public static void main(String[] args) {
        NativeLoader.load();
        System.out.println("tgvoip " + Controller.version() + " (tgvoip-rs " + Controller.implVersion() + ")");
        test("telegram surface", CallTest::telegramSurface);
        test("persistent state", CallTest::persistentState);
        test("misuse", CallTest::misuse);
        test("call through reflector", CallTest::callThroughReflector);
        System.out.println("java: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
