package org.tgvoip;

/**
 * The microphone: called on the library's real-time audio thread every 20 ms. Fill {@code buf}
 * (960 samples of 16-bit 48 kHz mono PCM, reused between calls) and return quickly: no blocking,
 * no locks shared with the thread that closes the controller, ideally no allocation.
 */
@FunctionalInterface
public interface AudioSource {
    /** Fills {@code buf} with the next 20 ms of audio (leave it unchanged for silence). */
    void read(short[] buf);
}
