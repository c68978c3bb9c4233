//! Outgoing audio accounting: which audio packets the peer acknowledged, loss over a recent
//! window, bytes in flight, and round-trip time from acks.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::delay_stats::DelayTracker;
use crate::wire::seq_gt;

/// An audio packet not yet acknowledged.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    seq: u32,
    size: u32,
    sent: Instant,
}

/// Per-second totals for the loss window.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Whole seconds since the first packet.
    second: u64,
    acked: u32,
    lost: u32,
}

/// After this long without an ack an audio packet counts as lost (or twice the smoothed RTT
/// when that is longer: on a 500 ms-delay GPRS link with big packets the RTT nears 2 s, and
/// a fixed timeout would count every packet lost).
const LOSS_TIMEOUT: Duration = Duration::from_secs(2);
/// Most packets tracked at once (older ones are evicted and counted lost).
const MAX_IN_FLIGHT: usize = 100;
/// Seconds of history the loss ratio covers.
const WINDOW_SECS: u64 = 5;
/// Expired packets remembered so that a late ack turns their loss back into a delivery.
const MAX_EXPIRED: usize = 100;

/// Sender-side statistics of the audio stream.
#[derive(Debug)]
pub struct SendStats {
    in_flight: VecDeque<InFlight>,
    inflight_bytes: u32,
    buckets: VecDeque<Bucket>,
    start: Option<Instant>,
    lost_total: u64,
    srtt: Option<Duration>,
    delay: DelayTracker,
    /// Send time of the newest packet acknowledged so far.
    newest_acked_sent: Option<Instant>,
    /// Packets counted lost by timeout: (seq, loss-window second it was counted in).
    expired: VecDeque<(u32, u64)>,
}

impl Default for SendStats {
    fn default() -> Self {
        SendStats {
            in_flight: VecDeque::with_capacity(MAX_IN_FLIGHT),
            inflight_bytes: 0,
            buckets: VecDeque::new(),
            start: None,
            lost_total: 0,
            srtt: None,
            delay: DelayTracker::default(),
            newest_acked_sent: None,
            expired: VecDeque::with_capacity(MAX_EXPIRED),
        }
    }
}

impl SendStats {
    /// An audio packet of `size` payload bytes went out with `seq`.
    pub fn on_sent(&mut self, now: Instant, seq: u32, size: u32) {
        self.roll(now);
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            if let Some(old) = self.in_flight.pop_front() {
                self.inflight_bytes = self.inflight_bytes.saturating_sub(old.size);
                self.count_lost();
            }
        }
        self.in_flight.push_back(InFlight {
            seq,
            size,
            sent: now,
        });
        self.inflight_bytes += size;
    }

    /// The peer acknowledged `seq`. `direct` means it was the packet's ack id (a fresh RTT sample).
    /// A packet already counted lost by timeout counts as delivered after all: it sat in a
    /// queue, which the RTT shows, and was not lost.
    pub fn on_acked(&mut self, now: Instant, seq: u32, direct: bool) {
        self.roll(now);
        if let Some(pos) = find_seq(&self.in_flight, seq, |p| p.seq) {
            if let Some(p) = self.in_flight.remove(pos) {
                self.newest_acked_sent =
                    Some(self.newest_acked_sent.map_or(p.sent, |t| t.max(p.sent)));
                self.inflight_bytes = self.inflight_bytes.saturating_sub(p.size);
                if let Some(b) = self.buckets.back_mut() {
                    b.acked += 1;
                }
                if direct {
                    let sample = now.saturating_duration_since(p.sent);
                    self.delay.on_sample(now, sample);
                    self.srtt = Some(match self.srtt {
                        Some(s) => (s * 7 + sample) / 8,
                        None => sample,
                    });
                }
            }
        } else if let Some(pos) = find_seq(&self.expired, seq, |&(s, _)| s) {
            if let Some((_, second)) = self.expired.remove(pos) {
                if let Some(b) = self.buckets.iter_mut().find(|b| b.second == second) {
                    b.lost = b.lost.saturating_sub(1);
                    b.acked += 1;
                }
                self.lost_total = self.lost_total.saturating_sub(1);
            }
        }
    }

    /// Expires packets unacknowledged for too long.
    pub fn tick(&mut self, now: Instant) {
        self.roll(now);
        while let Some(p) = self.in_flight.front() {
            let timeout = self
                .srtt
                .map_or(LOSS_TIMEOUT, |s| (s * 2).max(LOSS_TIMEOUT));
            if now.saturating_duration_since(p.sent) < timeout {
                break;
            }
            let seq = p.seq;
            self.inflight_bytes = self.inflight_bytes.saturating_sub(p.size);
            self.in_flight.pop_front();
            self.count_lost();
            if self.expired.len() >= MAX_EXPIRED {
                self.expired.pop_front();
            }
            let second = self.buckets.back().map_or(0, |b| b.second);
            self.expired.push_back((seq, second));
        }
    }

    /// How long the oldest packet sent after the newest acknowledged one has waited for its
    /// ack. Unlike RTT samples, which stop coming while acks sit in a queue, this grows with
    /// the queue from its first moments (None before the first ack).
    pub fn ack_stall(&self, now: Instant) -> Option<Duration> {
        let newest = self.newest_acked_sent?;
        let waiting = self.in_flight.iter().find(|p| p.sent > newest)?;
        Some(now.saturating_duration_since(waiting.sent))
    }

    /// The path came back after a break: what was sent into it and what was lost while it was
    /// down says nothing about congestion on the path now, so the packets still waiting for
    /// an ack are dropped uncounted and the loss window starts afresh (the RTT history stays).
    pub fn forget_break(&mut self) {
        self.in_flight.clear();
        self.inflight_bytes = 0;
        self.buckets.clear();
        self.expired.clear();
    }

    /// Fraction of audio packets lost over the last few seconds.
    pub fn loss_ratio(&self) -> f64 {
        let (acked, lost) = self
            .buckets
            .iter()
            .fold((0u32, 0u32), |(a, l), b| (a + b.acked, l + b.lost));
        if acked + lost == 0 {
            0.0
        } else {
            f64::from(lost) / f64::from(acked + lost)
        }
    }

    /// Audio packets counted lost since the call started.
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Unacknowledged audio payload bytes.
    pub fn inflight_bytes(&self) -> u32 {
        self.inflight_bytes
    }

    /// Recent and base RTT of direct acks (queueing-delay evidence).
    pub fn delay(&self) -> &DelayTracker {
        &self.delay
    }

    /// Smoothed round-trip time from direct acks.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    fn count_lost(&mut self) {
        self.lost_total += 1;
        if let Some(b) = self.buckets.back_mut() {
            b.lost += 1;
        }
    }

    /// Opens the bucket for the current second and forgets those outside the window.
    fn roll(&mut self, now: Instant) {
        let start = *self.start.get_or_insert(now);
        let second = now.saturating_duration_since(start).as_secs();
        if self.buckets.back().is_none_or(|b| b.second != second) {
            self.buckets.push_back(Bucket {
                second,
                ..Bucket::default()
            });
        }
        while self
            .buckets
            .front()
            .is_some_and(|b| b.second + WINDOW_SECS <= second)
        {
            self.buckets.pop_front();
        }
    }
}

