//! The C ABI (`include/tgvoip.h`, generated from this module by cbindgen).
//!
//! Conventions: every fallible function returns a [`tgvoip_status_t`] and writes its out-params
//! only on success; a failing call sets a thread-local error message
//! ([`tgvoip_last_error_message`]), a successful one clears it; NULL is checked everywhere and
//! every `*_free` accepts NULL; every entry point catches Rust panics (`TGVOIP_E_PANIC`).
//! Controller handles are validated against a registry of live handles, so a double free or a
//! call on a freed handle returns `TGVOIP_E_INVALID_ARGUMENT` instead of touching freed memory
//! (as long as the allocator has not handed the same address to a newer controller).
//!
//! # Safety
//! All functions taking pointers are `unsafe`: pointers must be NULL or valid for the documented
//! length; strings must be NUL-terminated. Library-allocated outputs must be released with the
//! matching `tgvoip_*_free` function.
#![allow(non_camel_case_types, clippy::missing_safety_doc)]

pub mod controller;
pub mod pcm_bridge;
pub mod util;

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Status code returned by every fallible function (`TGVOIP_OK` or a negative `TGVOIP_E_*`).
pub type tgvoip_status_t = i32;
/// Success.
pub const TGVOIP_OK: tgvoip_status_t = 0;
/// A NULL pointer, bad length, bad enum value or unknown/freed handle.
pub const TGVOIP_E_INVALID_ARGUMENT: tgvoip_status_t = -1;
/// Called in the wrong order (e.g. connect before start, start after stop).
pub const TGVOIP_E_INVALID_STATE: tgvoip_status_t = -2;
/// Accepted by libtgvoip 2.4.4 but not implemented by this library.
pub const TGVOIP_E_NOT_SUPPORTED: tgvoip_status_t = -3;
/// A socket or file could not be opened or used.
pub const TGVOIP_E_IO: tgvoip_status_t = -4;
/// Invalid JSON.
pub const TGVOIP_E_PARSE: tgvoip_status_t = -5;
/// `stop`/`free` called from one of the controller's own callbacks (it would deadlock).
pub const TGVOIP_E_WOULD_DEADLOCK: tgvoip_status_t = -6;
/// An output buffer is too small.
pub const TGVOIP_E_BUFFER_TOO_SMALL: tgvoip_status_t = -7;
/// A check failed (DH parameters or g_a/g_b rejected).
pub const TGVOIP_E_CHECK_FAILED: tgvoip_status_t = -8;
/// A Rust panic was caught at the boundary (a library bug).
pub const TGVOIP_E_PANIC: tgvoip_status_t = -98;
/// Unexpected internal failure.
pub const TGVOIP_E_INTERNAL: tgvoip_status_t = -99;

/// ABI major version: bumped (with the soname) on incompatible changes.
pub const TGVOIP_ABI_VERSION_MAJOR: u32 = 3;
/// ABI minor version: bumped when functions or struct fields are appended.
pub const TGVOIP_ABI_VERSION_MINOR: u32 = 1;

/// A failure to report through the status code and the last-error message.
pub(crate) struct FfiError {
    code: tgvoip_status_t,
    msg: String,
}

impl FfiError {
    pub(crate) fn new(code: tgvoip_status_t, msg: impl Into<String>) -> FfiError {
        FfiError {
            code,
            msg: msg.into(),
        }
    }
    pub(crate) fn arg(msg: impl Into<String>) -> FfiError {
        FfiError::new(TGVOIP_E_INVALID_ARGUMENT, msg)
    }
    pub(crate) fn state(msg: impl Into<String>) -> FfiError {
        FfiError::new(TGVOIP_E_INVALID_STATE, msg)
    }
    pub(crate) fn unsupported(msg: impl Into<String>) -> FfiError {
        FfiError::new(TGVOIP_E_NOT_SUPPORTED, msg)
    }
}

impl From<crate::ControllerError> for FfiError {
    fn from(e: crate::ControllerError) -> Self {
        let code = match e {
            crate::ControllerError::InvalidArgument(_) => TGVOIP_E_INVALID_ARGUMENT,
            crate::ControllerError::InvalidState(_) => TGVOIP_E_INVALID_STATE,
            crate::ControllerError::Io(_) => TGVOIP_E_IO,
        };
        FfiError::new(code, e.to_string())
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, FfiError>;

thread_local! {
    static LAST_ERROR: RefCell<(tgvoip_status_t, Option<CString>)> = const { RefCell::new((0, None)) };
    /// The controller whose callback is running on this thread (0 = none).
    static IN_CALLBACK: Cell<usize> = const { Cell::new(0) };
}

fn set_last_error(code: tgvoip_status_t, msg: Option<String>) {
    let msg = msg.map(|m| CString::new(m.replace('\0', " ")).unwrap_or_default());
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = (code, msg));
}

/// Runs an entry point: catches panics, records the error, returns the status.
pub(crate) fn guard(f: impl FnOnce() -> FfiResult) -> tgvoip_status_t {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last_error(TGVOIP_OK, None);
            TGVOIP_OK
        }
        Ok(Err(e)) => {
            set_last_error(e.code, Some(e.msg));
            e.code
        }
        Err(_) => {
            set_last_error(TGVOIP_E_PANIC, Some("internal panic (library bug)".into()));
            TGVOIP_E_PANIC
        }
    }
}

