//! Queueing-delay evidence from direct-ack RTT samples: a fast-moving recent RTT and the windowed
//! minimum (the path's base RTT), whose difference is the queue the call built up on the way.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Length of one minimum bucket.
const BUCKET: Duration = Duration::from_secs(1);
/// Buckets the base-RTT minimum covers (older minima expire, so a route change is followed).
const BUCKETS: usize = 20;

/// Recent and base RTT of the audio stream.
#[derive(Debug, Default, Clone)]
pub struct DelayTracker {
    /// (bucket start, minimum sample in it), oldest first.
    mins: VecDeque<(Instant, Duration)>,
    recent: Option<Duration>,
}

impl DelayTracker {
    /// One RTT sample (a direct ack of an audio packet).
    pub fn on_sample(&mut self, now: Instant, rtt: Duration) {
        // Fast EWMA (gain 1/4): reacts within a few packets to a growing queue.
        self.recent = Some(match self.recent {
            Some(r) => (r * 3 + rtt) / 4,
            None => rtt,
        });
        match self.mins.back_mut() {
            Some((start, m)) if now.saturating_duration_since(*start) < BUCKET => {
                *m = (*m).min(rtt);
            }
            _ => {
                if self.mins.len() >= BUCKETS {
                    self.mins.pop_front();
                }
                self.mins.push_back((now, rtt));
            }
        }
    }

    /// Smallest RTT over the last ~20 s.
    pub fn base(&self) -> Option<Duration> {
        self.mins.iter().map(|&(_, m)| m).min()
    }

    /// Fast-moving average of the latest samples.
    pub fn recent(&self) -> Option<Duration> {
        self.recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_windowed_minimum_and_recent_follows_growth() {
        let mut d = DelayTracker::default();
        let t0 = Instant::now();
        for i in 0..10 {
            d.on_sample(
                t0 + Duration::from_millis(60 * i),
                Duration::from_millis(50),
            );
        }
        assert_eq!(d.base(), Some(Duration::from_millis(50)));
        for i in 10..30 {
            d.on_sample(
                t0 + Duration::from_millis(60 * i),
                Duration::from_millis(400),
            );
        }
        assert!(d.recent().unwrap() > Duration::from_millis(350));
        assert_eq!(d.base(), Some(Duration::from_millis(50)));
        // After the window the old minimum expires.
        for i in 0..25 {
            d.on_sample(t0 + Duration::from_secs(2 + i), Duration::from_millis(300));
        }
        assert_eq!(d.base(), Some(Duration::from_millis(300)));
    }
}
