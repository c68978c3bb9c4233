//! The controller handle and its C entry points.
//!
//! Threads on which callbacks run: `state_changed` and `signal_bars_changed` on the controller's
//! callback thread ("tgvoip-callbacks"), strictly ordered (and once synchronously, on the caller's
//! thread, inside `tgvoip_controller_set_callbacks`); audio `input` and `output` on the real-time
//! audio thread ("tgvoip-audio") every 20 ms with 960 samples; `preprocessed` on the engine thread
//! ("tgvoip-engine") with each outgoing frame decoded: 2880 samples for the 60 ms frames 2.4.4
//! always sends, 960 for the 20 ms frames used toward a tgvoip-rs peer on a clean link. When
//! `tgvoip_controller_stop` returns none of them runs again.

use std::collections::HashMap;
use std::ffi::{c_char, c_void};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::api::{CallState, Config, DataSaving, Endpoint, EndpointType, NetworkType};
use crate::audio::file_io::{Feeder, FileAudio, FileAudioRt};
use crate::audio::{AudioIo, CHUNK_SAMPLES};
use crate::sync::Mutex;
use crate::Controller;

pub mod tgcalls;

/// Opaque controller handle (libtgvoip's `VoIPController`).
pub struct tgvoip_controller_t {
    ctl: Controller,
    st: Mutex<HandleState>,
    callbacks: Arc<Mutex<tgvoip_callbacks_t>>,
    audio_cbs: Arc<Mutex<AudioCallbacks>>,
    files: FileAudio,
    native_io: Arc<AtomicBool>,
    established_at: Arc<Mutex<Option<Instant>>>,
    volumes: Arc<Volumes>,
    user_data: AtomicPtr<c_void>,
}

/// Input/output gain (f32 bits), applied only with `enable_volume_control`.
struct Volumes {
    enabled: AtomicBool,
    input: AtomicU32,
    output: AtomicU32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    New,
    Started,
    Connected,
    Stopped,
}

struct HandleState {
    phase: Phase,
    feeder: Option<Feeder>,
    config: Config,
    extra: tgvoip_config_t,
    call_id: String,
    persistent: Option<(String, bool, bool)>,
    echo_strength: i32,
    gain_control: bool,
    ducking: bool,
    audio_input: String,
    audio_output: String,
    max_layer: i32,
    endpoints: Vec<Endpoint>,
    stopped_at: Option<Instant>,
}

// SAFETY: the raw pointers in `extra` (log paths) are never dereferenced after set_config; they
// are kept only so struct_size-prefixed reads have a default.
unsafe impl Send for HandleState {}

/// Audio callback registration (read when the call connects).
#[derive(Clone, Copy, Default)]
struct AudioCallbacks {
    input: tgvoip_audio_cb,
    output: tgvoip_audio_cb,
    preprocessed: tgvoip_audio_cb,
    user: usize,
}

/// An audio callback: `samples` holds `sample_count` s16 native-endian mono 48 kHz samples,
/// valid during the call only.
pub type tgvoip_audio_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, samples: *mut i16, sample_count: usize)>;

/// Event callbacks (libtgvoip's `VoIPController::Callbacks` plus `user_data`). Any may be NULL.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tgvoip_callbacks_t {
    /// `sizeof(tgvoip_callbacks_t)`.
    pub struct_size: u32,
    /// Passed to every callback.
    pub user_data: *mut c_void,
    /// Connection state changed (`TGVOIP_STATE_*`); may repeat a state.
    pub state_changed: Option<
        unsafe extern "C" fn(user_data: *mut c_void, c: *mut tgvoip_controller_t, state: i32),
    >,
    /// Signal bars (0..4) changed.
    pub signal_bars_changed: Option<
        unsafe extern "C" fn(user_data: *mut c_void, c: *mut tgvoip_controller_t, bars: i32),
    >,
    /// Group call key acknowledged (never called: group calls are not supported).
    pub group_call_key_sent:
        Option<unsafe extern "C" fn(user_data: *mut c_void, c: *mut tgvoip_controller_t)>,
    /// Group call key received (never called: group calls are not supported).
    pub group_call_key_received: Option<
        unsafe extern "C" fn(user_data: *mut c_void, c: *mut tgvoip_controller_t, key: *const u8),
    >,
    /// Peer requested a group call upgrade (never called: group calls are not supported).
    pub upgrade_to_group_call_requested:
        Option<unsafe extern "C" fn(user_data: *mut c_void, c: *mut tgvoip_controller_t)>,
}

impl Default for tgvoip_callbacks_t {
    fn default() -> Self {
        tgvoip_callbacks_t {
            struct_size: std::mem::size_of::<tgvoip_callbacks_t>() as u32,
            user_data: std::ptr::null_mut(),
            state_changed: None,
            signal_bars_changed: None,
            group_call_key_sent: None,
            group_call_key_received: None,
            upgrade_to_group_call_requested: None,
        }
    }
}

// SAFETY: plain function pointers plus an opaque user pointer the application vouches for.
unsafe impl Send for tgvoip_callbacks_t {}

/// Per-call configuration (libtgvoip's `VoIPController::Config`). Fill with
/// `tgvoip_config_init_default`, then change fields.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tgvoip_config_t {
    /// `sizeof(tgvoip_config_t)`.
    pub struct_size: u32,
    /// Seconds to reach ESTABLISHED after connect (0 = 30).
    pub init_timeout: f64,
    /// Seconds without packets before the call fails.
    pub recv_timeout: f64,
    /// `TGVOIP_DATA_SAVING_*`.
    pub data_saving: i32,
    /// Acoustic echo cancellation (accepted; no DSP in this build).
    pub enable_aec: bool,
    /// Noise suppression (accepted; no DSP in this build).
    pub enable_ns: bool,
    /// Automatic gain control (accepted; no DSP in this build).
    pub enable_agc: bool,
    /// Advertise group-call support to the peer.
    pub enable_call_upgrade: bool,
    /// Per-packet debug stats (accepted; not recorded).
    pub log_packet_stats: bool,
    /// Make `set_input_volume`/`set_output_volume` effective.
    pub enable_volume_control: bool,
    /// Video (must be false: `TGVOIP_E_NOT_SUPPORTED`).
    pub enable_video_send: bool,
    /// Video (must be false: `TGVOIP_E_NOT_SUPPORTED`).
    pub enable_video_receive: bool,
    /// Log file path, NULL or "" = none (stored; the debug log JSON is appended at stop).
    pub log_file_path: *const c_char,
    /// Stats dump path, NULL or "" = none (stored; not written by this build).
    pub stats_dump_file_path: *const c_char,
    /// Application call id for log naming, NULL = none (stored).
    pub call_id: *const c_char,
}

