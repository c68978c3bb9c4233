//! Safe wrappers over libopus (48 kHz mono), with the ctls the pipeline needs.

use super::MediaError;

/// Opus bandwidth settings, as used by the server-config keys (0 narrow .. 4 full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bandwidth {
    Narrow,
    Medium,
    Wide,
    SuperWide,
    Full,
    /// Let the encoder choose.
    Auto,
}

/// A 48 kHz mono Opus encoder (VOIP application, voice signal).
pub struct Encoder {
    _private: (),
}

// SAFETY notes live with the implementation.
unsafe impl Send for Encoder {}

impl Encoder {
    /// Creates an encoder with complexity 10, the given bitrate, VBR on, DTX off.
    pub fn new(bitrate: i32) -> Result<Encoder, MediaError> {
        unimplemented!()
    }
    /// Encodes `pcm` (a valid Opus frame size, normally 2880 samples) into `out`; returns the length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, MediaError> {
        unimplemented!()
    }
    pub fn set_bitrate(&mut self, bps: i32) -> Result<(), MediaError> {
        unimplemented!()
    }
    pub fn set_bandwidth(&mut self, bw: Bandwidth) -> Result<(), MediaError> {
        unimplemented!()
    }
    pub fn set_inband_fec(&mut self, on: bool) -> Result<(), MediaError> {
        unimplemented!()
    }
    pub fn set_packet_loss_perc(&mut self, perc: i32) -> Result<(), MediaError> {
        unimplemented!()
    }
    pub fn set_complexity(&mut self, complexity: i32) -> Result<(), MediaError> {
        unimplemented!()
    }
}

/// A 48 kHz mono Opus decoder.
pub struct Decoder {
    _private: (),
}

unsafe impl Send for Decoder {}

impl Decoder {
    pub fn new() -> Result<Decoder, MediaError> {
        unimplemented!()
    }
    /// Decodes `packet` into `out`; returns samples written. With `packet = None`, runs PLC for
    /// `out.len()` samples. With `fec = true`, decodes the LBRR data of `packet` (the frame before it).
    pub fn decode(&mut self, packet: Option<&[u8]>, out: &mut [i16], fec: bool) -> Result<usize, MediaError> {
        unimplemented!()
    }
}

/// Samples per channel in an Opus packet at 48 kHz (from its TOC), or an error for a malformed packet.
pub fn packet_samples(packet: &[u8]) -> Result<usize, MediaError> {
    unimplemented!()
}

/// Whether the packet carries in-band FEC (LBRR) data for the previous frame.
pub fn packet_has_lbrr(packet: &[u8]) -> bool {
    unimplemented!()
}
