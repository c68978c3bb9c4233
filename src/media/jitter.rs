//! Jitter buffer keyed by pts (milliseconds) on a 20 ms grid, for frames of 20-120 ms (each
//! frame's duration is read from its Opus TOC), with an adaptive target delay.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::opus::packet_samples;
use super::{CHUNK_SAMPLES, FRAME_MS, MAX_FRAME_BYTES};

/// What the buffer hands out for the next playout slot.
#[derive(Debug, PartialEq, Eq)]
pub enum Playout<'a> {
    /// The frame for this slot. `redundant` means it came from a secondary (EC) encoding.
    Frame {
        /// The frame's pts.
        pts: u32,
        /// The Opus packet.
        data: &'a [u8],
        /// Whether it is a secondary (EC) encoding.
        redundant: bool,
    },
    /// The frame is missing: conceal `samples` samples. `next` is the following frame if already
    /// buffered (its in-band FEC can reconstruct the missing one); it is NOT consumed.
    Missing {
        /// Pts of the missing frame.
        pts: u32,
        /// The next primary frame, if buffered.
        next: Option<&'a [u8]>,
        /// How much audio to conceal (the stream's frame duration, 48 kHz samples).
        samples: usize,
    },
    /// Nothing to play yet (start or after a reset): play 20 ms of silence, count nothing.
    Buffering,
}

/// Jitter statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Frames buffered now.
    pub buffered: u32,
    /// Audio buffered now, milliseconds (sum of the buffered frames' durations).
    pub buffered_ms: u32,
    /// Current target delay, frames of 60 ms (rounded up).
    pub target_delay: u32,
    /// Current target delay, milliseconds.
    pub target_delay_ms: u32,
    /// Smoothed inter-arrival jitter, milliseconds.
    pub jitter_ms: f64,
    /// Frames that were missing at playout.
    pub lost: u64,
    /// Frames that arrived after their playout time.
    pub late: u64,
    /// Primary frames inserted.
    pub received: u64,
    /// Frames dropped by the occupancy cap.
    pub dropped: u64,
    /// Resets after an outage or a pts jump (each followed by a re-lock).
    pub resyncs: u64,
    /// Concealment played while waiting for a late stream (grows the delay).
    pub held_ms: u64,
    /// Duration of the stream's frames, milliseconds (from the last primary frame's TOC).
    pub frame_ms: u32,
}

/// Grid unit of the playout cursor, milliseconds (the smallest Opus frame we handle).
const UNIT: u32 = 20;
/// Slots in the ring, one per 20 ms unit ahead of the playout cursor (3.84 s).
const SLOTS: usize = 192;
/// Occupancy cap in frames of 60 ms (1.2 s); beyond it the oldest frame is dropped.
pub const MAX_OCCUPANCY: u32 = 20;
/// Occupancy cap in milliseconds of buffered audio.
const MAX_BUFFER_MS: u32 = MAX_OCCUPANCY * FRAME_MS;
/// Audio buffered beyond the largest target delay before the oldest frames are dropped (room
/// for one packet of three 60 ms frames and a frame more).
const BACKLOG_SLACK_MS: u32 = 4 * FRAME_MS;
/// Consecutive playout misses (in 60 ms frames) after which the buffer resets and re-locks on
/// the next arrival.
pub const RESYNC_MISSES: u32 = 10;
/// Same, as concealed milliseconds.
const RESYNC_MS: u32 = RESYNC_MISSES * FRAME_MS;
/// Primary arrivals whose relative delay feeds the target estimate.
const ARRIVAL_WINDOW: usize = 100;
/// Oldest arrival (ms before the newest) that feeds the target estimate: a queue that held the
/// stream through an outage leaves the estimate within seconds of clearing.
const ARRIVAL_WINDOW_MS: i64 = 4_000;
/// Span of the latest arrivals compared with the whole window to notice that a queue has
/// cleared.
const RECENT_MS: i64 = 1_000;
/// Arrivals the recent span needs before it can speak for the link.
const RECENT_MIN_ARRIVALS: usize = 8;
/// How far the older arrivals' relative delay (95th percentile) must exceed the last second's
/// highest for them to count as a past queue (well beyond any steady jitter, which the last
/// second shows too).
const CLEARED_MARGIN_MS: i64 = 250;
/// Percentile of relative arrival delay the target covers.
const PERCENTILE: f64 = 0.95;
/// Arrivals below which a new minimum delay sets the target directly.
const FEW_ARRIVALS: usize = 10;
/// How long a lower target must persist before the target steps down.
const DECREASE_HOLD: Duration = Duration::from_millis(500);
/// Longest frame a slot may claim, in units (Opus packets are at most 120 ms).
const MAX_UNITS: u32 = 6;

/// One jitter slot; its buffer is allocated once and reused.
#[derive(Default)]
struct Slot {
    data: Vec<u8>,
    present: bool,
    redundant: bool,
    /// Frame duration in 20 ms units.
    units: u32,
}