/// Runs an entry point that returns a plain value; `fallback` on panic.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Runs a user callback with the "inside a callback of `controller`" mark set on this thread.
/// Allocation- and lock-free (safe on the audio thread).
pub(crate) fn in_callback<R>(controller: usize, f: impl FnOnce() -> R) -> R {
    let prev = IN_CALLBACK.try_with(|c| c.replace(controller)).unwrap_or(0);
    let r = f();
    let _ = IN_CALLBACK.try_with(|c| c.set(prev));
    r
}

/// Whether this thread is inside a callback of `controller`.
pub(crate) fn inside_callback_of(controller: usize) -> bool {
    IN_CALLBACK
        .try_with(|c| c.get() == controller)
        .unwrap_or(false)
}

/// Writes `value` through `out` after a NULL check.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> FfiResult {
    if out.is_null() {
        return Err(FfiError::arg("output pointer is NULL"));
    }
    out.write(value);
    Ok(())
}

/// Writes a library-allocated copy of `s` to `*out`; checks `out` before allocating, so a NULL
/// out-pointer leaks nothing.
pub(crate) unsafe fn write_string_out(out: *mut *mut c_char, s: &str) -> FfiResult {
    if out.is_null() {
        return Err(FfiError::arg("out is NULL"));
    }
    write_out(out, alloc_string(s))
}

/// A checked byte slice from (ptr, len); NULL is allowed only with len 0.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(FfiError::arg(format!("{what} is NULL")));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// A checked UTF-8 string; `None` for NULL.
pub(crate) unsafe fn opt_str<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(p)
        .to_str()
        .map(Some)
        .map_err(|_| FfiError::arg(format!("{what} is not UTF-8")))
}

/// A checked, non-NULL UTF-8 string.
pub(crate) unsafe fn req_str<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    opt_str(p, what)?.ok_or_else(|| FfiError::arg(format!("{what} is NULL")))
}

/// A library-allocated copy of `s` for the caller (free with `tgvoip_string_free`).
pub(crate) fn alloc_string(s: &str) -> *mut c_char {
    CString::new(s.replace('\0', " "))
        .unwrap_or_default()
        .into_raw()
}

/// Reads a `struct_size`-prefixed struct: the known prefix from `p`, the rest from `default`.
pub(crate) unsafe fn read_sized<T: Copy>(p: *const T, default: T, what: &str) -> FfiResult<T> {
    if p.is_null() {
        return Err(FfiError::arg(format!("{what} is NULL")));
    }
    let size = (p as *const u32).read_unaligned() as usize;
    if size < std::mem::size_of::<u32>() {
        return Err(FfiError::arg(format!(
            "{what}.struct_size must be set (sizeof)"
        )));
    }
    let mut out = default;
    let n = size.min(std::mem::size_of::<T>());
    std::ptr::copy_nonoverlapping(p as *const u8, &mut out as *mut T as *mut u8, n);
    // The caller's size stays visible for later checks.
    Ok(out)
}

/// The status of the last `tgvoip_*` call on this thread that returns a status.
#[no_mangle]
pub extern "C" fn tgvoip_last_error_code() -> tgvoip_status_t {
    LAST_ERROR.try_with(|e| e.borrow().0).unwrap_or(TGVOIP_OK)
}

/// The message of the last failed call on this thread, or NULL if it succeeded. Owned by the
/// library; valid until the next `tgvoip_*` call on the same thread.
#[no_mangle]
pub extern "C" fn tgvoip_last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|e| {
            e.borrow()
                .1
                .as_ref()
                .map_or(std::ptr::null(), |m| m.as_ptr())
        })
        .unwrap_or(std::ptr::null())
}

