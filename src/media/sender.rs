//! Outgoing audio: gathers 20 ms chunks into 60 ms frames, encodes them with the primary Opus
//! encoder and, when redundancy is on, attaches copies of the recent frames: a second, low-bitrate
//! encoding of each, or the primary itself when the primary is that small.

use std::collections::VecDeque;

use super::opus::{Bandwidth, Decoder, Encoder};
use super::{MediaError, CHUNK_SAMPLES, FRAME_SAMPLES, MAX_FRAME_BYTES};

/// Samples in the longest frame the sender produces (120 ms, the longest Opus packet).
const MAX_FRAME_SAMPLES: usize = 2 * FRAME_SAMPLES;

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

/// Bitrate of the secondary (redundancy) encoder at the start, bits per second (afterwards
/// [`super::bitrate::secondary_bitrate`] of the primary bitrate: 8 kbps, or 6 kbps below 12;
/// primaries of 8 kbps or less are sent as their own copies).
pub const SECONDARY_BITRATE: i32 = 8_000;
/// Largest secondary encoding (the wire carries 1-byte lengths; 2.4.4 uses 128-byte buffers).
pub const MAX_SECONDARY_BYTES: usize = 128;
/// Secondary encodings kept for redundancy (the wire allows at most 4 entries per record).
pub const MAX_REDUNDANCY: usize = 4;

impl Default for SenderSettings {
    /// 16 kbps fullband, FEC on with 5 % expected loss, no redundancy.
    fn default() -> Self {
        SenderSettings {
            bitrate: 16_000,
            inband_fec: true,
            expected_loss_perc: 5,
            redundancy_level: 0,
            bandwidth: Bandwidth::Full,
        }
    }
}

/// The outgoing audio pipeline of one call.
pub struct AudioSender {
    /// Settings requested by the controller (applied before the next encode).
    wanted: SenderSettings,
    /// Settings last applied to the primary encoder.
    applied: SenderSettings,
    primary: Encoder,
    /// Present while redundancy is on; recreated on each enable so it starts from a clean state.
    secondary: Option<Encoder>,
    /// Last ≤ 4 secondary encodings, oldest first.
    history: VecDeque<Vec<u8>>,
    /// PCM of the frame being gathered.
    pcm: Box<[i16; MAX_FRAME_SAMPLES]>,
    /// Samples of `pcm` filled so far.
    filled: usize,
    /// Primary encode scratch buffer (the peer's jitter slot limit).
    out: Box<[u8; MAX_FRAME_BYTES]>,
    /// Decoder for [`AudioSender::decode_preview`], created on first use.
    preview: Option<Decoder>,
    /// Chunks per frame now (3 = 60 ms) and as requested (applied at a frame boundary).
    frame_chunks: usize,
    wanted_frame_chunks: usize,
    /// The primary encoder runs at a constant bitrate now, and as requested.
    cbr: bool,
    wanted_cbr: bool,
}

impl AudioSender {
    /// Creates the primary encoder configured with `settings`.
    pub fn new(settings: SenderSettings) -> Result<AudioSender, MediaError> {
        let mut primary = Encoder::new(settings.bitrate)?;
        configure_primary(&mut primary, &settings)?;
        Ok(AudioSender {
            wanted: settings,
            applied: settings,
            primary,
            secondary: None,
            history: VecDeque::with_capacity(MAX_REDUNDANCY + 1),
            pcm: Box::new([0; MAX_FRAME_SAMPLES]),
            filled: 0,
            out: Box::new([0; MAX_FRAME_BYTES]),
            preview: None,
            frame_chunks: FRAME_SAMPLES / CHUNK_SAMPLES,
            wanted_frame_chunks: FRAME_SAMPLES / CHUNK_SAMPLES,
            cbr: false,
            wanted_cbr: false,
        })
    }

    /// Frame duration for the next frames: 20, 40, 60 or 120 ms (other values are ignored).
    /// Takes effect at the next frame boundary. Only 60 ms frames carry redundancy; libtgvoip
    /// 2.4.4 peers must only ever get 60 ms frames (see `Session::send_audio_frame`).
    pub fn set_frame_ms(&mut self, ms: u32) {
        if matches!(ms, 20 | 40 | 60 | 120) {
            self.wanted_frame_chunks = ms as usize / 20;
            if self.filled == 0 {
                self.frame_chunks = self.wanted_frame_chunks;
            }
        }
    }

    /// Constant bitrate for the primary encoder from the next frame on (variable otherwise):
    /// for a link with no headroom, where the variable bitrate's ~15 % overshoot in speech
    /// would only queue.
    pub fn set_constant_bitrate(&mut self, on: bool) {
        self.wanted_cbr = on;
    }

