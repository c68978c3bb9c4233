//! Bookkeeping both engines share: traffic counters by network kind, signal bars averaged over
//! 4 s, and keeping the playback ring topped up from the receiver in step with the audio
//! thread's ticks. Protocol-agnostic: the engines feed it their loss figures.

use std::time::{Duration, Instant};

use crate::api::{NetworkType, TrafficStats};
use crate::audio::{AudioShared, ChunkProducer, CHUNK_SAMPLES};
use crate::media::{AudioReceiver, ReceiverStats};

/// Adds `sent` and `recvd` bytes to the mobile or the Wi-Fi counters, as 2.4.4 splits them.
pub fn count_traffic(t: &mut TrafficStats, network: NetworkType, sent: usize, recvd: usize) {
    let (s, r) = (sent as u64, recvd as u64);
    if network.is_mobile() {
        t.bytes_sent_mobile += s;
        t.bytes_recvd_mobile += r;
    } else {
        t.bytes_sent_wifi += s;
        t.bytes_recvd_wifi += r;
    }
}

/// How long after an audio tick an engine wakes to send the chunk just captured.
pub const CAPTURE_LAG: Duration = Duration::from_millis(1);
/// How long before an audio tick the chunk it plays is decoded: margin for a late wake-up (a
/// miss costs one chunk of silence), instead of the chunk waiting a whole tick in the ring.
pub const PLAYBACK_LEAD: Duration = Duration::from_millis(6);

/// Decodes chunks into the playback ring until `fill` chunks are queued for the audio thread;
/// the last of them only [`PLAYBACK_LEAD`] before the tick that plays it (once the audio
/// thread has ticked: before that, all `fill` at once).
pub fn top_up_playback(
    receiver: &mut AudioReceiver,
    playback: &mut ChunkProducer,
    capacity: usize,
    fill: usize,
    clock: &AudioShared,
    now: Instant,
    chunk: &mut [i16; CHUNK_SAMPLES],
) {
    let fill = match clock.next_tick() {
        Some(tick) if now + PLAYBACK_LEAD < tick => fill.saturating_sub(1),
        _ => fill,
    };
    while capacity - playback.free_chunks() < fill {
        receiver.next_chunk(now, chunk);
        if !playback.push_chunk(chunk) {
            break;
        }
    }
}

/// How long an engine may sleep (at most `limit`) before the audio thread needs it: until just
/// after the next tick, to send its capture, and until just before it while the chunk it plays
/// is still owed (`queued` of `fill` chunks in the ring; at once if that moment has passed).
pub fn audio_wake(
    clock: &AudioShared,
    queued: usize,
    fill: usize,
    now: Instant,
    limit: Duration,
) -> Duration {
    let Some(tick) = clock.next_tick() else {
        return limit;
    };
    let mut wake = limit.min((tick + CAPTURE_LAG).saturating_duration_since(now));
    if queued < fill {
        let due = tick.checked_sub(PLAYBACK_LEAD).unwrap_or(tick);
        wake = wake.min(due.saturating_duration_since(now));
    }
    wake
}

/// Signal bars (0..=4): one reading a second from state, send loss and receive loss, reported
/// as the average of the last four readings.
#[derive(Debug, Clone, Default)]
pub struct SignalBars {
    history: [i32; 4],
    len: usize,
    bars: i32,
}

impl SignalBars {
    /// No reading yet (0 bars).
    pub fn new() -> SignalBars {
        SignalBars::default()
    }

    /// The bars reported now.
    pub fn current(&self) -> i32 {
        self.bars
    }

    /// One reading: 4 bars (3 on a TCP relay, as 2.4.4), 1 while reconnecting, lowered by the
    /// fraction of our packets lost (> 2.5 %: 3, > 6.25 %: 2, > 10 %: 1) and by receive loss
    /// above 10 % (2).
    pub fn reading(reconnecting: bool, on_tcp: bool, send_loss: f64, rx: &ReceiverStats) -> i32 {
        let mut bars = match (reconnecting, on_tcp) {
            (true, _) => 1,
            (false, true) => 3,
            (false, false) => 4,
        };
        if send_loss > 0.1 {
            bars = 1;
        } else if send_loss > 0.0625 {
            bars = bars.min(2);
        } else if send_loss > 0.025 {
            bars = bars.min(3);
        }
        let decoded = rx.frames_decoded.max(1) as f64;
        if rx.frames_lost as f64 / (decoded + rx.frames_lost as f64) > 0.1 {
            bars = bars.min(2);
        }
        bars
    }

