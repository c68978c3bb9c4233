//! Incoming audio: jitter buffer, Opus decode with in-band FEC and redundancy, loss concealment,
//! and the split of 60 ms frames into the 20 ms chunks the audio thread plays.

use std::time::Instant;

use super::jitter::{JitterBuffer, Playout};
use super::opus::{packet_has_lbrr, Decoder};
use super::{MediaError, CHUNK_SAMPLES, FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE};

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
    /// Frames decoded from received (primary or redundant) data.
    pub frames_decoded: u64,
    /// Frames missing at playout (concealed by FEC or PLC).
    pub frames_lost: u64,
    /// Frames that arrived after their playout time.
    pub frames_late: u64,
    /// Lost frames recovered from the next frame's in-band FEC.
    pub recovered_fec: u64,
    /// Frames played from redundant (secondary) encodings.
    pub recovered_redundant: u64,
    /// Smoothed inter-arrival jitter, milliseconds.
    pub jitter_ms: f64,
    /// Current jitter-buffer target delay, milliseconds.
    pub target_delay_ms: u32,
    /// Audio buffered now (jitter buffer plus the undelivered part of the current frame), ms.
    pub buffered_ms: u32,
    /// 20 ms chunks skipped to shrink an excess delay.
    pub chunks_dropped: u64,
}

/// Largest target delay the jitter buffer may adapt to, frames (600 ms, as 2.4.4).
pub const MAX_DELAY_FRAMES: u32 = 10;
/// Cross-fade length when switching between the main and the redundancy decoder (5 ms).
const FADE_SAMPLES: usize = 240;
/// Post-pop occupancy samples whose minimum decides whether the buffer holds excess audio.
const EXCESS_WINDOW: usize = 8;
/// Chunks of sustained excess after which any chunk (not only a quiet one) may be dropped.
const FORCE_DROP_AFTER: u32 = 200;
/// Chunks between two drops (at most one 20 ms drop per 60 ms frame).
const DROP_SPACING: u32 = 3;
/// Chunks quieter than this mean square are always "low energy" (RMS ≈ 250).
const QUIET_FLOOR: f64 = 250.0 * 250.0;
/// Chunks below this fraction of the running speech energy are "low energy".
const QUIET_RATIO: f64 = 0.15;

/// Which decoder produced the previous frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dec {
    Main,
    Redundant,
}

/// The incoming audio pipeline of one stream.
///
/// Frames come from the [`JitterBuffer`] one per 60 ms and are cut into 20 ms chunks. The delay
/// the jitter buffer grows by holding (concealing without advancing) is shrunk here: when the
/// occupancy right after each of the last 8 pops stayed above the target, one 20 ms chunk per
/// frame is skipped, preferring quiet chunks (after 4 s of excess any chunk), with a short
/// cross-fade into the following audio.
pub struct AudioReceiver {
    jitter: JitterBuffer,
    main: Decoder,
    redundant_dec: Decoder,
    last_dec: Dec,
    /// Decoded samples of the current frame.
    frame: Box<[i16; FRAME_SAMPLES]>,
    frame_len: usize,
    pos: usize,
    frame_kind: ChunkKind,
    /// Scratch for the cross-fade source.
    fade: Box<[i16; FADE_SAMPLES]>,
    received: bool,
    /// Ring of post-pop occupancies.
    occupancy: [u32; EXCESS_WINDOW],
    occupancy_at: usize,
    occupancy_filled: usize,
    /// Consecutive chunks with excess buffered audio.
    excess_chunks: u32,
    /// Chunks since the last drop.
    since_drop: u32,
    /// Running mean square of decoded audio chunks.
    speech_energy: f64,
    frames_decoded: u64,
    recovered_fec: u64,
    recovered_redundant: u64,
    chunks_dropped: u64,
}

