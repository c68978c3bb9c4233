//! The audio thread: an absolute 20 ms schedule; per tick it asks the application for one chunk
//! to send and hands it one received chunk. No locks, no allocation, no logging inside the loop.
//!
//! Panic policy: a panic inside an [`AudioIo`] callback is not caught (catching would need the
//! loop to prepare for an allocating payload). The thread unwinds and ends, a guard sets
//! [`AudioShared::panicked`], the rings are dropped (so the other side sees them abandoned) and
//! [`AudioThread::stop`] returns `None` because the I/O object was lost with the thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::schedule::{Schedule, Step};
use super::{rt, AudioIo, ChunkConsumer, ChunkProducer, CHUNK_SAMPLES};

/// Name given to the OS thread (visible in debuggers and `top -H`).
pub const THREAD_NAME: &str = "tgvoip-audio";

/// Period of one tick: one 960-sample chunk at 48 kHz.
pub const TICK: Duration = Duration::from_millis(20);

/// Lateness beyond which the schedule restarts from "now" instead of catching up in a burst.
pub const MAX_LATENESS: Duration = Duration::from_millis(100);

/// Reference point of [`AudioShared::next_tick`] (tick times travel as nanoseconds since it).
static CLOCK_BASE: OnceLock<Instant> = OnceLock::new();

fn clock_base() -> Instant {
    *CLOCK_BASE.get_or_init(Instant::now)
}

/// State shared (through atomics only) between the audio thread and the rest of the call.
///
/// One `AudioShared` serves one running [`AudioThread`] at a time; counters accumulate across
/// threads if it is reused.
#[derive(Default)]
pub struct AudioShared {
    stop: AtomicBool,
    panicked: AtomicBool,
    ticks: AtomicU64,
    capture_overruns: AtomicU64,
    playback_underruns: AtomicU64,
    reanchors: AtomicU64,
    /// When the last tick ran, nanoseconds since [`CLOCK_BASE`] (0: none yet).
    last_tick_ns: AtomicU64,
}

impl AudioShared {
    /// Chunks dropped because the capture ring was full.
    pub fn capture_overruns(&self) -> u64 {
        self.capture_overruns.load(Ordering::Relaxed)
    }
    /// Ticks that had no received chunk ready (silence was played).
    pub fn playback_underruns(&self) -> u64 {
        self.playback_underruns.load(Ordering::Relaxed)
    }
    /// Ticks run so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }
    /// Times the thread was more than [`MAX_LATENESS`] behind and restarted its schedule
    /// (each one means audio time was lost, e.g. the process was suspended).
    pub fn reanchors(&self) -> u64 {
        self.reanchors.load(Ordering::Relaxed)
    }
    /// When the next tick is due, if the thread has ticked: lets the network side wake just
    /// after a chunk was captured and just before one is played, instead of at random.
    pub fn next_tick(&self) -> Option<Instant> {
        let ns = self.last_tick_ns.load(Ordering::Acquire);
        (ns != 0).then(|| clock_base() + Duration::from_nanos(ns) + TICK)
    }
    /// Records that a tick ran at `at` (`base` is [`CLOCK_BASE`], read once by the thread).
    fn store_tick(&self, at: Instant, base: Instant) {
        let ns = at.saturating_duration_since(base).as_nanos().max(1);
        self.last_tick_ns
            .store(u64::try_from(ns).unwrap_or(u64::MAX), Ordering::Release);
    }
    /// Records a tick at `at`, as the thread does (tests of the tick-timed callers).
    #[cfg(test)]
    pub(crate) fn note_tick(&self, at: Instant) {
        self.store_tick(at, clock_base());
    }
    /// Counts an underrun, as the thread does (tests of the tick-timed callers).
    #[cfg(test)]
    pub(crate) fn note_underrun(&self) {
        self.playback_underruns.fetch_add(1, Ordering::Relaxed);
    }
    /// Whether the audio thread ended because an [`AudioIo`] callback panicked.
    pub fn panicked(&self) -> bool {
        self.panicked.load(Ordering::Acquire)
    }
}