impl Default for tgvoip_config_t {
    fn default() -> Self {
        tgvoip_config_t {
            struct_size: std::mem::size_of::<tgvoip_config_t>() as u32,
            init_timeout: 30.0,
            recv_timeout: 20.0,
            data_saving: 0,
            enable_aec: false,
            enable_ns: false,
            enable_agc: false,
            enable_call_upgrade: false,
            log_packet_stats: false,
            enable_volume_control: false,
            enable_video_send: false,
            enable_video_receive: false,
            log_file_path: std::ptr::null(),
            stats_dump_file_path: std::ptr::null(),
            call_id: std::ptr::null(),
        }
    }
}

/// A remote endpoint from signalling (`phoneConnection`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tgvoip_endpoint_t {
    /// Endpoint id (non-zero).
    pub id: i64,
    /// Dotted IPv4 address; NULL or "" = none.
    pub ipv4: *const c_char,
    /// IPv6 address; NULL, "" or "::" = none.
    pub ipv6: *const c_char,
    /// UDP port.
    pub port: u16,
    /// `TGVOIP_ENDPOINT_*`.
    pub r#type: i32,
    /// The 16-byte peer tag.
    pub peer_tag: [u8; 16],
}

/// The current remote endpoint, as returned by `tgvoip_controller_get_remote_endpoint`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tgvoip_endpoint_info_t {
    /// Endpoint id.
    pub id: i64,
    /// IPv4 address text ("" = none).
    pub ipv4: [c_char; 16],
    /// IPv6 address text ("" = none).
    pub ipv6: [c_char; 46],
    /// UDP port.
    pub port: u16,
    /// `TGVOIP_ENDPOINT_*`.
    pub r#type: i32,
    /// The 16-byte peer tag.
    pub peer_tag: [u8; 16],
}

/// Traffic counters (libtgvoip's `TrafficStats`, same order).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct tgvoip_traffic_stats_t {
    /// Bytes sent while on a non-mobile network.
    pub bytes_sent_wifi: u64,
    /// Bytes received while on a non-mobile network.
    pub bytes_recvd_wifi: u64,
    /// Bytes sent while on a mobile network.
    pub bytes_sent_mobile: u64,
    /// Bytes received while on a mobile network.
    pub bytes_recvd_mobile: u64,
}

/// `STATE_WAIT_INIT`.
pub const TGVOIP_STATE_WAIT_INIT: i32 = 1;
/// `STATE_WAIT_INIT_ACK`.
pub const TGVOIP_STATE_WAIT_INIT_ACK: i32 = 2;
/// `STATE_ESTABLISHED`.
pub const TGVOIP_STATE_ESTABLISHED: i32 = 3;
/// `STATE_FAILED`.
pub const TGVOIP_STATE_FAILED: i32 = 4;
/// `STATE_RECONNECTING`.
pub const TGVOIP_STATE_RECONNECTING: i32 = 5;
/// `ERROR_UNKNOWN`.
pub const TGVOIP_ERROR_UNKNOWN: i32 = 0;
/// `ERROR_INCOMPATIBLE`.
pub const TGVOIP_ERROR_INCOMPATIBLE: i32 = 1;
/// `ERROR_TIMEOUT`.
pub const TGVOIP_ERROR_TIMEOUT: i32 = 2;
/// `ERROR_AUDIO_IO`.
pub const TGVOIP_ERROR_AUDIO_IO: i32 = 3;
/// `ERROR_PROXY`.
pub const TGVOIP_ERROR_PROXY: i32 = 4;
/// `NET_TYPE_UNKNOWN`.
pub const TGVOIP_NET_TYPE_UNKNOWN: i32 = 0;
/// `NET_TYPE_GPRS`.
pub const TGVOIP_NET_TYPE_GPRS: i32 = 1;
/// `NET_TYPE_EDGE`.
pub const TGVOIP_NET_TYPE_EDGE: i32 = 2;
/// `NET_TYPE_3G`.
pub const TGVOIP_NET_TYPE_3G: i32 = 3;
/// `NET_TYPE_HSPA`.
pub const TGVOIP_NET_TYPE_HSPA: i32 = 4;
/// `NET_TYPE_LTE`.
pub const TGVOIP_NET_TYPE_LTE: i32 = 5;
/// `NET_TYPE_WIFI`.
pub const TGVOIP_NET_TYPE_WIFI: i32 = 6;
/// `NET_TYPE_ETHERNET`.
pub const TGVOIP_NET_TYPE_ETHERNET: i32 = 7;
/// `NET_TYPE_OTHER_HIGH_SPEED`.
pub const TGVOIP_NET_TYPE_OTHER_HIGH_SPEED: i32 = 8;
/// `NET_TYPE_OTHER_LOW_SPEED`.
pub const TGVOIP_NET_TYPE_OTHER_LOW_SPEED: i32 = 9;
/// `NET_TYPE_DIALUP`.
pub const TGVOIP_NET_TYPE_DIALUP: i32 = 10;
/// `NET_TYPE_OTHER_MOBILE`.
pub const TGVOIP_NET_TYPE_OTHER_MOBILE: i32 = 11;
/// `DATA_SAVING_NEVER`.
pub const TGVOIP_DATA_SAVING_NEVER: i32 = 0;
/// `DATA_SAVING_MOBILE`.
pub const TGVOIP_DATA_SAVING_MOBILE: i32 = 1;
/// `DATA_SAVING_ALWAYS`.
pub const TGVOIP_DATA_SAVING_ALWAYS: i32 = 2;
/// `PROXY_NONE`.
pub const TGVOIP_PROXY_NONE: i32 = 0;
/// `PROXY_SOCKS5`.
pub const TGVOIP_PROXY_SOCKS5: i32 = 1;
/// `Endpoint::Type::UDP_P2P_INET`.
pub const TGVOIP_ENDPOINT_UDP_P2P_INET: i32 = 1;
/// `Endpoint::Type::UDP_P2P_LAN`.
pub const TGVOIP_ENDPOINT_UDP_P2P_LAN: i32 = 2;
/// `Endpoint::Type::UDP_RELAY`.
pub const TGVOIP_ENDPOINT_UDP_RELAY: i32 = 3;
/// `Endpoint::Type::TCP_RELAY`.
pub const TGVOIP_ENDPOINT_TCP_RELAY: i32 = 4;
/// `TGVOIP_PEER_CAP_GROUP_CALLS`.
pub const TGVOIP_PEER_CAP_GROUP_CALLS: u32 = 1;
/// `TGVOIP_PEER_CAP_VIDEO_CAPTURE`.
pub const TGVOIP_PEER_CAP_VIDEO_CAPTURE: u32 = 2;
/// `TGVOIP_PEER_CAP_VIDEO_DISPLAY`.
pub const TGVOIP_PEER_CAP_VIDEO_DISPLAY: u32 = 4;
/// Samples per audio callback (20 ms at 48 kHz).
pub const TGVOIP_AUDIO_FRAME_SAMPLES: u32 = 960;

