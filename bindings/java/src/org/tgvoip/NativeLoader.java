package org.tgvoip;

/**
 * Loads {@code libtgvoip} (built with the Cargo feature {@code jni}) and registers its natives
 * for plain Java programs: Telegram's {@code org.telegram.messenger.voip} classes and
 * {@link Native}. The library is found on {@code java.library.path}, or at the path in the
 * system property {@code tgvoip.library} if set. Android apps call {@code tgvoipRegisterNatives}
 * from their own {@code JNI_OnLoad} instead.
 */
public final class NativeLoader {
    private static boolean loaded;

    private NativeLoader() {}

    /** Loads and registers once; later calls do nothing. */
    public static synchronized void load() {
        if (loaded) {
            return;
        }
        String path = System.getProperty("tgvoip.library");
        if (path != null && !path.isEmpty()) {
            System.load(path);
        } else {
            System.loadLibrary("tgvoip");
        }
        if (!nativeRegister()) {
            throw new UnsatisfiedLinkError("tgvoip: registering natives failed");
        }
        loaded = true;
    }

    private static native boolean nativeRegister();
}
