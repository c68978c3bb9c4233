//! A PCM bridge: the controller's audio callbacks feed two wait-free rings, so that an
//! application whose code must not run on the real-time audio thread (a garbage-collected or
//! interpreted language: Python through ctypes, which takes the GIL in every callback) exchanges
//! 960-sample frames from its own threads and blocks in `tgvoip_pcm_bridge_wait_*` instead.
//!
//! The real-time side (the audio callbacks installed by `tgvoip_pcm_bridge_attach`) only pops or
//! pushes a ring and bumps counters: no lock, no allocation, no syscall. A missing microphone
//! frame plays as silence (counted as an underrun); a heard frame that does not fit is dropped
//! (counted as an overrun). The application side may use the input functions from one thread
//! and the output functions from another at the same time.
//!
//! Lifetime: free the bridge only after the controller it is attached to has been stopped (or
//! freed), when no audio callback can run any more.

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::controller::{tgvoip_controller_set_audio_data_callbacks, tgvoip_controller_t};
use super::*;
use crate::audio::ring::{chunk_ring, ChunkConsumer, ChunkProducer};
use crate::audio::CHUNK_SAMPLES;
use crate::sync::Mutex;

/// A value used by one thread at a time, claimed with an atomic flag (never blocks: a second
/// claimant simply gets nothing). Used for the ring ends touched by the real-time thread.
struct Claim<T> {
    busy: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialized by the `busy` flag.
unsafe impl<T: Send> Sync for Claim<T> {}

impl<T> Claim<T> {
    fn new(value: T) -> Claim<T> {
        Claim {
            busy: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: we hold the flag, so no other reference exists.
        let r = f(unsafe { &mut *self.value.get() });
        self.busy.store(false, Ordering::Release);
        Some(r)
    }
}

/// Opaque PCM bridge between a controller's audio callbacks and application threads.
pub struct tgvoip_pcm_bridge_t {
    capacity: usize,
    input_tx: Mutex<ChunkProducer>,
    input_rx: Claim<ChunkConsumer>,
    output_tx: Claim<ChunkProducer>,
    output_rx: Mutex<ChunkConsumer>,
    closed: AtomicBool,
    input_frames: AtomicU64,
    input_underruns: AtomicU64,
    output_frames: AtomicU64,
    output_overruns: AtomicU64,
}

/// Counters of a PCM bridge.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct tgvoip_pcm_bridge_stats_t {
    /// Microphone frames the audio thread asked for.
    pub input_frames: u64,
    /// ... of which none was queued (silence was sent).
    pub input_underruns: u64,
    /// Heard frames the audio thread delivered.
    pub output_frames: u64,
    /// ... of which the output ring was full (the frame was dropped).
    pub output_overruns: u64,
}

/// Largest ring capacity, in frames (20 s).
pub const TGVOIP_PCM_BRIDGE_MAX_FRAMES: u32 = 1000;

fn bridge<'a>(b: *mut tgvoip_pcm_bridge_t) -> FfiResult<&'a tgvoip_pcm_bridge_t> {
    if b.is_null() {
        return Err(FfiError::arg("bridge is NULL"));
    }
    // SAFETY: the caller passes a pointer from `tgvoip_pcm_bridge_new` that is not yet freed.
    Ok(unsafe { &*b })
}

/// Creates a bridge whose two rings (microphone and heard audio) hold up to `capacity_frames`
/// 960-sample frames each (1..=1000). Free with `tgvoip_pcm_bridge_free`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_new(
    capacity_frames: u32,
    out: *mut *mut tgvoip_pcm_bridge_t,
) -> tgvoip_status_t {
    guard(|| {
        if capacity_frames == 0 || capacity_frames > TGVOIP_PCM_BRIDGE_MAX_FRAMES {
            return Err(FfiError::arg("capacity_frames must be 1..=1000"));
        }
        let n = capacity_frames as usize;
        let (input_tx, input_rx) = chunk_ring(n);
        let (output_tx, output_rx) = chunk_ring(n);
        let b = Box::new(tgvoip_pcm_bridge_t {
            capacity: n,
            input_tx: Mutex::new(input_tx),
            input_rx: Claim::new(input_rx),
            output_tx: Claim::new(output_tx),
            output_rx: Mutex::new(output_rx),
            closed: AtomicBool::new(false),
            input_frames: AtomicU64::new(0),
            input_underruns: AtomicU64::new(0),
            output_frames: AtomicU64::new(0),
            output_overruns: AtomicU64::new(0),
        });
        write_out(out, Box::into_raw(b))
    })
}

