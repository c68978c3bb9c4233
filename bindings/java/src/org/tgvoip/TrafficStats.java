package org.tgvoip;

/** Traffic counters of a call. */
public final class TrafficStats {
    /** Bytes sent on non-mobile networks. */
    public final long bytesSentWifi;
    /** Bytes received on non-mobile networks. */
    public final long bytesRecvdWifi;
    /** Bytes sent on mobile networks. */
    public final long bytesSentMobile;
    /** Bytes received on mobile networks. */
    public final long bytesRecvdMobile;

    TrafficStats(long sentWifi, long recvdWifi, long sentMobile, long recvdMobile) {
        bytesSentWifi = sentWifi;
        bytesRecvdWifi = recvdWifi;
        bytesSentMobile = sentMobile;
        bytesRecvdMobile = recvdMobile;
    }

    @Override
    public String toString() {
        return "TrafficStats{sentWifi=" + bytesSentWifi + ", recvdWifi=" + bytesRecvdWifi + ", sentMobile="
                + bytesSentMobile + ", recvdMobile=" + bytesRecvdMobile + '}';
    }
}
