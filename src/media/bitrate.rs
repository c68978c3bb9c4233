//! Bitrate, FEC and redundancy decisions from what the network reports.

use std::time::{Duration, Instant};

use super::opus::Bandwidth;
use super::sender::SenderSettings;

/// Bitrate bounds for the current network and data-saving mode (bits per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitrateLimits {
    /// Lowest bitrate the controller goes down to.
    pub min: i32,
    /// Highest bitrate the controller climbs to.
    pub max: i32,
    /// Starting bitrate.
    pub initial: i32,
    /// Increase per step (at most one step per second).
    pub step_incr: i32,
    /// Decrease per step (at most one step per second).
    pub step_decr: i32,
    /// Whether redundancy (extra EC) may be used on this network (2.4.4: not on GPRS/EDGE).
    pub allow_redundancy: bool,
}

/// What the session measured about the outgoing direction.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SendFeedback {
    /// Fraction of audio packets lost over the recent window (0.0..=1.0).
    pub loss_ratio: f64,
    /// Smoothed round-trip time, if measured.
    pub rtt: Option<Duration>,
    /// Unacknowledged audio bytes in flight.
    pub inflight_bytes: u32,
}

/// Loss above which redundancy turns on (and selects level 2).
const REDUNDANCY_ON_LOSS: f64 = 0.02;
/// Loss above which redundancy level 3 is used.
const LEVEL3_LOSS: f64 = 0.05;
/// Loss above which redundancy level 4 is used.
const LEVEL4_LOSS: f64 = 0.08;
/// Redundancy turns off only after loss stayed below this for [`REDUNDANCY_OFF_HOLD`].
const REDUNDANCY_OFF_LOSS: f64 = 0.01;
/// Hysteresis time before redundancy turns off.
const REDUNDANCY_OFF_HOLD: Duration = Duration::from_secs(3);
/// Primary bitrate cap while redundancy is on (2.4.4 forces 8 kbps).
pub const REDUNDANCY_PRIMARY_CAP: i32 = 12_000;
/// Below this primary bitrate the encoder is limited to wideband.
const FULLBAND_MIN_BITRATE: i32 = 12_000;
/// Minimum time between two bitrate steps.
const STEP_INTERVAL: Duration = Duration::from_secs(1);
/// Bitrate may rise only while loss is below this.
const INCREASE_MAX_LOSS: f64 = 0.02;
/// Bitrate falls when loss exceeds this.
const DECREASE_LOSS: f64 = 0.10;
/// Bitrate may rise only while RTT is below this.
const INCREASE_MAX_RTT: Duration = Duration::from_millis(400);
/// Bitrate falls when RTT exceeds this.
const DECREASE_RTT: Duration = Duration::from_millis(600);
/// Bitrate may rise only while fewer bytes than this are in flight (2.4.4's window).
const INCREASE_MAX_INFLIGHT: u32 = 1024;
/// Bitrate falls when more bytes than this are in flight (window + 10 %).
const DECREASE_INFLIGHT: u32 = 1126;
/// Bounds of the Opus expected-loss setting, percent.
const MIN_EXPECTED_LOSS: i32 = 5;
const MAX_EXPECTED_LOSS: i32 = 25;

/// Chooses encoder settings over time.
///
/// Choices (documented deviations from 2.4.4, media.md §2.5-2.10 and §11):
/// * Opus in-band FEC stays on; the expected-loss ctl is the measured loss rounded up, clamped to
///   5..=25 %. Note that libopus only codes LBRR when the loss-adjusted rate clears its
///   per-bandwidth threshold (it may narrow the bandwidth to get there), so at low bitrates FEC
///   is effectively inactive and redundancy is what protects the stream.
/// * Redundancy: on above 2 % loss (level 2/3/4 above 2/5/8 %), off only after loss stayed below
///   1 % for 3 s; never on networks that do not allow it.
/// * While redundancy is on the primary is capped at 12 kbps instead of forced to 8 kbps; the
///   underlying target keeps evolving and applies again when redundancy turns off.
/// * Bitrate steps at most once per second: up on a clean, short-RTT, uncongested path, down on
///   heavy loss, long RTT or a full window.
/// * New limits clamp the current target instead of resetting it to the initial value.
pub struct BitrateController {
    limits: BitrateLimits,
    /// Target primary bitrate (before the redundancy cap).
    target: i32,
    redundancy_level: u8,
    /// Since when loss has been below the off threshold while redundancy is on.
    quiet_since: Option<Instant>,
    last_step: Option<Instant>,
    settings: SenderSettings,
}

impl BitrateController {
    /// Starts at `limits.initial` with FEC on and no redundancy.
    pub fn new(limits: BitrateLimits) -> BitrateController {
        let mut c = BitrateController {
            limits,
            target: clamp_bitrate(limits.initial, &limits),
            redundancy_level: 0,
            quiet_since: None,
            last_step: None,
            settings: SenderSettings::default(),
        };
        c.settings = c.compose(MIN_EXPECTED_LOSS);
        c
    }

