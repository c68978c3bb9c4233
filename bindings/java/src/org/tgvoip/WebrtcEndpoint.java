package org.tgvoip;

/** A STUN/TURN server from signalling ({@code phoneConnectionWebrtc}), for tgcalls calls. */
public final class WebrtcEndpoint {
    /** Server id. */
    public final long id;
    /** IPv4 address ("" = none). */
    public final String ipv4;
    /** IPv6 address ("" = none). */
    public final String ipv6;
    /** UDP port. */
    public final int port;
    /** Usable as a TURN relay. */
    public final boolean turn;
    /** Usable as a STUN server. */
    public final boolean stun;
    /** TURN username. */
    public final String username;
    /** TURN password. */
    public final String password;

    /** A server; null strings count as "". */
    public WebrtcEndpoint(long id, String ipv4, String ipv6, int port, boolean turn, boolean stun,
            String username, String password) {
        this.id = id;
        this.ipv4 = ipv4 == null ? "" : ipv4;
        this.ipv6 = ipv6 == null ? "" : ipv6;
        this.port = port;
        this.turn = turn;
        this.stun = stun;
        this.username = username == null ? "" : username;
        this.password = password == null ? "" : password;
    }
}
