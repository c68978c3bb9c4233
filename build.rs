//! Gives the shared library the soname `libtgvoip.so.<ABI major>` (api.md 7.5: `.so.3`, so binaries
//! built against libtgvoip's C++ ABI never load it by accident).

/// Must match `TGVOIP_ABI_VERSION_MAJOR` in src/ffi and `TGVOIP_ABI_MAJOR` in CMakeLists.txt.
const ABI_MAJOR: u32 = 3;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtgvoip.so.{ABI_MAJOR}");
    }
}
