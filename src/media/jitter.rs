//! Jitter buffer for 60 ms frames keyed by pts (milliseconds), with an adaptive target delay.

use std::time::Instant;

/// What the buffer hands out for the next playout slot.
#[derive(Debug, PartialEq, Eq)]
pub enum Playout<'a> {
    /// The frame for this slot. `redundant` means it came from a secondary (EC) encoding.
    Frame { pts: u32, data: &'a [u8], redundant: bool },
    /// The frame is missing; `next` is the following frame if already buffered (its in-band FEC
    /// can reconstruct the missing one). The next frame is NOT consumed.
    Missing { pts: u32, next: Option<&'a [u8]> },
    /// Nothing to play yet (start or after a reset): play silence, count nothing.
    Buffering,
}

/// Jitter statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Frames buffered now.
    pub buffered: u32,
    /// Current target delay, frames.
    pub target_delay: u32,
    /// Smoothed inter-arrival jitter, milliseconds.
    pub jitter_ms: f64,
    /// Frames that were missing at playout.
    pub lost: u64,
    /// Frames that arrived after their playout time.
    pub late: u64,
    /// Primary frames inserted.
    pub received: u64,
}

/// The jitter buffer.
pub struct JitterBuffer {
    _private: (),
}

impl JitterBuffer {
    /// `min_delay` is the minimum target delay in frames (2 as in 2.4.4; 4 when the peer sends
    /// redundancy); `max_delay` the largest target the adaptation may choose.
    pub fn new(min_delay: u32, max_delay: u32) -> JitterBuffer {
        unimplemented!()
    }
    pub fn set_min_delay(&mut self, frames: u32) {
        unimplemented!()
    }
    /// Inserts a frame. Redundant frames never replace a primary one; a primary replaces a
    /// redundant one. Frames over 1024 bytes or too old are dropped (counted as late).
    pub fn insert(&mut self, now: Instant, pts: u32, data: &[u8], redundant: bool) {
        unimplemented!()
    }
    /// Takes the next playout slot (one 60 ms frame) and advances the cursor.
    pub fn pop(&mut self, now: Instant) -> Playout<'_> {
        unimplemented!()
    }
    pub fn stats(&self) -> JitterStats {
        unimplemented!()
    }
}
