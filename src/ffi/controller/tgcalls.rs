//! C entry points for choosing the call protocol (libtgvoip 2.4.4 or tgcalls 8.0.0 / 9.0.0) and
//! for the tgcalls call's app-relayed signaling and `phoneConnectionWebrtc` servers.
//!
//! The outgoing signaling callback runs on the controller's callback thread ("tgvoip-callbacks"),
//! ordered with `state_changed`; `data` is valid during the call only.

use std::ffi::{c_char, c_void};

use super::{get, guard, tgvoip_controller_t, Phase};
use crate::api::WebrtcEndpoint;
use crate::ffi::{
    bytes, in_callback, opt_str, req_str, tgvoip_status_t, write_out, write_string_out, FfiError,
    FfiResult,
};
use crate::Controller;

/// Receives outgoing signaling bytes of a tgcalls call: send each blob unchanged to the peer
/// with `phone.sendSignalingData`. `data` (`len` > 0 bytes) is valid during the call only.
pub type tgvoip_signaling_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, data: *const u8, len: usize)>;

/// A STUN/TURN server from signalling (`phoneConnectionWebrtc`), for tgcalls calls.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tgvoip_webrtc_endpoint_t {
    /// Server id.
    pub id: i64,
    /// Dotted IPv4 address; NULL or "" = none.
    pub ipv4: *const c_char,
    /// IPv6 address; NULL, "" or "::" = none (at least one address is required).
    pub ipv6: *const c_char,
    /// UDP port (non-zero).
    pub port: u16,
    /// Usable as a TURN relay.
    pub turn: bool,
    /// Usable as a STUN server.
    pub stun: bool,
    /// TURN username (NULL = "").
    pub username: *const c_char,
    /// TURN password (NULL = "").
    pub password: *const c_char,
}

/// Number of protocol versions this library speaks (for `phoneCallProtocol.library_versions`).
#[no_mangle]
pub extern "C" fn tgvoip_get_supported_version_count() -> usize {
    Controller::supported_versions().len()
}

/// The supported protocol version at `index`, best first ("9.0.0", "8.0.0", "2.4.4"): put them
/// all, in this order, into `phoneCallProtocol.library_versions`. Static string; NULL when
/// `index` is out of range.
#[no_mangle]
pub extern "C" fn tgvoip_get_supported_version(index: usize) -> *const c_char {
    static VERSIONS: std::sync::OnceLock<Vec<std::ffi::CString>> = std::sync::OnceLock::new();
    crate::ffi::guard_value(std::ptr::null(), || {
        VERSIONS
            .get_or_init(|| {
                Controller::supported_versions()
                    .iter()
                    .map(|v| std::ffi::CString::new(*v).unwrap_or_default())
                    .collect()
            })
            .get(index)
            .map_or(std::ptr::null(), |v| v.as_ptr())
    })
}

/// Sets the protocol the server chose (`phoneCall.protocol.library_versions[0]`): "9.0.0" and
/// "8.0.0" run a tgcalls call, "2.4.4" (the default) a libtgvoip one. Before start; any other
/// version gives `TGVOIP_E_INVALID_ARGUMENT`, after start `TGVOIP_E_INVALID_STATE`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_protocol_version(
    c: *mut tgvoip_controller_t,
    version: *const c_char,
) -> tgvoip_status_t {
    guard(|| {
        let h = get(c)?;
        let v = req_str(version, "version")?;
        if h.st.lock().phase != Phase::New {
            return Err(FfiError::state(
                "the protocol version must be set before start",
            ));
        }
        h.ctl.set_protocol_version(v).map_err(|e| match e {
            crate::ControllerError::InvalidArgument(_) => FfiError::arg(format!(
                "unsupported protocol version {v:?} (supported: {})",
                Controller::supported_versions().join(", ")
            )),
            other => FfiError::from(other),
        })
    })
}

/// The protocol version in use ("2.4.4" unless set). Free `*out` with `tgvoip_string_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_protocol_version(
    c: *mut tgvoip_controller_t,
    out: *mut *mut c_char,
) -> tgvoip_status_t {
    guard(|| {
        let h = get(c)?;
        write_string_out(out, &h.ctl.protocol_version())
    })
}

unsafe fn webrtc_endpoint(e: &tgvoip_webrtc_endpoint_t) -> FfiResult<WebrtcEndpoint> {
    let (ipv4, ipv6) = super::endpoint_addrs(e.ipv4, e.ipv6)?;
    if ipv4.is_none() && ipv6.is_none() {
        return Err(FfiError::arg(format!(
            "WebRTC endpoint {} has no address",
            e.id
        )));
    }
    if e.port == 0 {
        return Err(FfiError::arg(format!(
            "WebRTC endpoint {} has port 0",
            e.id
        )));
    }
    Ok(WebrtcEndpoint {
        id: e.id,
        ipv4,
        ipv6,
        port: e.port,
        turn: e.turn,
        stun: e.stun,
        username: opt_str(e.username, "username")?.unwrap_or("").to_owned(),
        password: opt_str(e.password, "password")?.unwrap_or("").to_owned(),
    })
}

