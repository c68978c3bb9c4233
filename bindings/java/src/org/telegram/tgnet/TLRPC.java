package org.telegram.tgnet;

/**
 * The part of Telegram Android's {@code TLRPC} that the native side reads: the relay endpoint
 * ({@code phoneConnection}). In an Android app the app's own {@code TLRPC} class is used instead.
 */
public class TLRPC {
    /** A relay endpoint from {@code phoneCall.connections}. */
    public static class TL_phoneConnection {
        /** Endpoint id. */
        public long id;
        /** IPv4 address. */
        public String ip;
        /** IPv6 address ("" = none). */
        public String ipv6;
        /** UDP port. */
        public int port;
        /** The 16-byte relay peer tag. */
        public byte[] peer_tag;

        /** An empty endpoint; fill the fields. */
        public TL_phoneConnection() {}

        /** An endpoint with every field. */
        public TL_phoneConnection(long id, String ip, String ipv6, int port, byte[] peerTag) {
            this.id = id;
            this.ip = ip;
            this.ipv6 = ipv6;
            this.port = port;
            this.peer_tag = peerTag;
        }
    }
}