/// Playout state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not locked to any pts: waiting for the first primary frame.
    Idle,
    /// Locked; the cursor advances in time until it reaches the first frame.
    Buffering,
    /// Playing: each pop yields a frame or a miss.
    Playing,
}

/// The jitter buffer.
///
/// Design (improving on 2.4.4, see media.md §4 and §11.3):
/// * A ring of 20 ms slots relative to the playout cursor; a frame sits in the slot of its pts
///   and covers as many units as its Opus TOC says (60 ms for a 2.4.4 peer, 20 ms for a
///   tgvoip-rs peer on a good link). Pts compare with wrapping `u32` arithmetic.
/// * On the first primary frame (or after a reset) the cursor locks `target` ms before it, so
///   playout starts `target` ms after that arrival.
/// * Target delay: for each primary arrival the relative delay `arrival − pts` is recorded; the
///   target covers the 95th percentile minus the minimum over the last 100 arrivals (at most
///   4 s), plus one frame for the playout granularity, rounded up to 20 ms. Increases apply at
///   once; decreases halve the gap every 500 ms. Redundant copies never feed the estimate.
/// * A missing frame while nothing later is buffered is *held*: concealed without advancing,
///   since the stream may be late. If the next thing to arrive is a later frame, the missing
///   one was lost and the concealment already played stands in for it (the cursor skips it, so
///   a random loss does not grow the delay); if the missing frame itself arrives, it is played
///   and the delay has grown (the receiver shrinks it again by time-scale compression).
/// * After [`RESYNC_MISSES`] frames of consecutive concealment (≈ 0.6 s outage) the buffer
///   resets and re-locks on the next arrival instead of waiting for stale pts.
pub struct JitterBuffer {
    slots: Vec<Slot>,
    /// Ring index of the slot at the cursor.
    head: usize,
    /// Pts at the playout cursor.
    next: u32,
    /// Cursor in unwrapped milliseconds since the last lock.
    next_ext: i64,
    state: State,
    /// Present slots.
    buffered: u32,
    /// Sum of the present frames' durations, ms.
    buffered_ms: u32,
    min_delay_ms: u32,
    max_delay_ms: u32,
    target_ms: u32,
    /// Since when the estimate has been below the target.
    lower_since: Option<Instant>,
    /// Consecutive concealment, ms.
    concealed_ms: u32,
    /// Concealment played by holds at the cursor not yet accounted for, ms.
    held_pending_ms: u32,
    /// Bit i set: the unit i + 1 steps behind the cursor started a played frame.
    played: u64,
    /// Duration of the stream's frames, units.
    last_units: u32,
    /// Time reference of relative delays, set on lock.
    epoch: Option<Instant>,
    /// Recent primary arrivals: (arrival, relative delay), ms since the epoch.
    rel: VecDeque<(i64, i64)>,
    /// Scratch space for the percentile.
    scratch: Vec<i64>,
    last_rel: Option<i64>,
    jitter_ms: f64,
    lost: u64,
    late: u64,
    received: u64,
    dropped: u64,
    resyncs: u64,
    held_ms: u64,
}

/// Duration of an Opus packet in 20 ms units (`fallback` if the TOC is unreadable).
fn frame_units(data: &[u8], fallback: u32) -> u32 {
    match packet_samples(data) {
        Ok(n) if n >= CHUNK_SAMPLES => (n / CHUNK_SAMPLES).min(MAX_UNITS as usize) as u32,
        _ => fallback,
    }
}

/// Rounds milliseconds up to the 20 ms grid.
fn round_up_units(ms: u32) -> u32 {
    ms.div_ceil(UNIT) * UNIT
}

/// The [`PERCENTILE`] value of ascending `sorted` values (None when empty).
fn percentile(sorted: &[i64]) -> Option<i64> {
    let idx = (sorted.len().checked_sub(1)? as f64 * PERCENTILE).round() as usize;
    sorted.get(idx).copied()
}

impl JitterBuffer {
    /// `min_delay` is the minimum target delay in 60 ms frames (2 as in 2.4.4; 4 when the peer
    /// sends redundancy); `max_delay` the largest target the adaptation may choose.
    pub fn new(min_delay: u32, max_delay: u32) -> JitterBuffer {
        let min_delay_ms = min_delay.clamp(1, MAX_OCCUPANCY) * FRAME_MS;
        let max_delay_ms = max_delay.clamp(1, MAX_OCCUPANCY) * FRAME_MS;
        Self::with_delays_ms(min_delay_ms, max_delay_ms)
    }

    /// Like [`new`](Self::new) with the bounds in milliseconds (rounded up to 20 ms).
    pub fn with_delays_ms(min_delay_ms: u32, max_delay_ms: u32) -> JitterBuffer {
        let min_delay_ms = round_up_units(min_delay_ms.clamp(UNIT, MAX_BUFFER_MS));
        let max_delay_ms = round_up_units(max_delay_ms.clamp(min_delay_ms, MAX_BUFFER_MS));
        JitterBuffer {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            head: 0,
            next: 0,
            next_ext: 0,
            state: State::Idle,
            buffered: 0,
            buffered_ms: 0,
            min_delay_ms,
            max_delay_ms,
            target_ms: min_delay_ms,
            lower_since: None,
            concealed_ms: 0,
            held_pending_ms: 0,
            played: 0,
            last_units: FRAME_MS / UNIT,
            epoch: None,
            rel: VecDeque::with_capacity(ARRIVAL_WINDOW),
            scratch: Vec::with_capacity(ARRIVAL_WINDOW),
            last_rel: None,
            jitter_ms: 0.0,
            lost: 0,
            late: 0,
            received: 0,
            dropped: 0,
            resyncs: 0,
            held_ms: 0,
        }
    }

