//! Command-line parsing.
//!
//! Impairment flags modify the **last phase** of the schedules of the directions selected by the
//! most recent `--dir` (both by default). `--profile` replaces those schedules with a profile's;
//! `--phase SECS` ends the current phase after SECS seconds and starts a new one that begins as a
//! copy of it. Example: `--loss 3 --rate 64 --phase 3 --loss 20 --rate 8 --phase 3 --loss 0`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::impair::{Schedule, Settings};
use crate::profiles;
use crate::relay::Direction;

/// Usage text for `--help`.
pub const USAGE: &str = "\
usage: tgvoip-reflector [--listen ADDR:PORT] [--seed N] [--duration SECS] [--port-file PATH]
                        [--trace FILE] [--tcp yes|no] [--block-udp none|caller|callee|both]
                        [--dir both|caller_to_callee|callee_to_caller] [--profile NAME]
                        [--loss P] [--loss-corr C] [--delay MS] [--jitter MS] [--delay-corr C]
                        [--reorder P] [--duplicate P] [--rate KBIT] [--queue BYTES] [--phase SECS]
       tgvoip-reflector --list-profiles
Impairment flags apply to the last phase of the directions chosen by the latest --dir (default both).
--phase SECS ends the current phase after SECS s and starts a copy of it that later flags modify.
--trace FILE writes per-500-ms byte counts per direction (JSON lines) on exit.
--tcp (default yes) also accepts TCP relay clients (obfuscated2 + abridged) on the same port.
--block-udp drops every UDP datagram from and to that side, so it can only use TCP.
caller_to_callee = datagrams from the side whose tag has bit 0 of byte 15 clear.
";

/// Settings of a relay run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Impairment schedule per direction, indexed by [`Direction::index`].
    pub schedules: [Schedule; 2],
    /// Seed of the impairment random streams.
    pub seed: u64,
    /// Stop after this long, if given.
    pub duration: Option<Duration>,
    /// File to write the bound port to.
    pub port_file: Option<PathBuf>,
    /// File to write per-interval byte counts to on exit (JSON lines).
    pub trace: Option<PathBuf>,
    /// Also listen on TCP (same port).
    pub tcp: bool,
    /// Sides (index = tag side bit) whose UDP is dropped.
    pub block_udp: [bool; 2],
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            schedules: [Schedule::default(), Schedule::default()],
            seed: 0,
            duration: None,
            port_file: None,
            trace: None,
            tcp: true,
            block_udp: [false; 2],
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run the relay.
    Run(Config),
    /// Print the profile list.
    ListProfiles,
    /// Print usage.
    Help,
}

/// Why the command line was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// A flag we do not know.
    UnknownFlag(String),
    /// A flag given without its value.
    MissingValue(String),
    /// A value that does not parse or is out of range.
    BadValue {
        /// The flag.
        flag: String,
        /// The rejected value.
        value: String,
    },
    /// `--profile` with an unknown name.
    UnknownProfile(String),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::UnknownFlag(s) => write!(f, "unknown argument {s}"),
            ArgError::MissingValue(s) => write!(f, "{s} needs a value"),
            ArgError::BadValue { flag, value } => write!(f, "bad value {value:?} for {flag}"),
            ArgError::UnknownProfile(s) => write!(f, "unknown profile {s:?} (see --list-profiles)"),
        }
    }
}

impl std::error::Error for ArgError {}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, ArgError> {
    let mut cfg = Config::default();
    let mut dirs: &[Direction] = &Direction::BOTH;
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--list-profiles" => return Ok(Command::ListProfiles),
            _ => {}
        }
        let value = it
            .next()
            .ok_or_else(|| ArgError::MissingValue(flag.clone()))?;
        let bad = || ArgError::BadValue {
            flag: flag.clone(),
            value: value.clone(),
        };
        match flag.as_str() {
            "--listen" => cfg.listen = value.parse().map_err(|_| bad())?,
            "--seed" => cfg.seed = value.parse().map_err(|_| bad())?,
            "--duration" => cfg.duration = Some(secs(&value).ok_or_else(bad)?),
            "--port-file" => cfg.port_file = Some(PathBuf::from(&value)),
            "--trace" => cfg.trace = Some(PathBuf::from(&value)),
            "--tcp" => {
                cfg.tcp = match value.as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(bad()),
                }
            }
            "--block-udp" => {
                cfg.block_udp = match value.as_str() {
                    "none" => [false, false],
                    "caller" => [true, false],
                    "callee" => [false, true],
                    "both" => [true, true],
                    _ => return Err(bad()),
                }
            }
            "--dir" => {
                dirs = match value.as_str() {
                    "both" => &Direction::BOTH,
                    "caller_to_callee" => &Direction::BOTH[..1],
                    "callee_to_caller" => &Direction::BOTH[1..],
                    _ => return Err(bad()),
                }
            }
            "--profile" => {
                let p = profiles::find(&value)
                    .ok_or_else(|| ArgError::UnknownProfile(value.clone()))?;
                for d in dirs {
                    cfg.schedules[d.index()] = p.schedule();
                }
            }
            "--phase" => {
                let d = secs(&value).ok_or_else(bad)?;
                for dir in dirs {
                    cfg.schedules[dir.index()].push_phase(d);
                }
            }
            _ => {
                let set = setter(&flag).ok_or_else(|| ArgError::UnknownFlag(flag.clone()))?;
                let v: f64 = value.parse().map_err(|_| bad())?;
                if !v.is_finite() || v < 0.0 {
                    return Err(bad());
                }
                for d in dirs {
                    set(cfg.schedules[d.index()].last_mut(), v);
                }
            }
        }
    }
    Ok(Command::Run(cfg))
}

