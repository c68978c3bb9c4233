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
    /// Increase per step (2.4.4's server-config step; the delay-based controller paces itself).
    pub step_incr: i32,
    /// Decrease per step (2.4.4's server-config step; unused by the delay-based controller).
    pub step_decr: i32,
    /// Whether 2.4.4 would use redundancy on this network (not on GPRS/EDGE). Informational:
    /// the controller uses redundancy wherever loss calls for it and the budget allows it.
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
    /// Base (windowed minimum) RTT of direct acks, if measured.
    pub base_rtt: Option<Duration>,
    /// Fast-moving RTT of direct acks, if measured.
    pub recent_rtt: Option<Duration>,
    /// How long the oldest packet sent after the newest acknowledged one has waited, if any
    /// was acknowledged: a lower bound of the RTT that grows while acks are held in a queue.
    pub ack_stall: Option<Duration>,
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
/// Primary bitrate cap while redundancy is on and bandwidth is plentiful.
pub const REDUNDANCY_PRIMARY_CAP: i32 = 12_000;
/// Below this primary bitrate the encoder chooses the bandwidth (narrow- or mediumband).
const WIDEBAND_MIN_BITRATE: i32 = 12_000;
/// Below this primary bitrate the encoder is limited to wideband.
const FULLBAND_MIN_BITRATE: i32 = 20_000;
/// Lowest primary bitrate under congestion (may undercut `limits.min`: a link that cannot carry
/// more is better served by 6 kbps than by a standing queue).
pub const CONGESTION_MIN_BITRATE: i32 = 6_000;
/// Lowest primary bitrate while a severe congestion episode lasts: with three frames per packet
/// the 6 kbps floor still puts ~11 kbit/s on the wire, more than an 8 kbit/s outage link
/// carries, so the queue would never drain. Costs PESQ-WB 2.74 → 2.31 on clean speech, only
/// until the link is back.
const SEVERE_MIN_BITRATE: i32 = 5_000;
/// Loss above which a severe episode is no outage (see [`OUTAGE_MIN_BITRATE`]): with loss this
/// high (GPRS at 40 %, or no acks back yet) the episode is as likely to be lost acks as a
/// queue, and each lost 120 ms-frame packet would be a 360 ms hole.
const OUTAGE_MAX_LOSS: f64 = 0.3;
/// Longest outage stretch per severe episode: long enough for an outage like the test
/// matrix's (3 s); a link that stays that slow gets the severe floor in 60 ms frames again,
/// whose packets lose less at once and whose acks come often enough to see the queue clear.
const OUTAGE_MAX_TIME: Duration = Duration::from_secs(3);
/// Lowest primary bitrate in an outage (a severe episode that began with little loss, for at
/// most [`OUTAGE_MAX_TIME`]) toward a peer that takes 120 ms frames, at a constant bitrate:
/// 5 kbps in variable-bitrate speech came to ~7.7 kbit/s on the wire in 120 ms frames (IPv4 +
/// UDP headers and a ~15 % overshoot), too close to an 8 kbit/s outage link.
const OUTAGE_MIN_BITRATE: i32 = 4_000;
/// Lowest primary bitrate in an outage when frames stay at 60 ms (toward 2.4.4, which takes no
/// longer ones): three 60 ms frames a packet at 4 kbps put ~9.4 kbit/s on the wire, over an
/// 8 kbit/s outage link in any second its 20 % loss spares (benchmark, tgvoip-rs → 2.4.4 on
/// 3goutage: over-rate stretches of 2.0–3.0 s); at 3 kbps ~8.3 kbit/s, 1.5–2.0 s. Speech is
/// at the PESQ floor either way (clean speech at a constant 4 kbps 1.38, at 3 kbps 1.23).
const OUTAGE_MIN_BITRATE_60MS: i32 = 3_000;
/// Bytes per audio packet besides the Opus data, as the budget counts them: the datagram's relay
/// tag, message key, packet header, stream header and padding (measured: 77 bytes around a
/// 35-byte frame). The IPv4 + UDP headers (28) are left out, so the budget runs under the wire
/// rate (3.7 kbit/s at one frame a packet, 1.2 at three). Counting them, which also lowers the
/// budget against the cut floor from the peer's rate (IP + UDP included), measured worse on 3G
/// links: PESQ-WB 2.82 against 3.13 over 3g2, 3g4, 3gdelay and edge1 with 4 seeds.
pub const PACKET_OVERHEAD_BYTES: f64 = 76.0;
/// Queueing delay (recent RTT over base RTT) that means we fill a bottleneck queue.
const CONGESTED_QUEUE: Duration = Duration::from_millis(250);
/// Queueing delay below which the budget may grow.
const CLEAR_QUEUE: Duration = Duration::from_millis(100);
/// Send loss above which the path counts as congested whatever the RTT says.
const CONGESTION_LOSS: f64 = 0.5;
/// Multiplicative decrease of the wire budget on congestion.
const DECREASE_FACTOR: f64 = 0.75;
/// Queueing delay that means the link rate fell far under ours (an outage or a handover to a
/// slow network): cut by [`SEVERE_DECREASE_FACTOR`] instead.
const SEVERE_QUEUE: Duration = Duration::from_millis(600);
const SEVERE_DECREASE_FACTOR: f64 = 0.25;
/// Minimum spacing of two decreases (the RTT is used when longer).
const DECREASE_SPACING: Duration = Duration::from_millis(600);
/// No increase for this long after a decrease.
const INCREASE_HOLD: Duration = Duration::from_secs(2);
/// Budget growth while the path is clear, bits per second per second.
const INCREASE_RATE: f64 = 2_500.0;
/// Budget growth back toward the rate a severe cut left (the link came back after an outage).
const RECOVERY_RATE: f64 = 10_000.0;
/// Share of the budget before a severe cut that fast recovery climbs back to.
const RECOVERY_SHARE: f64 = 0.8;
/// Cuts this far apart belong to different congestion episodes.
const EPISODE_GAP: Duration = Duration::from_secs(5);
/// Queueing delay below which fast recovery climbs (packing peers hold acks longer than the
/// average the ack delay removes, so the clear-path threshold would rarely be met).
const RECOVERY_QUEUE: Duration = Duration::from_millis(150);
/// Clear path needed after a decrease before fast recovery starts.
const RECOVERY_HOLD: Duration = Duration::from_secs(1);
/// Ack wait beyond the base RTT that is no queue: the peer acks only when it sends, and a lost
/// packet or lost ack adds a packet interval or two.
const STALL_SLACK: Duration = Duration::from_millis(200);
/// Bounds of the Opus expected-loss setting, percent.
const MIN_EXPECTED_LOSS: i32 = 5;
const MAX_EXPECTED_LOSS: i32 = 25;

/// Primary bitrates at or below this are sent as their own redundancy copies.
const COPY_PRIMARY_MAX: i32 = 8_000;

/// Whether redundancy copies are the primary frames themselves at this primary bitrate: a low
/// primary costs no more than a separate encoding, and a copy from the primary's own stream
/// decodes without the jump of a foreign encoder state.
pub fn copies_are_primaries(primary: i32) -> bool {
    primary <= COPY_PRIMARY_MAX
}

