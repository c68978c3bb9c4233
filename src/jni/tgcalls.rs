//! Extra natives of `org.tgvoip.Native` for the protocol choice and tgcalls calls: supported
//! versions, protocol version, `phoneConnectionWebrtc` servers, signaling in and out, and the
//! tgcalls getters. Like the rest of the JNI layer they go through the C ABI.

use std::ffi::c_void;
use std::ptr::null;

use jni::objects::{
    GlobalRef, JBooleanArray, JByteArray, JIntArray, JLongArray, JMethodID, JObject, JObjectArray,
    JString,
};
use jni::sys::{jint, jlong, jvalue};
use jni::{JNIEnv, JavaVM, NativeMethod};

use super::{attach, check, cstring, entry, get, lookup, method, opt_string, JResult, OrThrow};
use crate::ffi::controller::tgcalls::*;
use crate::ffi::tgvoip_string_free;

/// The Java `SignalingListener.onSignalingData(byte[])` of one controller.
pub(super) struct JavaSignaling {
    vm: JavaVM,
    listener: GlobalRef,
    mid: JMethodID,
}

unsafe extern "C" fn on_signaling(user: *mut c_void, data: *const u8, len: usize) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `user` is the JavaSignaling box kept by the JniCall until the C handle is
        // freed (after which no callback runs); `data` holds `len` bytes during the call.
        let s = &*(user as *const JavaSignaling);
        let Some(mut env) = attach(&s.vm) else {
            return;
        };
        let bytes = std::slice::from_raw_parts(data, len);
        let Ok(arr) = env.byte_array_from_slice(bytes) else {
            let _ = env.exception_clear();
            return;
        };
        super::upcall_void(
            &mut env,
            s.listener.as_obj(),
            s.mid,
            jvalue { l: arr.as_raw() },
        );
        let _ = env.delete_local_ref(arr);
    });
}

extern "system" fn x_supported_versions<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
) -> jni::sys::jobjectArray {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let n = tgvoip_get_supported_version_count();
        let arr = env
            .new_object_array(n as i32, "java/lang/String", JObject::null())
            .or_throw(env)?;
        for i in 0..n {
            // SAFETY: a static NUL-terminated string for i < n.
            let v = unsafe { std::ffi::CStr::from_ptr(tgvoip_get_supported_version(i)) };
            let s = env.new_string(v.to_string_lossy()).or_throw(env)?;
            env.set_object_array_element(&arr, i as i32, s)
                .or_throw(env)?;
        }
        Ok(arr.into_raw())
    })
}

extern "system" fn x_set_protocol_version<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    h: jlong,
    version: JString<'l>,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        let v = opt_string(env, &version)?
            .map(|v| cstring(env, v, "version"))
            .transpose()?;
        let p = v.as_ref().map_or(null(), |v| v.as_ptr());
        // SAFETY: live handle; `p` is NULL or a NUL-terminated string alive for the call.
        check(env, "set_protocol_version", unsafe {
            tgvoip_controller_set_protocol_version(call.c, p)
        })
    })
}

extern "system" fn x_get_protocol_version<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    h: jlong,
) -> jni::sys::jstring {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let call = lookup(env, h)?;
        let mut out = std::ptr::null_mut();
        // SAFETY: live handle; `out` receives a library string freed below.
        check(env, "get_protocol_version", unsafe {
            tgvoip_controller_get_protocol_version(call.c, &mut out)
        })?;
        // SAFETY: a NUL-terminated library string, freed right after the copy.
        let s = unsafe { std::ffi::CStr::from_ptr(out) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: allocated by the library for us.
        unsafe { tgvoip_string_free(out) };
        Ok(env.new_string(s).or_throw(env)?.into_raw())
    })
}

fn string_at(
    env: &mut JNIEnv,
    arr: &JObjectArray,
    i: i32,
    what: &str,
) -> JResult<std::ffi::CString> {
    let o = env.get_object_array_element(arr, i).or_throw(env)?;
    let s: JString = o.into();
    let v = opt_string(env, &s)?.unwrap_or_default();
    let _ = env.delete_local_ref(s);
    cstring(env, v, what)
}

