package org.telegram.messenger.voip;

/** Telegram Android's {@code VoIPServerConfig}: the process-wide server config. */
public class VoIPServerConfig {
    private VoIPServerConfig() {}

    /** Merges {@code phone.getCallConfig} JSON into the server config (bad JSON is logged). */
    public static void setConfig(String json) {
        nativeSetConfig(json);
    }

    private static native void nativeSetConfig(String json);
}
