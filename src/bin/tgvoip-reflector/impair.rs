//! Clock-free network impairment model for one direction, after Linux netem.
//!
//! Pipeline for each datagram, in this order:
//! 1. **loss**: netem's simple correlated model, `v = c*v_prev + (1-c)*u`, lost if `v < p`. Note
//!    that (as in netem) correlation also narrows the spread of `v`, so with correlation the
//!    realised loss rate is below `p` whenever `p < 50%`: e.g. 9% with 20% correlation (profile
//!    3g1) loses only about 2%, 17% with 5% about 15%.
//! 2. **duplicate**: with probability `duplicate`, a second copy follows the first through the
//!    remaining stages (it is not subject to loss again).
//! 3. **rate limit**: a FIFO bottleneck link of `rate` kbit/s with a byte queue; each copy costs
//!    `len + 28` bytes (IPv4 + UDP headers) and takes `(len+28)*8/rate` to serialise. A copy that
//!    would push the bytes not yet fully sent above `queue` bytes is dropped (overflow).
//! 4. **delay**: `delay + jitter*z` ms after leaving the link, with `z` a standard normal AR(1)
//!    process whose lag-1 correlation is `delay_corr` (`z = c*z_prev + sqrt(1-c^2)*n`), clamped
//!    at 0. With jitter, packets may overtake each other, as in netem.
//! 5. **reorder** (netem semantics): with probability `reorder`, a copy that would have been
//!    delayed skips the delay and is released as soon as it leaves the link, overtaking its
//!    delayed predecessors. Without delay, reordering has no effect and is not counted.

use std::collections::VecDeque;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Bytes of IPv4 + UDP header counted per datagram by the rate limiter.
pub const HEADER_OVERHEAD: usize = 28;
/// Default rate-limiter queue size in bytes.
pub const DEFAULT_QUEUE_BYTES: usize = 3000;

/// Impairment parameters in effect during one phase. Percentages are 0..=100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Loss probability, percent.
    pub loss: f64,
    /// Loss correlation, percent.
    pub loss_corr: f64,
    /// Mean added delay, milliseconds.
    pub delay_ms: f64,
    /// Standard deviation of the delay, milliseconds.
    pub jitter_ms: f64,
    /// Lag-1 correlation of the delay variation, percent.
    pub delay_corr: f64,
    /// Probability that a delayed packet is sent at once instead, percent.
    pub reorder: f64,
    /// Duplication probability, percent.
    pub duplicate: f64,
    /// Link rate in kbit/s (1000 bit/s); 0 = unlimited.
    pub rate_kbit: f64,
    /// Rate-limiter queue size in bytes (headers included).
    pub queue_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            loss: 0.0,
            loss_corr: 0.0,
            delay_ms: 0.0,
            jitter_ms: 0.0,
            delay_corr: 0.0,
            reorder: 0.0,
            duplicate: 0.0,
            rate_kbit: 0.0,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

/// One timed phase: `settings` apply for `duration` (the last phase lasts forever).
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// How long this phase lasts; ignored for the last phase.
    pub duration: Duration,
    /// Parameters during the phase.
    pub settings: Settings,
}

/// A list of phases starting at time 0; after the last one ends its settings persist.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    phases: Vec<Phase>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::constant(Settings::default())
    }
}

impl Schedule {
    /// A single phase that lasts forever.
    pub fn constant(settings: Settings) -> Self {
        Schedule {
            phases: vec![Phase {
                duration: Duration::ZERO,
                settings,
            }],
        }
    }

    /// A schedule from phases; an empty list means no impairment.
    pub fn from_phases(phases: Vec<Phase>) -> Self {
        if phases.is_empty() {
            Schedule::default()
        } else {
            Schedule { phases }
        }
    }

    /// The settings of the last (current, while building from flags) phase.
    pub fn last_mut(&mut self) -> &mut Settings {
        let last = self.phases.len() - 1;
        &mut self.phases[last].settings
    }