/// `setWebrtcEndpoints(long, long[] ids, String[] ipv4, String[] ipv6, int[] ports,
/// boolean[] turn, boolean[] stun, String[] usernames, String[] passwords)`: parallel arrays of
/// one length.
#[allow(clippy::too_many_arguments)]
extern "system" fn x_set_webrtc_endpoints<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    h: jlong,
    ids: JLongArray<'l>,
    ipv4: JObjectArray<'l>,
    ipv6: JObjectArray<'l>,
    ports: JIntArray<'l>,
    turn: JBooleanArray<'l>,
    stun: JBooleanArray<'l>,
    usernames: JObjectArray<'l>,
    passwords: JObjectArray<'l>,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        let n = env.get_array_length(&ids).or_throw(env)?;
        let lens = [
            env.get_array_length(&ipv4).or_throw(env)?,
            env.get_array_length(&ipv6).or_throw(env)?,
            env.get_array_length(&ports).or_throw(env)?,
            env.get_array_length(&turn).or_throw(env)?,
            env.get_array_length(&stun).or_throw(env)?,
            env.get_array_length(&usernames).or_throw(env)?,
            env.get_array_length(&passwords).or_throw(env)?,
        ];
        if lens.iter().any(|&l| l != n) {
            return Err(super::throw(
                env,
                "java/lang/IllegalArgumentException",
                "tgvoip: set_webrtc_endpoints: arrays of different lengths",
            ));
        }
        let len = n as usize;
        let mut id_v = vec![0i64; len];
        let mut port_v = vec![0i32; len];
        let mut turn_v = vec![0u8; len];
        let mut stun_v = vec![0u8; len];
        env.get_long_array_region(&ids, 0, &mut id_v)
            .or_throw(env)?;
        env.get_int_array_region(&ports, 0, &mut port_v)
            .or_throw(env)?;
        env.get_boolean_array_region(&turn, 0, &mut turn_v)
            .or_throw(env)?;
        env.get_boolean_array_region(&stun, 0, &mut stun_v)
            .or_throw(env)?;
        let mut strings = Vec::with_capacity(len * 4);
        for i in 0..n {
            strings.push(string_at(env, &ipv4, i, "ipv4")?);
            strings.push(string_at(env, &ipv6, i, "ipv6")?);
            strings.push(string_at(env, &usernames, i, "username")?);
            strings.push(string_at(env, &passwords, i, "password")?);
        }
        let mut eps = Vec::with_capacity(len);
        for i in 0..len {
            let port = u16::try_from(port_v[i]).map_err(|_| {
                super::throw(
                    env,
                    "java/lang/IllegalArgumentException",
                    &format!(
                        "tgvoip: set_webrtc_endpoints: port {} out of range",
                        port_v[i]
                    ),
                )
            })?;
            eps.push(tgvoip_webrtc_endpoint_t {
                id: id_v[i],
                ipv4: strings[4 * i].as_ptr(),
                ipv6: strings[4 * i + 1].as_ptr(),
                port,
                turn: turn_v[i] != 0,
                stun: stun_v[i] != 0,
                username: strings[4 * i + 2].as_ptr(),
                password: strings[4 * i + 3].as_ptr(),
            });
        }
        // SAFETY: live handle; `eps` and the strings it points to live for the call.
        check(env, "set_webrtc_endpoints", unsafe {
            tgvoip_controller_set_webrtc_endpoints(call.c, eps.as_ptr(), eps.len())
        })
    })
}

extern "system" fn x_set_signaling_listener<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    h: jlong,
    listener: JObject<'l>,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        let boxed = if listener.is_null() {
            None
        } else {
            let class = env.get_object_class(&listener).or_throw(env)?;
            let mid = env
                .get_method_id(&class, "onSignalingData", "([B)V")
                .or_throw(env)?;
            Some(Box::new(JavaSignaling {
                vm: env.get_java_vm().or_throw(env)?,
                listener: env.new_global_ref(&listener).or_throw(env)?,
                mid,
            }))
        };
        let user = boxed.as_deref().map_or(std::ptr::null_mut(), |b| {
            b as *const JavaSignaling as *mut c_void
        });
        let cb: tgvoip_signaling_cb = boxed.as_ref().map(|_| on_signaling as _);
        // Replaced under the lock: the library refuses once connected, and before that no
        // signaling callback runs, so the old box is unused when dropped.
        let mut slot = call.signaling.lock();
        // SAFETY: live handle; the box lives in the JniCall until the C handle is freed.
        let st = unsafe { tgvoip_controller_set_signaling_callback(call.c, cb, user) };
        check(env, "set_signaling_callback", st)?;
        *slot = boxed;
        Ok(())
    })
}