/// Bitrate of one redundancy copy sent with a primary bitrate: the primary's own up to
/// 8 kbps, then a 6 kbps secondary encoding, 8 kbps from the redundancy cap on.
pub fn secondary_bitrate(primary: i32) -> i32 {
    if copies_are_primaries(primary) {
        primary.max(0)
    } else if primary >= REDUNDANCY_PRIMARY_CAP {
        8_000
    } else {
        6_000
    }
}

/// Bits per second on the wire (IP + UDP headers included) for a primary bitrate and a
/// redundancy level (level L carries L − 1 copies of earlier frames plus an empty entry for the
/// current one, see `Session::send_audio`).
pub fn wire_bps(primary: i32, redundancy_level: u8) -> f64 {
    wire_bps_packed(primary, redundancy_level, 1)
}

/// Primary bitrate cap with several frames per packet (the budget grows no further, so a lossy
/// link is not pushed into a standing queue).
pub const PACKED_PRIMARY_CAP: i32 = 16_000;
/// Smallest primary bitrate sent two frames per packet (with copies of both earlier ones):
/// below it three frames per packet with copies of all three cost less on the wire for the
/// same quality (measured offline at 20 % loss: 8 kbps primaries, 18.6 against 17.0 kbps,
/// PESQ-WB 2.83 against 2.82), so a link whose primary cannot reach it (GPRS) packs three.
const TWO_FRAME_MIN_PRIMARY: i32 = 10_000;
/// Stream-frame header bytes each extra frame of a multi-frame packet adds (stream byte, length,
/// pts, and a share of padding).
const EXTRA_FRAME_BYTES: f64 = 7.0;
/// Most 60 ms frames per packet (STREAM_DATA_X3).
pub const MAX_FRAMES_PER_PACKET: u32 = 3;

/// Like [`wire_bps`] with `fpp` 60 ms frames per packet: the packet overhead is paid once per
/// `fpp` frames and each earlier frame's copy is sent once per packet (L − 1 distinct copies per
/// packet), see `Session::send_audio_frames`.
pub fn wire_bps_packed(primary: i32, redundancy_level: u8, fpp: u32) -> f64 {
    wire_bps_frames(primary, redundancy_level, fpp, 60)
}

/// Duration of the long frames sent to a tgvoip-rs peer in an outage, ms (the longest Opus
/// packet).
const LONG_FRAME_MS: u32 = 120;

/// Like [`wire_bps_packed`] for [`MAX_FRAMES_PER_PACKET`] 120 ms frames a packet, without
/// copies: a packet every 360 ms pays a third of the headers of three 60 ms frames a packet.
pub fn wire_bps_long(primary: i32) -> f64 {
    wire_bps_frames(primary, 0, MAX_FRAMES_PER_PACKET, LONG_FRAME_MS)
}

/// Bits per second on the wire for a primary bitrate in frames of `frame_ms` (one frame per
/// packet, no redundancy): the per-packet overhead grows as frames get shorter.
pub fn wire_bps_framed(primary: i32, frame_ms: u32) -> f64 {
    wire_bps_frames(primary, 0, 1, frame_ms)
}

/// The wire model behind the `wire_bps*` functions: `fpp` frames of `frame_ms` a packet, the
/// packet's overhead once, a stream header per extra frame, and L − 1 copies plus L entries a
/// frame at redundancy level L.
fn wire_bps_frames(primary: i32, redundancy_level: u8, fpp: u32, frame_ms: u32) -> f64 {
    let fpp = f64::from(fpp.clamp(1, MAX_FRAMES_PER_PACKET));
    let secs = f64::from(frame_ms.max(20)) / 1000.0;
    let copies = f64::from(redundancy_level.saturating_sub(1));
    let entries = f64::from(redundancy_level) * fpp;
    let per_packet = PACKET_OVERHEAD_BYTES
        + (fpp - 1.0) * EXTRA_FRAME_BYTES
        + fpp * f64::from(primary) * secs / 8.0
        + copies * f64::from(secondary_bitrate(primary)) * secs / 8.0
        + entries;
    per_packet * 8.0 / (secs * fpp)
}

/// Smallest primary bitrate worth shorter frames for: below it the overhead of more packets is
/// better spent on the codec.
pub const SHORT_FRAME_MIN_BITRATE: i32 = 16_000;

/// Chooses encoder settings over time.
///
/// Design (deviations from 2.4.4, media.md §2.5-2.10, §5 and §11):
/// * **Congestion control on a wire budget.** The controller keeps a budget of bits per second
///   on the wire (headers included). A queue building up at a bottleneck shows as the recent RTT
///   rising above the base (minimum) RTT (less the peer's ack holding, see
///   [`set_ack_delay`](Self::set_ack_delay)), or, once it shows a severe queue, as the wait of
///   acks still outstanding (`ack_stall`: in an outage the RTT samples stop before they show
///   the queue). Above 250 ms the budget is cut by 25 % (not under the floor from the peer's
///   incoming rate, [`set_cut_floor`](Self::set_cut_floor)); above 600 ms, or when loss passes
///   50 %, it is cut to a quarter or to that floor if lower; at most once per base RTT (600 ms
///   at least), except that a queue turning severe after a plain cut is cut again at once.
///   Below 100 ms it grows by
///   2.5 kbps per second (after a 2 s hold, and only with RTT samples), up to what the best
///   setting needs; after a severe cut it first climbs back at 10 kbps per second to 80 % of
///   the budget the episode started with (the link came back). Random loss does not shrink the
///   budget, and packets acked after the loss timeout count as delivered.
/// * **Several frames per packet** toward a peer that parses them (a tgvoip-rs that announced
///   it, or 2.4.4; [`set_multi_frame`](Self::set_multi_frame)): with loss above 5 % (or above
///   2 % when one copy per 60 ms packet would leave the primary under 12 kbps), two or three
///   60 ms frames share one packet's headers and the next packet carries copies of them.
///   An outage (a severe episode that began with under 30 % loss, for its first 3 s) gets a
///   constant-bitrate primary: toward a tgvoip-rs peer whose budget cannot pay three 60 ms
///   frames a packet at 6 kbps, 4 kbps in three 120 ms frames a packet (on an 8 kbit/s outage
///   link the headers of a packet every 180 ms alone take more than half the link); in 60 ms
///   frames (toward 2.4.4) down to 3 kbps.
/// * **Loss protection within the budget.** The wanted redundancy level follows loss as 2.4.4
///   (2/3/4 above 2/5/8 %, with a 3 s hysteresis to turn off); the highest level whose copies
///   still leave at least 6 kbps for the primary within the budget is used, the rest goes to the
///   primary (capped at 12 kbps while redundancy is on unless the budget has room to spare).
///   Redundancy is used on every network type when the budget allows it (2.4.4 never uses it on
///   GPRS/EDGE, where loss protection matters most).
/// * Opus in-band FEC stays on; the expected-loss ctl is the measured loss rounded up, clamped to
///   5..=25 %.
/// * New limits clamp the current state instead of resetting it.
pub struct BitrateController {
    limits: BitrateLimits,
    /// Wire budget, bits per second.
    budget: f64,
    redundancy_level: u8,
    /// Since when loss has been below the off threshold while redundancy is on.
    quiet_since: Option<Instant>,
    last_decrease: Option<Instant>,
    last_update: Option<Instant>,
    settings: SenderSettings,
    /// The peer accepts 20, 40 and 120 ms frames (tgvoip-rs only).
    short_frames: bool,
    /// Frame duration chosen with the settings, ms.
    frame_ms: u32,
    /// The peer takes several 60 ms frames per packet (tgvoip-rs only).
    multi_frame: bool,
    /// 60 ms frames per packet chosen with the settings.
    frames_per_packet: u32,
    /// Budget a congestion cut does not go under (from the peer's incoming rate), if known.
    cut_floor: Option<f64>,
    /// Part of the RTT that is the peer holding its acks (it sends a packet only every few
    /// frames), not queueing.
    ack_delay: Duration,
    /// Budget before the first cut of the current congestion episode.
    episode_start: f64,
    /// Budget before a congestion episode that had a severe cut: fast recovery climbs back
    /// toward it once the path clears.
    before_severe: Option<f64>,
    /// The last cut was a severe one (a plain cut is escalated without waiting).
    last_cut_severe: bool,
    /// Until when the current severe episode counts as an outage (it began with little loss).
    outage_until: Option<Instant>,
}

