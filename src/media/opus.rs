//! Safe wrappers over libopus (48 kHz mono), with the ctls the pipeline needs.
//!
//! The raw FFI comes from `audiopus_sys`, which links the system libopus found by pkg-config.
//! Each wrapper owns one libopus state allocated by the `*_create` call and frees it in `Drop`.

use std::os::raw::c_int;
use std::ptr::NonNull;

use audiopus_sys as sys;

use super::{MediaError, SAMPLE_RATE};

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

impl Bandwidth {
    /// The libopus constant for `OPUS_SET_BANDWIDTH`.
    fn to_opus(self) -> i32 {
        match self {
            Bandwidth::Narrow => sys::OPUS_BANDWIDTH_NARROWBAND,
            Bandwidth::Medium => sys::OPUS_BANDWIDTH_MEDIUMBAND,
            Bandwidth::Wide => sys::OPUS_BANDWIDTH_WIDEBAND,
            Bandwidth::SuperWide => sys::OPUS_BANDWIDTH_SUPERWIDEBAND,
            Bandwidth::Full => sys::OPUS_BANDWIDTH_FULLBAND,
            Bandwidth::Auto => sys::OPUS_AUTO,
        }
    }

    /// Maps a server-config bandwidth key value (0 narrow .. 3 super-wide, anything else full).
    pub fn from_config(value: i64) -> Bandwidth {
        match value {
            0 => Bandwidth::Narrow,
            1 => Bandwidth::Medium,
            2 => Bandwidth::Wide,
            3 => Bandwidth::SuperWide,
            _ => Bandwidth::Full,
        }
    }
}

/// Turns a libopus return code into a `Result`.
fn check(code: c_int) -> Result<c_int, MediaError> {
    if code < 0 {
        Err(MediaError::Opus(code))
    } else {
        Ok(code)
    }
}

/// A 48 kHz mono Opus encoder (VOIP application, voice signal).
pub struct Encoder {
    /// Owned libopus encoder state; never null, freed in `Drop`.
    st: NonNull<sys::OpusEncoder>,
}

// SAFETY: the libopus encoder state has no thread affinity; it is owned exclusively by this value
// and only reached through `&mut self`, so moving it to another thread is sound.
unsafe impl Send for Encoder {}

impl Encoder {
    /// Creates an encoder with complexity 10, the given bitrate, VBR on, DTX off.
    pub fn new(bitrate: i32) -> Result<Encoder, MediaError> {
        let mut err: c_int = 0;
        // SAFETY: valid sample rate / channel / application constants and a valid error pointer.
        let raw = unsafe {
            sys::opus_encoder_create(SAMPLE_RATE as i32, 1, sys::OPUS_APPLICATION_VOIP, &mut err)
        };
        check(err)?;
        let st = NonNull::new(raw).ok_or(MediaError::Opus(sys::OPUS_ALLOC_FAIL))?;
        let mut enc = Encoder { st };
        enc.ctl(sys::OPUS_SET_SIGNAL_REQUEST, sys::OPUS_SIGNAL_VOICE)?;
        enc.ctl(sys::OPUS_SET_COMPLEXITY_REQUEST, 10)?;
        enc.ctl(sys::OPUS_SET_VBR_REQUEST, 1)?;
        enc.ctl(sys::OPUS_SET_DTX_REQUEST, 0)?;
        enc.set_bitrate(bitrate)?;
        Ok(enc)
    }

    /// Issues one integer-valued SET ctl.
    fn ctl(&mut self, request: i32, value: i32) -> Result<(), MediaError> {
        // SAFETY: `st` is a live encoder; every SET request used here takes one `opus_int32`
        // vararg, which is what we pass.
        let rc = unsafe { sys::opus_encoder_ctl(self.st.as_ptr(), request, value as c_int) };
        check(rc).map(|_| ())
    }

