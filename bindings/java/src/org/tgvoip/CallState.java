package org.tgvoip;

/** Connection states (libtgvoip's {@code STATE_*}). */
public enum CallState {
    /** Created, not connected yet. */
    WAIT_INIT(1),
    /** Handshake sent, waiting for the peer. */
    WAIT_INIT_ACK(2),
    /** Audio flows. */
    ESTABLISHED(3),
    /** The call failed (see {@link Controller#getLastError()}). */
    FAILED(4),
    /** Packets stopped arriving; trying to recover. */
    RECONNECTING(5);

    /** The libtgvoip value. */
    public final int value;

    CallState(int value) {
        this.value = value;
    }

    /** The state for a libtgvoip value ({@code null} if unknown). */
    public static CallState of(int value) {
        for (CallState s : values()) {
            if (s.value == value) {
                return s;
            }
        }
        return null;
    }
}
