package org.tgvoip;

/** Receives connection state changes on the library's callback thread (in order). */
@FunctionalInterface
public interface StateListener {
    /** The new state (a {@link CallState} value; a state may repeat). */
    void onStateChanged(CallState state);
}
