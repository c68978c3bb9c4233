//! Bookkeeping both engines share: traffic counters by network kind, signal bars averaged over
//! 4 s, and keeping the playback ring topped up from the receiver in step with the audio
//! thread's ticks. Protocol-agnostic: the engines feed it their loss figures.

use std::sync::Arc;
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
const CAPTURE_LAG: Duration = Duration::from_millis(1);
/// How long before an audio tick the chunk it plays is decoded, at first: margin for a late
/// wake-up, instead of the chunk waiting a whole tick in the ring.
const PLAYBACK_LEAD: Duration = Duration::from_millis(6);
/// Lead added for each tick the audio thread found nothing to play (a busy machine wakes the
/// engine late), up to a whole tick.
const LEAD_STEP: Duration = Duration::from_millis(4);
const MAX_LEAD: Duration = Duration::from_millis(20);

/// Times an engine's playback work to the audio thread's ticks: each chunk is decoded a short
/// lead before the tick that plays it, and the engine wakes just after each tick to send the
/// chunk captured. Underruns widen the lead.
pub struct PlaybackPacer {
    clock: Arc<AudioShared>,
    lead: Duration,
    /// The audio thread's underrun count when last looked at (None before the first top-up).
    underruns: Option<u64>,
}

impl PlaybackPacer {
    /// A pacer on the tick clock of the call's audio thread.
    pub fn new(clock: Arc<AudioShared>) -> PlaybackPacer {
        PlaybackPacer {
            clock,
            lead: PLAYBACK_LEAD,
            underruns: None,
        }
    }

    /// How long before a tick its chunk is decoded now.
    pub fn lead(&self) -> Duration {
        self.lead
    }

    /// Decodes chunks into the playback ring until `fill` chunks are queued for the audio
    /// thread; the last of them only [`lead`](Self::lead) before the tick that plays it (once
    /// the audio thread has ticked: before that, all `fill` at once).
    pub fn top_up(
        &mut self,
        receiver: &mut AudioReceiver,
        playback: &mut ChunkProducer,
        capacity: usize,
        fill: usize,
        now: Instant,
        chunk: &mut [i16; CHUNK_SAMPLES],
    ) {
        let underruns = self.clock.playback_underruns();
        if let Some(seen) = self.underruns {
            let missed = u32::try_from(underruns.saturating_sub(seen)).unwrap_or(u32::MAX);
            self.lead = (self.lead + LEAD_STEP.saturating_mul(missed)).min(MAX_LEAD);
        }
        self.underruns = Some(underruns);
        let fill = match self.clock.next_tick() {
            Some(tick) if now + self.lead < tick => fill.saturating_sub(1),
            _ => fill,
        };
        while capacity - playback.free_chunks() < fill {
            receiver.next_chunk(now, chunk);
            if !playback.push_chunk(chunk) {
                break;
            }
        }
    }

    /// How long the engine may sleep (at most `limit`) before the audio thread needs it: until
    /// just after the next tick, to send its capture, and until the lead before it while the
    /// chunk it plays is still owed (`queued` of `fill` chunks in the ring; at once if that
    /// moment has passed).
    pub fn wake(&self, queued: usize, fill: usize, now: Instant, limit: Duration) -> Duration {
        let Some(tick) = self.clock.next_tick() else {
            return limit;
        };
        let mut wake = limit.min((tick + CAPTURE_LAG).saturating_duration_since(now));
        if queued < fill {
            let due = tick.checked_sub(self.lead).unwrap_or(tick);
            wake = wake.min(due.saturating_duration_since(now));
        }
        wake
    }
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
        let clock = Arc::new(AudioShared::default());
        let pacer = PlaybackPacer::new(Arc::clone(&clock));
        let limit = Duration::from_millis(10);
        let wake = pacer.wake(0, 1, Instant::now(), limit);
        assert_eq!(wake, limit, "no tick yet");
        // (Tick times are kept relative to a reference taken at the first tick.)
        clock.note_tick(Instant::now());
        std::thread::sleep(Duration::from_millis(5));
        let now = Instant::now();
        // Ticked 4 ms ago: the next tick is 16 ms away. A chunk is owed: wake 6 ms before it.
        clock.note_tick(now - Duration::from_millis(4));
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let owed = pacer.wake(0, 1, now, Duration::from_millis(50));
        assert!((ms(owed) - 10.0).abs() < 0.01, "{owed:?}");
        // Nothing owed: wake just after the tick, for its capture.
        let after = pacer.wake(1, 1, now, Duration::from_millis(50));
        assert!((ms(after) - 17.0).abs() < 0.01, "{after:?}");
        assert_eq!(pacer.wake(1, 1, now, limit), limit);
        // The owed moment has passed: at once.
        let late = now + Duration::from_millis(12);
        assert_eq!(pacer.wake(0, 1, late, limit), Duration::ZERO);
    }

    #[test]
    fn the_last_chunk_is_decoded_just_before_its_tick_and_underruns_widen_the_lead() {
        let clock = Arc::new(AudioShared::default());
        let mut pacer = PlaybackPacer::new(Arc::clone(&clock));
        clock.note_tick(Instant::now());
        let mut rx = AudioReceiver::new(1).expect("receiver");
        let (mut tx, mut played) = crate::audio::chunk_ring(4);
        let mut chunk = [0i16; CHUNK_SAMPLES];
        let now = Instant::now();
        clock.note_tick(now);
        // Right after a tick: one chunk short of the fill.
        pacer.top_up(&mut rx, &mut tx, 4, 2, now, &mut chunk);
        assert_eq!(4 - tx.free_chunks(), 1);
        // Within the lead of the next tick: the full fill.
        let soon = now + Duration::from_millis(15);
        pacer.top_up(&mut rx, &mut tx, 4, 2, soon, &mut chunk);
        assert_eq!(4 - tx.free_chunks(), 2);
        // Two ticks found nothing to play: the lead grows, so the chunk comes earlier.
        assert_eq!(pacer.lead(), PLAYBACK_LEAD);
        clock.note_underrun();
        clock.note_underrun();
        while played.pop_chunk(&mut chunk) {}
        pacer.top_up(&mut rx, &mut tx, 4, 1, now, &mut chunk);
        assert_eq!(pacer.lead(), PLAYBACK_LEAD + 2 * LEAD_STEP);
        let earlier = now + Duration::from_millis(9);
        pacer.top_up(&mut rx, &mut tx, 4, 1, earlier, &mut chunk);
        assert_eq!(4 - tx.free_chunks(), 1, "decoded 11 ms before the tick");
        for _ in 0..10 {
            clock.note_underrun();
        }
        pacer.top_up(&mut rx, &mut tx, 4, 1, earlier, &mut chunk);
        assert_eq!(pacer.lead(), MAX_LEAD);
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