/// The setter of a numeric impairment flag.
fn setter(flag: &str) -> Option<fn(&mut Settings, f64)> {
    Some(match flag {
        "--loss" => |s, v| s.loss = v,
        "--loss-corr" => |s, v| s.loss_corr = v,
        "--delay" => |s, v| s.delay_ms = v,
        "--jitter" => |s, v| s.jitter_ms = v,
        "--delay-corr" => |s, v| s.delay_corr = v,
        "--reorder" => |s, v| s.reorder = v,
        "--duplicate" => |s, v| s.duplicate = v,
        "--rate" => |s, v| s.rate_kbit = v,
        "--queue" => |s, v| s.queue_bytes = v as usize,
        _ => return None,
    })
}

/// Parses a non-negative number of seconds.
fn secs(s: &str) -> Option<Duration> {
    let v: f64 = s.parse().ok()?;
    Duration::try_from_secs_f64(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, ArgError> {
        match parse(args.iter().map(|s| s.to_string()))? {
            Command::Run(c) => Ok(c),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = run(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:0");
    }

    #[test]
    fn flags_apply_to_selected_directions() {
        let c = run(&[
            "--listen",
            "[::1]:4000",
            "--seed",
            "7",
            "--duration",
            "1.5",
            "--loss",
            "10",
            "--dir",
            "callee_to_caller",
            "--delay",
            "80",
            "--rate",
            "32",
            "--queue",
            "5000",
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 4000);
        assert_eq!(c.seed, 7);
        assert_eq!(c.duration, Some(Duration::from_millis(1500)));
        let [up, down] = &c.schedules;
        let up = up.settings_at(Duration::ZERO);
        let down = down.settings_at(Duration::ZERO);
        assert_eq!((up.loss, up.delay_ms, up.rate_kbit), (10.0, 0.0, 0.0));
        assert_eq!(
            (down.loss, down.delay_ms, down.rate_kbit, down.queue_bytes),
            (10.0, 80.0, 32.0, 5000)
        );
    }

    #[test]
    fn profile_then_phases() {
        let c = run(&["--profile", "3g2", "--phase", "2", "--loss", "0"]).unwrap();
        for s in &c.schedules {
            assert_eq!(s.settings_at(Duration::from_secs(1)).loss, 17.0);
            let later = s.settings_at(Duration::from_secs(2));
            assert_eq!((later.loss, later.rate_kbit), (0.0, 29.0));
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            run(&["--bogus", "1"]),
            Err(ArgError::UnknownFlag("--bogus".into()))
        );
        assert_eq!(
            run(&["--loss"]),
            Err(ArgError::MissingValue("--loss".into()))
        );
        assert!(matches!(
            run(&["--loss", "-3"]),
            Err(ArgError::BadValue { .. })
        ));
        assert!(matches!(
            run(&["--block-udp", "x"]),
            Err(ArgError::BadValue { .. })
        ));
        assert_eq!(
            run(&["--block-udp", "callee"]).unwrap().block_udp,
            [false, true]
        );
        assert!(!run(&["--tcp", "no"]).unwrap().tcp);
        assert!(matches!(
            run(&["--dir", "up"]),
            Err(ArgError::BadValue { .. })
        ));
        assert_eq!(
            run(&["--profile", "lte"]),
            Err(ArgError::UnknownProfile("lte".into()))
        );
        assert_eq!(
            parse(["--list-profiles".to_string()]),
            Ok(Command::ListProfiles)
        );
    }
}