    /// Duration of the frames being produced, ms.
    pub fn frame_ms(&self) -> u32 {
        self.frame_chunks as u32 * 20
    }

    /// Applies new settings before the next encode (no-op for unchanged values).
    pub fn apply(&mut self, settings: SenderSettings) {
        self.wanted = settings;
    }

    /// Current settings.
    pub fn settings(&self) -> SenderSettings {
        self.wanted
    }

    /// Pushes changed settings into the encoders.
    fn sync_settings(&mut self) -> Result<(), MediaError> {
        let (w, a) = (self.wanted, self.applied);
        if w.bitrate != a.bitrate {
            self.primary.set_bitrate(w.bitrate)?;
        }
        if w.bandwidth != a.bandwidth {
            self.primary.set_bandwidth(w.bandwidth)?;
        }
        if w.inband_fec != a.inband_fec {
            self.primary.set_inband_fec(w.inband_fec)?;
        }
        if w.expected_loss_perc != a.expected_loss_perc {
            self.primary.set_packet_loss_perc(w.expected_loss_perc)?;
        }
        let secondary_bps = super::bitrate::secondary_bitrate(w.bitrate);
        if let Some(sec) = self.secondary.as_mut() {
            if w.bitrate != a.bitrate {
                sec.set_bitrate(secondary_bps)?;
            }
            if w.bandwidth != a.bandwidth {
                sec.set_bandwidth(secondary_bandwidth(w.bandwidth))?;
            }
        }
        if w.redundancy_level == 0 {
            // Improvement over 2.4.4: stale encodings never leak into a later episode.
            self.secondary = None;
            self.history.clear();
        } else if self.secondary.is_none() {
            let mut enc = Encoder::new(secondary_bps)?;
            enc.set_bandwidth(secondary_bandwidth(w.bandwidth))?;
            enc.set_inband_fec(false)?;
            self.secondary = Some(enc);
        }
        self.applied = w;
        Ok(())
    }

    /// Adds one 960-sample chunk; returns the encoded frame once a frame's worth (60 ms unless
    /// [`set_frame_ms`](Self::set_frame_ms) chose otherwise) is gathered.
    pub fn push_chunk(&mut self, pcm: &[i16]) -> Result<Option<EncodedFrame>, MediaError> {
        if pcm.len() != CHUNK_SAMPLES {
            return Err(MediaError::BadBufferSize);
        }
        self.pcm[self.filled..self.filled + CHUNK_SAMPLES].copy_from_slice(pcm);
        self.filled += CHUNK_SAMPLES;
        if self.filled < self.frame_chunks * CHUNK_SAMPLES {
            return Ok(None);
        }
        let n = self.filled;
        self.filled = 0;
        let frame = self.encode_frame(n);
        self.frame_chunks = self.wanted_frame_chunks;
        frame.map(Some)
    }

    /// Encodes the gathered `samples` with the primary and (if on, for 60 ms frames) the
    /// secondary encoder.
    fn encode_frame(&mut self, samples: usize) -> Result<EncodedFrame, MediaError> {
        self.sync_settings()?;
        if self.wanted_cbr != self.cbr {
            self.primary.set_vbr(!self.wanted_cbr)?;
            self.cbr = self.wanted_cbr;
        }
        let n = self
            .primary
            .encode(&self.pcm[..samples], &mut self.out[..])?;
        let mut frame = EncodedFrame {
            primary: self.out[..n].to_vec(),
            redundancy: Vec::new(),
        };
        if samples != FRAME_SAMPLES {
            // Redundancy entries map to 60 ms steps: none with shorter frames.
            self.history.clear();
        } else if let Some(sec) = self.secondary.as_mut() {
            let mut buf = if self.history.len() >= MAX_REDUNDANCY {
                // Reuse the oldest entry's allocation.
                self.history.pop_front().unwrap_or_default()
            } else {
                Vec::with_capacity(MAX_SECONDARY_BYTES)
            };
            if super::bitrate::copies_are_primaries(self.applied.bitrate)
                && n <= MAX_SECONDARY_BYTES
            {
                // A primary this small is its own best copy: the peer decodes it in sequence
                // with the primaries around it.
                buf.clear();
                buf.extend_from_slice(&frame.primary);
            } else {
                buf.resize(MAX_SECONDARY_BYTES, 0);
                let m = sec.encode(&self.pcm[..FRAME_SAMPLES], &mut buf)?;
                buf.truncate(m);
            }
            self.history.push_back(buf);
            let level = usize::from(self.applied.redundancy_level).min(MAX_REDUNDANCY);
            let count = self.history.len().min(level);
            let skip = self.history.len() - count;
            frame.redundancy = self.history.iter().skip(skip).cloned().collect();
        }
        Ok(frame)
    }