type Registry = HashMap<usize, Arc<tgvoip_controller_t>>;
static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// Looks up a live handle (NULL, unknown and freed handles are rejected).
fn get(c: *mut tgvoip_controller_t) -> FfiResult<Arc<tgvoip_controller_t>> {
    if c.is_null() {
        return Err(FfiError::arg("controller is NULL"));
    }
    REGISTRY
        .lock()
        .as_ref()
        .and_then(|r| r.get(&(c as usize)).cloned())
        .ok_or_else(|| FfiError::arg("not a live controller handle (freed twice?)"))
}

/// The audio endpoint installed at connect: C callbacks, or native file I/O.
struct FfiAudio {
    cbs: AudioCallbacks,
    ctl: usize,
    native: Arc<AtomicBool>,
    files: FileAudioRt,
    volumes: Arc<Volumes>,
    scratch: Box<[i16; CHUNK_SAMPLES]>,
}

fn apply_gain(pcm: &mut [i16], v: &AtomicU32, enabled: &AtomicBool) {
    if !enabled.load(Ordering::Relaxed) {
        return;
    }
    let g = f32::from_bits(v.load(Ordering::Relaxed));
    if (g - 1.0).abs() < 1e-6 || !g.is_finite() {
        return;
    }
    for s in pcm {
        *s = (*s as f32 * g).clamp(-32768.0, 32767.0) as i16;
    }
}

impl AudioIo for FfiAudio {
    fn capture(&mut self, out: &mut [i16]) {
        if self.native.load(Ordering::Relaxed) {
            self.files.capture(out);
        } else if let Some(cb) = self.cbs.input {
            let user = self.cbs.user as *mut c_void;
            // SAFETY: the application registered `cb` for 960-sample buffers it may overwrite.
            in_callback(self.ctl, || unsafe {
                cb(user, out.as_mut_ptr(), out.len())
            });
        }
        apply_gain(out, &self.volumes.input, &self.volumes.enabled);
    }

    fn playback(&mut self, pcm: &[i16]) {
        let n = pcm.len().min(CHUNK_SAMPLES);
        self.scratch[..n].copy_from_slice(&pcm[..n]);
        apply_gain(
            &mut self.scratch[..n],
            &self.volumes.output,
            &self.volumes.enabled,
        );
        if self.native.load(Ordering::Relaxed) {
            self.files.playback(&self.scratch[..n]);
        } else if let Some(cb) = self.cbs.output {
            let user = self.cbs.user as *mut c_void;
            let buf = self.scratch.as_mut_ptr();
            // SAFETY: as above; the buffer is ours and valid for `n` samples.
            in_callback(self.ctl, || unsafe { cb(user, buf, n) });
        }
    }
}

/// Creates a controller in WAIT_INIT with the default config. Free with `tgvoip_controller_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_new(
    out: *mut *mut tgvoip_controller_t,
) -> tgvoip_status_t {
    guard(|| {
        if out.is_null() {
            return Err(FfiError::arg("out is NULL"));
        }
        let callbacks = Arc::new(Mutex::new(tgvoip_callbacks_t::default()));
        let audio_cbs = Arc::new(Mutex::new(AudioCallbacks::default()));
        let established_at = Arc::new(Mutex::new(None));
        let h = Arc::new(tgvoip_controller_t {
            ctl: Controller::new(),
            st: Mutex::new(HandleState {
                phase: Phase::New,
                feeder: None,
                config: Config::default(),
                extra: tgvoip_config_t::default(),
                call_id: String::new(),
                persistent: None,
                echo_strength: 0,
                gain_control: true,
                ducking: false,
                audio_input: "default".into(),
                audio_output: "default".into(),
                max_layer: crate::wire::CONNECTION_MAX_LAYER,
                endpoints: Vec::new(),
                stopped_at: None,
            }),
            callbacks: callbacks.clone(),
            audio_cbs: audio_cbs.clone(),
            files: FileAudio::new(),
            native_io: Arc::new(AtomicBool::new(false)),
            established_at: established_at.clone(),
            volumes: Arc::new(Volumes {
                enabled: AtomicBool::new(false),
                input: AtomicU32::new(1f32.to_bits()),
                output: AtomicU32::new(1f32.to_bits()),
            }),
            user_data: AtomicPtr::new(std::ptr::null_mut()),
        });
        let ptr = Arc::as_ptr(&h) as usize;
        // Internal callbacks installed once; they forward to whatever the application registered.
        let cbs = callbacks.clone();
        let mut first = true;
        h.ctl.set_state_callback(Box::new(move |state: CallState| {
            if std::mem::take(&mut first) {
                return; // the synchronous report at install time, before any user callback
            }
            if state == CallState::Established {
                let mut e = established_at.lock();
                if e.is_none() {
                    *e = Some(Instant::now());
                }
            }
            super::log(
                b'I',
                &format!("controller {ptr:#x}: state {}", state.name()),
            );
            let c = *cbs.lock();
            if let Some(f) = c.state_changed {
                // SAFETY: registered by the application for this controller.
                in_callback(ptr, || unsafe {
                    f(c.user_data, ptr as *mut tgvoip_controller_t, state as i32)
                });
            }
        }));
        let cbs = callbacks;
        h.ctl.set_signal_bars_callback(Box::new(move |bars| {
            let c = *cbs.lock();
            if let Some(f) = c.signal_bars_changed {
                // SAFETY: registered by the application for this controller.
                in_callback(ptr, || unsafe {
                    f(c.user_data, ptr as *mut tgvoip_controller_t, bars)
                });
            }
        }));
        let mut scratch = Vec::new();
        h.ctl
            .set_preprocessed_callback(Box::new(move |pcm: &[i16]| {
                let a = *audio_cbs.lock();
                if let Some(f) = a.preprocessed {
                    scratch.clear();
                    scratch.extend_from_slice(pcm);
                    let (p, n) = (scratch.as_mut_ptr(), scratch.len());
                    // SAFETY: registered by the application; the buffer is valid for `n` samples.
                    in_callback(ptr, || unsafe { f(a.user as *mut c_void, p, n) });
                }
            }));
        REGISTRY
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(ptr, h);
        write_out(out, ptr as *mut tgvoip_controller_t)
    })
}

