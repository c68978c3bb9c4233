//! Bitrate, FEC and redundancy decisions from what the network reports.

use std::time::{Duration, Instant};

use super::sender::SenderSettings;

/// Bitrate bounds for the current network and data-saving mode (bits per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitrateLimits {
    pub min: i32,
    pub max: i32,
    pub initial: i32,
    pub step_incr: i32,
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

/// Chooses encoder settings over time.
pub struct BitrateController {
    _private: (),
}

impl BitrateController {
    pub fn new(limits: BitrateLimits) -> BitrateController {
        unimplemented!()
    }
    /// New limits (network type or data saving changed).
    pub fn set_limits(&mut self, limits: BitrateLimits) {
        unimplemented!()
    }
    /// Feeds the latest feedback; call every 100-300 ms. Returns the settings to apply.
    pub fn update(&mut self, now: Instant, feedback: &SendFeedback) -> SenderSettings {
        unimplemented!()
    }
    pub fn settings(&self) -> SenderSettings {
        unimplemented!()
    }
}
