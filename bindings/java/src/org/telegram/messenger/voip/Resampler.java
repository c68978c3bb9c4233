package org.telegram.messenger.voip;

import java.nio.ByteBuffer;

/** Telegram Android's {@code Resampler}: linear 44.1 kHz / 48 kHz conversion of int16 PCM. */
public class Resampler {
    private Resampler() {}

    /** Converts direct buffers of int16 samples; returns the samples written. */
    public static native int convert44to48(ByteBuffer from, ByteBuffer to);

    /** Converts direct buffers of int16 samples; returns the samples written. */
    public static native int convert48to44(ByteBuffer from, ByteBuffer to);
}
