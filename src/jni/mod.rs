//! JNI entry points (Cargo feature `jni`): Telegram Android's native `VoIPController` surface
//! (spec api.md section 4) and the extra natives of `bindings/java` (`org.tgvoip.Native`).
//!
//! `tgvoipRegisterNatives(JNIEnv*)` registers, like libtgvoip's `tg_voip_jni.cpp`, the natives of
//! `org/telegram/messenger/voip/VoIPController` (required), `VoIPServerConfig` and `Resampler`
//! (when those classes exist) with `RegisterNatives`; Android apps call it from their own
//! `JNI_OnLoad`. `Java_org_tgvoip_NativeLoader_nativeRegister` does the same for plain Java
//! programs (after `System.loadLibrary("tgvoip")`) and also registers `org.tgvoip.Native`.
//!
//! Everything goes through the C ABI functions of [`crate::ffi`], so Java sees the same checks
//! and messages as C. Java handles are registry ids (never raw pointers): a released or bogus
//! handle throws `IllegalStateException` instead of touching freed memory. Failures throw
//! `IllegalArgumentException` (bad argument), `IllegalStateException` (wrong order),
//! `RuntimeException` (I/O and the rest); calls that libtgvoip accepts silently but this library
//! does not implement (SOCKS5, group calls, `debugCtl`, TCP relays) are logged, not thrown, so
//! Android code written for libtgvoip keeps working. Up-calls attach the library's threads to the
//! JVM (as daemons); a Java exception thrown by an up-call is printed and cleared there, so it
//! never crosses into Rust. Panics are caught at every entry point.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use jni::objects::{
    GlobalRef, JByteArray, JByteBuffer, JClass, JMethodID, JObject, JObjectArray, JShortArray,
    JString, JValue,
};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jboolean, jdouble, jint, jlong, jvalue, JNI_FALSE, JNI_TRUE};
use jni::{JNIEnv, JavaVM, NativeMethod};

use crate::ffi::controller::*;
use crate::ffi::*;
use crate::sync::Mutex;

mod tgcalls;

/// libtgvoip's `TGVOIP_PACKAGE_PATH`.
pub const PACKAGE_PATH: &str = "org/telegram/messenger/voip";
/// libtgvoip's `TGVOIP_ENDPOINT_CLASS` (its fields are read by `nativeSetRemoteEndpoints`).
pub const ENDPOINT_CLASS: &str = "org/telegram/tgnet/TLRPC$TL_phoneConnection";
/// libtgvoip's `TGVOIP_PEER_TAG_VARIABLE_NAME`.
pub const PEER_TAG_FIELD: &str = "peer_tag";
/// The class with this library's extra natives (audio callbacks, native file I/O, getters).
pub const EXTRAS_CLASS: &str = "org/tgvoip/Native";

/// Largest persistent-state file `nativeInit` loads (libtgvoip: 512 KiB).
const MAX_STATE_FILE: u64 = 512 * 1024;

/// A Java exception has been thrown (or was already pending): return to Java.
struct Thrown;

type JResult<T> = Result<T, Thrown>;

/// Turns a `jni` error into a pending Java exception.
fn jerr(env: &mut JNIEnv, e: jni::errors::Error) -> Thrown {
    if !env.exception_check().unwrap_or(true) {
        let _ = env.throw_new("java/lang/RuntimeException", format!("tgvoip JNI: {e}"));
    }
    Thrown
}

trait OrThrow<T> {
    fn or_throw(self, env: &mut JNIEnv) -> JResult<T>;
}

impl<T> OrThrow<T> for jni::errors::Result<T> {
    fn or_throw(self, env: &mut JNIEnv) -> JResult<T> {
        self.map_err(|e| jerr(env, e))
    }
}

fn throw(env: &mut JNIEnv, class: &str, msg: &str) -> Thrown {
    if !env.exception_check().unwrap_or(true) {
        let _ = env.throw_new(class, msg);
    }
    Thrown
}

/// The message of the failed C call just made on this thread.
fn last_message() -> String {
    let p = tgvoip_last_error_message();
    if p.is_null() {
        return "failed".to_owned();
    }
    // SAFETY: a NUL-terminated string owned by the library, valid until the next call here.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn status_name(st: tgvoip_status_t) -> String {
    // SAFETY: a static NUL-terminated string.
    unsafe { CStr::from_ptr(tgvoip_status_name(st)) }
        .to_string_lossy()
        .into_owned()
}

/// Throws the Java exception matching a failed status.
fn check(env: &mut JNIEnv, op: &str, st: tgvoip_status_t) -> JResult<()> {
    if st == TGVOIP_OK {
        return Ok(());
    }
    let class = match st {
        TGVOIP_E_INVALID_ARGUMENT => "java/lang/IllegalArgumentException",
        TGVOIP_E_INVALID_STATE | TGVOIP_E_WOULD_DEADLOCK => "java/lang/IllegalStateException",
        TGVOIP_E_NOT_SUPPORTED => "java/lang/UnsupportedOperationException",
        _ => "java/lang/RuntimeException",
    };
    let msg = format!("tgvoip: {op}: {} ({})", last_message(), status_name(st));
    Err(throw(env, class, &msg))
}

/// Like [`check`], but `TGVOIP_E_NOT_SUPPORTED` is only logged: libtgvoip accepts these calls
/// silently, and Telegram's Java code does not expect an exception from them.
fn check_lenient(env: &mut JNIEnv, op: &str, st: tgvoip_status_t) -> JResult<()> {
    if st == TGVOIP_E_NOT_SUPPORTED {
        crate::ffi::log(b'W', &format!("{op}: {} (ignored)", last_message()));
        return Ok(());
    }
    check(env, op, st)
}

