//! Incoming audio: jitter buffer, Opus decode with in-band FEC and redundancy, loss concealment,
//! time-scale compression, and the split of decoded frames (any duration) into the 20 ms chunks
//! the audio thread plays.

use std::collections::VecDeque;
use std::time::Instant;

use super::jitter::{JitterBuffer, Playout};
use super::opus::{packet_has_lbrr, Decoder};
use super::tsm::Compressor;
use super::{MediaError, CHUNK_SAMPLES, FRAME_SAMPLES, SAMPLE_RATE};

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
    /// Audio buffered now (jitter buffer plus decoded audio not yet handed out), ms.
    pub buffered_ms: u32,
    /// Audio removed by time-scale compression to shrink an excess delay, in 20 ms units.
    pub chunks_dropped: u64,
    /// Audio removed by time-scale compression, milliseconds.
    pub compressed_ms: u64,
    /// Concealment played while waiting for a late stream (delay growth), milliseconds.
    pub held_ms: u64,
    /// Duration of the peer's frames, milliseconds (from the Opus TOC).
    pub frame_ms: u32,
}

/// Largest target delay the jitter buffer may adapt to, frames (600 ms, as 2.4.4).
pub const MAX_DELAY_FRAMES: u32 = 10;
/// Largest decoded frame: 120 ms (the longest Opus packet).
const MAX_DECODE: usize = 5760;
/// Decoded samples not yet handed out, at most (two longest frames and a chunk).
const PENDING_CAP: usize = 2 * MAX_DECODE + CHUNK_SAMPLES;
/// Loads whose buffered total decides whether the delay is in excess.
const EXCESS_WINDOW: usize = 8;
/// Excess persisting this long (ms of played audio) allows compressing any audio.
const FORCE_AFTER_MS: u64 = 3000;
/// Chunks quieter than this mean square are always "low energy" (RMS ≈ 250).
const QUIET_FLOOR: f64 = 250.0 * 250.0;
/// Chunks below this fraction of the running speech energy are "low energy".
const QUIET_RATIO: f64 = 0.15;
/// Samples per millisecond.
const SAMPLES_PER_MS: usize = SAMPLE_RATE as usize / 1000;
/// Segment kinds remembered for the pending audio.
const MAX_SEGMENTS: usize = 32;

/// The incoming audio pipeline of one stream.
///
/// Frames come from the [`JitterBuffer`] (any Opus duration) and are decoded into a queue of
/// pending samples, from which 20 ms chunks are handed out. Delay the jitter buffer grew by
/// holding for a late stream is shrunk here by time-scale compression: when the buffered audio
/// (jitter buffer plus pending samples) stayed above the target over the last 8 frames, whole
/// pitch periods are removed from the freshly decoded audio (pitch-synchronous overlap-add, see
/// [`super::tsm`]), preferring quiet or strongly periodic stretches; after 3 s of sustained
/// excess any audio qualifies. No audio is ever skipped outright.
pub struct AudioReceiver {
    jitter: JitterBuffer,
    main: Decoder,
    /// Decode scratch.
    frame: Box<[i16; MAX_DECODE]>,
    /// Decoded samples not yet handed out: `pending[start..end]`.
    pending: Box<[i16; PENDING_CAP]>,
    start: usize,
    end: usize,
    /// Kinds of the pending samples, oldest first: (samples, kind).
    segments: VecDeque<(usize, ChunkKind)>,
    tsm: Compressor,
    received: bool,
    /// Ring of buffered totals (ms) right after each load.
    occupancy: [u32; EXCESS_WINDOW],
    occupancy_at: usize,
    occupancy_filled: usize,
    /// Played audio (ms) since the excess began.
    excess_ms: u64,
    /// Running mean square of decoded audio chunks.
    speech_energy: f64,
    frames_decoded: u64,
    recovered_fec: u64,
    recovered_redundant: u64,
    compressed_samples: u64,
}