extern "system" fn x_receive_signaling_data<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    h: jlong,
    data: JByteArray<'l>,
) {
    entry(&mut env, (), |env| {
        let call = lookup(env, h)?;
        let bytes = if data.is_null() {
            Vec::new()
        } else {
            env.convert_byte_array(&data).or_throw(env)?
        };
        // SAFETY: live handle; `bytes` lives for the call.
        check(env, "receive_signaling_data", unsafe {
            tgvoip_controller_receive_signaling_data(call.c, bytes.as_ptr(), bytes.len())
        })
    })
}

extern "system" fn x_get_remote_mic_muted(mut env: JNIEnv, _class: JObject, h: jlong) -> jint {
    entry(&mut env, -1, |env| {
        get(
            env,
            h,
            "get_remote_mic_muted",
            tgvoip_controller_get_remote_mic_muted,
        )
    })
}

extern "system" fn x_get_media_connect_time_ms(
    mut env: JNIEnv,
    _class: JObject,
    h: jlong,
) -> jlong {
    entry(&mut env, -1, |env| {
        get(
            env,
            h,
            "get_media_connect_time_ms",
            tgvoip_controller_get_media_connect_time_ms,
        )
    })
}

extern "system" fn x_get_rtp_packet_counts<'l>(
    mut env: JNIEnv<'l>,
    _class: JObject<'l>,
    h: jlong,
) -> jni::sys::jlongArray {
    entry(&mut env, std::ptr::null_mut(), |env| {
        let call = lookup(env, h)?;
        let (mut s, mut r) = (0u64, 0u64);
        // SAFETY: live handle, valid out pointers.
        check(env, "get_rtp_packet_counts", unsafe {
            tgvoip_controller_get_rtp_packet_counts(call.c, &mut s, &mut r)
        })?;
        let arr = env.new_long_array(2).or_throw(env)?;
        let v = [
            i64::try_from(s).unwrap_or(i64::MAX),
            i64::try_from(r).unwrap_or(i64::MAX),
        ];
        env.set_long_array_region(&arr, 0, &v).or_throw(env)?;
        Ok(arr.into_raw())
    })
}

/// The natives above, for `org.tgvoip.Native`.
pub(super) fn methods() -> Vec<NativeMethod> {
    vec![
        method(
            "supportedVersions",
            "()[Ljava/lang/String;",
            x_supported_versions as *mut c_void,
        ),
        method(
            "setProtocolVersion",
            "(JLjava/lang/String;)V",
            x_set_protocol_version as *mut c_void,
        ),
        method(
            "getProtocolVersion",
            "(J)Ljava/lang/String;",
            x_get_protocol_version as *mut c_void,
        ),
        method(
            "setWebrtcEndpoints",
            "(J[J[Ljava/lang/String;[Ljava/lang/String;[I[Z[Z[Ljava/lang/String;[Ljava/lang/String;)V",
            x_set_webrtc_endpoints as *mut c_void,
        ),
        method(
            "setSignalingListener",
            "(JLorg/tgvoip/SignalingListener;)V",
            x_set_signaling_listener as *mut c_void,
        ),
        method(
            "receiveSignalingData",
            "(J[B)V",
            x_receive_signaling_data as *mut c_void,
        ),
        method(
            "getRemoteMicMuted",
            "(J)I",
            x_get_remote_mic_muted as *mut c_void,
        ),
        method(
            "getMediaConnectTimeMs",
            "(J)J",
            x_get_media_connect_time_ms as *mut c_void,
        ),
        method(
            "getRtpPacketCounts",
            "(J)[J",
            x_get_rtp_packet_counts as *mut c_void,
        ),
    ]
}
