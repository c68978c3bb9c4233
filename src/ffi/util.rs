//! C entry points for the call-setup helpers of [`crate::util`].

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::*;
use crate::util;

fn dh(e: util::DhError) -> FfiError {
    FfiError::new(TGVOIP_E_CHECK_FAILED, e.to_string())
}

unsafe fn key256<'a>(p: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if len != 256 {
        return Err(FfiError::arg(format!(
            "{what} must be exactly 256 bytes (zero-padded big-endian), got {len}"
        )));
    }
    bytes(p, len, what)
}

/// The TL `key_fingerprint` of a 256-byte key: SHA-1(key)[12..20] as a little-endian int64.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_util_key_fingerprint(
    key: *const u8,
    len: usize,
    out: *mut i64,
) -> tgvoip_status_t {
    guard(|| {
        let key = key256(key, len, "key")?;
        write_out(out, util::key_fingerprint(key))
    })
}

/// SHA-256 of `g_a` (256 bytes) into `out[32]` (`g_a_hash` of `phone.requestCall`).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_util_g_a_hash(
    g_a: *const u8,
    len: usize,
    out: *mut u8,
) -> tgvoip_status_t {
    guard(|| {
        let g_a = key256(g_a, len, "g_a")?;
        if out.is_null() {
            return Err(FfiError::arg("out is NULL"));
        }
        let h = util::g_a_hash(g_a);
        std::ptr::copy_nonoverlapping(h.as_ptr(), out, 32);
        Ok(())
    })
}

/// The four key-verification emoji indices (0..332) for a call: `key` and the caller's `g_a`,
/// both 256 bytes. Writes `out[4]`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_util_emoji_indices(
    key: *const u8,
    key_len: usize,
    g_a: *const u8,
    g_a_len: usize,
    out: *mut u16,
) -> tgvoip_status_t {
    guard(|| {
        let key = key256(key, key_len, "key")?;
        let g_a = key256(g_a, g_a_len, "g_a")?;
        if out.is_null() {
            return Err(FfiError::arg("out is NULL"));
        }
        let idx = util::emoji_indices(key, g_a);
        std::ptr::copy_nonoverlapping(idx.as_ptr(), out, 4);
        Ok(())
    })
}

/// Number of entries in the emoji table (333).
pub const TGVOIP_EMOJI_COUNT: u16 = 333;
/// Emoji table: the official strings (what Telegram apps show).
pub const TGVOIP_EMOJI_TABLE_OFFICIAL: i32 = 0;
/// Emoji table: pytgvoip's strings (differ at 57 and 301..=310).
pub const TGVOIP_EMOJI_TABLE_PYTGVOIP: i32 = 1;

struct CTables {
    official: Vec<CString>,
    pytgvoip: Vec<CString>,
    names: Vec<CString>,
}

fn tables() -> &'static CTables {
    static T: OnceLock<CTables> = OnceLock::new();
    T.get_or_init(|| {
        let c = |s: &str| CString::new(s).unwrap_or_default();
        CTables {
            official: util::EMOJI.iter().map(|e| c(e.0)).collect(),
            pytgvoip: util::EMOJI.iter().map(|e| c(e.1)).collect(),
            names: util::EMOJI.iter().map(|e| c(e.2)).collect(),
        }
    })
}

/// The UTF-8 emoji at `index` from `table` (`TGVOIP_EMOJI_TABLE_*`); static string, NULL if
/// either is out of range.
#[no_mangle]
pub extern "C" fn tgvoip_util_emoji(index: u16, table: i32) -> *const c_char {
    guard_value(std::ptr::null(), || {
        let t = tables();
        let v = match table {
            TGVOIP_EMOJI_TABLE_OFFICIAL => &t.official,
            TGVOIP_EMOJI_TABLE_PYTGVOIP => &t.pytgvoip,
            _ => return std::ptr::null(),
        };
        v.get(index as usize)
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// The emoji's name at `index` (e.g. "CACTUS"); static string, NULL if out of range.
#[no_mangle]
pub extern "C" fn tgvoip_util_emoji_name(index: u16) -> *const c_char {
    guard_value(std::ptr::null(), || {
        tables()
            .names
            .get(index as usize)
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// The four official emoji of a call joined by spaces (free with `tgvoip_string_free`).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_util_emoji_string(
    key: *const u8,
    key_len: usize,
    g_a: *const u8,
    g_a_len: usize,
    out: *mut *mut c_char,
) -> tgvoip_status_t {
    guard(|| {
        let key = key256(key, key_len, "key")?;
        let g_a = key256(g_a, g_a_len, "g_a")?;
        write_out(out, alloc_string(&util::emoji(key, g_a).join(" ")))
    })
}

/// Checks `messages.getDhConfig` parameters: 2 <= g <= 7, p 2048 bits with g's residue rule and,
/// if `test_primality`, p and (p-1)/2 prime (Miller-Rabin; instant for Telegram's known prime).
/// `TGVOIP_E_CHECK_FAILED` with a message when rejected.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_util_check_dh_config(
    g: i32,
    p: *const u8,
    p_len: usize,
    test_primality: bool,
) -> tgvoip_status_t {
    guard(|| {
        let p = bytes(p, p_len, "p")?;
        util::check_dh_config(g, p, test_primality).map_err(dh)
    })
}

/// Checks g_a or g_b against p: 1 < g_x < p-1 and 2^1984 < g_x < p - 2^1984.
/// `TGVOIP_E_CHECK_FAILED` when rejected.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_util_check_g_x(
    g_x: *const u8,
    len: usize,
    p: *const u8,
    p_len: usize,
) -> tgvoip_status_t {
    guard(|| {
        let g_x = bytes(g_x, len, "g_x")?;
        let p = bytes(p, p_len, "p")?;
        util::check_g_x(g_x, p).map_err(dh)
    })
}