    /// Drops partially gathered chunks (e.g. on mute) so the next frame starts fresh.
    pub fn reset_partial(&mut self) {
        self.filled = 0;
    }

    /// Decodes the primary packet of `frame` as the peer will hear it (the "preprocessed" audio).
    /// Returns the number of samples written (2880 for a 60 ms frame).
    pub fn decode_preview(
        &mut self,
        frame: &EncodedFrame,
        out: &mut [i16],
    ) -> Result<usize, MediaError> {
        let dec = match self.preview.as_mut() {
            Some(d) => d,
            None => self.preview.insert(Decoder::new()?),
        };
        dec.decode(Some(&frame.primary), out, false)
    }
}

/// Bandwidth of the copies next to a primary of bandwidth `primary`. The peer decodes a copy
/// with the decoder that played the primaries, so a copy should not switch bandwidth: wideband
/// next to a wide- or fullband primary, the encoder's choice next to a low-rate primary whose
/// bandwidth the encoder chooses too. Measured offline (PESQ-WB, 17-20 % loss): a 16 kbps
/// wideband primary with wideband copies 3.50, with copies of the encoder's choice 2.63; a
/// 10 kbps primary of the encoder's choice with such copies 2.77, with wideband copies 1.52.
fn secondary_bandwidth(primary: Bandwidth) -> Bandwidth {
    match primary {
        Bandwidth::Auto | Bandwidth::Narrow | Bandwidth::Medium => Bandwidth::Auto,
        Bandwidth::Wide | Bandwidth::SuperWide | Bandwidth::Full => Bandwidth::Wide,
    }
}