    /// Sets the minimum target in 60 ms frames; the target is raised at once if below it.
    pub fn set_min_delay(&mut self, frames: u32) {
        self.set_min_delay_ms(frames.clamp(1, MAX_OCCUPANCY) * FRAME_MS);
    }

    /// Sets the minimum target in milliseconds (rounded up to 20 ms).
    pub fn set_min_delay_ms(&mut self, ms: u32) {
        self.min_delay_ms = round_up_units(ms.clamp(UNIT, MAX_BUFFER_MS));
        self.max_delay_ms = self.max_delay_ms.max(self.min_delay_ms);
        if self.rel.len() < FEW_ARRIVALS {
            // Too little seen for the estimate to have set the target: the new minimum does.
            self.target_ms = self.wanted_ms().unwrap_or(0);
            self.lower_since = None;
        }
        self.target_ms = self.target_ms.clamp(self.min_delay_ms, self.max_delay_ms);
    }

    /// Inserts a frame. Redundant frames never replace a primary one; a primary replaces a
    /// redundant one. Frames over 1024 bytes or too old are dropped (counted as late).
    pub fn insert(&mut self, now: Instant, pts: u32, data: &[u8], redundant: bool) {
        if data.is_empty() {
            return;
        }
        if data.len() > MAX_FRAME_BYTES {
            if !redundant {
                self.late += 1;
            }
            return;
        }
        if self.state == State::Idle {
            if redundant {
                return;
            }
            self.lock(now, pts);
        }
        let mut offset = pts.wrapping_sub(self.next) as i32;
        if offset >= 0 && offset as usize >= SLOTS * UNIT as usize {
            if redundant {
                return;
            }
            // A jump far ahead of the cursor: the stream restarted; re-lock on it.
            self.reset();
            self.resyncs += 1;
            self.lock(now, pts);
            offset = pts.wrapping_sub(self.next) as i32;
        }
        if offset % UNIT as i32 != 0 {
            return; // Off the 20 ms grid this stream locked to.
        }
        let k = offset / UNIT as i32;
        if k < 0 {
            self.insert_behind(now, pts, k, redundant);
            return;
        }
        let units = frame_units(data, self.last_units);
        let idx = (self.head + k as usize) % SLOTS;
        let slot = &mut self.slots[idx];
        if slot.present && (redundant || !slot.redundant) {
            return; // Duplicate, or an EC copy of a frame we already hold.
        }
        if slot.present {
            self.buffered_ms -= slot.units * UNIT;
        } else {
            self.buffered += 1;
        }
        slot.data.clear();
        slot.data.extend_from_slice(data);
        slot.present = true;
        slot.redundant = redundant;
        slot.units = units;
        self.buffered_ms += units * UNIT;
        if !redundant {
            self.received += 1;
            if units != self.last_units && self.received > 1 {
                self.restart_estimate(units);
            }
            self.last_units = units;
            self.record_arrival(now, pts);
        }
        // A backlog beyond the largest delay (a queue that held the stream through an outage
        // and releases it at once) is dropped from the oldest end instead of being played
        // seconds late and compressed away slowly.
        let cap = (self.max_delay_ms + BACKLOG_SLACK_MS).min(MAX_BUFFER_MS);
        while self.buffered_ms > cap {
            self.drop_oldest();
        }
    }

    /// Handles a frame behind the cursor: a duplicate of a played frame is ignored, a redundant
    /// copy is ignored, a primary is late (counted, feeds the delay estimate, never played).
    fn insert_behind(&mut self, now: Instant, pts: u32, k: i32, redundant: bool) {
        if redundant {
            return;
        }
        let back = k.unsigned_abs();
        if back <= 64 && self.played & (1u64 << (back - 1)) != 0 {
            return;
        }
        self.late += 1;
        self.record_arrival(now, pts);
    }

    /// Locks the cursor `target` ms before `pts`.
    fn lock(&mut self, now: Instant, pts: u32) {
        self.next = pts.wrapping_sub(self.target_ms);
        self.next_ext = 0;
        self.head = 0;
        self.state = State::Buffering;
        self.concealed_ms = 0;
        self.held_pending_ms = 0;
        self.played = 0;
        self.epoch = Some(now);
        self.rel.clear();
        self.last_rel = None;
    }

    /// Forgets all frames and waits for a new lock.
    fn reset(&mut self) {
        for s in &mut self.slots {
            s.present = false;
        }
        self.buffered = 0;
        self.buffered_ms = 0;
        self.state = State::Idle;
        self.concealed_ms = 0;
        self.held_pending_ms = 0;
    }