/// Frees a bridge; NULL is ignored. The controller it was attached to must be stopped or freed.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_free(b: *mut tgvoip_pcm_bridge_t) {
    if !b.is_null() {
        // SAFETY: from `tgvoip_pcm_bridge_new`, freed once (caller's contract).
        drop(Box::from_raw(b));
    }
}

unsafe extern "C" fn rt_input(user: *mut c_void, samples: *mut i16, n: usize) {
    // SAFETY: `user` is the attached bridge, alive while the controller can call back.
    let b = &*(user as *const tgvoip_pcm_bridge_t);
    let out = std::slice::from_raw_parts_mut(samples, n);
    b.input_frames.fetch_add(1, Ordering::Relaxed);
    let got = n == CHUNK_SAMPLES && b.input_rx.try_with(|rx| rx.pop_chunk(out)) == Some(true);
    if !got {
        out.fill(0);
        b.input_underruns.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe extern "C" fn rt_output(user: *mut c_void, samples: *mut i16, n: usize) {
    // SAFETY: as in `rt_input`.
    let b = &*(user as *const tgvoip_pcm_bridge_t);
    let pcm = std::slice::from_raw_parts(samples, n);
    b.output_frames.fetch_add(1, Ordering::Relaxed);
    let pushed = b.output_tx.try_with(|tx| tx.push_chunk(pcm)) == Some(true);
    if !pushed {
        b.output_overruns.fetch_add(1, Ordering::Relaxed);
    }
}

/// Installs the bridge as the controller's audio input and output callbacks (replacing any
/// others; the preprocessed callback is removed). Must precede connect, like
/// `tgvoip_controller_set_audio_data_callbacks`.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_attach(
    b: *mut tgvoip_pcm_bridge_t,
    c: *mut tgvoip_controller_t,
) -> tgvoip_status_t {
    if b.is_null() {
        return guard(|| Err(FfiError::arg("bridge is NULL")));
    }
    tgvoip_controller_set_audio_data_callbacks(
        c,
        Some(rt_input),
        Some(rt_output),
        None,
        b as *mut c_void,
    )
}

/// Queues one microphone frame (`count` must be 960). `TGVOIP_E_BUFFER_TOO_SMALL` when the ring
/// is full (nothing queued).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_push_input(
    b: *mut tgvoip_pcm_bridge_t,
    samples: *const i16,
    count: usize,
) -> tgvoip_status_t {
    guard(|| {
        let b = bridge(b)?;
        if samples.is_null() || count != CHUNK_SAMPLES {
            return Err(FfiError::arg("samples must point to 960 samples"));
        }
        let pcm = std::slice::from_raw_parts(samples, count);
        if b.input_tx.lock().push_chunk(pcm) {
            Ok(())
        } else {
            Err(FfiError::new(
                TGVOIP_E_BUFFER_TOO_SMALL,
                "microphone ring is full",
            ))
        }
    })
}

/// Takes one heard frame into `out` (`count` must be 960); `*got` says whether there was one.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_pop_output(
    b: *mut tgvoip_pcm_bridge_t,
    out: *mut i16,
    count: usize,
    got: *mut bool,
) -> tgvoip_status_t {
    guard(|| {
        let b = bridge(b)?;
        if out.is_null() || count != CHUNK_SAMPLES {
            return Err(FfiError::arg("out must have room for 960 samples"));
        }
        let buf = std::slice::from_raw_parts_mut(out, count);
        let popped = b.output_rx.lock().pop_chunk(buf);
        write_out(got, popped)
    })
}

