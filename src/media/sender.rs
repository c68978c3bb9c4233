//! Outgoing audio: gathers 20 ms chunks into 60 ms frames, encodes them with the primary Opus
//! encoder and, when redundancy is on, with a second low-bitrate encoder whose recent output is
//! attached to each frame.

use super::opus::Bandwidth;
use super::MediaError;

/// Encoder settings chosen by the bitrate controller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SenderSettings {
    /// Primary encoder bitrate, bits per second.
    pub bitrate: i32,
    /// Opus in-band FEC on the primary encoder.
    pub inband_fec: bool,
    /// Opus expected packet loss, percent (0..=100).
    pub expected_loss_perc: i32,
    /// Redundancy level: 0 = off, else the number of secondary encodings attached per frame
    /// (2..=4, the last one being the current frame's own), as libtgvoip's extra EC.
    pub redundancy_level: u8,
    /// Primary encoder bandwidth.
    pub bandwidth: Bandwidth,
}

/// One encoded 60 ms frame ready for the network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The primary Opus packet.
    pub primary: Vec<u8>,
    /// Secondary encodings, oldest first, the last one covering this frame; empty when off.
    pub redundancy: Vec<Vec<u8>>,
}

/// The outgoing audio pipeline of one call.
pub struct AudioSender {
    _private: (),
}

impl AudioSender {
    pub fn new(settings: SenderSettings) -> Result<AudioSender, MediaError> {
        unimplemented!()
    }
    /// Applies new settings before the next encode (no-op for unchanged values).
    pub fn apply(&mut self, settings: SenderSettings) {
        unimplemented!()
    }
    /// Current settings.
    pub fn settings(&self) -> SenderSettings {
        unimplemented!()
    }
    /// Adds one 960-sample chunk; every third call returns the encoded 60 ms frame.
    pub fn push_chunk(&mut self, pcm: &[i16]) -> Result<Option<EncodedFrame>, MediaError> {
        unimplemented!()
    }
    /// Drops partially gathered chunks (e.g. on mute) so the next frame starts fresh.
    pub fn reset_partial(&mut self) {
        unimplemented!()
    }
    /// Decodes the primary packet of `frame` as the peer will hear it (the "preprocessed" audio).
    /// Returns the number of samples written (2880 for a 60 ms frame).
    pub fn decode_preview(&mut self, frame: &EncodedFrame, out: &mut [i16]) -> Result<usize, MediaError> {
        unimplemented!()
    }
}