    /// Drops the oldest buffered frame (occupancy cap), moving the cursor past it.
    fn drop_oldest(&mut self) {
        while self.buffered > 0 {
            if self.slots[self.head].present {
                let units = self.slots[self.head].units.max(1);
                self.advance(units, false);
                self.dropped += 1;
                return;
            }
            self.advance(1, false);
        }
    }

    /// Frees `units` slots from the cursor on and moves the cursor past them.
    fn advance(&mut self, units: u32, played: bool) {
        for i in 0..units {
            let slot = &mut self.slots[self.head];
            if slot.present {
                slot.present = false;
                self.buffered -= 1;
                self.buffered_ms -= slot.units * UNIT;
            }
            self.head = (self.head + 1) % SLOTS;
            self.next = self.next.wrapping_add(UNIT);
            self.next_ext += i64::from(UNIT);
            self.played = (self.played << 1) | u64::from(played && i == 0);
        }
    }

    /// Units from the cursor to the next present slot (1..=`limit`), or `limit` if none.
    fn step_to_next(&self, limit: u32) -> u32 {
        (1..limit)
            .find(|&j| self.slots[(self.head + j as usize) % SLOTS].present)
            .unwrap_or(limit)
    }

    /// Records a primary arrival and updates the jitter estimate and target.
    fn record_arrival(&mut self, now: Instant, pts: u32) {
        let Some(epoch) = self.epoch else {
            return;
        };
        let ext = self.next_ext + i64::from(pts.wrapping_sub(self.next) as i32);
        let arrival =
            i64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(i64::MAX / 2);
        let rel = arrival - ext;
        if let Some(last) = self.last_rel {
            let d = (rel - last).abs() as f64;
            self.jitter_ms += (d - self.jitter_ms) / 16.0;
        }
        self.last_rel = Some(rel);
        if self.rel.len() == ARRIVAL_WINDOW {
            self.rel.pop_front();
        }
        while self
            .rel
            .front()
            .is_some_and(|&(at, _)| at < arrival - ARRIVAL_WINDOW_MS)
        {
            self.rel.pop_front();
        }
        self.rel.push_back((arrival, rel));
        self.forget_cleared_queue(arrival);
        self.update_target(now);
    }

    /// Drops the arrivals older than the last second when that second's highest relative delay
    /// lies far below the older arrivals' 95th percentile: a queue (an outage, a slow link)
    /// held the stream and has cleared, and its delays say nothing about the link now. Without
    /// this the target stays at the queue's delay until the window forgets it, seconds of
    /// needless delay.
    fn forget_cleared_queue(&mut self, arrival: i64) {
        let recent_from = arrival - RECENT_MS;
        let recent = self.rel.iter().filter(|&&(at, _)| at >= recent_from);
        let (count, recent_max) =
            recent.fold((0usize, i64::MIN), |(n, m), &(_, r)| (n + 1, m.max(r)));
        if count < RECENT_MIN_ARRIVALS || count == self.rel.len() {
            return;
        }
        // The older arrivals' high percentile, not their maximum: one spike is no queue.
        self.scratch.clear();
        self.scratch.extend(
            self.rel
                .iter()
                .filter(|&&(at, _)| at < recent_from)
                .map(|&(_, r)| r),
        );
        self.scratch.sort_unstable();
        let Some(old_high) = percentile(&self.scratch) else {
            return;
        };
        if old_high > recent_max + CLEARED_MARGIN_MS {
            while self.rel.front().is_some_and(|&(at, _)| at < recent_from) {
                self.rel.pop_front();
            }
        }
    }

    /// The peer changed its frame duration: a frame is sent once all of it was captured, so
    /// relative delays before and after differ by the change and are not comparable. The
    /// estimate starts over, and the target goes straight to what the new frames need (any
    /// excess buffered audio is then compressed away by the receiver).
    fn restart_estimate(&mut self, units: u32) {
        self.rel.clear();
        self.last_rel = None;
        self.lower_since = None;
        self.target_ms = (units * UNIT).clamp(self.min_delay_ms, self.max_delay_ms);
    }

    /// The delay the arrival window asks for: its 95th-percentile spread plus one frame,
    /// within the bounds (None before any arrival).
    fn wanted_ms(&mut self) -> Option<u32> {
        self.scratch.clear();
        self.scratch.extend(self.rel.iter().map(|&(_, rel)| rel));
        self.scratch.sort_unstable();
        let &lowest = self.scratch.first()?;
        let spread =
            u32::try_from((percentile(&self.scratch)? - lowest).max(0)).unwrap_or(u32::MAX / 2);
        Some(
            round_up_units(spread.saturating_add(self.last_units * UNIT))
                .clamp(self.min_delay_ms, self.max_delay_ms),
        )
    }