/// Position of `seq` in a queue kept in sending order (ascending, wrap-aware sequence numbers):
/// a binary search, since acks (an ack id and up to 32 mask bits per packet) are looked up on
/// every received packet.
fn find_seq<T>(queue: &VecDeque<T>, seq: u32, seq_of: impl Fn(&T) -> u32) -> Option<usize> {
    let pos = queue.partition_point(|x| seq_gt(seq, seq_of(x)));
    queue.get(pos).filter(|x| seq_of(x) == seq).map(|_| pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_and_rtt_are_measured() {
        let t0 = Instant::now();
        let mut s = SendStats::default();
        for i in 0..20u32 {
            let t = t0 + Duration::from_millis(60 * u64::from(i));
            s.on_sent(t, i + 1, 100);
            if i % 4 != 0 {
                s.on_acked(t + Duration::from_millis(50), i + 1, true);
            }
        }
        assert_eq!(s.inflight_bytes(), 500);
        s.tick(t0 + Duration::from_secs(4));
        assert_eq!(s.lost_total(), 5);
        assert!((s.loss_ratio() - 0.25).abs() < 1e-9, "{}", s.loss_ratio());
        assert_eq!(s.srtt(), Some(Duration::from_millis(50)));
        assert_eq!(s.inflight_bytes(), 0);
    }

    #[test]
    fn a_path_break_is_not_counted_as_loss_once_the_path_is_back() {
        let t0 = Instant::now();
        let mut s = SendStats::default();
        // 1.8 s of packets lost to a dead path, most already timed out.
        for i in 0..30u32 {
            s.on_sent(t0 + Duration::from_millis(60 * u64::from(i)), i + 1, 100);
        }
        s.tick(t0 + Duration::from_millis(2_000));
        assert!(s.loss_ratio() > 0.9);
        s.on_sent(t0 + Duration::from_millis(2_000), 31, 100);
        s.forget_break();
        assert_eq!((s.inflight_bytes(), s.loss_ratio()), (0, 0.0));
        // What is sent on the new path counts as usual.
        let t1 = t0 + Duration::from_millis(2_200);
        s.on_sent(t1, 32, 100);
        s.on_acked(t1 + Duration::from_millis(40), 32, true);
        s.on_sent(t1, 33, 100);
        s.tick(t1 + Duration::from_secs(3));
        assert!((s.loss_ratio() - 0.5).abs() < 1e-9, "{}", s.loss_ratio());
    }
}
