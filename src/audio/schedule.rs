//! The audio thread's clock: an absolute fixed-rate schedule.
//!
//! Deadline *n* is `anchor + n × period`, so sleep overshoot never accumulates (2.4.4's relative
//! sleeps run slow, media.md §1.2). A small lateness is caught up by running the due ticks back
//! to back; beyond `max_lateness` (e.g. after the process was suspended) the schedule restarts
//! from "now" instead of bursting many ticks at once. Pure arithmetic, no clock access, so it can
//! be tested with synthetic instants.

use std::time::{Duration, Instant};

/// What the audio thread should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The next tick is not due yet; sleep this long.
    Wait(Duration),
    /// Run a tick now, then call [`Schedule::advance`]. `reanchored` is true when the schedule
    /// was restarted because it fell too far behind.
    Due {
        /// The schedule was restarted from the polled instant.
        reanchored: bool,
    },
}

/// Absolute fixed-rate tick schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    anchor: Instant,
    index: u64,
    period: Duration,
    max_lateness: Duration,
}

impl Schedule {
    /// A schedule whose first tick is due at `start`.
    pub fn new(start: Instant, period: Duration, max_lateness: Duration) -> Schedule {
        Schedule {
            anchor: start,
            index: 0,
            period,
            max_lateness,
        }
    }

    /// The instant the next tick is due, or `None` if it is not representable.
    pub fn next_deadline(&self) -> Option<Instant> {
        let nanos = self.period.as_nanos().checked_mul(u128::from(self.index))?;
        let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
        // The remainder is below 10^9 and fits in u32.
        let sub = (nanos % 1_000_000_000) as u32;
        self.anchor.checked_add(Duration::new(secs, sub))
    }

    /// Decides, at `now`, whether to tick or how long to wait.
    pub fn poll(&mut self, now: Instant) -> Step {
        match self.next_deadline() {
            Some(deadline) if now < deadline => Step::Wait(deadline - now),
            Some(deadline) if now - deadline <= self.max_lateness => {
                Step::Due { reanchored: false }
            }
            _ => {
                self.anchor = now;
                self.index = 0;
                Step::Due { reanchored: true }
            }
        }
    }

    /// Records that the due tick ran; the next deadline is one period later.
    pub fn advance(&mut self) {
        self.index = self.index.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Duration = Duration::from_millis(20);
    const LATE: Duration = Duration::from_millis(100);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_tick_is_due_immediately() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, P, LATE);
        assert_eq!(s.poll(t0), Step::Due { reanchored: false });
    }

    #[test]
    fn deadlines_are_absolute_multiples_of_the_period() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, P, LATE);
        for n in 0..1000u64 {
            assert_eq!(s.next_deadline(), Some(t0 + ms(20 * n)));
            s.advance();
        }
    }

    #[test]
    fn early_poll_waits_exactly_until_deadline() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, P, LATE);
        assert_eq!(s.poll(t0), Step::Due { reanchored: false });
        s.advance();
        assert_eq!(s.poll(t0 + ms(5)), Step::Wait(ms(15)));
    }

    #[test]
    fn oversleeping_does_not_drift() {
        // Every wake-up is 3 ms late; the deadlines stay on the 20 ms grid.
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, P, LATE);
        for n in 0..100u64 {
            let now = t0 + ms(20 * n + 3);
            assert_eq!(s.poll(now), Step::Due { reanchored: false });
            s.advance();
            assert_eq!(s.poll(now), Step::Wait(ms(17)));
        }
        assert_eq!(s.next_deadline(), Some(t0 + ms(2000)));
    }

    #[test]
    fn moderate_lateness_is_caught_up_back_to_back() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, P, LATE);
        assert_eq!(s.poll(t0), Step::Due { reanchored: false });
        s.advance();
        // Woke up 70 ms late: ticks 1..=4 (due at 20, 40, 60, 80) run without waiting.
        let now = t0 + ms(90);
        for _ in 0..4 {
            assert_eq!(s.poll(now), Step::Due { reanchored: false });
            s.advance();
        }
        assert_eq!(s.poll(now), Step::Wait(ms(10)));
    }

    #[test]
    fn large_lateness_reanchors_instead_of_bursting() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, P, LATE);
        assert_eq!(s.poll(t0), Step::Due { reanchored: false });
        s.advance();
        let now = t0 + ms(500);
        assert_eq!(s.poll(now), Step::Due { reanchored: true });
        s.advance();
        assert_eq!(s.poll(now), Step::Wait(P));
        assert_eq!(s.next_deadline(), Some(now + P));
    }
}