impl AudioReceiver {
    /// Creates the pipeline with a jitter buffer whose minimum target is `min_delay_frames`.
    pub fn new(min_delay_frames: u32) -> Result<AudioReceiver, MediaError> {
        Ok(AudioReceiver {
            jitter: JitterBuffer::new(min_delay_frames, MAX_DELAY_FRAMES),
            main: Decoder::new()?,
            redundant_dec: Decoder::new()?,
            last_dec: Dec::Main,
            frame: Box::new([0; FRAME_SAMPLES]),
            frame_len: 0,
            pos: 0,
            frame_kind: ChunkKind::Silence,
            fade: Box::new([0; FADE_SAMPLES]),
            received: false,
            occupancy: [0; EXCESS_WINDOW],
            occupancy_at: 0,
            occupancy_filled: 0,
            excess_chunks: 0,
            since_drop: DROP_SPACING,
            speech_energy: 0.0,
            frames_decoded: 0,
            recovered_fec: 0,
            recovered_redundant: 0,
            chunks_dropped: 0,
        })
    }

    /// Peer signalled redundancy on/off: raises/lowers the minimum delay (4 / 2 frames).
    pub fn set_min_delay(&mut self, frames: u32) {
        self.jitter.set_min_delay(frames);
    }

    /// A frame from the network. `redundant` for EC copies.
    pub fn insert(&mut self, now: Instant, pts: u32, data: &[u8], redundant: bool) {
        self.received = true;
        self.jitter.insert(now, pts, data, redundant);
    }

    /// Produces the next 20 ms chunk (960 samples) for playback.
    ///
    /// `out` must hold exactly 960 samples; any other size is zero-filled and reported as silence.
    pub fn next_chunk(&mut self, now: Instant, out: &mut [i16]) -> ChunkKind {
        if out.len() != CHUNK_SAMPLES {
            out.fill(0);
            return ChunkKind::Silence;
        }
        if self.pos >= self.frame_len {
            self.load_frame(now);
        }
        self.since_drop = self.since_drop.saturating_add(1);
        if self.should_drop() {
            let chunk = &self.frame[self.pos..self.pos + CHUNK_SAMPLES];
            let forced = self.excess_chunks >= FORCE_DROP_AFTER;
            if forced || self.is_quiet(chunk) {
                self.fade.copy_from_slice(&chunk[..FADE_SAMPLES]);
                self.pos += CHUNK_SAMPLES;
                self.chunks_dropped += 1;
                self.since_drop = 0;
                if self.pos >= self.frame_len {
                    self.load_frame(now);
                }
                let kind = self.emit(out);
                crossfade(&self.fade[..], &mut out[..FADE_SAMPLES]);
                return kind;
            }
        }
        self.emit(out)
    }

    /// Copies the current chunk to `out` and advances.
    fn emit(&mut self, out: &mut [i16]) -> ChunkKind {
        let chunk = &self.frame[self.pos..self.pos + CHUNK_SAMPLES];
        out.copy_from_slice(chunk);
        self.pos += CHUNK_SAMPLES;
        if self.frame_kind == ChunkKind::Audio {
            let e = mean_square(out);
            self.speech_energy += (e - self.speech_energy) * 0.02;
        }
        self.frame_kind
    }

    /// Whether the buffer has held clearly more than the target for a while.
    fn should_drop(&mut self) -> bool {
        let target = self.jitter.stats().target_delay;
        let min = self.occupancy[..self.occupancy_filled]
            .iter()
            .min()
            .copied();
        let excess = self.occupancy_filled == EXCESS_WINDOW && min.is_some_and(|m| m > target);
        if excess {
            self.excess_chunks = self.excess_chunks.saturating_add(1);
        } else {
            self.excess_chunks = 0;
        }
        excess && self.since_drop >= DROP_SPACING && self.frame_kind != ChunkKind::Silence
    }

    /// Whether a chunk is quiet enough to drop unnoticed.
    fn is_quiet(&self, chunk: &[i16]) -> bool {
        let e = mean_square(chunk);
        e < QUIET_FLOOR || e < self.speech_energy * QUIET_RATIO
    }

