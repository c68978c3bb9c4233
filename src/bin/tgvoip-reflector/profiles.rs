//! Named network profiles from the Telegram VoIP test matrix (same in both directions).

use std::time::Duration;

use crate::impair::{Phase, Schedule, Settings};

/// A named profile: its description and how to build its schedule.
pub struct Profile {
    /// Name given to `--profile`.
    pub name: &'static str,
    /// One-line description for `--list-profiles`.
    pub description: &'static str,
    phases: &'static [(u64, Spec)],
}

/// Compact profile parameters: loss %, loss correlation %, delay ms, jitter ms, delay corr %, kbit/s.
#[derive(Clone, Copy)]
struct Spec(f64, f64, f64, f64, f64, f64);

const fn loss_rate(loss: f64, corr: f64, kbit: f64) -> Spec {
    Spec(loss, corr, 0.0, 0.0, 0.0, kbit)
}

/// All profiles, in matrix order.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "wifi",
        description: "no impairment",
        phases: &[(0, loss_rate(0.0, 0.0, 0.0))],
    },
    Profile {
        name: "3g1",
        description: "loss 9% corr 20%, 44 kbit/s",
        phases: &[(0, loss_rate(9.0, 20.0, 44.0))],
    },
    Profile {
        name: "3g2",
        description: "loss 17%, 29 kbit/s",
        phases: &[(0, loss_rate(17.0, 0.0, 29.0))],
    },
    Profile {
        name: "3g3",
        description: "loss 12% corr 3%, 32 kbit/s",
        phases: &[(0, loss_rate(12.0, 3.0, 32.0))],
    },
    Profile {
        name: "3g4",
        description: "loss 18%, 32 kbit/s",
        phases: &[(0, loss_rate(18.0, 0.0, 32.0))],
    },
    Profile {
        name: "3gdelay",
        description: "loss 17% corr 5%, delay 500 ms jitter 50 ms corr 5%",
        phases: &[(0, Spec(17.0, 5.0, 500.0, 50.0, 5.0, 0.0))],
    },
    Profile {
        name: "3goutage",
        description: "3 s loss 3% corr 10% 64 kbit/s, 3 s loss 20% 8 kbit/s, then 64 kbit/s",
        phases: &[
            (3, loss_rate(3.0, 10.0, 64.0)),
            (3, loss_rate(20.0, 0.0, 8.0)),
            (0, loss_rate(0.0, 0.0, 64.0)),
        ],
    },
    Profile {
        name: "edge1",
        description: "loss 11%, 24 kbit/s",
        phases: &[(0, loss_rate(11.0, 0.0, 24.0))],
    },
    Profile {
        name: "edge2",
        description: "loss 15% corr 5%, 19 kbit/s",
        phases: &[(0, loss_rate(15.0, 5.0, 19.0))],
    },
    Profile {
        name: "gprs1",
        description: "loss 20% corr 5%, 17 kbit/s",
        phases: &[(0, loss_rate(20.0, 5.0, 17.0))],
    },
    Profile {
        name: "gprs2",
        description: "loss 19% corr 5%, 14 kbit/s",
        phases: &[(0, loss_rate(19.0, 5.0, 14.0))],
    },
    Profile {
        name: "gprs3",
        description: "loss 40% corr 5%, delay 500 ms jitter 50 ms, 8 kbit/s",
        phases: &[(0, Spec(40.0, 5.0, 500.0, 50.0, 0.0, 8.0))],
    },
];

impl Profile {
    /// The profile's schedule (applied to each direction).
    pub fn schedule(&self) -> Schedule {
        let phases = self
            .phases
            .iter()
            .map(
                |&(secs, Spec(loss, loss_corr, delay_ms, jitter_ms, delay_corr, rate_kbit))| {
                    Phase {
                        duration: Duration::from_secs(secs),
                        settings: Settings {
                            loss,
                            loss_corr,
                            delay_ms,
                            jitter_ms,
                            delay_corr,
                            rate_kbit,
                            ..Settings::default()
                        },
                    }
                },
            )
            .collect();
        Schedule::from_phases(phases)
    }
}

/// Looks a profile up by name (case-insensitive).
pub fn find(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Text printed by `--list-profiles`: one `name<TAB>description` line per profile.
pub fn listing() -> String {
    PROFILES
        .iter()
        .map(|p| format!("{}\t{}\n", p.name, p.description))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_findable_and_listed() {
        assert_eq!(PROFILES.len(), 12);
        for p in PROFILES {
            assert!(find(p.name).is_some());
            assert!(listing().contains(p.name));
        }
        assert!(find("GPRS3").is_some());
        assert!(find("lte").is_none());
    }

    #[test]
    fn outage_profile_phases() {
        let s = find("3goutage").map(Profile::schedule).unwrap();
        let at = |ms| *s.settings_at(Duration::from_millis(ms));
        assert_eq!(
            (at(0).loss, at(0).loss_corr, at(0).rate_kbit),
            (3.0, 10.0, 64.0)
        );
        assert_eq!((at(3000).loss, at(5999).rate_kbit), (20.0, 8.0));
        assert_eq!((at(6000).loss, at(60_000).rate_kbit), (0.0, 64.0));
    }

    #[test]
    fn delay_profiles() {
        let s = *find("gprs3")
            .map(Profile::schedule)
            .unwrap()
            .settings_at(Duration::ZERO);
        assert_eq!(
            (s.loss, s.delay_ms, s.jitter_ms, s.rate_kbit),
            (40.0, 500.0, 50.0, 8.0)
        );
        let s = *find("3gdelay")
            .map(Profile::schedule)
            .unwrap()
            .settings_at(Duration::ZERO);
        assert_eq!((s.loss, s.delay_corr, s.rate_kbit), (17.0, 5.0, 0.0));
    }
}
