//! Regenerates `include/tgvoip.h` with the pinned cbindgen and fails on any difference.
//! `TGVOIP_BLESS=1 cargo test --release --test c_header` rewrites the checked-in header.

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        // Only src/ffi is the C surface; the rest of the crate's constants stay out of the header.
        .with_src(root.join("src/ffi/mod.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen");
    let mut out = Vec::new();
    bindings.write(&mut out);
    let path = root.join("include/tgvoip.h");
    if std::env::var_os("TGVOIP_BLESS").is_some() {
        std::fs::write(&path, &out).expect("write header");
        return;
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == out,
        "include/tgvoip.h is stale: run TGVOIP_BLESS=1 cargo test --release --test c_header"
    );
}