/// Runs a native method body: catches panics (thrown as `RuntimeException`), returns `default`
/// when an exception is pending.
fn entry<'local, R>(
    env: &mut JNIEnv<'local>,
    default: R,
    f: impl FnOnce(&mut JNIEnv<'local>) -> JResult<R>,
) -> R {
    match catch_unwind(AssertUnwindSafe(|| f(env))) {
        Ok(Ok(v)) => v,
        Ok(Err(Thrown)) => default,
        Err(_) => {
            throw(
                env,
                "java/lang/RuntimeException",
                "tgvoip: internal panic (library bug)",
            );
            default
        }
    }
}

/// Up-call targets of one controller: the Java `VoIPController` object and its methods.
struct Upcalls {
    vm: JavaVM,
    obj: GlobalRef,
    state: Option<JMethodID>,
    bars: Option<JMethodID>,
}

/// Java audio callbacks: `AudioSource.read(short[])`, `AudioSink.write(short[])`, each with a
/// pre-allocated 960-sample array (no allocation on the real-time thread after attaching).
struct JavaAudio {
    vm: JavaVM,
    source: Option<(GlobalRef, JMethodID, GlobalRef)>,
    sink: Option<(GlobalRef, JMethodID, GlobalRef)>,
}

/// One controller created by `nativeInit`.
struct JniCall {
    c: *mut tgvoip_controller_t,
    upcalls: Box<Upcalls>,
    audio: Mutex<Option<Box<JavaAudio>>>,
    /// The Java signaling listener (tgcalls calls), read by the signaling callback.
    signaling: Mutex<Option<Box<tgcalls::JavaSignaling>>>,
    state_path: Option<String>,
}

// SAFETY: the C handle is thread-safe (every C entry point may be called from any thread);
// the boxes are only read by callbacks.
unsafe impl Send for JniCall {}
unsafe impl Sync for JniCall {}

impl Drop for JniCall {
    fn drop(&mut self) {
        // Stops if needed; after this no callback reads `upcalls` or `audio`.
        // SAFETY: `c` came from tgvoip_controller_new and is freed only here.
        let st = unsafe { tgvoip_controller_free(self.c) };
        if st != TGVOIP_OK {
            crate::ffi::log(b'E', &format!("JNI release: free failed ({st})"));
        }
    }
}

/// Live controllers by Java handle.
static CALLS: Mutex<Option<HashMap<jlong, Arc<JniCall>>>> = Mutex::new(None);
static NEXT_HANDLE: AtomicI64 = AtomicI64::new(1);

fn lookup(env: &mut JNIEnv, handle: jlong) -> JResult<Arc<JniCall>> {
    let found = CALLS.lock().as_ref().and_then(|m| m.get(&handle).cloned());
    found.ok_or_else(|| {
        throw(
            env,
            "java/lang/IllegalStateException",
            &format!("tgvoip: controller handle {handle} is not live (released?)"),
        )
    })
}

/// Reads one value of handle `h` through the C getter `f(controller, &mut out)`.
fn get<T: Default>(
    env: &mut JNIEnv,
    h: jlong,
    op: &str,
    f: unsafe extern "C" fn(*mut tgvoip_controller_t, *mut T) -> tgvoip_status_t,
) -> JResult<T> {
    let call = lookup(env, h)?;
    let mut v = T::default();
    // SAFETY: `call` keeps the handle alive and `v` is a valid out pointer.
    check(env, op, unsafe { f(call.c, &mut v) })?;
    Ok(v)
}

/// Attaches the current (library) thread to the JVM as a daemon, permanently (detached when the
/// thread ends); a no-op on an attached thread.
fn attach(vm: &JavaVM) -> Option<JNIEnv<'_>> {
    vm.attach_current_thread_as_daemon().ok()
}

/// Calls a `void m(int)` / `void m(short[])` up-call; a Java exception is printed and cleared.
///
/// # Safety
/// `mid` must belong to `obj`'s class and take exactly `arg`.
unsafe fn upcall_void(env: &mut JNIEnv, obj: &JObject, mid: JMethodID, arg: jvalue) {
    let _ = env.call_method_unchecked(obj, mid, ReturnType::Primitive(Primitive::Void), &[arg]);
    if env.exception_check().unwrap_or(false) {
        let _ = env.exception_describe();
        let _ = env.exception_clear();
    }
}

unsafe extern "C" fn on_state(user: *mut c_void, _c: *mut tgvoip_controller_t, state: i32) {
    let _ = catch_unwind(|| {
        // SAFETY: `user` is the Upcalls box owned by the JniCall, alive until the C handle is
        // freed, after which no callback runs.
        let up = &*(user as *const Upcalls);
        if let (Some(mid), Some(mut env)) = (up.state, attach(&up.vm)) {
            upcall_void(&mut env, up.obj.as_obj(), mid, jvalue { i: state });
        }
    });
}

unsafe extern "C" fn on_bars(user: *mut c_void, _c: *mut tgvoip_controller_t, bars: i32) {
    let _ = catch_unwind(|| {
        // SAFETY: as in `on_state`.
        let up = &*(user as *const Upcalls);
        if let (Some(mid), Some(mut env)) = (up.bars, attach(&up.vm)) {
            upcall_void(&mut env, up.obj.as_obj(), mid, jvalue { i: bars });
        }
    });
}

unsafe extern "C" fn on_audio_input(user: *mut c_void, samples: *mut i16, n: usize) {
    let _ = catch_unwind(|| {
        // SAFETY: `user` is the JavaAudio box kept by the JniCall until the C handle is freed;
        // `samples` holds `n` samples for the duration of the call.
        let a = &*(user as *const JavaAudio);
        let (Some((obj, mid, arr)), Some(mut env)) = (&a.source, attach(&a.vm)) else {
            return;
        };
        upcall_void(&mut env, obj.as_obj(), *mid, jvalue { l: arr.as_raw() });
        let out = std::slice::from_raw_parts_mut(samples, n.min(CHUNK_SAMPLES));
        let arr: &JShortArray = arr.as_obj().into();
        if env.get_short_array_region(arr, 0, out).is_err() {
            let _ = env.exception_clear();
        }
    });
}