impl BitrateController {
    /// Starts with a budget for `limits.initial` without redundancy, FEC on.
    pub fn new(limits: BitrateLimits) -> BitrateController {
        let initial = clamp_bitrate(limits.initial, &limits);
        let mut c = BitrateController {
            limits,
            budget: wire_bps(initial, 0),
            redundancy_level: 0,
            quiet_since: None,
            last_decrease: None,
            last_update: None,
            settings: SenderSettings::default(),
            short_frames: false,
            frame_ms: 60,
            multi_frame: false,
            frames_per_packet: 1,
            ack_delay: Duration::ZERO,
            cut_floor: None,
            episode_start: 0.0,
            before_severe: None,
            last_cut_severe: false,
            outage_until: None,
        };
        c.settings = c.compose(MIN_EXPECTED_LOSS);
        c
    }

    /// New limits (network type or data saving changed).
    pub fn set_limits(&mut self, limits: BitrateLimits) {
        self.limits = limits;
        self.budget = self.budget.min(self.max_budget());
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
        self.update_budget(now, feedback);
        let expected = ((loss * 100.0).ceil() as i32).clamp(MIN_EXPECTED_LOSS, MAX_EXPECTED_LOSS);
        self.settings = self.compose(expected);
        self.settings
    }

    /// Wanted redundancy level from loss, with hysteresis.
    fn update_redundancy(&mut self, now: Instant, loss: f64) {
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

    /// Largest useful budget: the best setting at the wanted redundancy level (with 20 ms
    /// frames when allowed and redundancy is off).
    fn max_budget(&self) -> f64 {
        if self.packing_wanted() {
            let primary = self.limits.max.min(PACKED_PRIMARY_CAP);
            return if primary >= TWO_FRAME_MIN_PRIMARY {
                wire_bps_packed(primary, 3, 2)
            } else {
                wire_bps_packed(primary, 4, 3)
            };
        }
        if self.short_frames && self.redundancy_level == 0 {
            return wire_bps_framed(self.limits.max, 20);
        }
        let primary = if self.redundancy_level > 0 {
            self.limits
                .max
                .min(REDUNDANCY_PRIMARY_CAP.max(self.limits.min))
        } else {
            self.limits.max
        };
        wire_bps(primary, self.redundancy_level)
    }

    /// Smallest budget: the congestion floor bitrate without redundancy (in long frames when
    /// they are allowed).
    fn min_budget(&self) -> f64 {
        if self.long_frames_allowed() {
            return wire_bps_long(self.floor_bitrate());
        }
        let fpp = if self.multi_frame {
            MAX_FRAMES_PER_PACKET
        } else {
            1
        };
        wire_bps_packed(self.floor_bitrate(), 0, fpp)
    }

    /// Lowest primary bitrate now: the outage floor (lower in 60 ms frames), then the
    /// severe-episode floor until the link is back, else the congestion floor (never above the
    /// maximum).
    fn floor_bitrate(&self) -> i32 {
        let floor = if self.long_frames_allowed() {
            OUTAGE_MIN_BITRATE
        } else if self.in_outage() {
            OUTAGE_MIN_BITRATE_60MS
        } else if self.before_severe.is_some() {
            SEVERE_MIN_BITRATE
        } else {
            CONGESTION_MIN_BITRATE
        };
        floor.min(self.limits.max)
    }

    /// Allows two or three 60 ms frames per packet (only when the peer parses them).
    ///
    /// With `slow_link` (e.g. GPRS, where one 60 ms frame per packet costs about 10 kbps of
    /// headers alone) the budget starts at three frames per packet with the initial bitrate
    /// if no congestion was seen yet, instead of pushing the single-frame rate into the link.
    pub fn set_multi_frame(&mut self, allowed: bool, slow_link: bool) {
        if self.multi_frame != allowed {
            self.multi_frame = allowed;
            if allowed && slow_link && self.last_decrease.is_none() {
                let initial = clamp_bitrate(self.limits.initial, &self.limits);
                self.budget = self
                    .budget
                    .min(wire_bps_packed(initial, 0, MAX_FRAMES_PER_PACKET));
            }
            self.budget = self.budget.min(self.max_budget()).max(self.min_budget());
            self.settings = self.compose(self.settings.expected_loss_perc);
        }
    }

    /// Sets the budget a congestion cut does not go under (bits per second on the wire), or
    /// none. With a symmetric link, what the peer gets through says what the link carries: the
    /// RTT cannot tell our queue from the peer's, and without a floor the side that cuts first
    /// ends far below the link while the other keeps the queue.
    pub fn set_cut_floor(&mut self, floor: Option<f64>) {
        self.cut_floor = floor.filter(|f| f.is_finite() && *f > 0.0);
    }

    /// Average extra wait of the peer's acks beyond the base RTT that is not queueing: the peer
    /// packs several frames per packet and so acks only every 120-180 ms. Subtracted from the
    /// queueing-delay estimate.
    pub fn set_ack_delay(&mut self, delay: Duration) {
        self.ack_delay = delay;
    }

    /// 60 ms frames per packet that go with the current settings (1 unless multi-frame packets
    /// are allowed and chosen).
    pub fn frames_per_packet(&self) -> u32 {
        self.frames_per_packet
    }

    /// Whether packing is preferred: allowed, and loss high enough (level ≥ 3, > 5 %) that
    /// protecting each packet with copies in the next one beats per-frame packets whose
    /// overhead and copies leave little for the primary.
    fn packing_wanted(&self) -> bool {
        self.multi_frame && self.redundancy_level >= 3
    }

    /// Whether light loss (level 2: one copy per frame) is better served by two frames a packet
    /// with copies of both: when a copy in every 60 ms packet would leave the primary under the
    /// redundancy cap, the headers two frames share buy a primary of at least 10 kbps with the
    /// same protection (any one lost packet is recovered), for 60 ms more delay. Measured on
    /// 3goutage after the outage (3 % loss, a ~25 kbit/s budget): one frame a packet ran a
    /// 6-8 kbps primary, two frames 11-16 kbps, PESQ-WB of those seconds +0.5. Unlike
    /// [`packing_wanted`](Self::packing_wanted) it leaves the budget's ceiling at the
    /// one-frame setting, where it turns itself off.
    fn packing_pays_for_one_copy(&self) -> bool {
        self.multi_frame
            && self.redundancy_level == 2
            && fit_primary(self.budget, 2, 1) < f64::from(REDUNDANCY_PRIMARY_CAP)
            && fit_primary(self.budget, 3, 2) >= f64::from(TWO_FRAME_MIN_PRIMARY)
    }

    /// Packed choice (frames per packet, level, primary) for the budget, when packing is
    /// wanted, packing pays for light loss's copies, or the budget cannot pay one packet per
    /// frame at the primary floor: two frames with copies of both earlier ones if the primary
    /// gets at least 10 kbps, else three frames with as many copies as fit next to the floor
    /// primary.
    fn packed_choice(&self) -> Option<(u32, u8, i32)> {
        if !self.multi_frame {
            return None;
        }
        let floor = f64::from(self.floor_bitrate());
        let single_fits = self.budget - wire_bps(0, 0) >= floor;
        if !self.packing_wanted() && single_fits && !self.packing_pays_for_one_copy() {
            return None;
        }
        let want = self.redundancy_level;
        let max = f64::from(self.limits.max);
        let good = f64::from(TWO_FRAME_MIN_PRIMARY);
        if want >= 2 {
            let p = fit_primary(self.budget, 3, 2).min(max);
            if p >= good {
                return Some((2, 3, p as i32));
            }
            for level in (2..=4u8).rev() {
                let p = fit_primary(self.budget, level, 3);
                if p >= floor {
                    return Some((3, level, p.min(max) as i32));
                }
            }
        }
        let p = fit_primary(self.budget, 0, 3);
        Some((3, 0, p.clamp(floor, max.max(floor)) as i32))
    }

    /// Delay-based AIMD of the wire budget.
    fn update_budget(&mut self, now: Instant, fb: &SendFeedback) {
        let dt = self.last_update.map_or(0.0, |t| {
            now.saturating_duration_since(t).as_secs_f64().min(1.0)
        });
        self.last_update = Some(now);
        // Queueing delay: the recent RTT over the base, or the wait of acks still outstanding
        // when that says more (in an outage the RTT samples stop before they can show it).
        let queue = fb.base_rtt.and_then(|b| {
            let sampled = fb.recent_rtt.map(|r| r.saturating_sub(b));
            // Lost packets and lost acks make the wait noisy by a packet interval or two: it
            // only speaks when it shows a severe queue.
            let stalled = fb
                .ack_stall
                .map(|s| s.saturating_sub(b).saturating_sub(STALL_SLACK))
                .filter(|&q| q > SEVERE_QUEUE);
            sampled.max(stalled)
        });
        let queue = queue.map(|q| q.saturating_sub(self.ack_delay));
        // One base RTT (not the queue-inflated recent one) between cuts: with a link that just
        // dropped to a fraction of the rate, the queue grows faster than real time.
        let spacing = fb
            .base_rtt
            .or(fb.recent_rtt)
            .unwrap_or_default()
            .max(DECREASE_SPACING);
        let since_decrease = self.last_decrease.map(|t| now.saturating_duration_since(t));
        let loss = if fb.loss_ratio.is_finite() {
            fb.loss_ratio
        } else {
            0.0
        };
        // Loss this high is no random loss: a queue so long that acks come after the loss
        // timeout (RTT samples then stop), or drops at a full queue.
        if queue.is_some_and(|q| q > CONGESTED_QUEUE) || loss > CONGESTION_LOSS {
            let severe = queue.is_some_and(|q| q > SEVERE_QUEUE) || loss > CONGESTION_LOSS;
            // A plain cut that the queue outgrew (it turned severe) is escalated at once: an
            // outage fills the queue faster than real time, and a base RTT of waiting costs
            // the seconds of backlog that the severe cut exists to avoid.
            let escalate = severe && !self.last_cut_severe;
            if escalate || since_decrease.is_none_or(|d| d >= spacing) {
                let floor = self.cut_floor.unwrap_or(0.0);
                // A severe queue means the link fell far under our rate (an outage): the cut
                // ignores the floor, whose smoothed rate still remembers the old link, and goes
                // straight to the peer's current rate when that is lower.
                let cut = if severe {
                    let half = self.budget * SEVERE_DECREASE_FACTOR;
                    Some(if floor > 0.0 { half.min(floor) } else { half })
                } else {
                    (self.budget > floor).then(|| (self.budget * DECREASE_FACTOR).max(floor))
                };
                if let Some(cut) = cut {
                    if since_decrease.is_none_or(|d| d >= EPISODE_GAP) {
                        self.episode_start = self.budget;
                    }
                    if severe && self.before_severe.is_none() {
                        self.before_severe = Some(self.episode_start.max(self.budget));
                        // Random loss that high (or no acks at all yet) would cost a 360 ms
                        // hole per lost packet: long frames only for a queue on a clean link.
                        self.outage_until = (loss < OUTAGE_MAX_LOSS).then(|| now + OUTAGE_MAX_TIME);
                    }
                    self.budget = cut;
                    self.last_decrease = Some(now);
                    self.last_cut_severe = severe;
                }
            }
        } else {
            let recovery = self
                .before_severe
                .map(|b| b * RECOVERY_SHARE)
                .filter(|&goal| self.budget < goal);
            match recovery {
                Some(goal)
                    if queue.is_some_and(|q| q < RECOVERY_QUEUE)
                        && since_decrease.is_none_or(|d| d >= RECOVERY_HOLD) =>
                {
                    self.budget = (self.budget + RECOVERY_RATE * dt).min(goal);
                }
                Some(_) => {}
                None => {
                    self.before_severe = None;
                    if queue.is_some_and(|q| q < CLEAR_QUEUE)
                        && since_decrease.is_none_or(|d| d >= INCREASE_HOLD)
                    {
                        self.budget += INCREASE_RATE * dt;
                    }
                }
            }
        }
        self.budget = self.budget.min(self.max_budget()).max(self.min_budget());
    }

    /// Allows 20/40 ms frames (only when the peer is a tgvoip-rs that announced it). With
    /// `fast_start` (a clean local network such as Wi-Fi or Ethernet) the budget jumps at once
    /// to what 20 ms frames at the maximum bitrate need, if no congestion was seen yet; a
    /// bottleneck then cuts it back within a few RTTs.
    pub fn set_short_frames(&mut self, allowed: bool, fast_start: bool) {
        if allowed && !self.short_frames && fast_start && self.last_decrease.is_none() {
            self.short_frames = true;
            self.budget = self.budget.max(self.max_budget());
        }
        self.short_frames = allowed;
        self.budget = self.budget.min(self.max_budget());
        self.settings = self.compose(self.settings.expected_loss_perc);
    }

    /// Frame duration (ms) that goes with the current settings: 60 unless short frames are
    /// allowed and either redundancy is off and the budget pays for the extra packets (20 or
    /// 40), or a severe episode leaves less than three 60 ms frames a packet need (120).
    pub fn frame_ms(&self) -> u32 {
        self.frame_ms
    }

    /// Whether 120 ms frames may be chosen: toward a tgvoip-rs peer (variable frames, several
    /// per packet) in an outage ([`in_outage`](Self::in_outage)), where even the headers of
    /// three 60 ms frames a packet overfill the link.
    fn long_frames_allowed(&self) -> bool {
        self.short_frames && self.multi_frame && self.in_outage()
    }

    /// Whether a severe episode that began with little loss is in its first
    /// [`OUTAGE_MAX_TIME`]: the link fell far under our rate (an outage).
    fn in_outage(&self) -> bool {
        self.before_severe.is_some()
            && self
                .outage_until
                .zip(self.last_update)
                .is_some_and(|(until, now)| now < until)
    }

    /// Whether the encoder should run at a constant bitrate (in an outage, where a talk spurt's
    /// burst above the average would only queue).
    pub fn constant_bitrate(&self) -> bool {
        self.in_outage()
    }

    /// Primary bitrate in long frames ([`MAX_FRAMES_PER_PACKET`] of 120 ms a packet) when they
    /// are allowed and the budget cannot pay three 60 ms frames a packet at the congestion floor.
    fn long_frame_choice(&self) -> Option<i32> {
        let packed_floor = CONGESTION_MIN_BITRATE.min(self.limits.max);
        if !self.long_frames_allowed()
            || self.budget >= wire_bps_packed(packed_floor, 0, MAX_FRAMES_PER_PACKET)
        {
            return None;
        }
        let primary = (self.budget - wire_bps_long(0)) as i32;
        let floor = self.floor_bitrate();
        Some(primary.clamp(floor, self.limits.max.max(floor)))
    }

    /// Shortest frame whose overhead the budget affords at a good primary bitrate (None: 60 ms).
    fn short_frame_choice(&self) -> Option<(u32, i32)> {
        if !self.short_frames || self.redundancy_level > 0 {
            return None;
        }
        let good = SHORT_FRAME_MIN_BITRATE.min(self.limits.max);
        [20, 40].into_iter().find_map(|ms| {
            let primary = self.budget - wire_bps_framed(0, ms);
            (primary >= f64::from(good)).then(|| (ms, (primary as i32).min(self.limits.max)))
        })
    }

    /// Builds the settings from the budget and the wanted redundancy level.
    fn compose(&mut self, expected_loss_perc: i32) -> SenderSettings {
        self.frame_ms = 60;
        self.frames_per_packet = 1;
        let packed = match self.long_frame_choice() {
            Some(bitrate) => Some((LONG_FRAME_MS, MAX_FRAMES_PER_PACKET, 0, bitrate)),
            None => self
                .packed_choice()
                .map(|(fpp, level, bitrate)| (60, fpp, level, bitrate)),
        };
        if let Some((frame_ms, fpp, level, bitrate)) = packed {
            self.frame_ms = frame_ms;
            self.frames_per_packet = fpp;
            return SenderSettings {
                bitrate,
                inband_fec: true,
                expected_loss_perc,
                redundancy_level: level,
                bandwidth: bandwidth_for(bitrate),
            };
        }
        if let Some((ms, bitrate)) = self.short_frame_choice() {
            self.frame_ms = ms;
            return SenderSettings {
                bitrate,
                inband_fec: true,
                expected_loss_perc,
                redundancy_level: 0,
                bandwidth: Bandwidth::Full,
            };
        }
        let floor = self.floor_bitrate();
        let mut level = self.redundancy_level;
        let bitrate = loop {
            // Primary that fits the budget next to `level` redundancy, one frame a packet.
            let primary = fit_primary(self.budget, level, 1);
            let cap = if level > 0 {
                // Past the cap, spare budget goes back to the primary only above the max.
                self.limits
                    .max
                    .min(REDUNDANCY_PRIMARY_CAP.max(self.limits.min))
            } else {
                self.limits.max
            };
            if level == 0 || primary >= f64::from(floor) {
                break (primary as i32).clamp(floor, cap.max(floor));
            }
            level = if level > 2 { level - 1 } else { 0 };
        };
        SenderSettings {
            bitrate,
            inband_fec: true,
            expected_loss_perc,
            redundancy_level: level,
            bandwidth: bandwidth_for(bitrate),
        }
    }

    /// The settings chosen by the last update.
    pub fn settings(&self) -> SenderSettings {
        self.settings
    }

    /// The primary bitrate the current budget allows without redundancy, bits per second.
    pub fn target_bitrate(&self) -> i32 {
        let primary = (self.budget - wire_bps(0, 0)) as i32;
        primary.clamp(self.floor_bitrate(), self.limits.max)
    }

    /// The current wire budget, bits per second (IP + UDP headers included).
    pub fn budget_bps(&self) -> f64 {
        self.budget
    }
}

/// Primary bitrate that fills `budget` next to `level` redundancy with `fpp` frames per packet
/// (the copies' bitrate depends on the primary: solved by iteration).
fn fit_primary(budget: f64, level: u8, fpp: u32) -> f64 {
    let mut primary = budget - wire_bps_packed(0, level, fpp);
    for _ in 0..3 {
        let with = wire_bps_packed(primary as i32, level, fpp);
        primary -= with - budget;
    }
    primary
}

/// Clamps a bitrate into the limits (tolerating `min > max` by preferring `max`).
fn clamp_bitrate(bps: i32, limits: &BitrateLimits) -> i32 {
    bps.max(limits.min).min(limits.max)
}

/// The Opus bandwidth for a primary bitrate: the encoder's own choice (narrow- or mediumband)
/// below [`WIDEBAND_MIN_BITRATE`], wideband up to [`FULLBAND_MIN_BITRATE`], where fullband
/// would spend the bits on content above 8 kHz. Measured on speech (PESQ-WB, clean): at 6 kbps
/// 2.74 chosen by the encoder against 1.72 forced wideband; at 12 kbps wideband 4.15 against
/// fullband 3.86.
fn bandwidth_for(bitrate: i32) -> Bandwidth {
    if bitrate < WIDEBAND_MIN_BITRATE {
        Bandwidth::Auto
    } else if bitrate < FULLBAND_MIN_BITRATE {
        Bandwidth::Wide
    } else {
        Bandwidth::Full
    }
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

    fn fb(loss: f64, base_ms: u64, recent_ms: u64) -> SendFeedback {
        SendFeedback {
            loss_ratio: loss,
            rtt: Some(Duration::from_millis(recent_ms)),
            inflight_bytes: 0,
            base_rtt: Some(Duration::from_millis(base_ms)),
            recent_rtt: Some(Duration::from_millis(recent_ms)),
            ack_stall: None,
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
        assert_eq!(s.bandwidth, Bandwidth::Wide);
    }

    #[test]
    fn bandwidth_follows_the_primary_bitrate() {
        // Narrow- or mediumband (the encoder's choice) at low rates, wideband in the middle,
        // fullband only where the bits are there for it.
        assert_eq!(bandwidth_for(6_000), Bandwidth::Auto);
        assert_eq!(bandwidth_for(11_999), Bandwidth::Auto);
        assert_eq!(bandwidth_for(12_000), Bandwidth::Wide);
        assert_eq!(bandwidth_for(19_999), Bandwidth::Wide);
        assert_eq!(bandwidth_for(20_000), Bandwidth::Full);
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        let s = run(&mut c, &mut t, 10, fb(0.0, 50, 60));
        assert_eq!((s.bitrate, s.bandwidth), (20_000, Bandwidth::Full));
    }

    #[test]
    fn low_primaries_are_their_own_copies() {
        assert!(copies_are_primaries(6_000) && copies_are_primaries(8_000));
        assert!(!copies_are_primaries(8_001));
        assert_eq!(secondary_bitrate(7_000), 7_000);
        assert_eq!(secondary_bitrate(10_000), 6_000);
        assert_eq!(secondary_bitrate(16_000), 8_000);
        // The wire model prices such a copy like the primary.
        let packets_per_second = 1000.0 / 60.0;
        let one_copy = wire_bps(7_000, 2) - wire_bps(7_000, 0);
        assert!((one_copy - (7_000.0 + 2.0 * 8.0 * packets_per_second)).abs() < 1.0);
    }

    #[test]
    fn climbs_to_max_on_clear_path() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        let s = run(&mut c, &mut t, 1, fb(0.0, 50, 60));
        assert!(s.bitrate > 16_000 && s.bitrate < 20_000, "{}", s.bitrate);
        let s = run(&mut c, &mut t, 10, fb(0.0, 50, 60));
        assert_eq!(s.bitrate, 20_000);
        // Without RTT samples (no evidence the path is clear, e.g. a long first RTT on a slow
        // link) the budget holds.
        let mut c = BitrateController::new(limits());
        let s = run(&mut c, &mut t, 10, SendFeedback::default());
        assert_eq!(s.bitrate, 16_000);
    }

    #[test]
    fn queueing_delay_cuts_budget_fast_then_probes_back() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        let start = c.budget_bps();
        // 400 ms of queue: 25 % cuts once per 600 ms.
        let s = run(&mut c, &mut t, 2, fb(0.0, 50, 450));
        assert!(c.budget_bps() < start * 0.7, "{}", c.budget_bps());
        assert_eq!(c.budget_bps(), wire_bps(CONGESTION_MIN_BITRATE, 0));
        assert_eq!(s.bandwidth, Bandwidth::Auto);
        let s = run(&mut c, &mut t, 10, fb(0.0, 50, 450));
        assert_eq!(s.bitrate, CONGESTION_MIN_BITRATE);
        // Moderate queue: hold.
        let low = c.budget_bps();
        run(&mut c, &mut t, 5, fb(0.0, 50, 150));
        assert_eq!(c.budget_bps(), low);
        // Queue drained: grows back.
        let s = run(&mut c, &mut t, 10, fb(0.0, 50, 70));
        assert!(s.bitrate > 16_000, "{}", s.bitrate);
    }