    /// Pops the next frame from the jitter buffer and decodes or conceals it.
    fn load_frame(&mut self, now: Instant) {
        let playout = self.jitter.pop(now);
        let frame = &mut self.frame[..];
        let mut kind = ChunkKind::Concealed;
        let mut used = self.last_dec;
        let mut len = FRAME_SAMPLES;
        let decoded = match playout {
            Playout::Frame {
                data, redundant, ..
            } => {
                used = if redundant { Dec::Redundant } else { Dec::Main };
                let dec = match used {
                    Dec::Main => &mut self.main,
                    Dec::Redundant => &mut self.redundant_dec,
                };
                match dec.decode(Some(data), frame, false) {
                    Ok(n) => {
                        kind = ChunkKind::Audio;
                        len = n;
                        self.frames_decoded += 1;
                        if redundant {
                            self.recovered_redundant += 1;
                        }
                        true
                    }
                    Err(_) => false,
                }
            }
            Playout::Missing {
                next: Some(next), ..
            } if packet_has_lbrr(next) => {
                used = Dec::Main;
                let ok = self.main.decode(Some(next), frame, true).is_ok();
                if ok {
                    self.recovered_fec += 1;
                }
                ok
            }
            Playout::Missing { .. } => false,
            Playout::Buffering => {
                frame.fill(0);
                kind = ChunkKind::Silence;
                true
            }
        };
        if !decoded {
            // PLC on the decoder that produced the previous frame; silence if even that fails.
            used = self.last_dec;
            let dec = match used {
                Dec::Main => &mut self.main,
                Dec::Redundant => &mut self.redundant_dec,
            };
            if dec.decode(None, frame, false).is_err() {
                frame.fill(0);
            }
            kind = ChunkKind::Concealed;
        }
        if kind != ChunkKind::Silence && used != self.last_dec {
            // Fade from the previous decoder's concealment into the new decoder's output.
            let prev = match self.last_dec {
                Dec::Main => &mut self.main,
                Dec::Redundant => &mut self.redundant_dec,
            };
            if prev.decode(None, &mut self.fade[..], false).is_ok() {
                crossfade(&self.fade[..], &mut self.frame[..FADE_SAMPLES]);
            }
        }
        if kind != ChunkKind::Silence {
            self.last_dec = used;
        }
        // Whole chunks only: pad a short frame (e.g. a 20 ms packet) with silence.
        let len = len.min(FRAME_SAMPLES);
        self.frame[len..].fill(0);
        self.frame_len = len.max(1).div_ceil(CHUNK_SAMPLES) * CHUNK_SAMPLES;
        self.pos = 0;
        self.frame_kind = kind;
        self.note_occupancy();
    }

    /// Records the occupancy right after a pop.
    fn note_occupancy(&mut self) {
        self.occupancy[self.occupancy_at] = self.jitter.stats().buffered;
        self.occupancy_at = (self.occupancy_at + 1) % EXCESS_WINDOW;
        self.occupancy_filled = (self.occupancy_filled + 1).min(EXCESS_WINDOW);
    }

    /// True once any frame has been inserted.
    pub fn has_received(&self) -> bool {
        self.received
    }

    /// Current statistics.
    pub fn stats(&self) -> ReceiverStats {
        let j = self.jitter.stats();
        let pending = self.frame_len.saturating_sub(self.pos);
        ReceiverStats {
            frames_decoded: self.frames_decoded,
            frames_lost: j.lost,
            frames_late: j.late,
            recovered_fec: self.recovered_fec,
            recovered_redundant: self.recovered_redundant,
            jitter_ms: j.jitter_ms,
            target_delay_ms: j.target_delay * FRAME_MS,
            buffered_ms: j.buffered * FRAME_MS + (pending / (SAMPLE_RATE as usize / 1000)) as u32,
            chunks_dropped: self.chunks_dropped,
        }
    }
}

/// Mean square of a block of samples.
fn mean_square(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64
}