unsafe extern "C" fn on_audio_output(user: *mut c_void, samples: *mut i16, n: usize) {
    let _ = catch_unwind(|| {
        // SAFETY: as in `on_audio_input`.
        let a = &*(user as *const JavaAudio);
        let (Some((obj, mid, arr)), Some(mut env)) = (&a.sink, attach(&a.vm)) else {
            return;
        };
        let data = std::slice::from_raw_parts(samples, n.min(CHUNK_SAMPLES));
        let jarr: &JShortArray = arr.as_obj().into();
        if env.set_short_array_region(jarr, 0, data).is_err() {
            let _ = env.exception_clear();
            return;
        }
        upcall_void(&mut env, obj.as_obj(), *mid, jvalue { l: arr.as_raw() });
    });
}

const CHUNK_SAMPLES: usize = crate::audio::CHUNK_SAMPLES;

fn opt_string(env: &mut JNIEnv, s: &JString) -> JResult<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    let v: String = env.get_string(s).or_throw(env)?.into();
    Ok(Some(v))
}

fn cstring(env: &mut JNIEnv, s: String, what: &str) -> JResult<CString> {
    CString::new(s).map_err(|_| {
        throw(
            env,
            "java/lang/IllegalArgumentException",
            &format!("tgvoip: {what} contains NUL"),
        )
    })
}

fn optional_method(env: &mut JNIEnv, class: &JClass, name: &str, sig: &str) -> Option<JMethodID> {
    match env.get_method_id(class, name, sig) {
        Ok(m) => Some(m),
        Err(_) => {
            let _ = env.exception_clear();
            None
        }
    }
}

// ---- org.telegram.messenger.voip.VoIPController natives ----

extern "system" fn native_init<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    path: JString<'l>,
) -> jlong {
    entry(&mut env, 0, |env| {
        let vm = env.get_java_vm().or_throw(env)?;
        let obj = env.new_global_ref(&this).or_throw(env)?;
        let class = env.get_object_class(&this).or_throw(env)?;
        let state = optional_method(env, &class, "handleStateChange", "(I)V");
        let bars = optional_method(env, &class, "handleSignalBarsChange", "(I)V");
        let state_path = opt_string(env, &path)?.filter(|p| !p.is_empty());
        let mut c = std::ptr::null_mut();
        // SAFETY: valid out pointer.
        check(env, "controller_new", unsafe {
            tgvoip_controller_new(&mut c)
        })?;
        let call = Arc::new(JniCall {
            c,
            upcalls: Box::new(Upcalls {
                vm,
                obj,
                state,
                bars,
            }),
            audio: Mutex::new(None),
            signaling: Mutex::new(None),
            state_path,
        });
        if let Some(p) = &call.state_path {
            if let Ok(meta) = std::fs::metadata(p) {
                if meta.len() > 0 && meta.len() < MAX_STATE_FILE {
                    if let Ok(blob) = std::fs::read(p) {
                        // SAFETY: live handle, slice valid for the call. Bad blobs are ignored.
                        unsafe {
                            tgvoip_controller_set_persistent_state(c, blob.as_ptr(), blob.len())
                        };
                    }
                }
            }
        }
        let mut cbs = tgvoip_callbacks_t {
            user_data: &*call.upcalls as *const Upcalls as *mut c_void,
            state_changed: Some(on_state),
            signal_bars_changed: Some(on_bars),
            ..Default::default()
        };
        cbs.struct_size = std::mem::size_of::<tgvoip_callbacks_t>() as u32;
        let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
        CALLS
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(handle, call.clone());
        // Fires handleStateChange(WAIT_INIT) synchronously, like libtgvoip.
        // SAFETY: live handle; the Upcalls box outlives the C handle.
        let st = unsafe { tgvoip_controller_set_callbacks(c, &cbs) };
        if let Err(t) = check(env, "set_callbacks", st) {
            CALLS.lock().as_mut().map(|m| m.remove(&handle));
            return Err(t);
        }
        Ok(handle)
    })
}

extern "system" fn native_start(mut env: JNIEnv, _this: JObject, h: jlong) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        check(env, "start", unsafe { tgvoip_controller_start(call.c) })
    })
}

extern "system" fn native_connect(mut env: JNIEnv, _this: JObject, h: jlong) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        check(env, "connect", unsafe { tgvoip_controller_connect(call.c) })
    })
}

extern "system" fn native_set_proxy(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
    address: JString,
    port: jint,
    user: JString,
    password: JString,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        let address = opt_string(env, &address)?.unwrap_or_default();
        let user = opt_string(env, &user)?.unwrap_or_default();
        let password = opt_string(env, &password)?.unwrap_or_default();
        let (a, u, p) = (
            cstring(env, address, "address")?,
            cstring(env, user, "username")?,
            cstring(env, password, "password")?,
        );
        // SAFETY: live handle, NUL-terminated strings.
        let st = unsafe {
            tgvoip_controller_set_proxy(
                call.c,
                1,
                a.as_ptr(),
                port.clamp(0, 65535) as u16,
                u.as_ptr(),
                p.as_ptr(),
            )
        };
        check_lenient(env, "set_proxy", st)
    })
}

extern "system" fn native_set_encryption_key(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
    key: JByteArray,
    is_outgoing: jboolean,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        if key.is_null() {
            return Err(throw(
                env,
                "java/lang/IllegalArgumentException",
                "tgvoip: set_encryption_key: key is null",
            ));
        }
        let key = env.convert_byte_array(&key).or_throw(env)?;
        // SAFETY: live handle, slice valid for the call (copied by the library).
        let st = unsafe {
            tgvoip_controller_set_encryption_key(call.c, key.as_ptr(), key.len(), is_outgoing != 0)
        };
        check(env, "set_encryption_key", st)
    })
}