/// Sets the `phoneConnectionWebrtc` servers of a tgcalls call (ignored by 2.4.4 calls). `count`
/// 0 (with any `endpoints`, NULL included) means none: direct paths only. Must precede connect.
/// The whole list is rejected (`TGVOIP_E_INVALID_ARGUMENT`) if an entry has no address, a bad
/// address or port 0.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_webrtc_endpoints(
    c: *mut tgvoip_controller_t,
    endpoints: *const tgvoip_webrtc_endpoint_t,
    count: usize,
) -> tgvoip_status_t {
    guard(|| {
        let h = get(c)?;
        if count > 1024 {
            return Err(FfiError::arg("too many WebRTC endpoints"));
        }
        if endpoints.is_null() && count != 0 {
            return Err(FfiError::arg("endpoints is NULL"));
        }
        let list = if count == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(endpoints, count)
        };
        let eps = list
            .iter()
            .map(|e| webrtc_endpoint(e))
            .collect::<FfiResult<Vec<_>>>()?;
        if matches!(h.st.lock().phase, Phase::Connected | Phase::Stopped) {
            return Err(FfiError::state("set_webrtc_endpoints must precede connect"));
        }
        h.ctl.set_webrtc_endpoints(eps)?;
        Ok(())
    })
}

/// Installs (or with NULL removes) the outgoing signaling callback of a tgcalls call. Must
/// precede connect (`TGVOIP_E_INVALID_STATE` afterwards). Stopping or freeing this controller
/// from inside it gives `TGVOIP_E_WOULD_DEADLOCK`; feeding another controller is fine.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_signaling_callback(
    c: *mut tgvoip_controller_t,
    callback: tgvoip_signaling_cb,
    user_data: *mut c_void,
) -> tgvoip_status_t {
    guard(|| {
        let h = get(c)?;
        if matches!(h.st.lock().phase, Phase::Connected | Phase::Stopped) {
            return Err(FfiError::state(
                "the signaling callback must be set before connect",
            ));
        }
        let ptr = c as usize;
        let user = user_data as usize;
        h.ctl.set_signaling_callback(Box::new(move |data: &[u8]| {
            if let (Some(f), false) = (callback, data.is_empty()) {
                // SAFETY: registered by the application for this controller; `data` is valid
                // for `len` bytes during the call.
                in_callback(ptr, || unsafe {
                    f(user as *mut c_void, data.as_ptr(), data.len())
                });
            }
        }));
        Ok(())
    })
}

/// Feeds signaling bytes from the peer (`updatePhoneCallSignalingData.data`) to a tgcalls call.
/// Any time before stop: bytes received before connect are kept and processed in order when the
/// call runs. Empty data is `TGVOIP_E_INVALID_ARGUMENT`; on a running 2.4.4 call or after stop
/// `TGVOIP_E_INVALID_STATE`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_receive_signaling_data(
    c: *mut tgvoip_controller_t,
    data: *const u8,
    len: usize,
) -> tgvoip_status_t {
    guard(|| {
        let h = get(c)?;
        let data = bytes(data, len, "data")?;
        if data.is_empty() {
            return Err(FfiError::arg("empty signaling data"));
        }
        if h.st.lock().phase == Phase::Stopped {
            return Err(FfiError::state("the controller was stopped"));
        }
        h.ctl.receive_signaling_data(data)?;
        Ok(())
    })
}

/// The peer's microphone mute flag (tgcalls calls): writes 1 (muted), 0 (not muted) or -1 (not
/// known yet: no media state received).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_remote_mic_muted(
    c: *mut tgvoip_controller_t,
    out: *mut i32,
) -> tgvoip_status_t {
    guard(|| {
        let h = get(c)?;
        write_out(out, h.ctl.remote_mic_muted().map_or(-1, i32::from))
    })
}

/// Milliseconds from connect until the media transport connected (tgcalls calls: ICE and DTLS),
/// or -1 before that (and for 2.4.4 calls).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_media_connect_time_ms(
    c: *mut tgvoip_controller_t,
    out: *mut i64,
) -> tgvoip_status_t {
    guard(|| {
        let h = get(c)?;
        write_out(
            out,
            h.ctl
                .media_connect_time_ms()
                .map_or(-1, |ms| i64::try_from(ms).unwrap_or(i64::MAX)),
        )
    })
}

/// RTP audio packets sent and received (tgcalls calls; 0 for 2.4.4 calls). Either out-pointer
/// may be NULL, not both.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_rtp_packet_counts(
    c: *mut tgvoip_controller_t,
    sent: *mut u64,
    received: *mut u64,
) -> tgvoip_status_t {
    guard(|| {
        let h = get(c)?;
        if sent.is_null() && received.is_null() {
            return Err(FfiError::arg("sent and received are both NULL"));
        }
        let (s, r) = h.ctl.rtp_packet_counts();
        if !sent.is_null() {
            sent.write(s);
        }
        if !received.is_null() {
            received.write(r);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn versions_are_listed_best_first_and_nul_terminated() {
        let n = tgvoip_get_supported_version_count();
        let got: Vec<String> = (0..n)
            .map(|i| {
                // SAFETY: static NUL-terminated strings from the library.
                unsafe { CStr::from_ptr(tgvoip_get_supported_version(i)) }
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(got, Controller::supported_versions());
        assert!(tgvoip_get_supported_version(n).is_null());
    }
}
