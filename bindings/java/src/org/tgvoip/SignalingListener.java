package org.tgvoip;

/**
 * Receives the outgoing signaling of a tgcalls call (protocol 8.0.0 / 9.0.0) on the library's
 * callback thread, in order: send each blob unchanged with {@code phone.sendSignalingData}.
 */
@FunctionalInterface
public interface SignalingListener {
    /** One signaling blob (non-empty; the array is the listener's to keep). */
    void onSignalingData(byte[] data);
}