    /// Encodes `pcm` (a valid Opus frame size, normally 2880 samples) into `out`; returns the length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, MediaError> {
        if pcm.is_empty() || out.is_empty() {
            return Err(MediaError::BadBufferSize);
        }
        let frame = c_int::try_from(pcm.len()).map_err(|_| MediaError::BadBufferSize)?;
        let max = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: `pcm` holds `frame` mono samples and `out` has `max` writable bytes.
        let n = unsafe {
            sys::opus_encode(self.st.as_ptr(), pcm.as_ptr(), frame, out.as_mut_ptr(), max)
        };
        check(n).map(|n| n as usize)
    }

    /// Sets the target bitrate in bits per second.
    pub fn set_bitrate(&mut self, bps: i32) -> Result<(), MediaError> {
        self.ctl(sys::OPUS_SET_BITRATE_REQUEST, bps)
    }

    /// Turns variable bitrate on (the default) or off. Off, every frame takes its exact share of
    /// the bitrate: for a link with no headroom, where a talk spurt's burst above the average
    /// would become queueing delay.
    pub fn set_vbr(&mut self, on: bool) -> Result<(), MediaError> {
        self.ctl(sys::OPUS_SET_VBR_REQUEST, i32::from(on))
    }

    /// Forces the coded bandwidth (or lets the encoder choose with [`Bandwidth::Auto`]).
    pub fn set_bandwidth(&mut self, bw: Bandwidth) -> Result<(), MediaError> {
        self.ctl(sys::OPUS_SET_BANDWIDTH_REQUEST, bw.to_opus())
    }

    /// Turns in-band FEC (LBRR copies of the previous frame) on or off.
    pub fn set_inband_fec(&mut self, on: bool) -> Result<(), MediaError> {
        self.ctl(sys::OPUS_SET_INBAND_FEC_REQUEST, i32::from(on))
    }

    /// Sets the expected packet loss (percent, 0..=100) that drives FEC strength.
    pub fn set_packet_loss_perc(&mut self, perc: i32) -> Result<(), MediaError> {
        self.ctl(sys::OPUS_SET_PACKET_LOSS_PERC_REQUEST, perc.clamp(0, 100))
    }

    /// Sets the computational complexity (0..=10).
    pub fn set_complexity(&mut self, complexity: i32) -> Result<(), MediaError> {
        self.ctl(sys::OPUS_SET_COMPLEXITY_REQUEST, complexity.clamp(0, 10))
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: `st` came from `opus_encoder_create` and is destroyed exactly once.
        unsafe { sys::opus_encoder_destroy(self.st.as_ptr()) }
    }
}

/// A 48 kHz mono Opus decoder.
pub struct Decoder {
    /// Owned libopus decoder state; never null, freed in `Drop`.
    st: NonNull<sys::OpusDecoder>,
}

// SAFETY: as for `Encoder`: exclusively owned state without thread affinity.
unsafe impl Send for Decoder {}

impl Decoder {
    /// Creates a 48 kHz mono decoder.
    pub fn new() -> Result<Decoder, MediaError> {
        let mut err: c_int = 0;
        // SAFETY: valid sample rate / channel count and a valid error pointer.
        let raw = unsafe { sys::opus_decoder_create(SAMPLE_RATE as i32, 1, &mut err) };
        check(err)?;
        let st = NonNull::new(raw).ok_or(MediaError::Opus(sys::OPUS_ALLOC_FAIL))?;
        Ok(Decoder { st })
    }

    /// Decodes `packet` into `out`; returns samples written. With `packet = None`, runs PLC for
    /// `out.len()` samples. With `fec = true`, decodes the LBRR data of `packet` (the frame before it).
    pub fn decode(
        &mut self,
        packet: Option<&[u8]>,
        out: &mut [i16],
        fec: bool,
    ) -> Result<usize, MediaError> {
        let frame = c_int::try_from(out.len()).map_err(|_| MediaError::BadBufferSize)?;
        if frame == 0 {
            return Err(MediaError::BadBufferSize);
        }
        let (ptr, len) = match packet {
            Some(p) if !p.is_empty() => (
                p.as_ptr(),
                i32::try_from(p.len()).map_err(|_| MediaError::BadBufferSize)?,
            ),
            _ => (std::ptr::null(), 0),
        };
        // SAFETY: `ptr` is null (PLC) or points to `len` readable bytes; `out` has room for
        // `frame` mono samples.
        let n = unsafe {
            sys::opus_decode(
                self.st.as_ptr(),
                ptr,
                len,
                out.as_mut_ptr(),
                frame,
                c_int::from(fec && !ptr.is_null()),
            )
        };
        check(n).map(|n| n as usize)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: `st` came from `opus_decoder_create` and is destroyed exactly once.
        unsafe { sys::opus_decoder_destroy(self.st.as_ptr()) }
    }
}

/// Samples per channel in an Opus packet at 48 kHz (from its TOC), or an error for a malformed packet.
pub fn packet_samples(packet: &[u8]) -> Result<usize, MediaError> {
    if packet.is_empty() {
        return Err(MediaError::Opus(sys::OPUS_BAD_ARG));
    }
    let len = i32::try_from(packet.len()).map_err(|_| MediaError::BadBufferSize)?;
    // SAFETY: `packet` has `len` readable bytes.
    let n = unsafe { sys::opus_packet_get_nb_samples(packet.as_ptr(), len, SAMPLE_RATE as i32) };
    check(n).map(|n| n as usize)
}