    /// Recomputes the wanted delay from the arrival window and moves the target toward it.
    fn update_target(&mut self, now: Instant) {
        let Some(wanted) = self.wanted_ms() else {
            return;
        };
        if wanted > self.target_ms {
            self.target_ms = wanted;
            self.lower_since = None;
        } else if wanted < self.target_ms {
            match self.lower_since {
                None => self.lower_since = Some(now),
                Some(t) if now.saturating_duration_since(t) >= DECREASE_HOLD => {
                    // Halve the gap (at least one unit) per hold period.
                    let gap = (self.target_ms - wanted) / UNIT;
                    self.target_ms -= gap.div_ceil(2) * UNIT;
                    self.lower_since = Some(now);
                }
                Some(_) => {}
            }
        } else {
            self.lower_since = None;
        }
    }

    /// Takes the next playout slot and advances the cursor: a frame (its own duration), a miss
    /// (conceal the stream's frame duration) or 20 ms of buffering silence.
    pub fn pop(&mut self, _now: Instant) -> Playout<'_> {
        match self.state {
            State::Idle => return Playout::Buffering,
            State::Buffering => {
                if !self.slots[self.head].present {
                    self.advance(1, false);
                    self.concealed_ms += UNIT;
                    if self.concealed_ms > self.max_delay_ms + RESYNC_MS {
                        self.reset();
                    }
                    return Playout::Buffering;
                }
                self.state = State::Playing;
            }
            State::Playing => {}
        }
        // Concealment already played by holds stands in for frames that turned out lost.
        while self.held_pending_ms > 0 && self.buffered > 0 && !self.slots[self.head].present {
            let step = self.step_to_next(self.last_units);
            self.advance(step, false);
            self.lost += 1;
            self.held_pending_ms = self.held_pending_ms.saturating_sub(step * UNIT);
        }
        let pts = self.next;
        let idx = self.head;
        if self.slots[idx].present {
            self.concealed_ms = 0;
            self.held_pending_ms = 0;
            let units = self.slots[idx].units.max(1);
            self.advance(units, true);
            let slot = &self.slots[idx];
            return Playout::Frame {
                pts,
                data: &slot.data,
                redundant: slot.redundant,
            };
        }
        let step = self.step_to_next(self.last_units);
        let samples = step as usize * CHUNK_SAMPLES;
        self.concealed_ms += step * UNIT;
        if self.concealed_ms >= RESYNC_MS {
            self.reset();
            self.resyncs += 1;
            return Playout::Missing {
                pts,
                next: None,
                samples,
            };
        }
        if self.buffered == 0 {
            // Late or lost: conceal and wait, growing the delay until we know which.
            self.held_pending_ms += step * UNIT;
            self.held_ms += u64::from(step * UNIT);
            return Playout::Missing {
                pts,
                next: None,
                samples,
            };
        }
        self.lost += 1;
        self.advance(step, false);
        let slot = &self.slots[self.head];
        let next = (slot.present && !slot.redundant).then_some(slot.data.as_slice());
        Playout::Missing { pts, next, samples }
    }

    /// Current statistics.
    pub fn stats(&self) -> JitterStats {
        JitterStats {
            buffered: self.buffered,
            buffered_ms: self.buffered_ms,
            target_delay: self.target_ms.div_ceil(FRAME_MS),
            target_delay_ms: self.target_ms,
            jitter_ms: self.jitter_ms,
            lost: self.lost,
            late: self.late,
            received: self.received,
            dropped: self.dropped,
            resyncs: self.resyncs,
            held_ms: self.held_ms,
            frame_ms: self.last_units * UNIT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// What one pop produced, owned.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Out {
        Frame(u32, Vec<u8>, bool),
        Missing(u32, Option<Vec<u8>>),
        Buffering,
    }

    fn pop(jb: &mut JitterBuffer, now: Instant) -> Out {
        match jb.pop(now) {
            Playout::Frame {
                pts,
                data,
                redundant,
            } => Out::Frame(pts, data.to_vec(), redundant),
            Playout::Missing { pts, next, .. } => Out::Missing(pts, next.map(<[u8]>::to_vec)),
            Playout::Buffering => Out::Buffering,
        }
    }

    /// A fake 60 ms Opus packet (TOC: SILK wideband 60 ms, one frame) tagged with its pts.
    fn payload(pts: u32) -> Vec<u8> {
        let mut p = vec![0x58];
        p.extend_from_slice(&pts.to_le_bytes());
        p
    }

    /// Playout time (ms) of what a pop returned.
    fn duration(o: &Out) -> u64 {
        match o {
            Out::Frame(..) => 60,
            Out::Missing(..) => 60,
            Out::Buffering => 20,
        }
    }

    /// Runs arrivals (ms, pts) against pops starting at `pop_phase` ms, each pop after the
    /// previous one's playout duration, until `end_ms`; returns (time, pop result).
    fn simulate_timed(
        jb: &mut JitterBuffer,
        t0: Instant,
        mut arrivals: Vec<(u64, u32)>,
        pop_phase: u64,
        end_ms: u64,
    ) -> Vec<(u64, Out)> {
        arrivals.sort_by_key(|a| a.0);
        let mut out = Vec::new();
        let mut ai = 0;
        let mut t_pop = pop_phase;
        while t_pop < end_ms {
            while ai < arrivals.len() && arrivals[ai].0 <= t_pop {
                let (t, pts) = arrivals[ai];
                jb.insert(t0 + Duration::from_millis(t), pts, &payload(pts), false);
                ai += 1;
            }
            let o = pop(jb, t0 + Duration::from_millis(t_pop));
            let t = t_pop;
            t_pop += duration(&o);
            out.push((t, o));
        }
        out
    }

    /// [`simulate_timed`] without the times.
    fn simulate(
        jb: &mut JitterBuffer,
        t0: Instant,
        arrivals: Vec<(u64, u32)>,
        pop_phase: u64,
        end_ms: u64,
    ) -> Vec<Out> {
        simulate_timed(jb, t0, arrivals, pop_phase, end_ms)
            .into_iter()
            .map(|(_, o)| o)
            .collect()
    }

    fn played(outs: &[Out]) -> Vec<u32> {
        outs.iter()
            .filter_map(|o| match o {
                Out::Frame(p, _, _) => Some(*p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn in_order_stream_plays_after_target_delay() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        let arrivals = (0..50u32)
            .map(|i| (u64::from(i) * 60, 5000 + i * 60))
            .collect();
        let outs = simulate(&mut jb, t0, arrivals, 10, 50 * 60);
        // 120 ms of buffering silence (20 ms per pop), then every frame in order.
        assert!(outs[..6].iter().all(|o| *o == Out::Buffering));
        assert_eq!(outs[6], Out::Frame(5000, payload(5000), false));
        let expected: Vec<u32> = (0..48u32).map(|i| 5000 + i * 60).collect();
        assert_eq!(played(&outs), expected);
        let st = jb.stats();
        assert_eq!((st.lost, st.late, st.received), (0, 0, 50));
        assert_eq!(st.target_delay, 2);
    }

    #[test]
    fn pts_wrap_is_transparent() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        let base = u32::MAX - 5 * 60 + 1;
        let arrivals = (0..20u32)
            .map(|i| (u64::from(i) * 60, base.wrapping_add(i * 60)))
            .collect();
        let outs = simulate(&mut jb, t0, arrivals, 10, 20 * 60);
        let expected: Vec<u32> = (0..18u32).map(|i| base.wrapping_add(i * 60)).collect();
        assert_eq!(played(&outs), expected);
    }

    #[test]
    fn reordering_within_delay_is_absorbed() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        // Swap every pair: frame 2k+1 arrives before 2k.
        let arrivals = (0..40u32)
            .map(|i| {
                let slot = if i % 2 == 0 { i + 1 } else { i - 1 };
                (u64::from(slot) * 60, i * 60)
            })
            .collect();
        let outs = simulate(&mut jb, t0, arrivals, 10, 40 * 60);
        let p = played(&outs);
        assert!(p.windows(2).all(|w| w[1] == w[0] + 60));
        assert!(p.len() >= 36);
        assert_eq!(jb.stats().lost, 0);
        assert_eq!(jb.stats().late, 0);
    }

    #[test]
    fn duplicates_and_redundant_copies_are_harmless() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        let mut outs = Vec::new();
        for i in 0..30u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 60);
            let pts = i * 60;
            jb.insert(now, pts, &payload(pts), false);
            jb.insert(now, pts, &payload(pts), false);
            // EC copies of this and the two previous frames (some already played).
            for back in 0..3u32 {
                if let Some(p) = pts.checked_sub(back * 60) {
                    jb.insert(now, p, b"ec", true);
                }
            }
            // A duplicate of an already played frame.
            if i > 5 {
                jb.insert(now, pts - 4 * 60, &payload(pts - 240), false);
            }
            outs.push(pop(&mut jb, now));
        }
        assert!(outs.iter().all(
            |o| matches!(o, Out::Frame(p, d, false) if *d == payload(*p)) || *o == Out::Buffering
        ));
        let st = jb.stats();
        assert_eq!((st.received, st.late, st.lost), (30, 0, 0));
    }

    #[test]
    fn primary_replaces_redundant_but_not_vice_versa() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        jb.insert(t0, 0, b"p0", false);
        jb.insert(t0, 60, b"ec60", true);
        jb.insert(t0, 60, b"p60", false);
        jb.insert(t0, 120, b"p120", false);
        jb.insert(t0, 120, b"ec120", true);
        jb.insert(t0, 180, b"ec180", true);
        let mut frames = Vec::new();
        for _ in 0..12 {
            if let Out::Frame(p, d, r) = pop(&mut jb, t0) {
                frames.push((p, d, r));
            }
        }
        assert_eq!(
            frames,
            vec![
                (0, b"p0".to_vec(), false),
                (60, b"p60".to_vec(), false),
                (120, b"p120".to_vec(), false),
                (180, b"ec180".to_vec(), true),
            ]
        );
        assert_eq!(jb.stats().received, 3);
    }

    #[test]
    fn missing_frame_exposes_next_without_consuming_it() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        let at = |i: u32| t0 + Duration::from_millis(u64::from(i) * 60);
        for i in [0u32, 1, 2, 4, 5, 6, 7] {
            jb.insert(at(i), i * 60, &payload(i * 60), false);
        }
        let outs: Vec<Out> = (0..11).map(|i| pop(&mut jb, at(7 + i))).collect();
        assert_eq!(outs[6], Out::Frame(0, payload(0), false));
        assert_eq!(outs[9], Out::Missing(180, Some(payload(240))));
        assert_eq!(outs[10], Out::Frame(240, payload(240), false));
        assert_eq!(jb.stats().lost, 1);
        // The lost frame arriving now is late and not played.
        jb.insert(t0, 180, &payload(180), false);
        assert_eq!(jb.stats().late, 1);
        assert_eq!(pop(&mut jb, t0), Out::Frame(300, payload(300), false));
    }

    #[test]
    fn oversized_frames_are_rejected() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        jb.insert(t0, 0, &[0u8; MAX_FRAME_BYTES + 1], false);
        assert_eq!(jb.stats().late, 1);
        assert_eq!(jb.stats().received, 0);
        assert_eq!(pop(&mut jb, t0), Out::Buffering);
    }

    #[test]
    fn occupancy_cap_drops_oldest() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        for i in 0..30u32 {
            jb.insert(t0, i * 60, &payload(i * 60), false);
        }
        // The cap is the largest delay (10 frames) plus the backlog slack (4 frames).
        let st = jb.stats();
        let cap = 10 + BACKLOG_SLACK_MS / FRAME_MS;
        assert_eq!(st.buffered, cap);
        assert_eq!(st.dropped, 30 - cap as u64);
        let first = (30 - cap) * 60;
        assert_eq!(pop(&mut jb, t0), Out::Frame(first, payload(first), false));
        // With the largest delay at the occupancy limit, that limit caps.
        let mut jb = JitterBuffer::new(2, MAX_OCCUPANCY);
        for i in 0..30u32 {
            jb.insert(t0, i * 60, &payload(i * 60), false);
        }
        assert_eq!(jb.stats().buffered, MAX_OCCUPANCY);
    }

    #[test]
    fn jitter_raises_target_and_keeps_late_frames_low() {
        let t0 = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut jb = JitterBuffer::new(2, 10);
        let n = 500u32;
        let arrivals = (0..n)
            .map(|i| (u64::from(i) * 60 + rng.gen_range(0..=100), i * 60))
            .collect();
        let outs = simulate(&mut jb, t0, arrivals, 10, u64::from(n) * 60);
        let st = jb.stats();
        assert!(st.target_delay >= 3, "target {}", st.target_delay);
        assert!(st.jitter_ms > 10.0, "jitter {}", st.jitter_ms);
        assert!(st.late * 100 <= u64::from(n) * 2, "late {}", st.late);
        assert!(played(&outs).len() as u32 >= n - 20);

        // The same buffer under a clean stream brings the target back to the minimum.
        let mut jb2 = JitterBuffer::new(2, 10);
        let arrivals = (0..n).map(|i| (u64::from(i) * 60, i * 60)).collect();
        simulate(&mut jb2, t0, arrivals, 10, u64::from(n) * 60);
        assert_eq!(jb2.stats().target_delay, 2);
    }

    #[test]
    fn target_decreases_slowly_after_jitter_ends() {
        let t0 = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut jb = JitterBuffer::new(2, 10);
        let arrivals = (0..600u32)
            .map(|i| {
                let d = if i < 200 { rng.gen_range(0..=150) } else { 0 };
                (u64::from(i) * 60 + d, i * 60)
            })
            .collect();
        let mut outs = simulate(&mut jb, t0, arrivals, 10, 200 * 60);
        let high = jb.stats().target_delay;
        assert!(high >= 3);
        // Continue the same stream: after the window forgets the jitter, the target steps down.
        let rest = (200..600u32).map(|i| (u64::from(i) * 60, i * 60)).collect();
        outs.extend(simulate(&mut jb, t0, rest, 200 * 60 + 10, 600 * 60));
        assert_eq!(jb.stats().target_delay, 2);
    }

    #[test]
    fn long_outage_resyncs_quickly() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        // 5 s of audio, a 3 s outage (peer pts keeps running), then 2 s more.
        let arrivals = (0..167u32)
            .filter(|i| !(84..134).contains(i))
            .map(|i| (u64::from(i) * 60, i * 60))
            .collect();
        let outs = simulate_timed(&mut jb, t0, arrivals, 10, 167 * 60);
        // After the outage starts, misses lead to a reset (Buffering, not endless Missing).
        assert!(outs
            .iter()
            .filter(|(t, _)| (6000..7800).contains(t))
            .all(|(_, o)| *o == Out::Buffering));
        assert_eq!(jb.stats().resyncs, 1);
        // Output resumes within 0.5 s of the first new arrival (t = 8.04 s).
        let first = outs
            .iter()
            .find(|(t, o)| *t >= 8040 && matches!(o, Out::Frame(..)))
            .map(|(t, _)| t - 8040)
            .unwrap();
        assert!(first <= 500, "resumed after {first} ms");
    }

    #[test]
    fn paused_sender_resumes_with_old_pts() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(2, 10);
        // The sender stops for 3 s without advancing pts (2.4.4 does that when it drops frames).
        let arrivals = (0..100u32)
            .map(|i| {
                let t = u64::from(i) * 60 + if i >= 50 { 3000 } else { 0 };
                (t, i * 60)
            })
            .collect();
        let outs = simulate(&mut jb, t0, arrivals, 10, 100 * 60 + 3000);
        let p = played(&outs);
        assert!(p.len() >= 90, "played {}", p.len());
        assert!(p.contains(&(60 * 60)));
        assert!(jb.stats().late <= 2);
    }

    #[test]
    fn short_frames_play_on_a_20ms_grid() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::with_delays_ms(20, 600);
        let mut outs = Vec::new();
        for i in 0..50u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 20);
            // TOC: SILK wideband 20 ms.
            jb.insert(now, i * 20, &[0x48, i as u8], false);
            outs.push(pop(&mut jb, now));
        }
        let frames: Vec<u32> = played(&outs);
        assert_eq!(frames, (0..49u32).map(|i| i * 20).collect::<Vec<_>>());
        let st = jb.stats();
        assert_eq!((st.frame_ms, st.target_delay_ms, st.lost), (20, 20, 0));
    }

    #[test]
    fn a_switch_to_shorter_frames_lowers_the_target_at_once() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::with_delays_ms(20, 600);
        // Three 60 ms frames (TOC 0x58: SILK wideband 60 ms), each sent once fully captured,
        // then 20 ms frames (0x48: SILK wideband 20 ms), each sent 40 ms sooner after its pts.
        let mut t = 0u64;
        for i in 0..3u32 {
            t = u64::from(i) * 60 + 60;
            jb.insert(t0 + Duration::from_millis(t), i * 60, &[0x58, 0], false);
        }
        assert_eq!(jb.stats().target_delay_ms, 60);
        for i in 0..10u32 {
            let pts = 180 + i * 20;
            jb.insert(
                t0 + Duration::from_millis(t + 20 + u64::from(i) * 20),
                pts,
                &[0x48, 0],
                false,
            );
        }
        let st = jb.stats();
        assert_eq!((st.frame_ms, st.target_delay_ms), (20, 20), "{st:?}");
    }

    #[test]
    fn a_cleared_queue_is_forgotten_a_second_after_its_last_late_arrival() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::with_delays_ms(60, 1200);
        // 2 s on time, then 20 frames held by a queue and released 900 ms late (the last at
        // 4.08 s), then on time.
        for i in 0..113u32 {
            let late = if (33..53).contains(&i) { 900 } else { 0 };
            let now = t0 + Duration::from_millis(u64::from(i) * 60 + late);
            jb.insert(now, i * 60, &[0x58, 0], false);
            pop(&mut jb, t0 + Duration::from_millis(u64::from(i) * 60));
        }
        // 2.7 s after the last late arrival its delay still sits in the 4 s window, but the
        // last second alone shows the queue is gone.
        let st = jb.stats();
        assert!(st.target_delay_ms <= 300, "{st:?}");
    }

    #[test]
    fn steady_jitter_is_not_taken_for_a_cleared_queue() {
        let t0 = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut jb = JitterBuffer::with_delays_ms(60, 1200);
        let mut lowest_late_target = u32::MAX;
        for i in 0..400u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 60 + rng.gen_range(0..=300));
            jb.insert(now, i * 60, &[0x58, 0], false);
            if i > 100 {
                lowest_late_target = lowest_late_target.min(jb.stats().target_delay_ms);
            }
        }
        // Spread 300 ms (95th percentile ~285) plus a frame: never forgotten.
        assert!(
            lowest_late_target >= 300,
            "target fell to {lowest_late_target}"
        );
    }

    #[test]
    fn a_lost_frame_concealed_by_a_hold_costs_no_delay() {
        let t0 = Instant::now();
        let mut jb = JitterBuffer::new(1, 10);
        // Frame 20 is lost and frame 21 is 20 ms late, so when frame 20 is due nothing is
        // buffered: the buffer holds (conceals without advancing) as the stream may be late.
        let arrivals = (0..60u32)
            .filter(|&i| i != 20)
            .map(|i| (u64::from(i) * 60 + if i == 21 { 20 } else { 0 }, i * 60))
            .collect();
        let outs = simulate_timed(&mut jb, t0, arrivals, 10, 60 * 60);
        // Frame 20 is concealed once and frame 21, once there, shows the hold was a loss: it
        // plays at the time it would have without the loss.
        let at = |pts: u32| {
            outs.iter()
                .find(|(_, o)| matches!(o, Out::Frame(p, ..) if *p == pts))
                .map(|(t, _)| *t)
                .unwrap()
        };
        assert_eq!(at(21 * 60) - at(19 * 60), 120);
        assert_eq!(at(50 * 60) - at(10 * 60), 40 * 60);
        let st = jb.stats();
        assert_eq!((st.lost, st.held_ms), (1, 60));
    }
}