/// A running audio thread. Dropping it stops and joins the thread.
pub struct AudioThread {
    handle: Option<JoinHandle<Box<dyn AudioIo>>>,
    shared: Arc<AudioShared>,
}

impl AudioThread {
    /// Starts the thread. Captured chunks go into `capture`; played chunks come from `playback`.
    ///
    /// Clears a stop request left in `shared` by a previous thread.
    pub fn spawn(
        io: Box<dyn AudioIo>,
        capture: ChunkProducer,
        playback: ChunkConsumer,
        shared: Arc<AudioShared>,
    ) -> std::io::Result<AudioThread> {
        shared.stop.store(false, Ordering::Release);
        shared.last_tick_ns.store(0, Ordering::Release);
        let base = clock_base();
        let for_thread = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || thread_main(io, capture, playback, for_thread, base))?;
        Ok(AudioThread {
            handle: Some(handle),
            shared,
        })
    }

    /// Stops and joins the thread; no callback runs after this returns. Returns the I/O object,
    /// or `None` if the thread died from a panic in a callback (see the module docs).
    pub fn stop(mut self) -> Option<Box<dyn AudioIo>> {
        self.stop_and_join()
    }

    /// The counters shared with the thread.
    pub fn shared(&self) -> &Arc<AudioShared> {
        &self.shared
    }

    fn stop_and_join(&mut self) -> Option<Box<dyn AudioIo>> {
        self.shared.stop.store(true, Ordering::Release);
        let handle = self.handle.take()?;
        if handle.thread().id() == std::thread::current().id() {
            // Joining ourselves would deadlock; the loop sees the flag and ends on its own.
            return None;
        }
        handle.join().ok()
    }
}

impl Drop for AudioThread {
    fn drop(&mut self) {
        // The I/O object (if any) is dropped here, on the caller's thread.
        let _ = self.stop_and_join();
    }
}

/// Sets [`AudioShared::panicked`] if dropped during unwinding.
struct PanicFlag<'a>(&'a AudioShared);

impl Drop for PanicFlag<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.panicked.store(true, Ordering::Release);
        }
    }
}

/// Clears the real-time mark when dropped, also when unwinding.
struct RealtimeMark;

impl RealtimeMark {
    fn enter() -> RealtimeMark {
        rt::mark_current_thread_realtime();
        RealtimeMark
    }
}

impl Drop for RealtimeMark {
    fn drop(&mut self) {
        rt::clear_current_thread_realtime();
    }
}

fn thread_main(
    mut io: Box<dyn AudioIo>,
    mut capture: ChunkProducer,
    mut playback: ChunkConsumer,
    shared: Arc<AudioShared>,
    base: Instant,
) -> Box<dyn AudioIo> {
    let _panic_flag = PanicFlag(&shared);
    {
        let _mark = RealtimeMark::enter();
        run_loop(io.as_mut(), &mut capture, &mut playback, &shared, base);
    }
    // No longer real-time: dropping the rings below may free their storage.
    drop(capture);
    drop(playback);
    io
}

/// The real-time loop. Everything it touches was allocated before it started.
fn run_loop(
    io: &mut dyn AudioIo,
    capture: &mut ChunkProducer,
    playback: &mut ChunkConsumer,
    shared: &AudioShared,
    base: Instant,
) {
    let mut capture_buf = [0i16; CHUNK_SAMPLES];
    let mut playback_buf = [0i16; CHUNK_SAMPLES];
    let mut schedule = Schedule::new(Instant::now(), TICK, MAX_LATENESS);
    while !shared.stop.load(Ordering::Acquire) {
        let now = Instant::now();
        match schedule.poll(now) {
            Step::Wait(remaining) => std::thread::sleep(remaining),
            Step::Due { reanchored } => {
                if reanchored {
                    shared.reanchors.fetch_add(1, Ordering::Relaxed);
                }
                tick(
                    io,
                    capture,
                    playback,
                    shared,
                    &mut capture_buf,
                    &mut playback_buf,
                );
                shared.store_tick(now, base);
                schedule.advance();
            }
        }
    }
}