    /// Adds a reading; returns the new average when it changed.
    pub fn push(&mut self, reading: i32) -> Option<i32> {
        self.history.rotate_left(1);
        self.history[3] = reading;
        self.len = (self.len + 1).min(4);
        let recent = &self.history[4 - self.len..];
        let avg = recent.iter().sum::<i32>() / recent.len() as i32;
        (avg != self.bars).then(|| {
            self.bars = avg;
            avg
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_wake_around_the_audio_ticks() {
        let clock = AudioShared::default();
        let limit = Duration::from_millis(10);
        assert_eq!(
            audio_wake(&clock, 0, 1, Instant::now(), limit),
            limit,
            "no tick yet"
        );
        // (Tick times are kept relative to a reference taken at the first tick.)
        clock.note_tick(Instant::now());
        std::thread::sleep(Duration::from_millis(5));
        let now = Instant::now();
        // Ticked 4 ms ago: the next tick is 16 ms away. A chunk is owed: wake 6 ms before it.
        clock.note_tick(now - Duration::from_millis(4));
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let owed = audio_wake(&clock, 0, 1, now, Duration::from_millis(50));
        assert!((ms(owed) - 10.0).abs() < 0.01, "{owed:?}");
        // Nothing owed: wake just after the tick, for its capture.
        let after = audio_wake(&clock, 1, 1, now, Duration::from_millis(50));
        assert!((ms(after) - 17.0).abs() < 0.01, "{after:?}");
        assert_eq!(audio_wake(&clock, 1, 1, now, limit), limit);
        // The owed moment has passed: at once.
        let late = now + Duration::from_millis(12);
        assert_eq!(audio_wake(&clock, 0, 1, late, limit), Duration::ZERO);
    }

    #[test]
    fn the_last_chunk_is_decoded_just_before_its_tick() {
        let clock = AudioShared::default();
        clock.note_tick(Instant::now());
        let mut rx = AudioReceiver::new(1).expect("receiver");
        let (mut tx, _rx) = crate::audio::chunk_ring(4);
        let mut chunk = [0i16; CHUNK_SAMPLES];
        let now = Instant::now();
        clock.note_tick(now);
        // Right after a tick: one chunk short of the fill.
        top_up_playback(&mut rx, &mut tx, 4, 2, &clock, now, &mut chunk);
        assert_eq!(4 - tx.free_chunks(), 1);
        // Within the lead of the next tick: the full fill.
        let soon = now + Duration::from_millis(15);
        top_up_playback(&mut rx, &mut tx, 4, 2, &clock, soon, &mut chunk);
        assert_eq!(4 - tx.free_chunks(), 2);
    }

    #[test]
    fn bars_average_the_last_four_readings() {
        let mut b = SignalBars::new();
        assert_eq!(b.push(4), Some(4));
        assert_eq!(b.push(4), None);
        assert_eq!(b.push(1), Some(3));
        assert_eq!(b.push(1), Some(2));
        assert_eq!(b.push(1), Some(1));
        assert_eq!(b.current(), 1);
    }

    #[test]
    fn readings_follow_loss() {
        let rx = ReceiverStats::default();
        assert_eq!(SignalBars::reading(false, false, 0.0, &rx), 4);
        assert_eq!(SignalBars::reading(false, false, 0.03, &rx), 3);
        assert_eq!(SignalBars::reading(false, false, 0.07, &rx), 2);
        assert_eq!(SignalBars::reading(false, false, 0.2, &rx), 1);
        assert_eq!(SignalBars::reading(true, false, 0.0, &rx), 1);
        assert_eq!(SignalBars::reading(false, true, 0.0, &rx), 3);
        assert_eq!(SignalBars::reading(true, true, 0.0, &rx), 1);
        assert_eq!(SignalBars::reading(false, true, 0.07, &rx), 2);
        let lossy = ReceiverStats {
            frames_decoded: 80,
            frames_lost: 20,
            ..ReceiverStats::default()
        };
        assert_eq!(SignalBars::reading(false, false, 0.0, &lossy), 2);
    }
}
