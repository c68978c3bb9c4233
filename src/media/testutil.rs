//! Test helpers shared by the media unit tests: loading the real speech samples.

use std::path::PathBuf;

/// Directory holding the shared fixtures (`TGVOIP_SHARED_DIR`, else `../shared` or `../../shared`
/// relative to the crate).
pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TGVOIP_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for up in ["../shared", "../../shared"] {
        let p = manifest.join(up);
        if p.join("samples").is_dir() {
            return p;
        }
    }
    panic!("shared fixtures not found; set TGVOIP_SHARED_DIR");
}

/// Loads the first sample whose file name starts with `prefix` (s16le 48 kHz mono).
pub fn load_sample(prefix: &str) -> Vec<i16> {
    let dir = shared_dir().join("samples");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("samples dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    names.sort();
    let bytes = std::fs::read(names.first().expect("sample present")).expect("read sample");
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}
