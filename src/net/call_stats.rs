//! Bookkeeping both engines share: traffic counters by network kind, signal bars averaged over
//! 4 s, and keeping the playback ring topped up from the receiver. Protocol-agnostic: the
//! engines feed it their loss figures.

use std::time::Instant;

use crate::api::{NetworkType, TrafficStats};
use crate::audio::{ChunkProducer, CHUNK_SAMPLES};
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

/// Decodes chunks into the playback ring until `fill` chunks are queued for the audio thread.
pub fn top_up_playback(
    receiver: &mut AudioReceiver,
    playback: &mut ChunkProducer,
    capacity: usize,
    fill: usize,
    now: Instant,
    chunk: &mut [i16; CHUNK_SAMPLES],
) {
    while capacity - playback.free_chunks() < fill {
        receiver.next_chunk(now, chunk);
        if !playback.push_chunk(chunk) {
            break;
        }
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