impl AudioReceiver {
    /// Creates the pipeline with a jitter buffer whose minimum target is `min_delay_frames`
    /// frames of 60 ms.
    pub fn new(min_delay_frames: u32) -> Result<AudioReceiver, MediaError> {
        Ok(AudioReceiver {
            jitter: JitterBuffer::new(min_delay_frames, MAX_DELAY_FRAMES),
            main: Decoder::new()?,
            frame: Box::new([0; MAX_DECODE]),
            pending: Box::new([0; PENDING_CAP]),
            start: 0,
            end: 0,
            segments: VecDeque::with_capacity(MAX_SEGMENTS),
            tsm: Compressor::new(),
            received: false,
            occupancy: [0; EXCESS_WINDOW],
            occupancy_at: 0,
            occupancy_filled: 0,
            excess_ms: 0,
            speech_energy: 0.0,
            frames_decoded: 0,
            recovered_fec: 0,
            recovered_redundant: 0,
            compressed_samples: 0,
        })
    }

    /// Sets the jitter buffer's minimum delay in 60 ms frames (2.4.4: 2, or 4 when the peer
    /// sends redundancy).
    pub fn set_min_delay(&mut self, frames: u32) {
        self.jitter.set_min_delay(frames);
    }

    /// Sets the jitter buffer's minimum delay in milliseconds (rounded up to 20 ms).
    pub fn set_min_delay_ms(&mut self, ms: u32) {
        self.jitter.set_min_delay_ms(ms);
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
        let mut loads = 0;
        while self.end - self.start < CHUNK_SAMPLES && loads < 16 {
            self.load_frame(now);
            loads += 1;
        }
        let avail = (self.end - self.start).min(CHUNK_SAMPLES);
        out[..avail].copy_from_slice(&self.pending[self.start..self.start + avail]);
        out[avail..].fill(0);
        self.start += avail;
        let kind = self.consume_segments(avail);
        if kind == ChunkKind::Audio {
            let e = mean_square(out);
            self.speech_energy += (e - self.speech_energy) * 0.02;
        }
        if self.excess_ms > 0 {
            self.excess_ms += 20;
        }
        kind
    }

    /// Removes `n` samples from the front of the segment list; returns the first one's kind.
    fn consume_segments(&mut self, mut n: usize) -> ChunkKind {
        let kind = self
            .segments
            .front()
            .map_or(ChunkKind::Silence, |&(_, k)| k);
        while n > 0 {
            let Some(front) = self.segments.front_mut() else {
                break;
            };
            if front.0 > n {
                front.0 -= n;
                break;
            }
            n -= front.0;
            self.segments.pop_front();
        }
        kind
    }