    /// New limits (network type or data saving changed).
    pub fn set_limits(&mut self, limits: BitrateLimits) {
        self.limits = limits;
        self.target = clamp_bitrate(self.target, &limits);
        if !limits.allow_redundancy {
            self.redundancy_level = 0;
            self.quiet_since = None;
        }
        self.settings = self.compose(self.settings.expected_loss_perc);
    }

    /// Feeds the latest feedback; call every 100-300 ms. Returns the settings to apply.
    pub fn update(&mut self, now: Instant, feedback: &SendFeedback) -> SenderSettings {
        let loss = if feedback.loss_ratio.is_finite() {
            feedback.loss_ratio.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.update_redundancy(now, loss);
        self.update_bitrate(now, loss, feedback);
        let expected = ((loss * 100.0).ceil() as i32).clamp(MIN_EXPECTED_LOSS, MAX_EXPECTED_LOSS);
        self.settings = self.compose(expected);
        self.settings
    }

    /// Redundancy on/off with hysteresis, and its level.
    fn update_redundancy(&mut self, now: Instant, loss: f64) {
        if !self.limits.allow_redundancy {
            self.redundancy_level = 0;
            self.quiet_since = None;
            return;
        }
        if loss > REDUNDANCY_ON_LOSS {
            self.redundancy_level = if loss > LEVEL4_LOSS {
                4
            } else if loss > LEVEL3_LOSS {
                3
            } else {
                2
            };
            self.quiet_since = None;
        } else if self.redundancy_level > 0 {
            if loss < REDUNDANCY_OFF_LOSS {
                let since = *self.quiet_since.get_or_insert(now);
                if now.saturating_duration_since(since) >= REDUNDANCY_OFF_HOLD {
                    self.redundancy_level = 0;
                    self.quiet_since = None;
                }
            } else {
                // Between 1 and 2 %: keep the minimum protection.
                self.redundancy_level = 2;
                self.quiet_since = None;
            }
        }
    }

    /// At most one ±step per second from loss, RTT and in-flight bytes.
    fn update_bitrate(&mut self, now: Instant, loss: f64, fb: &SendFeedback) {
        if let Some(t) = self.last_step {
            if now.saturating_duration_since(t) < STEP_INTERVAL {
                return;
            }
        }
        let decrease = loss > DECREASE_LOSS
            || fb.rtt.is_some_and(|r| r > DECREASE_RTT)
            || fb.inflight_bytes > DECREASE_INFLIGHT;
        let increase = loss < INCREASE_MAX_LOSS
            && fb.rtt.is_none_or(|r| r < INCREASE_MAX_RTT)
            && fb.inflight_bytes < INCREASE_MAX_INFLIGHT;
        let new = if decrease {
            self.target.saturating_sub(self.limits.step_decr.max(0))
        } else if increase {
            self.target.saturating_add(self.limits.step_incr.max(0))
        } else {
            return;
        };
        let new = clamp_bitrate(new, &self.limits);
        if new != self.target {
            self.target = new;
            self.last_step = Some(now);
        }
    }

    /// Builds the settings from the current state.
    fn compose(&self, expected_loss_perc: i32) -> SenderSettings {
        let bitrate = if self.redundancy_level > 0 {
            self.target
                .min(REDUNDANCY_PRIMARY_CAP)
                .max(self.limits.min.min(REDUNDANCY_PRIMARY_CAP))
        } else {
            self.target
        };
        SenderSettings {
            bitrate,
            inband_fec: true,
            expected_loss_perc,
            redundancy_level: self.redundancy_level,
            bandwidth: if bitrate < FULLBAND_MIN_BITRATE {
                Bandwidth::Wide
            } else {
                Bandwidth::Full
            },
        }
    }

    /// The settings chosen by the last update.
    pub fn settings(&self) -> SenderSettings {
        self.settings
    }

    /// The target primary bitrate before the redundancy cap, bits per second.
    pub fn target_bitrate(&self) -> i32 {
        self.target
    }
}

/// Clamps a bitrate into the limits (tolerating `min > max` by preferring `max`).
fn clamp_bitrate(bps: i32, limits: &BitrateLimits) -> i32 {
    bps.max(limits.min).min(limits.max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BitrateLimits {
        BitrateLimits {
            min: 8_000,
            max: 20_000,
            initial: 16_000,
            step_incr: 1_000,
            step_decr: 1_000,
            allow_redundancy: true,
        }
    }

    fn fb(loss: f64, rtt_ms: Option<u64>, inflight: u32) -> SendFeedback {
        SendFeedback {
            loss_ratio: loss,
            rtt: rtt_ms.map(Duration::from_millis),
            inflight_bytes: inflight,
        }
    }

    /// Feeds `feedback` every 300 ms for `secs` seconds starting at `*t`.
    fn run(
        c: &mut BitrateController,
        t: &mut Instant,
        secs: u64,
        f: SendFeedback,
    ) -> SenderSettings {
        let mut s = c.settings();
        for _ in 0..(secs * 10 / 3) {
            *t += Duration::from_millis(300);
            s = c.update(*t, &f);
        }
        s
    }

    #[test]
    fn starts_at_initial_with_fec_on() {
        let c = BitrateController::new(limits());
        let s = c.settings();
        assert_eq!(s.bitrate, 16_000);
        assert!(s.inband_fec);
        assert_eq!(s.expected_loss_perc, 5);
        assert_eq!(s.redundancy_level, 0);
        assert_eq!(s.bandwidth, Bandwidth::Full);
    }

    #[test]
    fn climbs_one_step_per_second_to_max_on_clean_path() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        let s = run(&mut c, &mut t, 2, fb(0.0, Some(100), 300));
        // 6 updates over 1.8 s: at most two steps.
        assert!(s.bitrate > 16_000 && s.bitrate <= 18_000, "{}", s.bitrate);
        let s = run(&mut c, &mut t, 10, fb(0.0, None, 300));
        assert_eq!(s.bitrate, 20_000);
        assert!(s.inband_fec);
    }

    #[test]
    fn holds_when_rtt_or_inflight_moderate() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        assert_eq!(
            run(&mut c, &mut t, 5, fb(0.0, Some(500), 300)).bitrate,
            16_000
        );
        assert_eq!(
            run(&mut c, &mut t, 5, fb(0.0, Some(100), 1100)).bitrate,
            16_000
        );
    }

