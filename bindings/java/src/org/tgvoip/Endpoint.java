package org.tgvoip;

/** A relay endpoint from signalling ({@code phoneConnection}). */
public final class Endpoint {
    /** Endpoint id. */
    public final long id;
    /** IPv4 address. */
    public final String ipv4;
    /** IPv6 address ("" = none). */
    public final String ipv6;
    /** UDP port. */
    public final int port;
    /** The 16-byte relay peer tag. */
    public final byte[] peerTag;

    /** An endpoint; {@code peerTag} must be 16 bytes. */
    public Endpoint(long id, String ipv4, String ipv6, int port, byte[] peerTag) {
        this.id = id;
        this.ipv4 = ipv4;
        this.ipv6 = ipv6 == null ? "" : ipv6;
        this.port = port;
        this.peerTag = peerTag.clone();
    }
}
