package org.tgvoip;

/**
 * The speaker: called on the library's real-time audio thread every 20 ms with the audio to play
 * (960 samples of 16-bit 48 kHz mono PCM in an array reused between calls: copy what you keep).
 * Same rules as {@link AudioSource}.
 */
@FunctionalInterface
public interface AudioSink {
    /** Receives the next 20 ms of the far end's audio. */
    void write(short[] buf);
}
