package org.tgvoip;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Protocol choice and tgcalls signaling through the Java API. {@code main()} runs the checks that
 * need no network; {@code main("pair")} (run by run-tests.sh inside ctests/in_netns.sh, a network
 * namespace with a dummy interface) makes a 9.0.0 call between two controllers in this process,
 * their signaling wired to each other. Prints one line per check; exit status 1 on any failure.
 */
public final class TgcallsTest {
    private static int passed;
    private static int failed;

    private TgcallsTest() {}

    private static void check(String name, boolean ok, String detail) {
        if (ok) {
            passed++;
        } else {
            failed++;
        }
        System.out.println((ok ? "PASS " : "FAIL ") + name + (detail.isEmpty() ? "" : ": " + detail));
    }

    private interface Body {
        void run() throws Exception;
    }

    private static void expectThrows(String name, Class<? extends Throwable> type, String msgPart, Body r) {
        try {
            r.run();
            check(name, false, "no exception");
        } catch (Throwable t) {
            String m = String.valueOf(t.getMessage());
            check(name, type.isInstance(t) && m.contains(msgPart), t.toString());
        }
    }

    static byte[] key() {
        byte[] k = new byte[256];
        for (int i = 0; i < k.length; i++) {
            k[i] = (byte) ((i * 37 + 11) % 256);
        }
        return k;
    }

    static void api() {
        check("supported versions best first",
                Arrays.equals(Controller.supportedVersions(), new String[] {"9.0.0", "8.0.0", "2.4.4"}),
                Arrays.toString(Controller.supportedVersions()));
        try (Controller c = new Controller()) {
            check("default protocol 2.4.4", c.getProtocolVersion().equals("2.4.4"), c.getProtocolVersion());
            for (String v : new String[] {"9.0.0", "8.0.0", "2.4.4", "9.0.0"}) {
                c.setProtocolVersion(v);
                check("set protocol " + v, c.getProtocolVersion().equals(v), c.getProtocolVersion());
            }
            expectThrows("junk version -> IllegalArgumentException", IllegalArgumentException.class,
                    "unsupported protocol version", () -> c.setProtocolVersion("1.2.3"));
            expectThrows("null version -> IllegalArgumentException", IllegalArgumentException.class,
                    "NULL", () -> c.setProtocolVersion(null));
            c.setWebrtcEndpoints(Arrays.asList(
                    new WebrtcEndpoint(1, "192.0.2.10", "", 3478, true, true, "u", "p"),
                    new WebrtcEndpoint(2, "", "2001:db8::1", 443, false, true, null, null)));
            check("webrtc endpoints accepted", true, "");
            c.setWebrtcEndpoints(Collections.<WebrtcEndpoint>emptyList());
            expectThrows("endpoint without address", IllegalArgumentException.class, "no address",
                    () -> c.setWebrtcEndpoints(List.of(new WebrtcEndpoint(3, "", "", 1, true, false, "", ""))));
            expectThrows("endpoint port 0", IllegalArgumentException.class, "port 0",
                    () -> c.setWebrtcEndpoints(List.of(new WebrtcEndpoint(3, "192.0.2.1", "", 0, true, false, "", ""))));
            expectThrows("endpoint port 70000", IllegalArgumentException.class, "out of range",
                    () -> c.setWebrtcEndpoints(List.of(new WebrtcEndpoint(3, "192.0.2.1", "", 70000, true, false, "", ""))));
            c.setSignalingListener(d -> { });
            c.receiveSignalingData(new byte[] {1, 2, 3});
            check("signaling kept before start", true, "");
            expectThrows("empty signaling", IllegalArgumentException.class, "empty",
                    () -> c.receiveSignalingData(new byte[0]));
            check("remote mute unknown", c.getRemoteMicMuted() == null, String.valueOf(c.getRemoteMicMuted()));
            check("no media connect time", c.getMediaConnectTimeMs() == -1, "" + c.getMediaConnectTimeMs());
            check("no rtp", Arrays.equals(c.getRtpPacketCounts(), new long[] {0, 0}), "");
            c.stop();
            expectThrows("signaling after stop", IllegalStateException.class, "stopped",
                    () -> c.receiveSignalingData(new byte[] {1}));
        }
        try (Controller c = new Controller()) {
            c.start(); // 2.4.4 binds on any machine
            expectThrows("protocol after start -> IllegalStateException", IllegalStateException.class,
                    "before start", () -> c.setProtocolVersion("9.0.0"));
        }
    }

    static void pair() throws InterruptedException {
        AtomicInteger fromA = new AtomicInteger(), fromB = new AtomicInteger(), errors = new AtomicInteger();
        try (Controller a = new Controller(); Controller b = new Controller()) {
            String v = Controller.supportedVersions()[0];
            a.setProtocolVersion(v);
            b.setProtocolVersion(v);
            a.setEncryptionKey(key(), true);
            b.setEncryptionKey(key(), false);
            a.setSignalingListener(d -> {
                fromA.incrementAndGet();
                try {
                    b.receiveSignalingData(d);
                } catch (RuntimeException e) {
                    errors.incrementAndGet();
                }
            });
            b.setSignalingListener(d -> {
                fromB.incrementAndGet();
                try {
                    a.receiveSignalingData(d);
                } catch (RuntimeException e) {
                    errors.incrementAndGet();
                }
            });
            a.setMicMute(true);
            a.start();
            a.connect();
            b.start();
            b.connect();
            long deadline = System.currentTimeMillis() + 20000;
            while (System.currentTimeMillis() < deadline) {
                if (a.getState() == CallState.ESTABLISHED && b.getState() == CallState.ESTABLISHED
                        && a.getRtpPacketCounts()[1] > 10 && Boolean.TRUE.equals(b.getRemoteMicMuted())) {
                    break;
                }
                Thread.sleep(20);
            }
            check("both established", a.getState() == CallState.ESTABLISHED && b.getState() == CallState.ESTABLISHED,
                    a.getState() + "/" + b.getState());
            check("media connect time", a.getMediaConnectTimeMs() >= 0 && b.getMediaConnectTimeMs() >= 0,
                    a.getMediaConnectTimeMs() + "/" + b.getMediaConnectTimeMs() + " ms");
            Thread.sleep(200); // the sender's counter may lag the receiver's
            check("rtp flows from b to muted a", a.getRtpPacketCounts()[1] > 10 && b.getRtpPacketCounts()[0] > 10,
                    Arrays.toString(a.getRtpPacketCounts()) + " " + Arrays.toString(b.getRtpPacketCounts()));
            check("remote mute", Boolean.TRUE.equals(b.getRemoteMicMuted()) && Boolean.FALSE.equals(a.getRemoteMicMuted()),
                    a.getRemoteMicMuted() + "/" + b.getRemoteMicMuted());
            a.stop();
            b.stop();
            check("signaling both ways", fromA.get() > 0 && fromB.get() > 0 && errors.get() == 0,
                    fromA.get() + "/" + fromB.get() + " blobs, " + errors.get() + " errors");
        }
    }

    /** Entry point: "pair" for the call in a network namespace, else the API checks. */
    public static void main(String[] args) throws Exception {
        NativeLoader.load();
        if (args.length > 0 && args[0].equals("pair")) {
            pair();
        } else {
            api();
        }
        System.out.println("java tgcalls: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }
}