/// Reads one `TL_phoneConnection` (fields `id:J ip:String ipv6:String port:I peer_tag:[B`).
fn read_endpoint(
    env: &mut JNIEnv,
    o: &JObject,
    tcp: bool,
) -> JResult<(i64, CString, CString, u16, i32, [u8; 16])> {
    if o.is_null() {
        return Err(throw(
            env,
            "java/lang/IllegalArgumentException",
            "tgvoip: set_remote_endpoints: null endpoint",
        ));
    }
    let id = env
        .get_field(o, "id", "J")
        .and_then(|v| v.j())
        .or_throw(env)?;
    let ip = env
        .get_field(o, "ip", "Ljava/lang/String;")
        .and_then(|v| v.l())
        .or_throw(env)?;
    let ip = opt_string(env, &JString::from(ip))?.unwrap_or_default();
    let ipv6 = env
        .get_field(o, "ipv6", "Ljava/lang/String;")
        .and_then(|v| v.l())
        .or_throw(env)?;
    let ipv6 = opt_string(env, &JString::from(ipv6))?.unwrap_or_default();
    let port = env
        .get_field(o, "port", "I")
        .and_then(|v| v.i())
        .or_throw(env)?;
    let tag = env
        .get_field(o, PEER_TAG_FIELD, "[B")
        .and_then(|v| v.l())
        .or_throw(env)?;
    let tag = JByteArray::from(tag);
    let tag = if tag.is_null() {
        Vec::new()
    } else {
        env.convert_byte_array(&tag).or_throw(env)?
    };
    // null or empty: an all-zero tag, like libtgvoip.
    let tag = if tag.is_empty() { vec![0; 16] } else { tag };
    let tag: [u8; 16] = tag.as_slice().try_into().map_err(|_| {
        throw(
            env,
            "java/lang/IllegalArgumentException",
            &format!(
                "tgvoip: set_remote_endpoints: peer_tag must be 16 bytes, got {}",
                tag.len()
            ),
        )
    })?;
    if !(0..=65535).contains(&port) {
        return Err(throw(
            env,
            "java/lang/IllegalArgumentException",
            &format!("tgvoip: set_remote_endpoints: bad port {port}"),
        ));
    }
    let ty = if tcp {
        TGVOIP_ENDPOINT_TCP_RELAY
    } else {
        TGVOIP_ENDPOINT_UDP_RELAY
    };
    Ok((
        id,
        cstring(env, ip, "ip")?,
        cstring(env, ipv6, "ipv6")?,
        port as u16,
        ty,
        tag,
    ))
}

extern "system" fn native_set_remote_endpoints(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
    endpoints: JObjectArray,
    allow_p2p: jboolean,
    tcp: jboolean,
    max_layer: jint,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        if endpoints.is_null() {
            return Err(throw(
                env,
                "java/lang/IllegalArgumentException",
                "tgvoip: set_remote_endpoints: endpoints is null",
            ));
        }
        let n = env.get_array_length(&endpoints).or_throw(env)?;
        let mut owned = Vec::with_capacity(n as usize);
        for i in 0..n {
            let o = env.get_object_array_element(&endpoints, i).or_throw(env)?;
            let ep = read_endpoint(env, &o, tcp != 0)?;
            let _ = env.delete_local_ref(o);
            owned.push(ep);
        }
        let eps: Vec<tgvoip_endpoint_t> = owned
            .iter()
            .map(|(id, ip, ipv6, port, ty, tag)| tgvoip_endpoint_t {
                id: *id,
                ipv4: ip.as_ptr(),
                ipv6: ipv6.as_ptr(),
                port: *port,
                r#type: *ty,
                peer_tag: *tag,
            })
            .collect();
        // SAFETY: live handle; the array and its strings outlive the call.
        let st = unsafe {
            tgvoip_controller_set_remote_endpoints(
                call.c,
                eps.as_ptr(),
                eps.len(),
                allow_p2p != 0,
                tcp != 0,
                max_layer,
            )
        };
        check_lenient(env, "set_remote_endpoints", st)
    })
}

extern "system" fn native_set_native_buffer_size(_env: JNIEnv, _class: JObject, _size: jint) {
    // OpenSL ES buffer size: there is no platform audio backend here.
}

extern "system" fn native_release(mut env: JNIEnv, _this: JObject, h: jlong) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // Stop first: from one of this controller's callbacks it refuses (would deadlock) and
        // the handle stays live.
        // SAFETY: live handle.
        check(env, "stop", unsafe { tgvoip_controller_stop(call.c) })?;
        CALLS.lock().as_mut().map(|m| m.remove(&h));
        if let Some(path) = &call.state_path {
            let mut blob = tgvoip_bytes_t {
                data: std::ptr::null_mut(),
                len: 0,
            };
            // SAFETY: live handle, valid out pointer; the blob is freed below.
            if unsafe { tgvoip_controller_get_persistent_state(call.c, &mut blob) } == TGVOIP_OK {
                if !blob.data.is_null() {
                    // SAFETY: `len` bytes allocated by the library.
                    let data = unsafe { std::slice::from_raw_parts(blob.data, blob.len) };
                    if let Err(e) = std::fs::write(path, data) {
                        crate::ffi::log(b'W', &format!("persistent state {path}: {e}"));
                    }
                }
                // SAFETY: blob from the library.
                unsafe { tgvoip_bytes_free(&mut blob) };
            }
        }
        // The C handle is freed when the last reference goes (a concurrent native call may
        // still hold one; it then gets errors from the stopped controller, never freed memory).
        drop(call);
        Ok(())
    })
}