/// Stops the call if needed and frees the controller. NULL is ignored (`TGVOIP_OK`). A handle
/// that is not live (e.g. freed twice) gives `TGVOIP_E_INVALID_ARGUMENT`; from inside one of
/// this controller's callbacks `TGVOIP_E_WOULD_DEADLOCK` (and nothing is freed).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_free(c: *mut tgvoip_controller_t) -> tgvoip_status_t {
    guard(|| {
        if c.is_null() {
            return Ok(());
        }
        if inside_callback_of(c as usize) {
            return Err(FfiError::new(
                TGVOIP_E_WOULD_DEADLOCK,
                "tgvoip_controller_free called from the controller's own callback",
            ));
        }
        let h = REGISTRY
            .lock()
            .as_mut()
            .and_then(|r| r.remove(&(c as usize)))
            .ok_or_else(|| FfiError::arg("not a live controller handle (freed twice?)"))?;
        stop_handle(&h)?;
        drop(h);
        Ok(())
    })
}

fn stop_handle(h: &tgvoip_controller_t) -> FfiResult {
    let feeder = {
        let mut st = h.st.lock();
        let was = st.phase;
        st.phase = Phase::Stopped;
        if was == Phase::Stopped {
            return Ok(());
        }
        st.stopped_at = Some(Instant::now());
        st.feeder.take()
    };
    h.ctl.stop()?;
    if let Some(f) = feeder {
        f.finish();
    }
    let path = h.st.lock().config.log_file_path.clone();
    if !path.is_empty() {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = writeln!(f, "{}", h.ctl.debug_log());
        }
    }
    Ok(())
}

macro_rules! with {
    ($c:expr, |$h:ident| $body:expr) => {
        guard(|| {
            let $h = get($c)?;
            $body
        })
    };
}

/// Stores an opaque pointer for the application (libtgvoip's `implData`).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_user_data(
    c: *mut tgvoip_controller_t,
    user_data: *mut c_void,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.user_data.store(user_data, Ordering::Release);
        Ok(())
    })
}

/// The pointer stored by `tgvoip_controller_set_user_data` (NULL for an invalid handle).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_user_data(
    c: *mut tgvoip_controller_t,
) -> *mut c_void {
    guard_value(std::ptr::null_mut(), || {
        get(c).map_or(std::ptr::null_mut(), |h| {
            h.user_data.load(Ordering::Acquire)
        })
    })
}

/// Fills `cbs` with no callbacks and the right `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_callbacks_init_default(cbs: *mut tgvoip_callbacks_t) {
    if !cbs.is_null() {
        cbs.write(tgvoip_callbacks_t::default());
    }
}

/// Registers the event callbacks (NULL = remove all). Like libtgvoip, `state_changed` is called
/// once right away with the current state, on the calling thread.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_callbacks(
    c: *mut tgvoip_controller_t,
    cbs: *const tgvoip_callbacks_t,
) -> tgvoip_status_t {
    with!(c, |h| {
        let new = if cbs.is_null() {
            tgvoip_callbacks_t::default()
        } else {
            read_sized(cbs, tgvoip_callbacks_t::default(), "callbacks")?
        };
        *h.callbacks.lock() = new;
        if let Some(f) = new.state_changed {
            let state = h.ctl.state() as i32;
            in_callback(c as usize, || f(new.user_data, c, state));
        }
        Ok(())
    })
}

/// Registers the audio callbacks (each may be NULL: silence in / output discarded). `input` and
/// `output` run on the real-time audio thread, `preprocessed` on the engine thread. Must precede
/// connect (`TGVOIP_E_INVALID_STATE` afterwards).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_audio_data_callbacks(
    c: *mut tgvoip_controller_t,
    input: tgvoip_audio_cb,
    output: tgvoip_audio_cb,
    preprocessed: tgvoip_audio_cb,
    user_data: *mut c_void,
) -> tgvoip_status_t {
    with!(c, |h| {
        let phase = h.st.lock().phase;
        if phase == Phase::Connected || phase == Phase::Stopped {
            return Err(FfiError::state(
                "audio callbacks must be set before connect",
            ));
        }
        *h.audio_cbs.lock() = AudioCallbacks {
            input,
            output,
            preprocessed,
            user: user_data as usize,
        };
        Ok(())
    })
}

/// Fills `cfg` with libtgvoip's defaults (30 s / 20 s timeouts, no data saving, all flags off).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_config_init_default(cfg: *mut tgvoip_config_t) {
    if !cfg.is_null() {
        cfg.write(tgvoip_config_t::default());
    }
}

/// Sets the call configuration (any time; timeouts and data saving take effect at connect).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_config(
    c: *mut tgvoip_controller_t,
    cfg: *const tgvoip_config_t,
) -> tgvoip_status_t {
    with!(c, |h| {
        let cfg = read_sized(cfg, tgvoip_config_t::default(), "config")?;
        let data_saving = DataSaving::from_i32(cfg.data_saving)
            .ok_or_else(|| FfiError::arg("data_saving must be TGVOIP_DATA_SAVING_*"))?;
        let dur = |v: f64, what: &str| -> FfiResult<Duration> {
            if !v.is_finite() || !(0.0..=1e6).contains(&v) {
                return Err(FfiError::arg(format!("{what} must be 0..1e6 seconds")));
            }
            Ok(Duration::from_secs_f64(v))
        };
        let mut init = dur(cfg.init_timeout, "init_timeout")?;
        if init.is_zero() {
            init = Duration::from_secs(30);
        }
        let recv = dur(cfg.recv_timeout, "recv_timeout")?;
        let log = opt_str(cfg.log_file_path, "log_file_path")?
            .unwrap_or("")
            .to_owned();
        let stats = opt_str(cfg.stats_dump_file_path, "stats_dump_file_path")?
            .unwrap_or("")
            .to_owned();
        let call_id = opt_str(cfg.call_id, "call_id")?.unwrap_or("").to_owned();
        if cfg.enable_video_send || cfg.enable_video_receive {
            return Err(FfiError::unsupported("video is not supported"));
        }
        let config = Config {
            init_timeout: init,
            recv_timeout: recv,
            data_saving,
            enable_aec: cfg.enable_aec,
            enable_ns: cfg.enable_ns,
            enable_agc: cfg.enable_agc,
            enable_call_upgrade: cfg.enable_call_upgrade,
            log_file_path: log,
            stats_dump_file_path: stats,
        };
        h.ctl.set_config(config.clone());
        h.volumes
            .enabled
            .store(cfg.enable_volume_control, Ordering::Relaxed);
        let mut st = h.st.lock();
        st.config = config;
        st.extra = cfg;
        st.extra.log_file_path = std::ptr::null();
        st.extra.stats_dump_file_path = std::ptr::null();
        st.extra.call_id = std::ptr::null();
        st.call_id = call_id;
        Ok(())
    })
}