    /// Ends the last phase after `duration` and starts a new one with a copy of its settings.
    pub fn push_phase(&mut self, duration: Duration) {
        let last = self.phases.len() - 1;
        self.phases[last].duration = duration;
        let settings = self.phases[last].settings;
        self.phases.push(Phase {
            duration: Duration::ZERO,
            settings,
        });
    }

    /// Settings in effect at `t` since start.
    pub fn settings_at(&self, t: Duration) -> &Settings {
        let mut start = Duration::ZERO;
        for (i, phase) in self.phases.iter().enumerate() {
            let end = start + phase.duration;
            if i + 1 == self.phases.len() || t < end {
                return &phase.settings;
            }
            start = end;
        }
        // Unreachable: the loop always returns on the last phase.
        &self.phases[self.phases.len() - 1].settings
    }
}

/// What happened to one copy of a datagram after the loss stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CopyFate {
    /// Dropped because the rate limiter's queue was full.
    Overflow,
    /// To be sent at `at` (time since start).
    Release {
        /// Release time.
        at: Duration,
        /// A non-zero delay was added after the link.
        delayed: bool,
        /// Selected for reordering: skipped the delay it would have had.
        reordered: bool,
    },
}

/// Outcome of one datagram through the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Dropped by the loss stage (then `copies` is empty).
    pub lost: bool,
    /// A duplicate copy was made (then `copies` has two entries).
    pub duplicated: bool,
    /// The fate of each copy.
    pub copies: Vec<CopyFate>,
}

/// The FIFO bottleneck link of the rate limiter.
#[derive(Debug, Default)]
struct Link {
    /// (time the last bit leaves, bytes) for every datagram not yet fully sent.
    in_flight: VecDeque<(Duration, usize)>,
    queued_bytes: usize,
    busy_until: Duration,
}

impl Link {
    /// Admits `size` bytes at `now`, returning when they have left the link, or `None` on overflow.
    fn admit(
        &mut self,
        size: usize,
        now: Duration,
        rate_kbit: f64,
        cap: usize,
    ) -> Option<Duration> {
        while let Some(&(done, bytes)) = self.in_flight.front() {
            if done > now {
                break;
            }
            self.in_flight.pop_front();
            self.queued_bytes -= bytes;
        }
        if rate_kbit <= 0.0 {
            return Some(now);
        }
        if self.queued_bytes + size > cap {
            return None;
        }
        let serialise = Duration::from_secs_f64(size as f64 * 8.0 / (rate_kbit * 1000.0));
        let done = self.busy_until.max(now) + serialise;
        self.busy_until = done;
        self.in_flight.push_back((done, size));
        self.queued_bytes += size;
        Some(done)
    }
}

/// Seeded, clock-free impairment state for one direction.
#[derive(Debug)]
pub struct Impairment {
    schedule: Schedule,
    rng: ChaCha8Rng,
    loss_state: f64,
    delay_state: f64,
    link: Link,
    last_now: Duration,
}

impl Impairment {
    /// A new model; `stream` selects an independent random stream for the same `seed`.
    pub fn new(schedule: Schedule, seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Impairment {
            schedule,
            rng,
            loss_state: 0.0,
            delay_state: 0.0,
            link: Link::default(),
            last_now: Duration::ZERO,
        }
    }

    /// Runs a datagram of `len` bytes arriving at `now` (time since start) through the pipeline.
    pub fn process(&mut self, len: usize, now: Duration) -> Decision {
        let now = now.max(self.last_now);
        self.last_now = now;
        let s = *self.schedule.settings_at(now);

        let u: f64 = self.rng.gen();
        let c = pct(s.loss_corr);
        self.loss_state = c * self.loss_state + (1.0 - c) * u;
        if self.loss_state < pct(s.loss) {
            return Decision {
                lost: true,
                duplicated: false,
                copies: Vec::new(),
            };
        }

        let duplicated = self.rng.gen::<f64>() < pct(s.duplicate);
        let n_copies = if duplicated { 2 } else { 1 };
        let copies = (0..n_copies).map(|_| self.one_copy(len, now, &s)).collect();
        Decision {
            lost: false,
            duplicated,
            copies,
        }
    }