    #[test]
    fn random_loss_does_not_shrink_budget() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        let before = c.budget_bps();
        run(&mut c, &mut t, 5, fb(0.2, 50, 60));
        assert!(c.budget_bps() > before);
    }

    #[test]
    fn redundancy_levels_and_hysteresis() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        // Plenty of budget once it has grown.
        let s = run(&mut c, &mut t, 20, fb(0.03, 50, 60));
        assert_eq!(s.redundancy_level, 2);
        assert_eq!(s.bitrate, REDUNDANCY_PRIMARY_CAP);
        assert_eq!(s.expected_loss_perc, 5);
        assert!(s.inband_fec);
        let s = run(&mut c, &mut t, 10, fb(0.06, 50, 60));
        assert_eq!((s.redundancy_level, s.expected_loss_perc), (3, 6));
        let s = run(&mut c, &mut t, 10, fb(0.2, 50, 60));
        assert_eq!((s.redundancy_level, s.expected_loss_perc), (4, 20));
        let s = run(&mut c, &mut t, 1, fb(0.5, 50, 60));
        assert_eq!(s.expected_loss_perc, 25);
        let s = run(&mut c, &mut t, 10, fb(0.015, 50, 60));
        assert_eq!(s.redundancy_level, 2);
        let s = run(&mut c, &mut t, 2, fb(0.0, 50, 60));
        assert_eq!(s.redundancy_level, 2);
        let s = run(&mut c, &mut t, 2, fb(0.0, 50, 60));
        assert_eq!(s.redundancy_level, 0);
        assert!(s.bitrate > REDUNDANCY_PRIMARY_CAP);
    }

    #[test]
    fn tight_budget_trades_redundancy_copies_for_a_6k_primary_floor() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        run(&mut c, &mut t, 3, fb(0.2, 50, 60));
        // Squeeze: congestion with heavy loss.
        let s = run(&mut c, &mut t, 10, fb(0.2, 50, 600));
        assert_eq!(s.bitrate, CONGESTION_MIN_BITRATE);
        assert!(wire_bps(s.bitrate, s.redundancy_level) <= c.budget_bps() + 1.0);
        // Every choice fits the budget and keeps the floor.
        for budget_kbps in [16, 20, 24, 28, 32, 40] {
            let mut c = BitrateController::new(limits());
            c.redundancy_level = 4;
            c.budget = f64::from(budget_kbps) * 1000.0;
            let s = c.compose(20);
            assert!(s.bitrate >= CONGESTION_MIN_BITRATE);
            if s.redundancy_level > 0 {
                assert!(
                    wire_bps(s.bitrate, s.redundancy_level) <= c.budget + 1.0,
                    "{budget_kbps}: {s:?}"
                );
            }
        }
    }

    #[test]
    fn set_limits_clamps_instead_of_resetting() {
        let mut c = BitrateController::new(limits());
        let mut t = Instant::now();
        run(&mut c, &mut t, 10, fb(0.0, 50, 60));
        assert_eq!(c.settings().bitrate, 20_000);
        let mut l = limits();
        l.max = 16_000;
        c.set_limits(l);
        assert_eq!(c.settings().bitrate, 16_000);
        c.set_limits(limits());
        assert_eq!(c.target_bitrate(), 16_000);
    }

    #[test]
    fn lossy_link_packs_frames_only_when_the_peer_allows_it() {
        let mut t = Instant::now();
        // Without the capability: always one frame per packet.
        let mut c = BitrateController::new(limits());
        run(&mut c, &mut t, 10, fb(0.17, 50, 60));
        assert_eq!(c.frames_per_packet(), 1);
        // With it: two frames per packet, copies of both frames of the previous packet, and a
        // primary above what one frame per packet could afford in the same budget.
        let mut c = BitrateController::new(limits());
        c.set_multi_frame(true, false);
        let s = run(&mut c, &mut t, 10, fb(0.17, 50, 60));
        assert_eq!(c.frames_per_packet(), 2);
        assert_eq!(s.redundancy_level, 3);
        assert!(wire_bps_packed(s.bitrate, 3, 2) <= c.budget_bps() + 1.0);
        assert!(s.bitrate > REDUNDANCY_PRIMARY_CAP, "{s:?}");
        assert!(s.bitrate <= PACKED_PRIMARY_CAP);
        // Low loss: back to one frame per packet.
        let s = run(&mut c, &mut t, 10, fb(0.0, 50, 60));
        assert_eq!((c.frames_per_packet(), s.redundancy_level), (1, 0));
    }

    #[test]
    fn light_loss_on_a_tight_budget_packs_two_frames_with_copies_of_both() {
        // 3 % loss wants one copy per frame. On a budget where a copy in every packet would
        // squeeze the primary, two frames a packet protect the same and leave it more.
        let loss = fb(0.03, 50, 60);
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        c.set_multi_frame(true, false);
        let s = c.update(t, &loss);
        let single = fit_primary(c.budget_bps(), 2, 1);
        assert!(single < f64::from(REDUNDANCY_PRIMARY_CAP), "{single}");
        assert_eq!((c.frames_per_packet(), s.redundancy_level), (2, 3), "{s:?}");
        assert!(f64::from(s.bitrate) > single + 2_000.0, "{s:?} vs {single}");
        assert!(wire_bps_packed(s.bitrate, 3, 2) <= c.budget_bps() + 1.0);
        // Without the peer's support: one frame, one copy, the squeezed primary.
        let mut one = BitrateController::new(limits());
        let s1 = one.update(t, &loss);
        assert_eq!((one.frames_per_packet(), s1.redundancy_level), (1, 2));
        assert!(s1.bitrate < s.bitrate, "{s1:?} vs {s:?}");
        // Once the budget pays a capped primary and its copy, one frame a packet again (less
        // delay for the same quality).
        let s = run(&mut c, &mut t, 10, loss);
        assert_eq!((c.frames_per_packet(), s.redundancy_level), (1, 2), "{s:?}");
        assert_eq!(s.bitrate, REDUNDANCY_PRIMARY_CAP);
    }

    #[test]
    fn a_low_maximum_packs_three_frames_with_copies_of_all_three() {
        // GPRS caps the primary at 8 kbps: two frames per packet would only add headers.
        let mut t = Instant::now();
        let mut c = BitrateController::new(BitrateLimits {
            max: 8_000,
            ..limits()
        });
        c.set_multi_frame(true, true);
        let s = run(&mut c, &mut t, 20, fb(0.2, 50, 60));
        assert_eq!((c.frames_per_packet(), s.redundancy_level), (3, 4), "{s:?}");
        assert_eq!(s.bitrate, 8_000);
        // The budget stops where that setting is paid for.
        assert!((c.budget_bps() - wire_bps_packed(8_000, 4, 3)).abs() < 1.0);
    }

    #[test]
    fn squeezed_budget_goes_to_three_frames_per_packet_and_below_the_single_frame_floor() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        c.set_multi_frame(true, false);
        run(&mut c, &mut t, 3, fb(0.4, 50, 60));
        let s = run(&mut c, &mut t, 10, fb(0.4, 50, 600));
        assert_eq!(c.frames_per_packet(), 3);
        assert_eq!(s.bitrate, CONGESTION_MIN_BITRATE);
        assert!(c.budget_bps() < wire_bps(CONGESTION_MIN_BITRATE, 0));
        assert!(wire_bps_packed(s.bitrate, s.redundancy_level, 3) <= c.budget_bps() + 1.0);
        // Packing pays the overhead once per packet.
        assert!(wire_bps_packed(8_000, 4, 3) < wire_bps_packed(8_000, 4, 2));
        assert!(wire_bps_packed(8_000, 3, 2) < wire_bps(8_000, 3));
        assert_eq!(wire_bps_packed(8_000, 3, 1), wire_bps(8_000, 3));
    }

    #[test]
    fn ack_delay_of_a_packing_peer_is_not_taken_for_a_queue() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        let start = c.budget_bps();
        c.set_ack_delay(Duration::from_millis(90));
        run(&mut c, &mut t, 3, fb(0.0, 50, 330));
        assert!(c.budget_bps() >= start);
        c.set_ack_delay(Duration::ZERO);
        run(&mut c, &mut t, 3, fb(0.0, 50, 330));
        assert!(c.budget_bps() < start);
    }

    #[test]
    fn an_outage_lowers_the_floor_until_the_link_is_back() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        c.set_multi_frame(true, false);
        run(&mut c, &mut t, 3, fb(0.0, 50, 50));
        let before = c.budget_bps();
        // A queue of over 600 ms: severe cuts down to the outage floor, three 60 ms frames a
        // packet (no longer frames without the peer's support).
        let s = run(&mut c, &mut t, 3, fb(0.0, 50, 1_500));
        assert_eq!((c.frame_ms(), c.frames_per_packet()), (60, 3));
        assert_eq!(s.bitrate, OUTAGE_MIN_BITRATE_60MS);
        assert_eq!(
            c.budget_bps(),
            wire_bps_packed(OUTAGE_MIN_BITRATE_60MS, 0, MAX_FRAMES_PER_PACKET)
        );
        // Headers included, under an 8 kbit/s link after a 20 % loss: 28 IP + UDP bytes a
        // packet every 180 ms on top of the budget's model.
        let wire = c.budget_bps() + 28.0 * 8.0 / 0.18;
        assert!(wire * 0.8 < 8_000.0, "{wire}");
        // Past the outage time the severe floor takes over.
        let s = run(&mut c, &mut t, 1, fb(0.0, 50, 1_500));
        assert_eq!(s.bitrate, SEVERE_MIN_BITRATE);
        assert!(!c.constant_bitrate());
        // The queue clears: fast recovery back toward the old budget, and the usual floor.
        run(&mut c, &mut t, 4, fb(0.0, 50, 50));
        assert!(c.budget_bps() >= before * RECOVERY_SHARE - 1.0);
        run(&mut c, &mut t, 1, fb(0.0, 50, 50));
        assert_eq!(c.floor_bitrate(), CONGESTION_MIN_BITRATE);
    }

    #[test]
    fn an_outage_toward_a_tgvoip_rs_peer_goes_to_120_ms_frames_until_the_link_is_back() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        c.set_multi_frame(true, false);
        c.set_short_frames(true, false);
        run(&mut c, &mut t, 3, fb(0.0, 50, 50));
        assert!(c.frame_ms() <= 60);
        let before = c.budget_bps();
        // Severe cuts: three 120 ms frames a packet at the outage floor, a third of the
        // headers of three 60 ms frames a packet.
        let s = run(&mut c, &mut t, 3, fb(0.0, 50, 1_500));
        assert_eq!((c.frame_ms(), c.frames_per_packet()), (120, 3));
        assert_eq!((s.bitrate, s.redundancy_level), (OUTAGE_MIN_BITRATE, 0));
        assert!(c.constant_bitrate());
        assert_eq!(c.budget_bps(), wire_bps_long(OUTAGE_MIN_BITRATE));
        assert!(
            wire_bps_long(SEVERE_MIN_BITRATE)
                < wire_bps_packed(SEVERE_MIN_BITRATE, 0, MAX_FRAMES_PER_PACKET) - 1_500.0
        );
        // The link is back: shorter frames again as the budget climbs.
        run(&mut c, &mut t, 4, fb(0.0, 50, 50));
        assert!(c.frame_ms() <= 60);
        assert!(c.budget_bps() >= before * RECOVERY_SHARE - 1.0);
        // A slow link that lasts gets 60 ms frames again after a few seconds.
        run(&mut c, &mut t, 10, fb(0.0, 50, 50));
        run(&mut c, &mut t, 2, fb(0.0, 50, 1_500));
        assert_eq!(c.frame_ms(), 120);
        run(&mut c, &mut t, 2, fb(0.0, 50, 1_500));
        assert_eq!((c.frame_ms(), c.frames_per_packet()), (60, 3));
        // An episode that starts with heavy loss (lost acks as likely as a queue) keeps them.
        let mut c = BitrateController::new(limits());
        c.set_multi_frame(true, false);
        c.set_short_frames(true, false);
        run(&mut c, &mut t, 3, fb(0.0, 50, 50));
        let s = run(&mut c, &mut t, 3, fb(0.4, 50, 1_500));
        assert_eq!((c.frame_ms(), c.frames_per_packet()), (60, 3));
        assert_eq!(s.bitrate, SEVERE_MIN_BITRATE);
        assert!(!c.constant_bitrate());
        // Toward a peer without variable frames (2.4.4) an outage stays at 60 ms frames, at the
        // lower floor for them and a constant bitrate.
        let mut c = BitrateController::new(limits());
        c.set_multi_frame(true, false);
        run(&mut c, &mut t, 3, fb(0.0, 50, 50));
        let s = run(&mut c, &mut t, 3, fb(0.0, 50, 1_500));
        assert_eq!((c.frame_ms(), c.frames_per_packet()), (60, 3));
        assert_eq!(s.bitrate, OUTAGE_MIN_BITRATE_60MS);
        assert!(c.constant_bitrate());
    }

    #[test]
    fn cuts_stop_at_the_floor_from_the_peers_rate() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        let start = c.budget_bps();
        c.set_cut_floor(Some(start * 0.9));
        run(&mut c, &mut t, 5, fb(0.0, 50, 600));
        assert_eq!(c.budget_bps(), start * 0.9);
        // A floor above the budget never raises it; no floor: cuts go on.
        c.set_cut_floor(Some(start * 2.0));
        run(&mut c, &mut t, 2, fb(0.0, 50, 600));
        assert_eq!(c.budget_bps(), start * 0.9);
        c.set_cut_floor(None);
        run(&mut c, &mut t, 2, fb(0.0, 50, 600));
        assert!(c.budget_bps() < start * 0.8);
    }

    #[test]
    fn loss_beyond_any_random_loss_cuts_even_without_rtt_growth() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        let start = c.budget_bps();
        run(&mut c, &mut t, 3, fb(0.45, 50, 60));
        assert!(c.budget_bps() >= start);
        let s = run(&mut c, &mut t, 3, fb(0.9, 50, 60));
        assert!(c.budget_bps() < start * 0.7, "{}", c.budget_bps());
        assert_eq!(s.expected_loss_perc, MAX_EXPECTED_LOSS);
    }

    #[test]
    fn slow_link_starts_with_three_frames_per_packet() {
        let mut l = limits();
        l.max = 8_000;
        l.initial = 8_000;
        let mut c = BitrateController::new(l);
        c.set_multi_frame(true, true);
        assert_eq!(c.frames_per_packet(), 3);
        assert_eq!(c.settings().bitrate, 8_000);
        assert!(c.budget_bps() < wire_bps(8_000, 0) * 0.7);
        let mut c = BitrateController::new(l);
        c.set_multi_frame(true, false);
        assert_eq!(c.frames_per_packet(), 1);
    }

    #[test]
    fn a_long_queue_halves_the_budget() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        let start = c.budget_bps();
        t += Duration::from_millis(300);
        c.update(t, &fb(0.0, 50, 200 + 50));
        assert!(c.budget_bps() >= start);
        t += Duration::from_millis(300);
        c.update(t, &fb(0.0, 50, 400));
        let once = c.budget_bps();
        assert!((once - start * DECREASE_FACTOR).abs() < 1.0, "{once}");
        let mut c = BitrateController::new(limits());
        t += Duration::from_millis(300);
        c.update(t, &fb(0.0, 50, 900));
        assert!(c.budget_bps() < start * 0.7);
    }

    /// A controller 10 s into a clean call that just made a plain cut, and its budget then.
    fn after_a_plain_cut(t: &mut Instant) -> (BitrateController, f64) {
        let mut c = BitrateController::new(limits());
        run(&mut c, t, 10, fb(0.0, 50, 60));
        *t += Duration::from_millis(300);
        c.update(*t, &fb(0.0, 50, 400));
        let plain = c.budget_bps();
        (c, plain)
    }

    #[test]
    fn a_queue_turning_severe_right_after_a_plain_cut_is_cut_again_at_once() {
        let mut t = Instant::now();
        let (mut c, plain) = after_a_plain_cut(&mut t);
        // 300 ms later (under the 600 ms spacing) the queue is past 600 ms: cut now.
        t += Duration::from_millis(300);
        c.update(t, &fb(0.0, 50, 900));
        let severe = c.budget_bps();
        assert!(severe <= (plain * SEVERE_DECREASE_FACTOR).max(c.min_budget()) + 1.0);
        // A severe queue right after a severe cut waits the spacing.
        t += Duration::from_millis(300);
        c.update(t, &fb(0.0, 50, 1_200));
        assert_eq!(c.budget_bps(), severe);
        // And a plain queue right after a plain cut waits too.
        let (mut c, plain) = after_a_plain_cut(&mut t);
        t += Duration::from_millis(300);
        c.update(t, &fb(0.0, 50, 450));
        assert_eq!(c.budget_bps(), plain);
    }

    #[test]
    fn held_acks_cut_before_any_rtt_sample_shows_the_queue() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        let start = c.budget_bps();
        // RTT samples still say 60 ms, but nothing sent in the last 900 ms was acked.
        let mut f = fb(0.0, 50, 60);
        f.ack_stall = Some(Duration::from_millis(900));
        t += Duration::from_millis(300);
        c.update(t, &f);
        assert!(c.budget_bps() < start * 0.7, "{}", c.budget_bps());
        // A stall that lost packets or acks explain (base + slack + 200 ms) is no queue.
        let mut c = BitrateController::new(limits());
        f.ack_stall = Some(Duration::from_millis(50 + 200 + 200));
        t += Duration::from_millis(300);
        c.update(t, &f);
        assert!(c.budget_bps() >= start);
    }

    #[test]
    fn after_an_outage_the_budget_climbs_back_fast_then_slowly() {
        let mut t = Instant::now();
        let mut c = BitrateController::new(limits());
        run(&mut c, &mut t, 10, fb(0.0, 50, 60));
        let before = c.budget_bps();
        run(&mut c, &mut t, 3, fb(0.0, 50, 1_500));
        assert_eq!(c.budget_bps(), c.min_budget());
        // Clear again: 80 % of the old budget within about 2 s, not the ~6 s of 2.5 kbps/s.
        run(&mut c, &mut t, 3, fb(0.0, 50, 60));
        assert!(
            c.budget_bps() >= before * RECOVERY_SHARE - 1.0,
            "{}",
            c.budget_bps()
        );
        // A plain (not severe) cut later is followed by the slow growth only.
        run(&mut c, &mut t, 10, fb(0.0, 50, 60));
        let mut tt = t;
        c.update(tt + Duration::from_millis(300), &fb(0.0, 50, 350));
        tt += Duration::from_millis(300);
        let cut = c.budget_bps();
        for _ in 0..10 {
            tt += Duration::from_millis(300);
            c.update(tt, &fb(0.0, 50, 60));
        }
        assert!(
            c.budget_bps() - cut <= INCREASE_RATE * 1.5,
            "{} -> {}",
            cut,
            c.budget_bps()
        );
    }
}