fn get_string_with(
    env: &mut JNIEnv,
    h: jlong,
    op: &str,
    f: unsafe extern "C" fn(*mut tgvoip_controller_t, *mut *mut c_char) -> tgvoip_status_t,
) -> JResult<jni::sys::jstring> {
    let call = lookup(env, h)?;
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: live handle, valid out pointer.
    check(env, op, unsafe { f(call.c, &mut out) })?;
    // SAFETY: a library string, freed right after copying.
    let s = unsafe { CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    unsafe { tgvoip_string_free(out) };
    Ok(env.new_string(s).or_throw(env)?.into_raw())
}

extern "system" fn native_get_debug_string(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
) -> jni::sys::jstring {
    entry(&mut env, std::ptr::null_mut(), |env| {
        get_string_with(
            env,
            h,
            "get_debug_string",
            tgvoip_controller_get_debug_string,
        )
    })
}

extern "system" fn native_get_debug_log(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
) -> jni::sys::jstring {
    entry(&mut env, std::ptr::null_mut(), |env| {
        get_string_with(env, h, "get_debug_log", tgvoip_controller_get_debug_log)
    })
}

extern "system" fn native_set_network_type(mut env: JNIEnv, _this: JObject, h: jlong, t: jint) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        check(env, "set_network_type", unsafe {
            tgvoip_controller_set_network_type(call.c, t)
        })
    })
}

extern "system" fn native_set_mic_mute(mut env: JNIEnv, _this: JObject, h: jlong, mute: jboolean) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        check(env, "set_mic_mute", unsafe {
            tgvoip_controller_set_mic_mute(call.c, mute != 0)
        })
    })
}

#[allow(clippy::too_many_arguments)]
extern "system" fn native_set_config(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
    recv_timeout: jdouble,
    init_timeout: jdouble,
    data_saving: jint,
    aec: jboolean,
    ns: jboolean,
    agc: jboolean,
    log_path: JString,
    stats_path: JString,
    log_packet_stats: jboolean,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        let log = match opt_string(env, &log_path)? {
            Some(s) => Some(cstring(env, s, "logPath")?),
            None => None,
        };
        let stats = match opt_string(env, &stats_path)? {
            Some(s) => Some(cstring(env, s, "statsDumpPath")?),
            None => None,
        };
        let cfg = tgvoip_config_t {
            recv_timeout,
            init_timeout,
            data_saving,
            enable_aec: aec != 0,
            enable_ns: ns != 0,
            enable_agc: agc != 0,
            log_packet_stats: log_packet_stats != 0,
            // libtgvoip's JNI forces it off.
            enable_call_upgrade: false,
            log_file_path: log.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            stats_dump_file_path: stats.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            ..Default::default()
        };
        // SAFETY: live handle; the strings outlive the call.
        check(env, "set_config", unsafe {
            tgvoip_controller_set_config(call.c, &cfg)
        })
    })
}

extern "system" fn native_debug_ctl(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
    req: jint,
    param: jint,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        let st = unsafe { tgvoip_controller_debug_ctl(call.c, req, param) };
        check_lenient(env, "debug_ctl", st)
    })
}

extern "system" fn native_get_version<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
) -> jni::sys::jstring {
    entry(&mut env, std::ptr::null_mut(), |env| {
        Ok(env.new_string("2.4.4").or_throw(env)?.into_raw())
    })
}

extern "system" fn native_get_preferred_relay_id(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
) -> jlong {
    entry(&mut env, 0, |env| {
        get(
            env,
            h,
            "get_preferred_relay_id",
            tgvoip_controller_get_preferred_relay_id,
        )
    })
}

extern "system" fn native_get_last_error(mut env: JNIEnv, _this: JObject, h: jlong) -> jint {
    entry(&mut env, 0, |env| {
        get(env, h, "get_last_error", tgvoip_controller_get_last_error)
    })
}

extern "system" fn native_get_stats(mut env: JNIEnv, _this: JObject, h: jlong, stats: JObject) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        if stats.is_null() {
            return Err(throw(
                env,
                "java/lang/IllegalArgumentException",
                "tgvoip: get_stats: stats is null",
            ));
        }
        let mut s = tgvoip_traffic_stats_t {
            bytes_sent_wifi: 0,
            bytes_recvd_wifi: 0,
            bytes_sent_mobile: 0,
            bytes_recvd_mobile: 0,
        };
        // SAFETY: live handle, valid out pointer.
        check(env, "get_stats", unsafe {
            tgvoip_controller_get_stats(call.c, &mut s)
        })?;
        for (name, v) in [
            ("bytesSentWifi", s.bytes_sent_wifi),
            ("bytesSentMobile", s.bytes_sent_mobile),
            ("bytesRecvdWifi", s.bytes_recvd_wifi),
            ("bytesRecvdMobile", s.bytes_recvd_mobile),
        ] {
            env.set_field(&stats, name, "J", JValue::Long(v as i64))
                .or_throw(env)?;
        }
        Ok(())
    })
}

extern "system" fn native_set_audio_output_gain_control_enabled(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
    enabled: jboolean,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        let st = unsafe {
            tgvoip_controller_set_audio_output_gain_control_enabled(call.c, enabled != 0)
        };
        check(env, "set_audio_output_gain_control_enabled", st)
    })
}

extern "system" fn native_set_echo_cancellation_strength(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
    s: jint,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        let st = unsafe { tgvoip_controller_set_echo_cancellation_strength(call.c, s) };
        check(env, "set_echo_cancellation_strength", st)
    })
}

extern "system" fn native_get_peer_capabilities(mut env: JNIEnv, _this: JObject, h: jlong) -> jint {
    entry(&mut env, 0, |env| {
        let v = get(
            env,
            h,
            "get_peer_capabilities",
            tgvoip_controller_get_peer_capabilities,
        )?;
        Ok(v as jint)
    })
}

extern "system" fn native_send_group_call_key(
    mut env: JNIEnv,
    _this: JObject,
    h: jlong,
    key: JByteArray,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        let key = if key.is_null() {
            Vec::new()
        } else {
            env.convert_byte_array(&key).or_throw(env)?
        };
        // SAFETY: live handle, slice valid for the call.
        let st = unsafe { tgvoip_controller_send_group_call_key(call.c, key.as_ptr(), key.len()) };
        check_lenient(env, "send_group_call_key", st)
    })
}