    #[test]
    fn falls_on_congestion_to_min_and_goes_wideband() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        let s = run(&mut c, &mut t, 3, fb(0.0, Some(800), 300));
        assert!(s.bitrate < 16_000 && s.bitrate >= 13_000, "{}", s.bitrate);
        let s = run(&mut c, &mut t, 20, fb(0.0, Some(100), 2000));
        assert_eq!(s.bitrate, 8_000);
        assert_eq!(s.bandwidth, Bandwidth::Wide);
    }

    #[test]
    fn redundancy_levels_and_hysteresis() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        let s = run(&mut c, &mut t, 1, fb(0.03, None, 300));
        assert_eq!(s.redundancy_level, 2);
        assert_eq!(s.bitrate, REDUNDANCY_PRIMARY_CAP);
        assert_eq!(s.expected_loss_perc, 5);
        assert!(s.inband_fec);
        let s = run(&mut c, &mut t, 1, fb(0.06, None, 300));
        assert_eq!((s.redundancy_level, s.expected_loss_perc), (3, 6));
        let s = run(&mut c, &mut t, 1, fb(0.2, None, 300));
        assert_eq!((s.redundancy_level, s.expected_loss_perc), (4, 20));
        let s = run(&mut c, &mut t, 1, fb(0.5, None, 300));
        assert_eq!(s.expected_loss_perc, 25);
        // 1.5 % keeps redundancy (level 2) however long it lasts.
        let s = run(&mut c, &mut t, 10, fb(0.015, None, 300));
        assert_eq!(s.redundancy_level, 2);
        // Below 1 %: still on for the first 3 s, then off.
        let s = run(&mut c, &mut t, 2, fb(0.0, None, 300));
        assert_eq!(s.redundancy_level, 2);
        let s = run(&mut c, &mut t, 2, fb(0.0, None, 300));
        assert_eq!(s.redundancy_level, 0);
        assert!(s.bitrate > REDUNDANCY_PRIMARY_CAP);
    }

    #[test]
    fn no_redundancy_when_not_allowed() {
        let mut l = limits();
        l.allow_redundancy = false;
        let mut c = BitrateController::new(l);
        let mut t = Instant::now();
        let s = run(&mut c, &mut t, 3, fb(0.2, None, 300));
        assert_eq!(s.redundancy_level, 0);
        assert!(s.inband_fec);
        assert_eq!(s.expected_loss_perc, 20);
        // Heavy loss still steps the bitrate down.
        assert!(s.bitrate < 16_000);
        // Switching limits on a redundancy-enabled controller turns it off at once.
        let mut c = BitrateController::new(limits());
        run(&mut c, &mut t, 1, fb(0.2, None, 300));
        assert_eq!(c.settings().redundancy_level, 4);
        c.set_limits(l);
        assert_eq!(c.settings().redundancy_level, 0);
    }

    #[test]
    fn set_limits_clamps_instead_of_resetting() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        run(&mut c, &mut t, 10, fb(0.0, None, 0));
        assert_eq!(c.settings().bitrate, 20_000);
        let mut l = limits();
        l.max = 16_000;
        c.set_limits(l);
        assert_eq!(c.settings().bitrate, 16_000);
        c.set_limits(limits());
        assert_eq!(c.target_bitrate(), 16_000);
    }
}