/// A short static name of a status code ("TGVOIP_OK", "TGVOIP_E_INVALID_ARGUMENT", ...).
#[no_mangle]
pub extern "C" fn tgvoip_status_name(status: tgvoip_status_t) -> *const c_char {
    let s: &'static CStr = match status {
        TGVOIP_OK => c"TGVOIP_OK",
        TGVOIP_E_INVALID_ARGUMENT => c"TGVOIP_E_INVALID_ARGUMENT",
        TGVOIP_E_INVALID_STATE => c"TGVOIP_E_INVALID_STATE",
        TGVOIP_E_NOT_SUPPORTED => c"TGVOIP_E_NOT_SUPPORTED",
        TGVOIP_E_IO => c"TGVOIP_E_IO",
        TGVOIP_E_PARSE => c"TGVOIP_E_PARSE",
        TGVOIP_E_WOULD_DEADLOCK => c"TGVOIP_E_WOULD_DEADLOCK",
        TGVOIP_E_BUFFER_TOO_SMALL => c"TGVOIP_E_BUFFER_TOO_SMALL",
        TGVOIP_E_CHECK_FAILED => c"TGVOIP_E_CHECK_FAILED",
        TGVOIP_E_PANIC => c"TGVOIP_E_PANIC",
        TGVOIP_E_INTERNAL => c"TGVOIP_E_INTERNAL",
        _ => c"TGVOIP_E_UNKNOWN",
    };
    s.as_ptr()
}

/// Frees a string returned by the library. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_string_free(s: *mut c_char) {
    if !s.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(CString::from_raw(s))));
    }
}

/// A byte blob allocated by the library (free with [`tgvoip_bytes_free`]).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tgvoip_bytes_t {
    /// The bytes (NULL when `len` is 0).
    pub data: *mut u8,
    /// Number of bytes.
    pub len: usize,
}

pub(crate) fn alloc_bytes(v: Vec<u8>) -> tgvoip_bytes_t {
    if v.is_empty() {
        return tgvoip_bytes_t {
            data: std::ptr::null_mut(),
            len: 0,
        };
    }
    let b = v.into_boxed_slice();
    let len = b.len();
    tgvoip_bytes_t {
        data: Box::into_raw(b) as *mut u8,
        len,
    }
}

/// Frees the data of a blob returned by the library and resets it to {NULL, 0}. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_bytes_free(bytes: *mut tgvoip_bytes_t) {
    if bytes.is_null() {
        return;
    }
    let b = &mut *bytes;
    if !b.data.is_null() {
        let slice = std::ptr::slice_from_raw_parts_mut(b.data, b.len);
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(slice))));
    }
    b.data = std::ptr::null_mut();
    b.len = 0;
}

/// `(TGVOIP_ABI_VERSION_MAJOR << 16) | TGVOIP_ABI_VERSION_MINOR` of the loaded library.
#[no_mangle]
pub extern "C" fn tgvoip_abi_version() -> u32 {
    (TGVOIP_ABI_VERSION_MAJOR << 16) | TGVOIP_ABI_VERSION_MINOR
}

/// The libtgvoip version this library is compatible with: "2.4.4" (static string).
#[no_mangle]
pub extern "C" fn tgvoip_get_version() -> *const c_char {
    c"2.4.4".as_ptr()
}

/// The version of this implementation (the Rust crate), static string.
#[no_mangle]
pub extern "C" fn tgvoip_impl_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The connection max layer to put in `phoneCallProtocol.max_layer` (92).
#[no_mangle]
pub extern "C" fn tgvoip_get_connection_max_layer() -> i32 {
    crate::wire::CONNECTION_MAX_LAYER
}

/// Monotonic time in seconds (libtgvoip's `GetCurrentTime`).
#[no_mangle]
pub extern "C" fn tgvoip_get_current_time() -> f64 {
    guard_value(0.0, || {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
    })
}

/// Merges a JSON object (`phone.getCallConfig` data) into the process-wide server config (unlike
/// 2.4.4, which replaces it). Affects controllers connected afterwards.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_server_config_update(json: *const c_char) -> tgvoip_status_t {
    guard(|| {
        let json = req_str(json, "json")?;
        crate::server_config::update(json).map_err(|e| FfiError::new(TGVOIP_E_PARSE, e.to_string()))
    })
}

unsafe fn config_key(key: *const c_char) -> Option<String> {
    opt_str(key, "key").ok().flatten().map(str::to_owned)
}

/// An integer server-config value, or `fallback` (also when `key` is NULL).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_server_config_get_int(key: *const c_char, fallback: i32) -> i32 {
    guard_value(fallback, || match config_key(key) {
        Some(k) => crate::server_config::ServerConfig::current().i64(&k, fallback as i64) as i32,
        None => fallback,
    })
}