/// Restores the persistent state blob (JSON from `get_persistent_state`). Empty or unparsable
/// input is ignored, like libtgvoip.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_persistent_state(
    c: *mut tgvoip_controller_t,
    data: *const u8,
    len: usize,
) -> tgvoip_status_t {
    with!(c, |h| {
        let data = bytes(data, len, "data")?;
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
            return Ok(());
        };
        let proxy = &v["proxy"];
        if let Some(server) = proxy["server"].as_str() {
            h.st.lock().persistent = Some((
                server.to_owned(),
                proxy["tcp"].as_bool().unwrap_or(false),
                proxy["udp"].as_bool().unwrap_or(false),
            ));
        }
        Ok(())
    })
}

/// The persistent state blob (json11-style JSON, `{"ver": 1}` without a proxy). Free with
/// `tgvoip_bytes_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_persistent_state(
    c: *mut tgvoip_controller_t,
    out: *mut tgvoip_bytes_t,
) -> tgvoip_status_t {
    with!(c, |h| {
        if out.is_null() {
            return Err(FfiError::arg("out is NULL"));
        }
        let json = match &h.st.lock().persistent {
            Some((server, tcp, udp)) => format!(
                "{{\"proxy\": {{\"server\": {}, \"tcp\": {tcp}, \"udp\": {udp}}}, \"ver\": 1}}",
                serde_json::Value::String(server.clone())
            ),
            None => "{\"ver\": 1}".to_owned(),
        };
        write_out(out, alloc_bytes(json.into_bytes()))
    })
}

/// Routes the call through a SOCKS5 proxy (`TGVOIP_PROXY_SOCKS5`; UDP relays through UDP
/// ASSOCIATE, TCP relays through CONNECT; empty or NULL username = no authentication), or
/// directly (`TGVOIP_PROXY_NONE`). Must precede start. The host is resolved here, to IPv4 only
/// (`TGVOIP_E_INVALID_ARGUMENT` if it does not resolve). If the proxy refuses us (e.g. a wrong
/// password), the call goes to FAILED with `TGVOIP_ERROR_PROXY`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_proxy(
    c: *mut tgvoip_controller_t,
    protocol: i32,
    address: *const c_char,
    port: u16,
    username: *const c_char,
    password: *const c_char,
) -> tgvoip_status_t {
    with!(c, |h| {
        if h.st.lock().phase != Phase::New {
            return Err(FfiError::state("set_proxy must precede start"));
        }
        let (user, pass) = (
            opt_str(username, "username")?.unwrap_or(""),
            opt_str(password, "password")?.unwrap_or(""),
        );
        match protocol {
            TGVOIP_PROXY_NONE => {
                h.ctl.set_proxy(None)?;
                Ok(())
            }
            TGVOIP_PROXY_SOCKS5 => {
                let a = req_str(address, "address")?;
                if a.is_empty() || port == 0 {
                    return Err(FfiError::arg("proxy address and port are required"));
                }
                let addr = std::net::ToSocketAddrs::to_socket_addrs(&(a, port))
                    .ok()
                    .and_then(|mut it| it.find(|x| x.is_ipv4()))
                    .ok_or_else(|| {
                        FfiError::arg(format!("the proxy host {a:?} does not resolve to IPv4"))
                    })?;
                h.ctl.set_proxy(Some(crate::net::ProxyConfig {
                    addr,
                    user: user.to_owned(),
                    pass: pass.to_owned(),
                }))?;
                Ok(())
            }
            _ => Err(FfiError::arg("protocol must be TGVOIP_PROXY_*")),
        }
    })
}

/// Sets the call key (exactly 256 bytes) and whether we are the caller. Must precede connect.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_encryption_key(
    c: *mut tgvoip_controller_t,
    key: *const u8,
    len: usize,
    is_outgoing: bool,
) -> tgvoip_status_t {
    with!(c, |h| {
        let key = bytes(key, len, "key")?;
        if key.len() != 256 {
            return Err(FfiError::arg(format!(
                "the key must be exactly 256 bytes, got {len}"
            )));
        }
        if matches!(h.st.lock().phase, Phase::Connected | Phase::Stopped) {
            return Err(FfiError::state("set_encryption_key must precede connect"));
        }
        h.ctl.set_encryption_key(key, is_outgoing)?;
        Ok(())
    })
}

/// Sets the relays (must precede connect). `tcp` turns every UDP relay entry into a TCP relay
/// (obfuscated2 + abridged framing on the relay's port); without it, UDP relays fall back to
/// their TCP copies when they do not answer over UDP. At least one relay (UDP or TCP) is
/// required; P2P entries alone are refused (`TGVOIP_E_NOT_SUPPORTED`). With `allow_p2p` the call goes direct when it can (public endpoints from the
/// relays' peer-info answers, LAN endpoints announced by the peer) and back to a relay when the
/// direct path breaks; without it nothing is sent to, or answered from, a direct path.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_remote_endpoints(
    c: *mut tgvoip_controller_t,
    endpoints: *const tgvoip_endpoint_t,
    count: usize,
    allow_p2p: bool,
    tcp: bool,
    connection_max_layer: i32,
) -> tgvoip_status_t {
    with!(c, |h| {
        if endpoints.is_null() || count == 0 {
            return Err(FfiError::arg("at least one endpoint is required"));
        }
        if count > 1024 {
            return Err(FfiError::arg("too many endpoints"));
        }
        let mut eps = Vec::with_capacity(count);
        for e in std::slice::from_raw_parts(endpoints, count) {
            let kind = match e.r#type {
                TGVOIP_ENDPOINT_UDP_P2P_INET => EndpointType::UdpP2pInet,
                TGVOIP_ENDPOINT_UDP_P2P_LAN => EndpointType::UdpP2pLan,
                TGVOIP_ENDPOINT_UDP_RELAY => EndpointType::UdpRelay,
                TGVOIP_ENDPOINT_TCP_RELAY => EndpointType::TcpRelay,
                _ => return Err(FfiError::arg("endpoint type must be TGVOIP_ENDPOINT_*")),
            };
            let (ipv4, ipv6) = endpoint_addrs(e.ipv4, e.ipv6)?;
            let kind = if tcp && kind == EndpointType::UdpRelay {
                EndpointType::TcpRelay
            } else {
                kind
            };
            eps.push(Endpoint {
                id: e.id,
                ipv4,
                ipv6,
                port: e.port,
                kind,
                peer_tag: e.peer_tag,
            });
        }
        if !eps
            .iter()
            .any(|e| matches!(e.kind, EndpointType::UdpRelay | EndpointType::TcpRelay))
        {
            return Err(FfiError::unsupported(
                "no relay endpoint (P2P-only calls are not implemented)",
            ));
        }
        if matches!(h.st.lock().phase, Phase::Connected | Phase::Stopped) {
            return Err(FfiError::state("set_remote_endpoints must precede connect"));
        }
        h.ctl
            .set_remote_endpoints(eps.clone(), allow_p2p, connection_max_layer)?;
        let mut st = h.st.lock();
        st.max_layer = connection_max_layer;
        st.endpoints = eps;
        Ok(())
    })
}