extern "system" fn native_request_call_upgrade(mut env: JNIEnv, _this: JObject, h: jlong) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        let st = unsafe { tgvoip_controller_request_call_upgrade(call.c) };
        check_lenient(env, "request_call_upgrade", st)
    })
}

extern "system" fn native_need_rate(mut env: JNIEnv, _this: JObject, h: jlong) -> jboolean {
    entry(&mut env, JNI_FALSE, |env| {
        let v = get(env, h, "need_rate", tgvoip_controller_need_rate)?;
        Ok(if v { JNI_TRUE } else { JNI_FALSE })
    })
}

extern "system" fn get_connection_max_layer(_env: JNIEnv, _class: JObject) -> jint {
    tgvoip_get_connection_max_layer()
}

// ---- VoIPServerConfig and Resampler ----

extern "system" fn server_config_set_config(mut env: JNIEnv, _class: JObject, json: JString) {
    entry(&mut env, (), |env| {
        let Some(json) = opt_string(env, &json)? else {
            return Ok(());
        };
        let json = cstring(env, json, "config")?;
        // SAFETY: NUL-terminated string.
        let st = unsafe { tgvoip_server_config_update(json.as_ptr()) };
        if st != TGVOIP_OK {
            // libtgvoip logs a bad config and keeps the old one.
            crate::ffi::log(b'E', &format!("server config: {}", last_message()));
        }
        Ok(())
    })
}

/// libtgvoip's linear-interpolation resampler: `out.len()` samples at `step` input samples
/// apart (147/160 for 44.1 -> 48 kHz, 160/147 the other way).
fn resample_linear(input: &[i16], out: &mut [i16], step: f32) {
    let Some(last) = input.len().checked_sub(1) else {
        return;
    };
    for (i, o) in out.iter_mut().enumerate() {
        let pos = i as f32 * step;
        let lo = (pos.floor() as usize).min(last);
        let hi = (pos.ceil() as usize).min(last);
        let f = pos - pos.floor();
        *o = (input[lo] as f32 * (1.0 - f) + input[hi] as f32 * f) as i16;
    }
}

fn resample_buffers(
    env: &mut JNIEnv,
    from: &JByteBuffer,
    to: &JByteBuffer,
    num: usize,
    den: usize,
) -> JResult<jint> {
    let inp = env.get_direct_buffer_address(from).or_throw(env)?;
    let in_len = env.get_direct_buffer_capacity(from).or_throw(env)? / 2;
    let outp = env.get_direct_buffer_address(to).or_throw(env)?;
    let out_len = env.get_direct_buffer_capacity(to).or_throw(env)? / 2;
    let n = (in_len * num / den).min(out_len);
    if in_len == 0 || n == 0 {
        return Ok(0);
    }
    // SAFETY: direct buffers of at least these many int16 samples (capacity / 2); the JVM may
    // not align them, so copy through aligned vectors.
    let input: Vec<i16> = unsafe { std::slice::from_raw_parts(inp, in_len * 2) }
        .chunks_exact(2)
        .map(|b| i16::from_ne_bytes([b[0], b[1]]))
        .collect();
    let mut out = vec![0i16; n];
    resample_linear(&input, &mut out, den as f32 / num as f32);
    // SAFETY: `n <= out_len` samples fit in the output buffer.
    let dst = unsafe { std::slice::from_raw_parts_mut(outp, n * 2) };
    for (d, s) in dst.chunks_exact_mut(2).zip(&out) {
        d.copy_from_slice(&s.to_ne_bytes());
    }
    Ok(n as jint)
}

extern "system" fn resampler_44_to_48<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    from: JByteBuffer<'l>,
    to: JByteBuffer<'l>,
) -> jint {
    entry(&mut env, 0, |env| {
        resample_buffers(env, &from, &to, 160, 147)
    })
}

extern "system" fn resampler_48_to_44<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    from: JByteBuffer<'l>,
    to: JByteBuffer<'l>,
) -> jint {
    entry(&mut env, 0, |env| {
        resample_buffers(env, &from, &to, 147, 160)
    })
}

// ---- org.tgvoip.Native (bindings/java extras) ----

extern "system" fn x_set_audio_callbacks<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    h: jlong,
    source: JObject<'l>,
    sink: JObject<'l>,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        let vm = env.get_java_vm().or_throw(env)?;
        let side = |env: &mut JNIEnv<'l>,
                    obj: &JObject,
                    name: &str|
         -> JResult<Option<(GlobalRef, JMethodID, GlobalRef)>> {
            if obj.is_null() {
                return Ok(None);
            }
            let class = env.get_object_class(obj).or_throw(env)?;
            let mid = env.get_method_id(&class, name, "([S)V").or_throw(env)?;
            let arr = env.new_short_array(CHUNK_SAMPLES as i32).or_throw(env)?;
            Ok(Some((
                env.new_global_ref(obj).or_throw(env)?,
                mid,
                env.new_global_ref(&arr).or_throw(env)?,
            )))
        };
        let audio = Box::new(JavaAudio {
            vm,
            source: side(env, &source, "read")?,
            sink: side(env, &sink, "write")?,
        });
        let user = &*audio as *const JavaAudio as *mut c_void;
        let input: tgvoip_audio_cb = audio.source.as_ref().map(|_| on_audio_input as _);
        let output: tgvoip_audio_cb = audio.sink.as_ref().map(|_| on_audio_output as _);
        // Replaced under the lock: the library refuses once connected, and before that no
        // audio callback runs, so the old box is unused when dropped.
        let mut slot = call.audio.lock();
        // SAFETY: live handle; `audio` lives in the JniCall until the C handle is freed.
        let st = unsafe {
            tgvoip_controller_set_audio_data_callbacks(call.c, input, output, None, user)
        };
        check(env, "set_audio_data_callbacks", st)?;
        *slot = Some(audio);
        Ok(())
    })
}