    fn one_copy(&mut self, len: usize, now: Duration, s: &Settings) -> CopyFate {
        let Some(left_link) =
            self.link
                .admit(len + HEADER_OVERHEAD, now, s.rate_kbit, s.queue_bytes)
        else {
            return CopyFate::Overflow;
        };
        let delay_ms = self.sample_delay_ms(s);
        let reorder_hit = self.rng.gen::<f64>() < pct(s.reorder);
        if delay_ms <= 0.0 {
            return CopyFate::Release {
                at: left_link,
                delayed: false,
                reordered: false,
            };
        }
        if reorder_hit {
            return CopyFate::Release {
                at: left_link,
                delayed: false,
                reordered: true,
            };
        }
        let at = left_link + Duration::from_secs_f64(delay_ms / 1000.0);
        CopyFate::Release {
            at,
            delayed: true,
            reordered: false,
        }
    }

    fn sample_delay_ms(&mut self, s: &Settings) -> f64 {
        let n: f64 = self.rng.sample(StandardNormal);
        let c = pct(s.delay_corr);
        self.delay_state = c * self.delay_state + (1.0 - c * c).sqrt() * n;
        (s.delay_ms + s.jitter_ms * self.delay_state).max(0.0)
    }
}

/// Percent to a probability in 0..=1.
fn pct(p: f64) -> f64 {
    (p / 100.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn model(s: Settings, seed: u64) -> Impairment {
        Impairment::new(Schedule::constant(s), seed, 0)
    }

    /// Sends `n` datagrams of `len` bytes every `gap`, returning the decisions.
    fn run(m: &mut Impairment, n: usize, len: usize, gap: Duration) -> Vec<Decision> {
        (0..n).map(|i| m.process(len, gap * i as u32)).collect()
    }

    fn mean_burst(d: &[Decision]) -> f64 {
        let (mut bursts, mut lost, mut in_burst) = (0usize, 0usize, false);
        for x in d {
            if x.lost {
                lost += 1;
                if !in_burst {
                    bursts += 1;
                }
            }
            in_burst = x.lost;
        }
        lost as f64 / bursts.max(1) as f64
    }

    fn release(f: &CopyFate) -> Option<Duration> {
        match f {
            CopyFate::Release { at, .. } => Some(*at),
            CopyFate::Overflow => None,
        }
    }

    #[test]
    fn seeded_loss_rate_within_tolerance() {
        for (p, seed) in [(10.0, 1), (50.0, 2), (17.0, 3)] {
            let mut m = model(
                Settings {
                    loss: p,
                    ..Settings::default()
                },
                seed,
            );
            let d = run(&mut m, 10_000, 100, 20 * MS);
            let rate = d.iter().filter(|x| x.lost).count() as f64 / 100.0;
            assert!((rate - p).abs() < 1.5, "loss {p}% gave {rate}%");
        }
    }

    #[test]
    fn no_loss_means_everything_passes_undelayed() {
        let mut m = model(Settings::default(), 9);
        for (i, d) in run(&mut m, 1000, 200, 20 * MS).iter().enumerate() {
            assert!(!d.lost && !d.duplicated);
            let at = 20 * MS * i as u32;
            assert_eq!(
                d.copies,
                vec![CopyFate::Release {
                    at,
                    delayed: false,
                    reordered: false
                }]
            );
        }
    }

    #[test]
    fn correlation_makes_bursts_longer() {
        // At 50% the netem model keeps the loss rate (the threshold is the median of `v`).
        let base = Settings {
            loss: 50.0,
            ..Settings::default()
        };
        let plain = run(&mut model(base, 4), 10_000, 100, MS);
        let corr = run(
            &mut model(
                Settings {
                    loss_corr: 80.0,
                    ..base
                },
                4,
            ),
            10_000,
            100,
            MS,
        );
        let (b0, b1) = (mean_burst(&plain), mean_burst(&corr));
        assert!((1.8..2.2).contains(&b0), "uncorrelated mean burst {b0}");
        assert!(b1 > 1.5 * b0, "correlated bursts {b1} not longer than {b0}");
        let rate = corr.iter().filter(|x| x.lost).count() as f64 / 100.0;
        assert!((rate - 50.0).abs() < 3.0, "{rate}");
    }

    #[test]
    fn correlation_lowers_realised_loss_like_netem() {
        let rate = |loss, loss_corr| {
            let mut m = model(
                Settings {
                    loss,
                    loss_corr,
                    ..Settings::default()
                },
                15,
            );
            run(&mut m, 20_000, 100, MS)
                .iter()
                .filter(|x| x.lost)
                .count() as f64
                / 200.0
        };
        let r = rate(9.0, 20.0);
        assert!((1.0..3.0).contains(&r), "9% corr 20% gave {r}%");
        let r = rate(17.0, 5.0);
        assert!((14.0..16.5).contains(&r), "17% corr 5% gave {r}%");
    }

    #[test]
    fn rate_limit_spaces_packets() {
        // 100 kbit/s, 222 + 28 = 250 bytes -> 20 ms per datagram; a burst of 10 at t=0.
        let s = Settings {
            rate_kbit: 100.0,
            queue_bytes: 10_000,
            ..Settings::default()
        };
        let mut m = model(s, 5);
        let d = run(&mut m, 10, 222, Duration::ZERO);
        let times: Vec<Duration> = d.iter().filter_map(|x| release(&x.copies[0])).collect();
        assert_eq!(times.len(), 10);
        for (i, t) in times.iter().enumerate() {
            let want = 20.0 * (i + 1) as f64;
            assert!(
                (t.as_secs_f64() * 1000.0 - want).abs() < 1e-6,
                "packet {i} at {t:?}"
            );
        }
    }

    #[test]
    fn rate_limit_overflows_bounded_queue() {
        // 3000-byte queue holds 12 datagrams of 250 bytes; the rest of a burst of 20 overflow.
        let s = Settings {
            rate_kbit: 100.0,
            ..Settings::default()
        };
        let mut m = model(s, 6);
        let d = run(&mut m, 20, 222, Duration::ZERO);
        let over = d
            .iter()
            .filter(|x| x.copies[0] == CopyFate::Overflow)
            .count();
        assert_eq!(over, 8);
        // After the queue drains (12 * 20 ms), a new datagram is accepted again.
        let later = m.process(222, 240 * MS);
        assert!(release(&later.copies[0]).is_some());
    }

    #[test]
    fn paced_traffic_below_rate_never_overflows() {
        let s = Settings {
            rate_kbit: 32.0,
            ..Settings::default()
        };
        let mut m = model(s, 7);
        // 250 bytes every 100 ms = 20 kbit/s.
        let d = run(&mut m, 500, 222, 100 * MS);
        assert!(d.iter().all(|x| release(&x.copies[0]).is_some()));
    }

    #[test]
    fn delay_and_jitter_statistics() {
        let s = Settings {
            delay_ms: 200.0,
            jitter_ms: 30.0,
            ..Settings::default()
        };
        let mut m = model(s, 8);
        let n = 10_000;
        let d = run(&mut m, n, 100, 20 * MS);
        let delays: Vec<f64> = d
            .iter()
            .enumerate()
            .filter_map(|(i, x)| {
                release(&x.copies[0]).map(|t| (t - 20 * MS * i as u32).as_secs_f64() * 1e3)
            })
            .collect();
        let mean = delays.iter().sum::<f64>() / n as f64;
        let sd = (delays.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((mean - 200.0).abs() < 2.0, "mean {mean}");
        assert!((sd - 30.0).abs() < 2.0, "sd {sd}");
        // Jitter without correlation reorders some packets (netem behaviour).
        let overtaken = delays.windows(2).filter(|w| w[1] + 20.0 < w[0]).count();
        assert!(overtaken > 100, "{overtaken}");
    }

    #[test]
    fn delay_correlation_is_lag1_autocorrelation() {
        let s = Settings {
            delay_ms: 300.0,
            jitter_ms: 50.0,
            delay_corr: 75.0,
            ..Settings::default()
        };
        let mut m = model(s, 10);
        let d = run(&mut m, 10_000, 100, Duration::ZERO);
        let x: Vec<f64> = d
            .iter()
            .filter_map(|x| release(&x.copies[0]))
            .map(|t| t.as_secs_f64())
            .collect();
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
        let cov: f64 = x.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
        let r = cov / var;
        assert!((r - 0.75).abs() < 0.05, "lag-1 correlation {r}");
    }

    #[test]
    fn duplicate_rate_and_copies() {
        let mut m = model(
            Settings {
                duplicate: 20.0,
                ..Settings::default()
            },
            11,
        );
        let d = run(&mut m, 10_000, 100, 20 * MS);
        let dups = d.iter().filter(|x| x.duplicated).count();
        assert!((1800..2200).contains(&dups), "{dups}");
        assert!(d
            .iter()
            .all(|x| x.copies.len() == if x.duplicated { 2 } else { 1 }));
    }

    #[test]
    fn reorder_sends_selected_packets_immediately() {
        let s = Settings {
            delay_ms: 100.0,
            reorder: 25.0,
            ..Settings::default()
        };
        let mut m = model(s, 12);
        let d = run(&mut m, 10_000, 100, 10 * MS);
        let mut reordered = 0;
        for (i, x) in d.iter().enumerate() {
            let sent = 10 * MS * i as u32;
            match x.copies[0] {
                CopyFate::Release {
                    at,
                    reordered: true,
                    delayed,
                } => {
                    assert!(!delayed);
                    assert_eq!(at, sent);
                    reordered += 1;
                }
                CopyFate::Release { at, .. } => assert_eq!(at, sent + 100 * MS),
                CopyFate::Overflow => panic!("no rate limit configured"),
            }
        }
        assert!((2250..2750).contains(&reordered), "{reordered}");
    }

    #[test]
    fn reorder_without_delay_does_nothing() {
        let mut m = model(
            Settings {
                reorder: 50.0,
                ..Settings::default()
            },
            13,
        );
        let d = run(&mut m, 1000, 100, MS);
        assert!(d.iter().all(|x| matches!(
            x.copies[0],
            CopyFate::Release {
                reordered: false,
                ..
            }
        )));
    }

    #[test]
    fn phases_switch_at_the_right_times() {
        let mut sched = Schedule::constant(Settings::default());
        sched.push_phase(Duration::from_secs(3));
        sched.last_mut().loss = 100.0;
        sched.push_phase(Duration::from_secs(2));
        sched.last_mut().loss = 0.0;
        sched.last_mut().delay_ms = 50.0;
        assert_eq!(sched.settings_at(Duration::from_millis(2999)).loss, 0.0);
        assert_eq!(sched.settings_at(Duration::from_secs(3)).loss, 100.0);
        assert_eq!(sched.settings_at(Duration::from_millis(4999)).loss, 100.0);
        assert_eq!(sched.settings_at(Duration::from_secs(5)).delay_ms, 50.0);
        assert_eq!(sched.settings_at(Duration::from_secs(1000)).delay_ms, 50.0);

        let mut m = Impairment::new(sched, 14, 0);
        let d = run(&mut m, 400, 100, 20 * MS); // 0 .. 8 s
        for (i, x) in d.iter().enumerate() {
            let t = 20 * i;
            assert_eq!(x.lost, (3000..5000).contains(&t), "t={t}ms");
        }
    }

    #[test]
    fn same_seed_same_decisions_different_stream_differs() {
        let s = Settings {
            loss: 20.0,
            loss_corr: 30.0,
            delay_ms: 100.0,
            jitter_ms: 20.0,
            duplicate: 5.0,
            reorder: 5.0,
            rate_kbit: 64.0,
            ..Settings::default()
        };
        let a = run(
            &mut Impairment::new(Schedule::constant(s), 42, 0),
            2000,
            150,
            20 * MS,
        );
        let b = run(
            &mut Impairment::new(Schedule::constant(s), 42, 0),
            2000,
            150,
            20 * MS,
        );
        let c = run(
            &mut Impairment::new(Schedule::constant(s), 42, 1),
            2000,
            150,
            20 * MS,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