/// A floating-point server-config value, or `fallback`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_server_config_get_double(key: *const c_char, fallback: f64) -> f64 {
    guard_value(fallback, || match config_key(key) {
        Some(k) => crate::server_config::ServerConfig::current().f64(&k, fallback),
        None => fallback,
    })
}

/// A boolean server-config value, or `fallback`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_server_config_get_bool(key: *const c_char, fallback: bool) -> bool {
    guard_value(fallback, || match config_key(key) {
        Some(k) => crate::server_config::ServerConfig::current().bool(&k, fallback),
        None => fallback,
    })
}

/// A string server-config value (non-string values as JSON text), or a copy of `fallback`
/// (NULL fallback = ""). Free `*out` with `tgvoip_string_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_server_config_get_string(
    key: *const c_char,
    fallback: *const c_char,
    out: *mut *mut c_char,
) -> tgvoip_status_t {
    guard(|| {
        let key = req_str(key, "key")?;
        let fallback = opt_str(fallback, "fallback")?.unwrap_or("");
        if out.is_null() {
            return Err(FfiError::arg("out is NULL"));
        }
        let v = crate::server_config::ServerConfig::current()
            .string(key)
            .unwrap_or_else(|| fallback.to_owned());
        write_out(out, alloc_string(&v))
    })
}

/// Receives library log lines: level is one of 'V','D','I','W','E'; `line` is valid during the
/// call only. Called on any library thread (never the real-time audio thread).
pub type tgvoip_log_cb = Option<
    unsafe extern "C" fn(user_data: *mut std::ffi::c_void, level: c_char, line: *const c_char),
>;

struct LogSink {
    cb: tgvoip_log_cb,
    user: usize,
    level: i32,
}

static LOG: crate::sync::Mutex<LogSink> = crate::sync::Mutex::new(LogSink {
    cb: None,
    user: 0,
    level: 4,
});

/// Installs (or with NULL removes) the process-wide log callback.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_set_log_callback(
    cb: tgvoip_log_cb,
    user_data: *mut std::ffi::c_void,
) {
    guard_value((), || {
        let mut l = LOG.lock();
        l.cb = cb;
        l.user = user_data as usize;
    })
}

/// Sets the log verbosity 0..5 (0 = errors only, 5 = verbose; default 4).
#[no_mangle]
pub extern "C" fn tgvoip_set_log_level(verbosity: i32) {
    guard_value((), || LOG.lock().level = verbosity.clamp(0, 5))
}

/// Sends one line to the log callback (if any, and if `level` passes the verbosity).
pub(crate) fn log(level: u8, line: &str) {
    let rank = match level {
        b'E' => 0,
        b'W' => 1,
        b'I' => 2,
        b'D' => 3,
        _ => 4,
    };
    let (cb, user) = {
        let l = LOG.lock();
        if rank > l.level {
            return;
        }
        (l.cb, l.user)
    };
    if let (Some(cb), Ok(line)) = (cb, CString::new(line)) {
        // SAFETY: the application registered this function for exactly this call.
        unsafe {
            cb(
                user as *mut std::ffi::c_void,
                level as c_char,
                line.as_ptr(),
            )
        };
    }
}

/// libtgvoip's `CryptoFunctions` (eight function pointers, opaque here).
#[repr(C)]
pub struct tgvoip_crypto_functions_t {
    /// Pointers in libtgvoip order: rand_bytes, sha1, sha256, aes_ige_encrypt, aes_ige_decrypt,
    /// aes_ctr_encrypt, aes_cbc_encrypt, aes_cbc_decrypt.
    pub fns: [Option<unsafe extern "C" fn()>; 8],
}

/// Custom crypto is not supported: the library always uses its own audited implementations.
/// Returns `TGVOIP_E_NOT_SUPPORTED` (or `TGVOIP_E_INVALID_ARGUMENT` for NULL).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_set_crypto_functions(
    fns: *const tgvoip_crypto_functions_t,
) -> tgvoip_status_t {
    guard(|| {
        if fns.is_null() {
            return Err(FfiError::arg("fns is NULL"));
        }
        Err(FfiError::unsupported(
            "custom crypto functions are not supported; the built-in ones are used",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_a_status_and_errors_a_message() {
        assert_eq!(guard(|| panic!("boom")), TGVOIP_E_PANIC);
        assert_eq!(tgvoip_last_error_code(), TGVOIP_E_PANIC);
        assert!(!tgvoip_last_error_message().is_null());
        assert_eq!(guard(|| Err(FfiError::arg("x"))), TGVOIP_E_INVALID_ARGUMENT);
        assert_eq!(guard(|| Ok(())), TGVOIP_OK);
        assert!(tgvoip_last_error_message().is_null());
    }
}