/// Polls `ready` every 2 ms until it holds, the bridge is closed, or `timeout_ms` passes
/// (negative = no limit). Blocking here is what lets a caller release its interpreter lock.
fn wait_until(b: &tgvoip_pcm_bridge_t, timeout_ms: i32, ready: impl Fn() -> bool) {
    let deadline =
        (timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
    while !ready() && !b.closed.load(Ordering::Acquire) {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Blocks until fewer than `below` microphone frames are queued (the application should queue
/// more), the bridge is closed, or `timeout_ms` passes. `*queued` gets the frames queued.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_wait_input(
    b: *mut tgvoip_pcm_bridge_t,
    below: u32,
    timeout_ms: i32,
    queued: *mut u32,
) -> tgvoip_status_t {
    guard(|| {
        let b = bridge(b)?;
        let level = || b.capacity - b.input_tx.lock().free_chunks();
        wait_until(b, timeout_ms, || level() < below as usize);
        write_out(queued, level() as u32)
    })
}

/// Blocks until a heard frame is available, the bridge is closed, or `timeout_ms` passes.
/// `*available` gets the frames ready to pop.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_wait_output(
    b: *mut tgvoip_pcm_bridge_t,
    timeout_ms: i32,
    available: *mut u32,
) -> tgvoip_status_t {
    guard(|| {
        let b = bridge(b)?;
        let ready = || b.output_rx.lock().available_chunks();
        wait_until(b, timeout_ms, || ready() > 0);
        write_out(available, ready() as u32)
    })
}

/// Wakes every waiter now and makes later waits return at once (the audio keeps flowing).
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_close(b: *mut tgvoip_pcm_bridge_t) -> tgvoip_status_t {
    guard(|| {
        bridge(b)?.closed.store(true, Ordering::Release);
        Ok(())
    })
}

/// The bridge's counters.
#[no_mangle]
pub unsafe extern "C" fn tgvoip_pcm_bridge_get_stats(
    b: *mut tgvoip_pcm_bridge_t,
    out: *mut tgvoip_pcm_bridge_stats_t,
) -> tgvoip_status_t {
    guard(|| {
        let b = bridge(b)?;
        let s = tgvoip_pcm_bridge_stats_t {
            input_frames: b.input_frames.load(Ordering::Relaxed),
            input_underruns: b.input_underruns.load(Ordering::Relaxed),
            output_frames: b.output_frames.load(Ordering::Relaxed),
            output_overruns: b.output_overruns.load(Ordering::Relaxed),
        };
        write_out(out, s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_the_bridge() {
        unsafe {
            let mut b = std::ptr::null_mut();
            assert_eq!(tgvoip_pcm_bridge_new(0, &mut b), TGVOIP_E_INVALID_ARGUMENT);
            assert_eq!(tgvoip_pcm_bridge_new(3, &mut b), TGVOIP_OK);
            let frame: Vec<i16> = (0..960).map(|i| i as i16).collect();
            let mut q = 9;
            assert_eq!(tgvoip_pcm_bridge_wait_input(b, 1, 0, &mut q), TGVOIP_OK);
            assert_eq!(q, 0);
            for _ in 0..3 {
                assert_eq!(
                    tgvoip_pcm_bridge_push_input(b, frame.as_ptr(), 960),
                    TGVOIP_OK
                );
            }
            assert_eq!(
                tgvoip_pcm_bridge_push_input(b, frame.as_ptr(), 960),
                TGVOIP_E_BUFFER_TOO_SMALL
            );
            let mut buf = vec![7i16; 960];
            rt_input(b as *mut c_void, buf.as_mut_ptr(), 960);
            assert_eq!(buf, frame);
            rt_output(b as *mut c_void, buf.as_mut_ptr(), 960);
            let mut avail = 0;
            assert_eq!(tgvoip_pcm_bridge_wait_output(b, 0, &mut avail), TGVOIP_OK);
            assert_eq!(avail, 1);
            let (mut out, mut got) = (vec![0i16; 960], false);
            assert_eq!(
                tgvoip_pcm_bridge_pop_output(b, out.as_mut_ptr(), 960, &mut got),
                TGVOIP_OK
            );
            assert!(got && out == frame);
            for _ in 0..3 {
                rt_input(b as *mut c_void, buf.as_mut_ptr(), 960);
            }
            assert!(buf.iter().all(|&s| s == 0));
            let mut s = tgvoip_pcm_bridge_stats_t::default();
            assert_eq!(tgvoip_pcm_bridge_get_stats(b, &mut s), TGVOIP_OK);
            assert_eq!(
                (s.input_frames, s.input_underruns, s.output_frames),
                (4, 1, 1)
            );
            assert_eq!(tgvoip_pcm_bridge_close(b), TGVOIP_OK);
            let t = Instant::now();
            assert_eq!(
                tgvoip_pcm_bridge_wait_output(b, 5000, &mut avail),
                TGVOIP_OK
            );
            assert!(t.elapsed() < Duration::from_secs(1));
            tgvoip_pcm_bridge_free(b);
        }
    }
}
