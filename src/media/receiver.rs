//! Incoming audio: jitter buffer, Opus decode with in-band FEC and redundancy, loss concealment,
//! and the split of 60 ms frames into the 20 ms chunks the audio thread plays.

use std::time::Instant;

use super::MediaError;

/// What a produced chunk contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// Decoded audio from a received (primary or redundant) frame.
    Audio,
    /// Concealment: FEC reconstruction or PLC.
    Concealed,
    /// Nothing received yet, or buffering: silence.
    Silence,
}

/// Receive statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReceiverStats {
    pub frames_decoded: u64,
    pub frames_lost: u64,
    pub frames_late: u64,
    /// Lost frames recovered from the next frame's in-band FEC.
    pub recovered_fec: u64,
    /// Frames played from redundant (secondary) encodings.
    pub recovered_redundant: u64,
    pub jitter_ms: f64,
    pub target_delay_ms: u32,
    pub buffered_ms: u32,
}

/// The incoming audio pipeline of one stream.
pub struct AudioReceiver {
    _private: (),
}

impl AudioReceiver {
    pub fn new(min_delay_frames: u32) -> Result<AudioReceiver, MediaError> {
        unimplemented!()
    }
    /// Peer signalled redundancy on/off: raises/lowers the minimum delay (4 / 2 frames).
    pub fn set_min_delay(&mut self, frames: u32) {
        unimplemented!()
    }
    /// A frame from the network. `redundant` for EC copies.
    pub fn insert(&mut self, now: Instant, pts: u32, data: &[u8], redundant: bool) {
        unimplemented!()
    }
    /// Produces the next 20 ms chunk (960 samples) for playback.
    pub fn next_chunk(&mut self, now: Instant, out: &mut [i16]) -> ChunkKind {
        unimplemented!()
    }
    /// True once any frame has been inserted.
    pub fn has_received(&self) -> bool {
        unimplemented!()
    }
    pub fn stats(&self) -> ReceiverStats {
        unimplemented!()
    }
}