    /// Appends decoded samples to the pending queue.
    fn push_pending(&mut self, n: usize, kind: ChunkKind) {
        if self.end + n > PENDING_CAP {
            self.pending.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = n.min(PENDING_CAP - self.end);
        self.pending[self.end..self.end + n].copy_from_slice(&self.frame[..n]);
        self.end += n;
        let full = self.segments.len() >= MAX_SEGMENTS;
        match self.segments.back_mut() {
            Some(last) if last.1 == kind || full => last.0 += n,
            _ => self.segments.push_back((n, kind)),
        }
    }

    /// Whether a block is quiet enough to compress unnoticed.
    fn is_quiet(&self, pcm: &[i16]) -> bool {
        let e = mean_square(pcm);
        e < QUIET_FLOOR || e < self.speech_energy * QUIET_RATIO
    }

    /// Pops the next frame from the jitter buffer and decodes or conceals it into the pending
    /// queue, then compresses time if the delay is in excess.
    fn load_frame(&mut self, now: Instant) {
        let playout = self.jitter.pop(now);
        let frame = &mut self.frame[..];
        let mut kind = ChunkKind::Concealed;
        let mut len = FRAME_SAMPLES;
        // Primaries and redundant copies go through the one decoder: a copy continues the
        // decoder state the primaries built, where a second decoder that only ever sees the
        // scattered copies starts each of them from a stale state (measured: PESQ-WB 1.75 with
        // a separate decoder, 2.71 with the main one, 8 kbps primary + 6 kbps copies, 20 % loss).
        let decoded = match playout {
            Playout::Frame {
                data, redundant, ..
            } => match self.main.decode(Some(data), frame, false) {
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
            },
            Playout::Missing {
                next: Some(next),
                samples,
                ..
            } if packet_has_lbrr(next) => {
                len = samples.clamp(CHUNK_SAMPLES, MAX_DECODE);
                match self.main.decode(Some(next), &mut frame[..len], true) {
                    Ok(n) => {
                        len = n;
                        self.recovered_fec += 1;
                        true
                    }
                    Err(_) => false,
                }
            }
            Playout::Missing { samples, .. } => {
                len = samples.clamp(CHUNK_SAMPLES, MAX_DECODE);
                false
            }
            Playout::Buffering => {
                len = CHUNK_SAMPLES;
                frame[..len].fill(0);
                kind = ChunkKind::Silence;
                true
            }
        };
        if !decoded {
            // PLC; silence if even that fails.
            match self.main.decode(None, &mut frame[..len], false) {
                Ok(n) => len = n,
                Err(_) => frame[..len].fill(0),
            }
            kind = ChunkKind::Concealed;
        }
        let len = len.clamp(1, MAX_DECODE);
        self.push_pending(len, kind);
        self.note_occupancy();
        if kind == ChunkKind::Audio {
            self.maybe_compress(len);
        }
    }

    /// Buffered audio now: jitter buffer plus pending samples, ms.
    fn buffered_total_ms(&self) -> u32 {
        self.jitter.stats().buffered_ms + ((self.end - self.start) / SAMPLES_PER_MS) as u32
    }

    /// Records the buffered total right after a load.
    fn note_occupancy(&mut self) {
        self.occupancy[self.occupancy_at] = self.buffered_total_ms();
        self.occupancy_at = (self.occupancy_at + 1) % EXCESS_WINDOW;
        self.occupancy_filled = (self.occupancy_filled + 1).min(EXCESS_WINDOW);
    }

    /// Excess delay (ms) the recent loads all carried beyond the target, if the window is full.
    fn excess_delay_ms(&self) -> u32 {
        if self.occupancy_filled < EXCESS_WINDOW {
            return 0;
        }
        let min = self.occupancy.iter().min().copied().unwrap_or(0);
        let j = self.jitter.stats();
        // Frames of 40 ms or more (and the several frames of a packet) arrive in bursts that
        // briefly fill the buffer beyond the target: a frame and a chunk of slack for them.
        let slack = if j.frame_ms > 20 { j.frame_ms + 20 } else { 0 };
        min.saturating_sub(j.target_delay_ms + slack)
    }

    /// Removes pitch periods from the pending audio of the frame just decoded (`len` samples at
    /// the end of the queue) when the delay is in excess.
    fn maybe_compress(&mut self, len: usize) {
        let excess = self.excess_delay_ms();
        if excess < 20 {
            self.excess_ms = 0;
            return;
        }
        if self.excess_ms == 0 {
            self.excess_ms = 1;
        }
        let from = self.end - len;
        let block = &self.pending[from..self.end];
        let quiet = self.is_quiet(block);
        let force = self.excess_ms >= FORCE_AFTER_MS;
        let max_remove = (excess as usize * SAMPLES_PER_MS).min(len / 3 + CHUNK_SAMPLES / 2);
        let removed =
            self.tsm
                .compress(&mut self.pending[from..self.end], max_remove, quiet, force);
        if removed == 0 {
            return;
        }
        self.end -= removed;
        if let Some(last) = self.segments.back_mut() {
            last.0 = last.0.saturating_sub(removed);
        }
        self.compressed_samples += removed as u64;
        let ms = (removed / SAMPLES_PER_MS) as u32;
        for o in &mut self.occupancy {
            *o = o.saturating_sub(ms);
        }
    }

    /// True once any frame has been inserted.
    pub fn has_received(&self) -> bool {
        self.received
    }

    /// Current statistics.
    pub fn stats(&self) -> ReceiverStats {
        let j = self.jitter.stats();
        let compressed_ms = self.compressed_samples / SAMPLES_PER_MS as u64;
        ReceiverStats {
            frames_decoded: self.frames_decoded,
            frames_lost: j.lost,
            frames_late: j.late,
            recovered_fec: self.recovered_fec,
            recovered_redundant: self.recovered_redundant,
            jitter_ms: j.jitter_ms,
            target_delay_ms: j.target_delay_ms,
            buffered_ms: self.buffered_total_ms(),
            chunks_dropped: compressed_ms / 20,
            compressed_ms,
            held_ms: j.held_ms,
            frame_ms: j.frame_ms,
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

    /// Feeds frames in real time (frame i at i*60 ms) with their copies when `ec`, losing the
    /// packets in `drop`, and hands each played chunk to `on_chunk`.
    fn play_with(
        rx: &mut AudioReceiver,
        frames: &[EncodedFrame],
        drop: &[usize],
        ec: bool,
        mut on_chunk: impl FnMut(ChunkKind, &[i16]),
    ) {
        let t0 = Instant::now();
        let mut out = [0i16; CHUNK_SAMPLES];
        for (i, f) in frames.iter().enumerate() {
            let now = t0 + Duration::from_millis(i as u64 * 60);
            if !drop.contains(&i) {
                rx.insert(now, (i * 60) as u32, &f.primary, false);
                let copies = if ec { f.redundancy.as_slice() } else { &[] };
                for (j, e) in copies.iter().enumerate() {
                    if let Some(k) = (i + j + 1).checked_sub(copies.len()) {
                        rx.insert(now, (k * 60) as u32, e, true);
                    }
                }
            }
            for _ in 0..3 {
                let kind = rx.next_chunk(now, &mut out);
                on_chunk(kind, &out);
            }
        }
    }

    /// [`play_with`], returning the chunk kinds.
    fn play(
        rx: &mut AudioReceiver,
        frames: &[EncodedFrame],
        drop: &[usize],
        ec: bool,
    ) -> Vec<ChunkKind> {
        let mut kinds = Vec::new();
        play_with(rx, frames, drop, ec, |k, _| kinds.push(k));
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
        // The frame carrying the FEC is still played itself (not consumed by the recovery):
        // all but the lost one are decoded, less the one or two still buffered at the end.
        let decoded = st.frames_decoded as usize;
        assert!(
            (frames.len() - 3..frames.len()).contains(&decoded),
            "{decoded} of {}",
            frames.len()
        );
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

    /// Plays `frames` with redundancy and returns the audio.
    fn play_pcm(frames: &[EncodedFrame], drop: &[usize]) -> Vec<i16> {
        let mut rx = AudioReceiver::new(4).unwrap();
        let mut pcm = Vec::new();
        play_with(&mut rx, frames, drop, true, |_, out| {
            pcm.extend_from_slice(out)
        });
        assert_eq!(rx.stats().recovered_redundant as usize, drop.len());
        pcm
    }

    /// Normalised correlation of two equally long signals.
    fn correlation(a: &[i16], b: &[i16]) -> f64 {
        let dot = |x: &[i16], y: &[i16]| {
            x.iter()
                .zip(y)
                .map(|(&p, &q)| f64::from(p) * f64::from(q))
                .sum::<f64>()
        };
        dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()
    }

    #[test]
    fn recovered_copies_continue_the_stream() {
        // Every fifth frame lost and played from the next frame's copy. Decoded in sequence by
        // the one decoder, the copies follow the lossless playout closely (a decoder of their
        // own, starting each copy from a stale state, made them audibly wrong).
        let drop: Vec<usize> = (10..80).step_by(5).collect();
        for (bitrate, min_corr) in [(7_000, 0.99), (16_000, 0.88)] {
            let frames = encode(bitrate, 2);
            let clean = play_pcm(&frames, &[]);
            let lossy = play_pcm(&frames, &drop);
            let c = correlation(&clean, &lossy);
            eprintln!("{bitrate}: correlation {c:.3}");
            assert!(c > min_corr, "{bitrate}: correlation {c:.3}");
        }
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