/// Opens the UDP socket. Once, before connect. On failure the state becomes FAILED (and the
/// state callback is told) and `TGVOIP_E_IO` is returned.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_start(c: *mut tgvoip_controller_t) -> tgvoip_status_t {
    with!(c, |h| {
        let mut st = h.st.lock();
        match st.phase {
            Phase::New => {}
            Phase::Stopped => return Err(FfiError::state("the controller was stopped")),
            _ => return Err(FfiError::state("already started")),
        }
        st.phase = Phase::Started;
        drop(st);
        h.ctl.start().map_err(|e| {
            h.st.lock().phase = Phase::Stopped;
            FfiError::from(e)
        })
    })
}

/// Starts the handshake and the audio and network threads. After start, once; key and endpoints
/// must be set.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_connect(c: *mut tgvoip_controller_t) -> tgvoip_status_t {
    with!(c, |h| {
        let mut st = h.st.lock();
        match st.phase {
            Phase::Started => {}
            Phase::New => return Err(FfiError::state("connect needs start first")),
            Phase::Connected => return Err(FfiError::state("already connected")),
            Phase::Stopped => return Err(FfiError::state("the controller was stopped")),
        }
        let (rt, feeder) = h
            .files
            .spawn_feeder()
            .map_err(|e| FfiError::new(TGVOIP_E_IO, e.to_string()))?;
        h.ctl.set_audio_io(Box::new(FfiAudio {
            cbs: *h.audio_cbs.lock(),
            ctl: c as usize,
            native: h.native_io.clone(),
            files: rt,
            volumes: h.volumes.clone(),
            scratch: Box::new([0; CHUNK_SAMPLES]),
        }));
        h.ctl.connect()?;
        st.phase = Phase::Connected;
        st.feeder = Some(feeder);
        Ok(())
    })
}

/// Ends the call; idempotent. When it returns no callback of this controller runs again and
/// getters still work. From inside one of this controller's callbacks:
/// `TGVOIP_E_WOULD_DEADLOCK`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_stop(c: *mut tgvoip_controller_t) -> tgvoip_status_t {
    with!(c, |h| {
        if inside_callback_of(c as usize) {
            return Err(FfiError::new(
                TGVOIP_E_WOULD_DEADLOCK,
                "tgvoip_controller_stop called from the controller's own callback",
            ));
        }
        stop_handle(&h)
    })
}

/// Sets the network type (`TGVOIP_NET_TYPE_*`), any time.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_network_type(
    c: *mut tgvoip_controller_t,
    net_type: i32,
) -> tgvoip_status_t {
    with!(c, |h| {
        let n = NetworkType::from_i32(net_type)
            .ok_or_else(|| FfiError::arg("net_type must be TGVOIP_NET_TYPE_*"))?;
        h.ctl.set_network_type(n);
        Ok(())
    })
}

/// Mutes or unmutes the microphone, any time.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_mic_mute(
    c: *mut tgvoip_controller_t,
    mute: bool,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.ctl.set_mic_mute(mute);
        Ok(())
    })
}

/// Stored only (a no-op in libtgvoip 2.4.4 too).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_audio_output_gain_control_enabled(
    c: *mut tgvoip_controller_t,
    enabled: bool,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.st.lock().gain_control = enabled;
        Ok(())
    })
}

/// Stored (no echo canceller in this build).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_echo_cancellation_strength(
    c: *mut tgvoip_controller_t,
    strength: i32,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.st.lock().echo_strength = strength;
        Ok(())
    })
}

fn volume(v: f32) -> FfiResult<u32> {
    if !v.is_finite() || !(0.0..=16.0).contains(&v) {
        return Err(FfiError::arg("volume must be 0.0..16.0"));
    }
    Ok(v.to_bits())
}

/// Linear microphone gain, effective with `enable_volume_control`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_input_volume(
    c: *mut tgvoip_controller_t,
    volume_: f32,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.volumes.input.store(volume(volume_)?, Ordering::Relaxed);
        Ok(())
    })
}

/// Linear playback gain, effective with `enable_volume_control`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_output_volume(
    c: *mut tgvoip_controller_t,
    volume_: f32,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.volumes.output.store(volume(volume_)?, Ordering::Relaxed);
        Ok(())
    })
}

/// Stored only (macOS-only in libtgvoip).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_audio_output_ducking_enabled(
    c: *mut tgvoip_controller_t,
    enabled: bool,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.st.lock().ducking = enabled;
        Ok(())
    })
}

/// Stores the audio input device id (there is no platform audio backend: audio goes through the
/// callbacks or native file I/O).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_current_audio_input(
    c: *mut tgvoip_controller_t,
    id: *const c_char,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.st.lock().audio_input = req_str(id, "id")?.to_owned();
        Ok(())
    })
}

/// Stores the audio output device id (see `set_current_audio_input`).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_current_audio_output(
    c: *mut tgvoip_controller_t,
    id: *const c_char,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.st.lock().audio_output = req_str(id, "id")?.to_owned();
        Ok(())
    })
}

/// The audio input device id ("default" unless set). Free with `tgvoip_string_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_current_audio_input_id(
    c: *mut tgvoip_controller_t,
    out: *mut *mut c_char,
) -> tgvoip_status_t {
    with!(c, |h| {
        let s = h.st.lock().audio_input.clone();
        write_string_out(out, &s)
    })
}

/// The audio output device id ("default" unless set). Free with `tgvoip_string_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_current_audio_output_id(
    c: *mut tgvoip_controller_t,
    out: *mut *mut c_char,
) -> tgvoip_status_t {
    with!(c, |h| {
        let s = h.st.lock().audio_output.clone();
        write_string_out(out, &s)
    })
}