extern "system" fn x_set_native_io(mut env: JNIEnv, _class: JObject, h: jlong, on: jboolean) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        check(env, "set_native_io", unsafe {
            tgvoip_controller_set_native_io(call.c, on != 0)
        })
    })
}

fn path_call(
    env: &mut JNIEnv,
    h: jlong,
    path: &JString,
    op: &str,
    f: unsafe extern "C" fn(*mut tgvoip_controller_t, *const c_char) -> tgvoip_status_t,
) -> JResult<()> {
    let call = lookup(env, h)?;
    let path = opt_string(env, path)?.ok_or_else(|| {
        throw(
            env,
            "java/lang/IllegalArgumentException",
            &format!("tgvoip: {op}: path is null"),
        )
    })?;
    let path = cstring(env, path, "path")?;
    // SAFETY: live handle, NUL-terminated string.
    check(env, op, unsafe { f(call.c, path.as_ptr()) })
}

extern "system" fn x_play(mut env: JNIEnv, _class: JObject, h: jlong, path: JString) {
    entry(&mut env, (), |env| {
        path_call(env, h, &path, "play", tgvoip_controller_play)
    })
}

extern "system" fn x_set_output_file(mut env: JNIEnv, _class: JObject, h: jlong, path: JString) {
    entry(&mut env, (), |env| {
        path_call(
            env,
            h,
            &path,
            "set_output_file",
            tgvoip_controller_set_output_file,
        )
    })
}

extern "system" fn x_stop(mut env: JNIEnv, _class: JObject, h: jlong) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        // SAFETY: live handle.
        check(env, "stop", unsafe { tgvoip_controller_stop(call.c) })
    })
}

extern "system" fn x_get_state(mut env: JNIEnv, _class: JObject, h: jlong) -> jint {
    entry(&mut env, 0, |env| {
        get(
            env,
            h,
            "get_connection_state",
            tgvoip_controller_get_connection_state,
        )
    })
}

extern "system" fn x_get_signal_bars(mut env: JNIEnv, _class: JObject, h: jlong) -> jint {
    entry(&mut env, 0, |env| {
        get(
            env,
            h,
            "get_signal_bars_count",
            tgvoip_controller_get_signal_bars_count,
        )
    })
}

extern "system" fn x_get_call_duration(mut env: JNIEnv, _class: JObject, h: jlong) -> jdouble {
    entry(&mut env, 0.0, |env| {
        get(
            env,
            h,
            "get_call_duration",
            tgvoip_controller_get_call_duration,
        )
    })
}

extern "system" fn x_get_average_rtt(mut env: JNIEnv, _class: JObject, h: jlong) -> jdouble {
    entry(&mut env, 0.0, |env| {
        get(env, h, "get_average_rtt", tgvoip_controller_get_average_rtt)
    })
}

extern "system" fn x_impl_version<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
) -> jni::sys::jstring {
    entry(&mut env, std::ptr::null_mut(), |env| {
        Ok(env
            .new_string(env!("CARGO_PKG_VERSION"))
            .or_throw(env)?
            .into_raw())
    })
}

// ---- registration ----

fn method(name: &str, sig: &str, f: *mut c_void) -> NativeMethod {
    NativeMethod {
        name: name.into(),
        sig: sig.into(),
        fn_ptr: f,
    }
}

fn controller_methods() -> Vec<NativeMethod> {
    let stats = format!("(JL{PACKAGE_PATH}/VoIPController$Stats;)V");
    let endpoints = format!("(J[L{ENDPOINT_CLASS};ZZI)V");
    vec![
        method(
            "nativeInit",
            "(Ljava/lang/String;)J",
            native_init as *mut c_void,
        ),
        method("nativeStart", "(J)V", native_start as *mut c_void),
        method("nativeConnect", "(J)V", native_connect as *mut c_void),
        method(
            "nativeSetProxy",
            "(JLjava/lang/String;ILjava/lang/String;Ljava/lang/String;)V",
            native_set_proxy as *mut c_void,
        ),
        method(
            "nativeSetEncryptionKey",
            "(J[BZ)V",
            native_set_encryption_key as *mut c_void,
        ),
        method(
            "nativeSetRemoteEndpoints",
            &endpoints,
            native_set_remote_endpoints as *mut c_void,
        ),
        method(
            "nativeSetNativeBufferSize",
            "(I)V",
            native_set_native_buffer_size as *mut c_void,
        ),
        method("nativeRelease", "(J)V", native_release as *mut c_void),
        method(
            "nativeGetDebugString",
            "(J)Ljava/lang/String;",
            native_get_debug_string as *mut c_void,
        ),
        method(
            "nativeSetNetworkType",
            "(JI)V",
            native_set_network_type as *mut c_void,
        ),
        method(
            "nativeSetMicMute",
            "(JZ)V",
            native_set_mic_mute as *mut c_void,
        ),
        method(
            "nativeSetConfig",
            "(JDDIZZZLjava/lang/String;Ljava/lang/String;Z)V",
            native_set_config as *mut c_void,
        ),
        method("nativeDebugCtl", "(JII)V", native_debug_ctl as *mut c_void),
        method(
            "nativeGetVersion",
            "()Ljava/lang/String;",
            native_get_version as *mut c_void,
        ),
        method(
            "nativeGetPreferredRelayID",
            "(J)J",
            native_get_preferred_relay_id as *mut c_void,
        ),
        method(
            "nativeGetLastError",
            "(J)I",
            native_get_last_error as *mut c_void,
        ),
        method("nativeGetStats", &stats, native_get_stats as *mut c_void),
        method(
            "nativeGetDebugLog",
            "(J)Ljava/lang/String;",
            native_get_debug_log as *mut c_void,
        ),
        method(
            "nativeSetAudioOutputGainControlEnabled",
            "(JZ)V",
            native_set_audio_output_gain_control_enabled as *mut c_void,
        ),
        method(
            "nativeSetEchoCancellationStrength",
            "(JI)V",
            native_set_echo_cancellation_strength as *mut c_void,
        ),
        method(
            "nativeGetPeerCapabilities",
            "(J)I",
            native_get_peer_capabilities as *mut c_void,
        ),
        method(
            "nativeSendGroupCallKey",
            "(J[B)V",
            native_send_group_call_key as *mut c_void,
        ),
        method(
            "nativeRequestCallUpgrade",
            "(J)V",
            native_request_call_upgrade as *mut c_void,
        ),
        method("nativeNeedRate", "(J)Z", native_need_rate as *mut c_void),
        method(
            "getConnectionMaxLayer",
            "()I",
            get_connection_max_layer as *mut c_void,
        ),
    ]
}

