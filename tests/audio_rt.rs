//! Proof that the audio thread is real-time safe: no heap allocation or deallocation and no
//! library mutex on it while it runs, with audio flowing through both rings. A counting global
//! allocator attributes every allocation to the calling thread's real-time mark; the negative
//! controls show that the counters do see an allocation or a lock made inside a callback.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tgvoip::audio::{
    chunk_ring, AudioIo, AudioShared, AudioThread, ChunkConsumer, ChunkProducer, CHUNK_SAMPLES,
};

mod rt_counting;

use rt_counting::{counters, CountingAlloc};
use tgvoip::audio::rt::realtime_lock_count;

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// The counters are process-wide: run the tests of this file one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sample `i` of a continuous 440 Hz sine: what the "microphone" produces.
fn sine(i: u64) -> i16 {
    let phase = (i % 48_000) as f64 * 440.0 * std::f64::consts::TAU / 48_000.0;
    (phase.sin() * 12_000.0).round() as i16
}

/// Sample `j` of the `k`-th chunk the network side sends for playback; never zero, so it can be
/// told apart from the silence played on underrun.
fn far_end(k: u64, j: usize) -> i16 {
    ((k * CHUNK_SAMPLES as u64 + j as u64) % 20_000) as i16 + 1
}

fn wait_for(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The application side: a sine for the microphone, and a tap that forwards every played chunk
/// to the test through another chunk ring (no allocation either way).
struct SineAndTap {
    position: u64,
    tap: ChunkProducer,
    tap_overflows: Arc<AtomicU64>,
}

impl AudioIo for SineAndTap {
    fn capture(&mut self, out: &mut [i16]) {
        for (offset, sample) in out.iter_mut().enumerate() {
            *sample = sine(self.position + offset as u64);
        }
        self.position += out.len() as u64;
    }
    fn playback(&mut self, pcm: &[i16]) {
        if !self.tap.push_chunk(pcm) {
            self.tap_overflows.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// What the network-side thread observed.
#[derive(Debug, Default)]
struct NetReport {
    captured: u64,
    capture_mismatches: u64,
    pushed: u64,
    played_far_end: u64,
    played_silence: u64,
    playback_mismatches: u64,
}

/// The network side, on a normal thread: consumes captured chunks, produces far-end chunks,
/// and checks what the tap says was played.
fn network_side(
    mut captured: ChunkConsumer,
    mut to_play: ChunkProducer,
    mut tap: ChunkConsumer,
    stop: Arc<AtomicBool>,
) -> NetReport {
    let mut report = NetReport::default();
    let mut chunk = vec![0i16; CHUNK_SAMPLES];
    let mut expected = vec![0i16; CHUNK_SAMPLES];
    loop {
        let last_round = stop.load(Ordering::SeqCst);
        while captured.pop_chunk(&mut chunk) {
            let base = report.captured * CHUNK_SAMPLES as u64;
            for (j, e) in expected.iter_mut().enumerate() {
                *e = sine(base + j as u64);
            }
            if chunk != expected {
                report.capture_mismatches += 1;
            }
            report.captured += 1;
        }
        while to_play.free_chunks() > 0 && !last_round {
            for (j, e) in expected.iter_mut().enumerate() {
                *e = far_end(report.pushed, j);
            }
            assert!(to_play.push_chunk(&expected));
            report.pushed += 1;
        }
        while tap.pop_chunk(&mut chunk) {
            if chunk.iter().all(|&s| s == 0) {
                report.played_silence += 1;
                continue;
            }
            for (j, e) in expected.iter_mut().enumerate() {
                *e = far_end(report.played_far_end, j);
            }
            if chunk != expected {
                report.playback_mismatches += 1;
            }
            report.played_far_end += 1;
        }
        if last_round {
            return report;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn audio_thread_runs_one_second_without_allocating_or_locking() {
    let _serial = serial();
    let (cap_tx, cap_rx) = chunk_ring(16);
    let (play_tx, play_rx) = chunk_ring(4);
    let (tap_tx, tap_rx) = chunk_ring(128);
    let tap_overflows = Arc::new(AtomicU64::new(0));
    let io = Box::new(SineAndTap {
        position: 0,
        tap: tap_tx,
        tap_overflows: Arc::clone(&tap_overflows),
    });
    let net_stop = Arc::new(AtomicBool::new(false));
    let net_stop_remote = Arc::clone(&net_stop);
    let net = std::thread::spawn(move || network_side(cap_rx, play_tx, tap_rx, net_stop_remote));
    let shared = Arc::new(AudioShared::default());

    let before = counters();
    let audio = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
    std::thread::sleep(Duration::from_secs(1));
    let io_back = audio.stop();
    let after = counters();

    net_stop.store(true, Ordering::SeqCst);
    let report = net.join().expect("network side");
    assert!(io_back.is_some(), "a clean stop returns the I/O object");
    assert!(!shared.panicked());

    // Real-time safety during the whole run.
    assert_eq!(
        after.allocs - before.allocs,
        0,
        "allocations on the RT thread"
    );
    assert_eq!(
        after.deallocs - before.deallocs,
        0,
        "deallocations on the RT thread"
    );
    assert_eq!(
        after.locks - before.locks,
        0,
        "library mutex locks on the RT thread"
    );

    // Pacing: a functional check, not a benchmark.
    let ticks = shared.ticks();
    assert!((40..=60).contains(&ticks), "ticks in 1 s: {ticks}");

    // Capture: every chunk arrived, in order, intact.
    assert_eq!(shared.capture_overruns(), 0);
    assert_eq!(report.captured, ticks);
    assert_eq!(report.capture_mismatches, 0, "{report:?}");

    // Playback: every tick played either silence (underrun) or the next far-end chunk, intact.
    assert_eq!(tap_overflows.load(Ordering::SeqCst), 0);
    assert_eq!(report.played_far_end + report.played_silence, ticks);
    assert_eq!(report.played_silence, shared.playback_underruns());
    assert_eq!(report.playback_mismatches, 0, "{report:?}");
    assert!(report.played_far_end >= ticks - 5, "{report:?}");
    assert!(report.pushed >= report.played_far_end);
}

/// Allocates and frees on every capture.
struct Allocating;

impl AudioIo for Allocating {
    fn capture(&mut self, out: &mut [i16]) {
        let scratch: Vec<i16> = std::hint::black_box(Vec::with_capacity(out.len()));
        drop(scratch);
    }
    fn playback(&mut self, _pcm: &[i16]) {}
}

#[test]
fn negative_control_allocation_in_callback_is_detected() {
    let _serial = serial();
    let (cap_tx, _cap_rx) = chunk_ring(64);
    let (_play_tx, play_rx) = chunk_ring(1);
    let shared = Arc::new(AudioShared::default());
    let before = counters();
    let audio = AudioThread::spawn(Box::new(Allocating), cap_tx, play_rx, Arc::clone(&shared))
        .expect("spawn");
    wait_for(|| shared.ticks() >= 5);
    assert!(audio.stop().is_some());
    let after = counters();
    let ticks = shared.ticks();
    assert_eq!(
        after.allocs - before.allocs,
        ticks,
        "one allocation per tick"
    );
    assert_eq!(after.deallocs - before.deallocs, ticks, "one free per tick");
    assert_eq!(after.locks, before.locks);
}

/// Locks a library mutex on every capture.
struct Locking(Arc<tgvoip::sync::Mutex<u64>>);

impl AudioIo for Locking {
    fn capture(&mut self, _out: &mut [i16]) {
        *self.0.lock() += 1;
    }
    fn playback(&mut self, _pcm: &[i16]) {}
}

#[test]
fn negative_control_lock_in_callback_is_counted() {
    let _serial = serial();
    let (cap_tx, _cap_rx) = chunk_ring(64);
    let (_play_tx, play_rx) = chunk_ring(1);
    let shared = Arc::new(AudioShared::default());
    let count = Arc::new(tgvoip::sync::Mutex::new(0u64));
    let io = Box::new(Locking(Arc::clone(&count)));
    let before = counters();
    let audio = AudioThread::spawn(io, cap_tx, play_rx, Arc::clone(&shared)).expect("spawn");
    wait_for(|| shared.ticks() >= 5);
    assert!(audio.stop().is_some());
    let after = counters();
    let locked_in_callback = *count.lock();
    assert!(locked_in_callback >= 5);
    assert_eq!(after.locks - before.locks, locked_in_callback);
    assert_eq!(
        realtime_lock_count(),
        after.locks,
        "locks on this thread are not counted"
    );
    assert_eq!(after.allocs, before.allocs);
}