/// libtgvoip's `DebugCtl`: requests 1..4 (bitrate, packet loss, P2P, AEC) are not supported
/// (`TGVOIP_E_NOT_SUPPORTED`); other requests are ignored like in 2.4.4.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_debug_ctl(
    c: *mut tgvoip_controller_t,
    request: i32,
    param: i32,
) -> tgvoip_status_t {
    with!(c, |_h| {
        let _ = param;
        if (1..=4).contains(&request) {
            return Err(FfiError::unsupported(
                "debug_ctl requests are not supported",
            ));
        }
        Ok(())
    })
}

/// The multi-line human-readable debug text. Free with `tgvoip_string_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_debug_string(
    c: *mut tgvoip_controller_t,
    out: *mut *mut c_char,
) -> tgvoip_status_t {
    with!(c, |h| write_string_out(out, &h.ctl.debug_string()))
}

/// The debug log JSON (for `phone.saveCallDebug`). Free with `tgvoip_string_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_debug_log(
    c: *mut tgvoip_controller_t,
    out: *mut *mut c_char,
) -> tgvoip_status_t {
    with!(c, |h| write_string_out(out, &h.ctl.debug_log()))
}

/// Traffic counters.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_stats(
    c: *mut tgvoip_controller_t,
    out: *mut tgvoip_traffic_stats_t,
) -> tgvoip_status_t {
    with!(c, |h| {
        let t = h.ctl.traffic_stats();
        write_out(
            out,
            tgvoip_traffic_stats_t {
                bytes_sent_wifi: t.bytes_sent_wifi,
                bytes_recvd_wifi: t.bytes_recvd_wifi,
                bytes_sent_mobile: t.bytes_sent_mobile,
                bytes_recvd_mobile: t.bytes_recvd_mobile,
            },
        )
    })
}

/// Mean round-trip time in seconds (999 before any measurement).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_average_rtt(
    c: *mut tgvoip_controller_t,
    out: *mut f64,
) -> tgvoip_status_t {
    with!(c, |h| {
        let ms = h.ctl.snapshot().rtt_ms;
        write_out(out, if ms == 0 { 999.0 } else { ms as f64 / 1000.0 })
    })
}

/// The preferred relay id (pass to `phone.discardCall`).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_preferred_relay_id(
    c: *mut tgvoip_controller_t,
    out: *mut i64,
) -> tgvoip_status_t {
    with!(c, |h| write_out(out, h.ctl.preferred_relay_id()))
}

/// Why the call failed (`TGVOIP_ERROR_*`, UNKNOWN until a failure).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_last_error(
    c: *mut tgvoip_controller_t,
    out: *mut i32,
) -> tgvoip_status_t {
    with!(c, |h| write_out(out, h.ctl.last_error() as i32))
}

/// The connection state (`TGVOIP_STATE_*`).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_connection_state(
    c: *mut tgvoip_controller_t,
    out: *mut i32,
) -> tgvoip_status_t {
    with!(c, |h| write_out(out, h.ctl.state() as i32))
}

/// Signal bars 0..4 (0 before the first measurement).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_signal_bars_count(
    c: *mut tgvoip_controller_t,
    out: *mut i32,
) -> tgvoip_status_t {
    with!(c, |h| write_out(out, h.ctl.signal_bars()))
}

/// The peer's `TGVOIP_PEER_CAP_*` bits.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_peer_capabilities(
    c: *mut tgvoip_controller_t,
    out: *mut u32,
) -> tgvoip_status_t {
    with!(c, |h| write_out(out, h.ctl.peer_capabilities()))
}

/// Whether to ask the user for a rating: quality problems were seen and the server config's
/// `bad_call_rating` is true (default false).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_need_rate(
    c: *mut tgvoip_controller_t,
    out: *mut bool,
) -> tgvoip_status_t {
    with!(c, |h| {
        let s = h.ctl.snapshot();
        let problems = s.ever_reconnecting || s.extra_ec_used || s.last_error.is_some();
        let rating = crate::server_config::ServerConfig::current().bool("bad_call_rating", false);
        write_out(out, problems && rating)
    })
}

/// Seconds since the call first became ESTABLISHED (0 if it never did); frozen at stop.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_call_duration(
    c: *mut tgvoip_controller_t,
    out: *mut f64,
) -> tgvoip_status_t {
    with!(c, |h| {
        let at = *h.established_at.lock();
        let end = h.st.lock().stopped_at;
        let d = match (at, end) {
            (Some(a), Some(e)) => e.saturating_duration_since(a).as_secs_f64(),
            (Some(a), None) => a.elapsed().as_secs_f64(),
            _ => 0.0,
        };
        write_out(out, d)
    })
}

/// The first configured remote endpoint (`TGVOIP_E_INVALID_STATE` if none was set).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_remote_endpoint(
    c: *mut tgvoip_controller_t,
    out: *mut tgvoip_endpoint_info_t,
) -> tgvoip_status_t {
    with!(c, |h| {
        if out.is_null() {
            return Err(FfiError::arg("out is NULL"));
        }
        let st = h.st.lock();
        let pref = h.ctl.preferred_relay_id();
        let e = st
            .endpoints
            .iter()
            .find(|e| e.id == pref)
            .or_else(|| st.endpoints.first())
            .ok_or_else(|| FfiError::state("no remote endpoints set"))?;
        let mut info = tgvoip_endpoint_info_t {
            id: e.id,
            ipv4: [0; 16],
            ipv6: [0; 46],
            port: e.port,
            r#type: e.kind as i32,
            peer_tag: e.peer_tag,
        };
        let copy = |dst: &mut [c_char], s: String| {
            let max = dst.len() - 1;
            for (d, b) in dst.iter_mut().zip(s.bytes().take(max)) {
                *d = b as c_char;
            }
        };
        if let Some(a) = e.ipv4 {
            copy(&mut info.ipv4, a.to_string());
        }
        if let Some(a) = e.ipv6 {
            copy(&mut info.ipv6, a.to_string());
        }
        write_out(out, info)
    })
}

/// Group calls are not supported: `TGVOIP_E_NOT_SUPPORTED` (after checking the 256-byte key).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_send_group_call_key(
    c: *mut tgvoip_controller_t,
    key: *const u8,
    len: usize,
) -> tgvoip_status_t {
    with!(c, |_h| {
        let key = bytes(key, len, "key")?;
        if key.len() != 256 {
            return Err(FfiError::arg(
                "the group call key must be exactly 256 bytes",
            ));
        }
        Err(FfiError::unsupported("group calls are not supported"))
    })
}

/// Group calls are not supported: `TGVOIP_E_NOT_SUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_request_call_upgrade(
    c: *mut tgvoip_controller_t,
) -> tgvoip_status_t {
    with!(c, |_h| Err(FfiError::unsupported(
        "group calls are not supported"
    )))
}