fn extras_methods() -> Vec<NativeMethod> {
    let mut v = tgcalls::methods();
    v.extend(vec![
        method(
            "setAudioCallbacks",
            "(JLorg/tgvoip/AudioSource;Lorg/tgvoip/AudioSink;)V",
            x_set_audio_callbacks as *mut c_void,
        ),
        method("setNativeIO", "(JZ)V", x_set_native_io as *mut c_void),
        method("play", "(JLjava/lang/String;)V", x_play as *mut c_void),
        method(
            "setOutputFile",
            "(JLjava/lang/String;)V",
            x_set_output_file as *mut c_void,
        ),
        method("stop", "(J)V", x_stop as *mut c_void),
        method("getState", "(J)I", x_get_state as *mut c_void),
        method("getSignalBars", "(J)I", x_get_signal_bars as *mut c_void),
        method(
            "getCallDuration",
            "(J)D",
            x_get_call_duration as *mut c_void,
        ),
        method("getAverageRtt", "(J)D", x_get_average_rtt as *mut c_void),
        method(
            "implVersion",
            "()Ljava/lang/String;",
            x_impl_version as *mut c_void,
        ),
    ]);
    v
}

/// Registers `methods` on `class`; `Ok(false)` if the class does not exist (optional classes).
fn register(env: &mut JNIEnv, class: &str, methods: &[NativeMethod]) -> jni::errors::Result<bool> {
    let cls = match env.find_class(class) {
        Ok(c) => c,
        Err(_) => {
            let _ = env.exception_clear();
            return Ok(false);
        }
    };
    env.register_native_methods(&cls, methods)?;
    let _ = env.delete_local_ref(cls);
    Ok(true)
}

/// Registers the Telegram classes; false (with a pending exception) if `VoIPController` is
/// missing or a table does not match.
fn register_telegram(env: &mut JNIEnv) -> bool {
    let controller = format!("{PACKAGE_PATH}/VoIPController");
    match register(env, &controller, &controller_methods()) {
        Ok(true) => {}
        Ok(false) => {
            throw(
                env,
                "java/lang/NoClassDefFoundError",
                &format!("tgvoip: {controller} not found"),
            );
            return false;
        }
        Err(e) => {
            jerr(env, e);
            return false;
        }
    }
    let server = [method(
        "nativeSetConfig",
        "(Ljava/lang/String;)V",
        server_config_set_config as *mut c_void,
    )];
    let resampler = [
        method(
            "convert44to48",
            "(Ljava/nio/ByteBuffer;Ljava/nio/ByteBuffer;)I",
            resampler_44_to_48 as *mut c_void,
        ),
        method(
            "convert48to44",
            "(Ljava/nio/ByteBuffer;Ljava/nio/ByteBuffer;)I",
            resampler_48_to_44 as *mut c_void,
        ),
    ];
    for (class, table) in [
        (format!("{PACKAGE_PATH}/VoIPServerConfig"), &server[..]),
        (format!("{PACKAGE_PATH}/Resampler"), &resampler[..]),
    ] {
        if let Err(e) = register(env, &class, table) {
            jerr(env, e);
            return false;
        }
    }
    true
}

/// libtgvoip's `tgvoipRegisterNatives`: registers the natives of `VoIPController` (required),
/// `VoIPServerConfig` and `Resampler` (if present). Call it from the application's `JNI_OnLoad`.
/// On failure a Java exception is left pending.
///
/// # Safety
/// `env` must be the valid `JNIEnv` of the calling thread.
#[no_mangle]
pub unsafe extern "system" fn tgvoipRegisterNatives(env: *mut jni::sys::JNIEnv) {
    let _ = catch_unwind(|| {
        if let Ok(mut env) = JNIEnv::from_raw(env) {
            register_telegram(&mut env);
        }
    });
}

/// `org.tgvoip.NativeLoader.nativeRegister()`: registers the Telegram classes and
/// `org.tgvoip.Native` for plain Java programs. True on success.
#[no_mangle]
pub extern "system" fn Java_org_tgvoip_NativeLoader_nativeRegister<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jboolean {
    entry(&mut env, JNI_FALSE, |env| {
        if !register_telegram(env) {
            return Err(Thrown);
        }
        match register(env, EXTRAS_CLASS, &extras_methods()) {
            Ok(_) => Ok(JNI_TRUE),
            Err(e) => Err(jerr(env, e)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampler_lengths_and_endpoints() {
        let input: Vec<i16> = (0..441).map(|i| (i * 10) as i16).collect();
        let mut out = vec![0i16; 480];
        resample_linear(&input, &mut out, 147.0 / 160.0);
        assert_eq!(out[0], 0);
        assert!(out.windows(2).all(|w| w[1] >= w[0]));
        assert!(*out.last().unwrap_or(&0) <= 4400);
        resample_linear(&[], &mut out, 1.0);
    }
}