/// Whether the packet carries in-band FEC (LBRR) data for the previous frame.
///
/// libopus 1.3 has no `opus_packet_has_lbrr`, so this reads the bitstream: CELT-only packets
/// (TOC config ≥ 16) carry none; otherwise the SILK layer of the first Opus frame starts with
/// raw flag bits — one VAD bit per 20 ms SILK frame, then the LBRR bit.
pub fn packet_has_lbrr(packet: &[u8]) -> bool {
    let Some(&toc) = packet.first() else {
        return false;
    };
    let config = toc >> 3;
    if config >= 16 {
        return false;
    }
    // SILK frames per Opus frame: 10/20 ms -> 1, 40 ms -> 2, 60 ms -> 3 (only SILK-only has > 20).
    let silk_frames: u32 = if config < 12 {
        match config & 3 {
            2 => 2,
            3 => 3,
            _ => 1,
        }
    } else {
        1
    };
    let Ok(len) = i32::try_from(packet.len()) else {
        return false;
    };
    let mut out_toc: u8 = 0;
    let mut frames: [*const u8; 48] = [std::ptr::null(); 48];
    let mut sizes: [i16; 48] = [0; 48];
    // SAFETY: `packet` has `len` readable bytes; `frames` and `sizes` have the 48 entries libopus
    // may write; the payload offset pointer may be null.
    let count = unsafe {
        sys::opus_packet_parse(
            packet.as_ptr(),
            len,
            &mut out_toc,
            frames.as_mut_ptr(),
            sizes.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    };
    if count <= 0 || sizes[0] <= 0 || frames[0].is_null() {
        return false;
    }
    // SAFETY: libopus reported the first frame as non-empty, pointing inside `packet`.
    let first = unsafe { *frames[0] };
    first & (0x80u8 >> silk_frames) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, freq: f32, amp: f32) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                (amp * (2.0 * std::f32::consts::PI * freq * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn encode_decode_60ms_round_trip() {
        let mut enc = Encoder::new(16_000).unwrap();
        let mut dec = Decoder::new().unwrap();
        let pcm = tone(2880 * 10, 440.0, 8000.0);
        let mut buf = [0u8; 1024];
        let mut out = vec![0i16; 2880];
        let mut energy = 0.0f64;
        for frame in pcm.chunks(2880) {
            let n = enc.encode(frame, &mut buf).unwrap();
            assert!(n > 1 && n < 1024);
            assert_eq!(packet_samples(&buf[..n]).unwrap(), 2880);
            assert_eq!(dec.decode(Some(&buf[..n]), &mut out, false).unwrap(), 2880);
            energy += out.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
        }
        let rms = (energy / pcm.len() as f64).sqrt();
        // Input RMS is 8000/sqrt(2) ≈ 5657; the decoded tone must be in the same range.
        assert!(rms > 3000.0 && rms < 8000.0, "rms {rms}");
    }

    #[test]
    fn plc_and_bad_input() {
        let mut dec = Decoder::new().unwrap();
        let mut out = vec![0i16; 2880];
        assert_eq!(dec.decode(None, &mut out, false).unwrap(), 2880);
        assert!(dec.decode(Some(&[0xff, 0xff]), &mut out, false).is_err());
        assert!(dec.decode(None, &mut [], false).is_err());
        assert!(packet_samples(&[]).is_err());
        let mut enc = Encoder::new(16_000).unwrap();
        let mut buf = [0u8; 64];
        // 100 samples is not a valid Opus frame size.
        assert!(enc.encode(&[0i16; 100], &mut buf).is_err());
    }

    #[test]
    fn ctls_accept_valid_values() {
        let mut enc = Encoder::new(8_000).unwrap();
        for bw in [
            Bandwidth::Narrow,
            Bandwidth::Medium,
            Bandwidth::Wide,
            Bandwidth::SuperWide,
            Bandwidth::Full,
            Bandwidth::Auto,
        ] {
            enc.set_bandwidth(bw).unwrap();
        }
        enc.set_inband_fec(true).unwrap();
        enc.set_packet_loss_perc(10).unwrap();
        enc.set_complexity(5).unwrap();
        assert!(enc.set_bitrate(-5).is_err());
    }

    #[test]
    fn lbrr_flag_follows_fec_setting() {
        // Speech-like signal: a harmonic tone with a slow amplitude envelope.
        let pcm: Vec<i16> = (0..2880 * 20)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                let env = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 3.0 * t).sin();
                let s = (2.0 * std::f32::consts::PI * 180.0 * t).sin()
                    + 0.5 * (2.0 * std::f32::consts::PI * 360.0 * t).sin()
                    + 0.3 * (2.0 * std::f32::consts::PI * 720.0 * t).sin();
                (6000.0 * env * s) as i16
            })
            .collect();
        let count_lbrr = |fec: bool| {
            // libopus only codes LBRR when the loss-adjusted rate clears its per-bandwidth
            // threshold (≈ 17.9 kbps for wideband at 20 % loss), hence 24 kbps here.
            let mut enc = Encoder::new(24_000).unwrap();
            enc.set_bandwidth(Bandwidth::Wide).unwrap();
            enc.set_inband_fec(fec).unwrap();
            enc.set_packet_loss_perc(if fec { 20 } else { 0 }).unwrap();
            let mut buf = [0u8; 1024];
            pcm.chunks(2880)
                .filter(|f| {
                    let n = enc.encode(f, &mut buf).unwrap();
                    packet_has_lbrr(&buf[..n])
                })
                .count()
        };
        assert_eq!(count_lbrr(false), 0);
        assert!(count_lbrr(true) > 10);
        assert!(!packet_has_lbrr(&[]));
        // CELT-only TOC (config 31) never has LBRR.
        assert!(!packet_has_lbrr(&[31 << 3, 0xff, 0xff]));
    }
}