/// One 20 ms exchange: capture → ring, ring → playback.
fn tick(
    io: &mut dyn AudioIo,
    capture: &mut ChunkProducer,
    playback: &mut ChunkConsumer,
    shared: &AudioShared,
    capture_buf: &mut [i16; CHUNK_SAMPLES],
    playback_buf: &mut [i16; CHUNK_SAMPLES],
) {
    capture_buf.fill(0);
    io.capture(capture_buf);
    if !capture.push_chunk(capture_buf) {
        shared.capture_overruns.fetch_add(1, Ordering::Relaxed);
    }
    if !playback.pop_chunk(playback_buf) {
        playback_buf.fill(0);
        shared.playback_underruns.fetch_add(1, Ordering::Relaxed);
    }
    io.playback(playback_buf);
    shared.ticks.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::chunk_ring;

    /// Counts callbacks; optionally panics on the third capture.
    struct Probe {
        captures: Arc<AtomicU64>,
        panic_on_third: bool,
    }

    impl AudioIo for Probe {
        fn capture(&mut self, out: &mut [i16]) {
            let n = self.captures.fetch_add(1, Ordering::SeqCst);
            assert!(
                !(self.panic_on_third && n == 2),
                "probe panic (expected by the test)"
            );
            out.fill(n as i16 + 1);
        }
        fn playback(&mut self, _pcm: &[i16]) {}
    }

    fn probe(panic_on_third: bool) -> (Box<dyn AudioIo>, Arc<AtomicU64>) {
        let captures = Arc::new(AtomicU64::new(0));
        let io = Probe {
            captures: Arc::clone(&captures),
            panic_on_third,
        };
        (Box::new(io), captures)
    }

    fn wait_for(cond: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    #[test]
    fn stop_returns_io_and_no_callback_runs_afterwards() {
        let (io, captures) = probe(false);
        let (cap_tx, mut cap_rx) = chunk_ring(8);
        let (_play_tx, play_rx) = chunk_ring(8);
        let shared = Arc::new(AudioShared::default());
        let thread = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
        assert!(wait_for(|| shared.ticks() >= 3));
        assert!(thread.stop().is_some());
        let frozen = captures.load(Ordering::SeqCst);
        assert_eq!(shared.ticks(), frozen);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(captures.load(Ordering::SeqCst), frozen);
        assert!(!shared.panicked());
        // The first captured chunk went through the ring as the callback wrote it.
        let mut out = [0i16; CHUNK_SAMPLES];
        assert!(cap_rx.pop_chunk(&mut out));
        assert!(out.iter().all(|&s| s == 1));
        // Every tick without a playback chunk is an underrun.
        assert_eq!(shared.playback_underruns(), shared.ticks());
    }

    #[test]
    fn next_tick_follows_the_schedule() {
        let (io, _captures) = probe(false);
        let (cap_tx, _cap_rx) = chunk_ring(64);
        let (_play_tx, play_rx) = chunk_ring(1);
        let shared = Arc::new(AudioShared::default());
        assert_eq!(shared.next_tick(), None, "no tick yet");
        let thread = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
        assert!(wait_for(|| shared.ticks() >= 2));
        let first = shared.next_tick().expect("ticked");
        // Due within one period from now (or just passed, if the thread is about to run it).
        let now = Instant::now();
        assert!(first <= now + TICK, "{first:?} vs {now:?}");
        assert!(first + TICK >= now, "{first:?} vs {now:?}");
        let ticks = shared.ticks();
        assert!(wait_for(|| shared.ticks() >= ticks + 3));
        // Later ticks keep to the 20 ms grid of the first.
        let later = shared.next_tick().expect("ticked");
        let periods = later.saturating_duration_since(first).as_secs_f64() / TICK.as_secs_f64();
        assert!(periods >= 2.5, "{periods}");
        drop(thread);
    }

    #[test]
    fn drop_stops_the_thread() {
        let (io, captures) = probe(false);
        let (cap_tx, _cap_rx) = chunk_ring(64);
        let (_play_tx, play_rx) = chunk_ring(1);
        let shared = Arc::new(AudioShared::default());
        let thread = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
        assert!(wait_for(|| shared.ticks() >= 2));
        drop(thread);
        let frozen = captures.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(captures.load(Ordering::SeqCst), frozen);
    }

    #[test]
    fn full_capture_ring_counts_overruns() {
        let (io, _captures) = probe(false);
        let (cap_tx, cap_rx) = chunk_ring(1);
        let (_play_tx, play_rx) = chunk_ring(1);
        let shared = Arc::new(AudioShared::default());
        let thread = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
        assert!(wait_for(|| shared.ticks() >= 4));
        assert!(thread.stop().is_some());
        assert_eq!(cap_rx.available_chunks(), 1);
        assert_eq!(shared.capture_overruns(), shared.ticks() - 1);
    }

    #[test]
    fn queued_playback_chunk_is_played_not_counted_as_underrun() {
        struct Player(Arc<AtomicU64>);
        impl AudioIo for Player {
            fn capture(&mut self, _out: &mut [i16]) {}
            fn playback(&mut self, pcm: &[i16]) {
                if pcm.iter().all(|&s| s == 42) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let heard = Arc::new(AtomicU64::new(0));
        let (cap_tx, _cap_rx) = chunk_ring(64);
        let (mut play_tx, play_rx) = chunk_ring(2);
        assert!(play_tx.push_chunk(&[42i16; CHUNK_SAMPLES]));
        let shared = Arc::new(AudioShared::default());
        let io = Box::new(Player(Arc::clone(&heard)));
        let thread = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
        assert!(wait_for(|| shared.ticks() >= 3));
        assert!(thread.stop().is_some());
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        assert_eq!(shared.playback_underruns(), shared.ticks() - 1);
    }

    #[test]
    fn callback_panic_ends_thread_and_stop_reports_none() {
        let (io, captures) = probe(true);
        let (cap_tx, cap_rx) = chunk_ring(8);
        let (_play_tx, play_rx) = chunk_ring(1);
        let shared = Arc::new(AudioShared::default());
        let thread = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
        assert!(wait_for(|| shared.panicked()));
        assert!(wait_for(|| cap_rx.is_abandoned()));
        assert!(thread.stop().is_none());
        assert_eq!(captures.load(Ordering::SeqCst), 3);
        assert_eq!(shared.ticks(), 2);
    }

    #[test]
    fn thread_is_named_and_marked_realtime() {
        struct Inspect(Arc<AtomicU64>);
        impl AudioIo for Inspect {
            fn capture(&mut self, _out: &mut [i16]) {
                let named = std::thread::current().name() == Some(THREAD_NAME);
                if named && rt::is_realtime_thread() {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
            fn playback(&mut self, _pcm: &[i16]) {}
        }
        let good = Arc::new(AtomicU64::new(0));
        let (cap_tx, _cap_rx) = chunk_ring(8);
        let (_play_tx, play_rx) = chunk_ring(1);
        let shared = Arc::new(AudioShared::default());
        let io = Box::new(Inspect(Arc::clone(&good)));
        let thread = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
        assert!(wait_for(|| shared.ticks() >= 2));
        assert!(thread.stop().is_some());
        assert_eq!(good.load(Ordering::SeqCst), shared.ticks());
        assert!(!rt::is_realtime_thread());
    }
}