/// Switches between the audio callbacks (false, default) and native file I/O (true): play queue
/// / hold queue as the microphone, heard audio to the output file. Any time.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_native_io(
    c: *mut tgvoip_controller_t,
    enabled: bool,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.native_io.store(enabled, Ordering::Relaxed);
        Ok(())
    })
}

/// Whether native file I/O is on.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_get_native_io(
    c: *mut tgvoip_controller_t,
    out: *mut bool,
) -> tgvoip_status_t {
    with!(c, |h| write_out(out, h.native_io.load(Ordering::Relaxed)))
}

/// Appends a raw PCM file (s16le, 48 kHz, mono) to the play queue. `TGVOIP_E_IO` if it cannot be
/// opened.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_play(
    c: *mut tgvoip_controller_t,
    path: *const c_char,
) -> tgvoip_status_t {
    with!(c, |h| {
        let p = req_str(path, "path")?;
        h.files
            .play(Path::new(p))
            .map_err(|e| FfiError::new(TGVOIP_E_IO, format!("{p}: {e}")))
    })
}

/// Replaces the hold queue (looped while the play queue is empty). Unopenable files are skipped;
/// `*out_queued` (may be NULL) gets how many were queued.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_play_on_hold(
    c: *mut tgvoip_controller_t,
    paths: *const *const c_char,
    count: usize,
    out_queued: *mut usize,
) -> tgvoip_status_t {
    with!(c, |h| {
        if paths.is_null() && count > 0 {
            return Err(FfiError::arg("paths is NULL"));
        }
        let mut v = Vec::with_capacity(count);
        for i in 0..count {
            v.push(Path::new(req_str(*paths.add(i), "path")?));
        }
        let n = h.files.play_on_hold(&v);
        if !out_queued.is_null() {
            out_queued.write(n);
        }
        Ok(())
    })
}

/// Writes what is heard to `path` (truncated); replaces the previous output file only on
/// success (`TGVOIP_E_IO` otherwise).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_set_output_file(
    c: *mut tgvoip_controller_t,
    path: *const c_char,
) -> tgvoip_status_t {
    with!(c, |h| {
        let p = req_str(path, "path")?;
        h.files
            .set_output_file(Path::new(p))
            .map_err(|e| FfiError::new(TGVOIP_E_IO, format!("{p}: {e}")))
    })
}

/// Closes and drops the play queue.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_clear_play_queue(
    c: *mut tgvoip_controller_t,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.files.clear_play_queue();
        Ok(())
    })
}

/// Closes and drops the hold queue.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_clear_hold_queue(
    c: *mut tgvoip_controller_t,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.files.clear_hold_queue();
        Ok(())
    })
}

/// Closes the output file.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_controller_unset_output_file(
    c: *mut tgvoip_controller_t,
) -> tgvoip_status_t {
    with!(c, |h| {
        h.files.unset_output_file();
        Ok(())
    })
}

/// An audio device (id and display name).
#[repr(C)]
pub struct tgvoip_audio_device_t {
    /// Device id.
    pub id: *mut c_char,
    /// Human-readable name.
    pub display_name: *mut c_char,
}

/// A list of audio devices.
#[repr(C)]
pub struct tgvoip_audio_device_list_t {
    /// The devices.
    pub items: *mut tgvoip_audio_device_t,
    /// Number of devices.
    pub count: usize,
}

/// There is no platform audio backend: `TGVOIP_E_NOT_SUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_enumerate_audio_inputs(
    out: *mut tgvoip_audio_device_list_t,
) -> tgvoip_status_t {
    guard(|| {
        if out.is_null() {
            return Err(FfiError::arg("out is NULL"));
        }
        Err(FfiError::unsupported(
            "no platform audio backend: use audio callbacks",
        ))
    })
}

/// There is no platform audio backend: `TGVOIP_E_NOT_SUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_enumerate_audio_outputs(
    out: *mut tgvoip_audio_device_list_t,
) -> tgvoip_status_t {
    tgvoip_enumerate_audio_inputs(out)
}

/// Frees a device list (never produced by this build); NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_audio_device_list_free(list: *mut tgvoip_audio_device_list_t) {
    if !list.is_null() {
        (*list).items = std::ptr::null_mut();
        (*list).count = 0;
    }
}

/// Opaque microphone level tester (libtgvoip's `AudioInputTester`); never created by this build.
pub struct tgvoip_audio_input_tester_t {
    _private: (),
}

/// There is no platform audio backend: `TGVOIP_E_NOT_SUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_audio_input_tester_new(
    device_id: *const c_char,
    out: *mut *mut tgvoip_audio_input_tester_t,
) -> tgvoip_status_t {
    guard(|| {
        let _ = opt_str(device_id, "device_id")?;
        if out.is_null() {
            return Err(FfiError::arg("out is NULL"));
        }
        Err(FfiError::unsupported("no platform audio backend"))
    })
}

/// Always 0.0 (no tester can exist).
#[no_mangle]
pub extern "C" fn tgvoip_audio_input_tester_get_and_reset_level(
    tester: *mut tgvoip_audio_input_tester_t,
) -> f32 {
    let _ = tester;
    0.0
}

/// Always true (no tester can exist).
#[no_mangle]
pub extern "C" fn tgvoip_audio_input_tester_failed(
    tester: *mut tgvoip_audio_input_tester_t,
) -> bool {
    let _ = tester;
    true
}

/// Frees a tester; NULL is ignored.
#[no_mangle]
pub extern "C" fn tgvoip_audio_input_tester_free(tester: *mut tgvoip_audio_input_tester_t) {
    let _ = tester;
}

/// Parses an endpoint's optional IPv4 and IPv6 address strings (NULL or "" for none; `::` counts
/// as none, as in Telegram's signalling).
///
/// # Safety
/// Each pointer is NULL or a NUL-terminated string.
pub(super) unsafe fn endpoint_addrs(
    ipv4: *const c_char,
    ipv6: *const c_char,
) -> FfiResult<(Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    let v4 = match opt_str(ipv4, "ipv4")?.unwrap_or("") {
        "" => None,
        s => Some(
            s.parse::<Ipv4Addr>()
                .map_err(|_| FfiError::arg(format!("bad IPv4 address {s:?}")))?,
        ),
    };
    let v6 = match opt_str(ipv6, "ipv6")?.unwrap_or("") {
        "" => None,
        s => Some(
            s.parse::<Ipv6Addr>()
                .map_err(|_| FfiError::arg(format!("bad IPv6 address {s:?}")))?,
        )
        .filter(|a| !a.is_unspecified()),
    };
    Ok((v4, v6))
}
