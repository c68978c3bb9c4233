package org.tgvoip;

/** Receives signal strength changes (0..4) on the library's callback thread. */
@FunctionalInterface
public interface SignalBarsListener {
    /** The new number of bars. */
    void onSignalBarsChanged(int bars);
}