/// Applies the non-default parts of `s` to a fresh primary encoder.
fn configure_primary(enc: &mut Encoder, s: &SenderSettings) -> Result<(), MediaError> {
    enc.set_bandwidth(s.bandwidth)?;
    enc.set_inband_fec(s.inband_fec)?;
    enc.set_packet_loss_perc(s.expected_loss_perc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::opus::packet_samples;
    use crate::media::testutil::load_sample;

    fn settings(bitrate: i32, level: u8) -> SenderSettings {
        SenderSettings {
            bitrate,
            redundancy_level: level,
            ..SenderSettings::default()
        }
    }

    fn encode_all(sender: &mut AudioSender, pcm: &[i16]) -> Vec<EncodedFrame> {
        pcm.chunks_exact(CHUNK_SAMPLES)
            .filter_map(|c| sender.push_chunk(c).unwrap())
            .collect()
    }

    #[test]
    fn speech_packets_are_60ms_and_sized_by_bitrate() {
        let pcm = load_sample("sample05");
        let mut avg_bps = Vec::new();
        for bitrate in [8_000, 20_000] {
            let mut s = AudioSender::new(settings(bitrate, 0)).unwrap();
            let frames = encode_all(&mut s, &pcm);
            assert_eq!(frames.len(), pcm.len() / FRAME_SAMPLES);
            for f in &frames {
                assert_eq!(packet_samples(&f.primary).unwrap(), FRAME_SAMPLES);
                assert!(f.primary.len() <= MAX_FRAME_BYTES);
                assert!(f.redundancy.is_empty());
            }
            let bytes: usize = frames.iter().map(|f| f.primary.len()).sum();
            let bps = bytes as f64 * 8.0 / (frames.len() as f64 * 0.06);
            assert!(
                bps > 0.5 * bitrate as f64 && bps < 1.5 * bitrate as f64,
                "{bitrate}: {bps}"
            );
            avg_bps.push(bps);
        }
        assert!(avg_bps[1] > avg_bps[0] * 1.5);
    }

    #[test]
    fn redundancy_window_slides_and_clears_when_off() {
        let pcm = load_sample("sample05");
        let mut s = AudioSender::new(settings(12_000, 3)).unwrap();
        let frames = encode_all(&mut s, &pcm[..FRAME_SAMPLES * 6]);
        let counts: Vec<usize> = frames.iter().map(|f| f.redundancy.len()).collect();
        assert_eq!(counts, vec![1, 2, 3, 3, 3, 3]);
        for w in frames.windows(2) {
            // Oldest first: the previous frame's last two entries are this frame's first two.
            let (a, b) = (&w[0].redundancy, &w[1].redundancy);
            if a.len() == 3 {
                assert_eq!(&a[1..], &b[..2]);
            }
            for e in b {
                assert!(!e.is_empty() && e.len() <= MAX_SECONDARY_BYTES);
                assert_eq!(packet_samples(e).unwrap(), FRAME_SAMPLES);
            }
        }
        s.apply(settings(12_000, 0));
        let off = encode_all(&mut s, &pcm[FRAME_SAMPLES * 6..FRAME_SAMPLES * 8]);
        assert!(off.iter().all(|f| f.redundancy.is_empty()));
        s.apply(settings(12_000, 4));
        let on = encode_all(&mut s, &pcm[FRAME_SAMPLES * 8..FRAME_SAMPLES * 10]);
        // History was cleared: the first frame after re-enabling carries only its own copy.
        assert_eq!(on[0].redundancy.len(), 1);
        assert_eq!(on[1].redundancy.len(), 2);
        assert_eq!(s.settings().redundancy_level, 4);
    }

    #[test]
    fn low_primaries_are_copied_as_they_are() {
        let pcm = load_sample("sample05");
        let mut s = AudioSender::new(settings(7_000, 4)).unwrap();
        let frames = encode_all(&mut s, &pcm[..FRAME_SAMPLES * 8]);
        for (i, f) in frames.iter().enumerate() {
            let n = f.redundancy.len();
            for (j, e) in f.redundancy.iter().enumerate() {
                // Entry j covers frame i + 1 + j - n: the earlier frames' own primaries.
                assert_eq!(e, &frames[i + 1 + j - n].primary, "frame {i} entry {j}");
            }
        }
        // Above the copy limit the copies are separate, smaller encodings.
        s.apply(settings(16_000, 4));
        let frames = encode_all(&mut s, &pcm[FRAME_SAMPLES * 8..FRAME_SAMPLES * 16]);
        let last = frames.last().unwrap();
        let copies: usize = last.redundancy.iter().map(Vec::len).sum();
        assert!(copies < last.primary.len() * last.redundancy.len());
        assert_ne!(last.redundancy.last(), Some(&last.primary));
    }

    #[test]
    fn preview_decodes_what_peer_hears() {
        let pcm = load_sample("sample05");
        let mut s = AudioSender::new(SenderSettings::default()).unwrap();
        let frames = encode_all(&mut s, &pcm);
        let mut out = vec![0i16; FRAME_SAMPLES];
        let mut e_in = 0.0;
        let mut e_out = 0.0;
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(s.decode_preview(f, &mut out).unwrap(), FRAME_SAMPLES);
            e_out += out.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
            let src = &pcm[i * FRAME_SAMPLES..(i + 1) * FRAME_SAMPLES];
            e_in += src.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        }
        let ratio = e_out / e_in;
        assert!(ratio > 0.5 && ratio < 1.5, "energy ratio {ratio}");
    }

    #[test]
    fn chunk_gathering_and_reset() {
        let mut s = AudioSender::new(SenderSettings::default()).unwrap();
        assert_eq!(s.push_chunk(&[0; 100]), Err(MediaError::BadBufferSize));
        let chunk = [0i16; CHUNK_SAMPLES];
        assert!(s.push_chunk(&chunk).unwrap().is_none());
        assert!(s.push_chunk(&chunk).unwrap().is_none());
        s.reset_partial();
        assert!(s.push_chunk(&chunk).unwrap().is_none());
        assert!(s.push_chunk(&chunk).unwrap().is_none());
        assert!(s.push_chunk(&chunk).unwrap().is_some());
    }

    #[test]
    fn long_frames_take_120_ms_and_carry_no_copies() {
        let pcm = load_sample("sample05");
        let mut s = AudioSender::new(settings(5_000, 2)).unwrap();
        s.set_frame_ms(120);
        s.set_constant_bitrate(true);
        assert_eq!(s.frame_ms(), 120);
        let frames = encode_all(&mut s, &pcm[..FRAME_SAMPLES * 20]);
        assert_eq!(frames.len(), 10);
        for f in &frames {
            assert_eq!(packet_samples(&f.primary).unwrap(), 2 * FRAME_SAMPLES);
            assert!(f.redundancy.is_empty());
        }
        // At a constant bitrate (speech and pauses alike: no bursts into a full link).
        let sizes: Vec<usize> = frames[1..].iter().map(|f| f.primary.len()).collect();
        assert!(sizes.iter().all(|&n| n == sizes[0]), "{sizes:?}");
        assert!((sizes[0] as i64 - 75).abs() <= 3, "{sizes:?}");
        // Back to 60 ms at the next frame boundary, with copies again.
        s.set_frame_ms(60);
        let frames = encode_all(&mut s, &pcm[..FRAME_SAMPLES * 4]);
        assert_eq!(frames.len(), 4);
        assert_eq!(packet_samples(&frames[3].primary).unwrap(), FRAME_SAMPLES);
        assert!(!frames[3].redundancy.is_empty());
        // Anything else is ignored.
        s.set_frame_ms(80);
        assert_eq!(s.frame_ms(), 60);
    }
}