/// Raised-cosine cross-fade from `from` into the first `from.len()` samples of `into`.
fn crossfade(from: &[i16], into: &mut [i16]) {
    let n = from.len().min(into.len());
    for i in 0..n {
        let w = 0.5 - 0.5 * (std::f32::consts::PI * (i as f32 + 0.5) / n as f32).cos();
        let v = f32::from(from[i]) * (1.0 - w) + f32::from(into[i]) * w;
        into[i] = v.round().clamp(-32768.0, 32767.0) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::opus::Bandwidth;
    use crate::media::sender::{AudioSender, EncodedFrame, SenderSettings};
    use crate::media::testutil::load_sample;
    use std::time::Duration;

    fn encode(bitrate: i32, level: u8) -> Vec<EncodedFrame> {
        let mut s = AudioSender::new(SenderSettings {
            bitrate,
            inband_fec: true,
            expected_loss_perc: 25,
            redundancy_level: level,
            bandwidth: Bandwidth::Full,
        })
        .unwrap();
        load_sample("sample05")
            .chunks_exact(CHUNK_SAMPLES)
            .filter_map(|c| s.push_chunk(c).unwrap())
            .collect()
    }

    /// Feeds frames in real time (frame i at i*60 ms), skipping `drop`, and returns chunk kinds.
    fn play(
        rx: &mut AudioReceiver,
        frames: &[EncodedFrame],
        drop: &[usize],
        ec: bool,
    ) -> Vec<ChunkKind> {
        let t0 = Instant::now();
        let mut out = [0i16; CHUNK_SAMPLES];
        let mut kinds = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let now = t0 + Duration::from_millis(i as u64 * 60);
            if !drop.contains(&i) {
                rx.insert(now, (i * 60) as u32, &f.primary, false);
            }
            if ec {
                let n = f.redundancy.len();
                for (j, e) in f.redundancy.iter().enumerate() {
                    if let Some(k) = (i + j + 1).checked_sub(n) {
                        rx.insert(now, (k * 60) as u32, e, true);
                    }
                }
            }
            for _ in 0..3 {
                kinds.push(rx.next_chunk(now, &mut out));
            }
        }
        kinds
    }

    #[test]
    fn silence_until_first_frame() {
        let mut rx = AudioReceiver::new(2).unwrap();
        let mut out = [1i16; CHUNK_SAMPLES];
        assert!(!rx.has_received());
        assert_eq!(rx.next_chunk(Instant::now(), &mut out), ChunkKind::Silence);
        assert!(out.iter().all(|&s| s == 0));
        let mut short = [1i16; 10];
        assert_eq!(
            rx.next_chunk(Instant::now(), &mut short),
            ChunkKind::Silence
        );
        assert_eq!(short, [0; 10]);
    }

    #[test]
    fn single_loss_recovered_from_next_frame_fec() {
        let frames = encode(24_000, 0);
        let mut rx = AudioReceiver::new(2).unwrap();
        play(&mut rx, &frames, &[20], false);
        let st = rx.stats();
        assert_eq!(st.frames_lost, 1);
        assert_eq!(st.recovered_fec, 1, "{st:?}");
        // The frame carrying the FEC is still played itself (not consumed by the recovery).
        assert_eq!(st.frames_decoded as usize, frames.len() - 1 - 2);
        assert!(rx.has_received());
    }

    #[test]
    fn redundant_copy_replaces_lost_primary() {
        let frames = encode(12_000, 2);
        let mut rx = AudioReceiver::new(4).unwrap();
        let kinds = play(&mut rx, &frames, &[20, 40], true);
        let st = rx.stats();
        assert_eq!(st.recovered_redundant, 2, "{st:?}");
        assert_eq!(st.frames_lost, 0);
        assert!(
            kinds[30..]
                .iter()
                .filter(|k| **k == ChunkKind::Audio)
                .count()
                > 100
        );
    }

    #[test]
    fn underflow_conceals_then_goes_silent() {
        let frames = encode(16_000, 0);
        let mut rx = AudioReceiver::new(2).unwrap();
        play(&mut rx, &frames[..20], &[], false);
        let t = Instant::now() + Duration::from_secs(2);
        let mut out = [0i16; CHUNK_SAMPLES];
        let kinds: Vec<ChunkKind> = (0..60).map(|_| rx.next_chunk(t, &mut out)).collect();
        assert!(kinds[..6].iter().all(|k| *k != ChunkKind::Silence));
        assert!(kinds.contains(&ChunkKind::Concealed));
        assert!(kinds[40..].iter().all(|k| *k == ChunkKind::Silence));
    }
}
