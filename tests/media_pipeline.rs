//! End-to-end media pipeline through the public API: sender -> simulated network -> receiver.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tgvoip::media::opus::{packet_samples, Bandwidth};
use tgvoip::media::receiver::ChunkKind;
use tgvoip::media::{
    AudioReceiver, AudioSender, BitrateController, BitrateLimits, EncodedFrame, ReceiverStats,
    SendFeedback, SenderSettings, CHUNK_SAMPLES, FRAME_SAMPLES,
};

fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TGVOIP_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    ["../shared", "../../shared"]
        .iter()
        .map(|up| manifest.join(up))
        .find(|p| p.join("samples").is_dir())
        .expect("shared fixtures not found; set TGVOIP_SHARED_DIR")
}

/// The first sample05 speech file, s16le 48 kHz mono.
fn speech() -> Vec<i16> {
    let dir = shared_dir().join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("sample05")
        })
        .collect();
    files.sort();
    let bytes = std::fs::read(&files[0]).unwrap();
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn rms_envelope(pcm: &[i16], block: usize) -> Vec<f64> {
    pcm.chunks_exact(block)
        .map(|c| (c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / block as f64).sqrt())
        .collect()
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va.sqrt() * vb.sqrt()).max(1e-9)
}

/// Best correlation of the 60 ms RMS envelopes over output lags of whole 20 ms chunks.
fn aligned_correlation(input: &[i16], output: &[i16]) -> (f64, usize) {
    let env_in = rms_envelope(input, FRAME_SAMPLES);
    (0..40)
        .map(|lag| {
            let start = (lag * CHUNK_SAMPLES).min(output.len());
            let env_out = rms_envelope(&output[start..], FRAME_SAMPLES);
            (correlation(&env_in, &env_out), lag)
        })
        .fold((f64::MIN, 0), |a, b| if b.0 > a.0 { b } else { a })
}

/// How the simulated network treats frame `i`: `None` = lost, else extra delay in ms.
type Network<'a> = dyn FnMut(usize) -> Option<u64> + 'a;

struct Run {
    output: Vec<i16>,
    kinds: Vec<ChunkKind>,
    /// Receiver `buffered_ms` after each tick.
    buffered: Vec<u32>,
    stats: ReceiverStats,
    frames: Vec<EncodedFrame>,
}

/// Pushes `pcm` through sender and receiver in 20 ms ticks, with a 40 ms base network delay.
fn run(pcm: &[i16], settings: SenderSettings, net: &mut Network<'_>, tail_ms: u64) -> Run {
    let t0 = Instant::now();
    let mut sender = AudioSender::new(settings).unwrap();
    let mut receiver =
        AudioReceiver::new(if settings.redundancy_level > 0 { 4 } else { 2 }).unwrap();
    let mut in_flight: Vec<(u64, u32, Vec<u8>, bool)> = Vec::new();
    let mut frames = Vec::new();
    let mut output = Vec::new();
    let mut kinds = Vec::new();
    let mut buffered = Vec::new();
    let ticks = pcm.len() / CHUNK_SAMPLES + (tail_ms / 20) as usize;
    let mut chunk = vec![0i16; CHUNK_SAMPLES];
    for tick in 0..ticks {
        let now_ms = tick as u64 * 20;
        if let Some(c) = pcm.chunks_exact(CHUNK_SAMPLES).nth(tick) {
            if let Some(frame) = sender.push_chunk(c).unwrap() {
                let i = frames.len();
                let pts = (i * 60) as u32;
                if let Some(extra) = net(i) {
                    let at = now_ms + 40 + extra;
                    in_flight.push((at, pts, frame.primary.clone(), false));
                    let n = frame.redundancy.len() as u32;
                    for (j, e) in frame.redundancy.iter().enumerate() {
                        let back = (n - 1 - j as u32) * 60;
                        if let Some(p) = pts.checked_sub(back) {
                            in_flight.push((at, p, e.clone(), true));
                        }
                    }
                }
                frames.push(frame);
            }
        }
        in_flight.sort_by_key(|f| f.0);
        let due = in_flight.iter().take_while(|f| f.0 <= now_ms).count();
        for (at, pts, data, red) in in_flight.drain(..due) {
            receiver.insert(t0 + Duration::from_millis(at), pts, &data, red);
        }
        let kind = receiver.next_chunk(t0 + Duration::from_millis(now_ms), &mut chunk);
        kinds.push(kind);
        buffered.push(receiver.stats().buffered_ms);
        output.extend_from_slice(&chunk);
    }
    Run {
        output,
        kinds,
        buffered,
        stats: receiver.stats(),
        frames,
    }
}

fn settings(bitrate: i32, level: u8, loss: i32) -> SenderSettings {
    SenderSettings {
        bitrate,
        inband_fec: true,
        expected_loss_perc: loss,
        redundancy_level: level,
        bandwidth: Bandwidth::Full,
    }
}

#[test]
fn clean_path_reproduces_speech_envelope() {
    let pcm = speech();
    let r = run(&pcm, settings(16_000, 0, 5), &mut |_| Some(0), 1000);
    for f in &r.frames {
        assert_eq!(packet_samples(&f.primary).unwrap(), FRAME_SAMPLES);
    }
    let (corr, lag) = aligned_correlation(&pcm, &r.output);
    assert!(corr > 0.9, "correlation {corr} at lag {lag}");
    assert_eq!(r.stats.frames_lost, 0);
    assert_eq!(r.stats.frames_late, 0);
    assert_eq!(r.stats.frames_decoded as usize, r.frames.len());
    // Silence first, then audio; the delay stays within target + one frame + framing.
    assert_eq!(r.kinds[0], ChunkKind::Silence);
    assert!(lag * 20 <= 60 + 40 + 2 * 60 + 60, "lag {} ms", lag * 20);
}

#[test]
fn random_loss_is_recovered_by_fec_and_redundancy() {
    let pcm = speech();
    // FEC only: at 20 kbps and 25 % expected loss libopus codes LBRR.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut net = |_| (!rng.gen_bool(0.2)).then_some(0);
    let fec = run(&pcm, settings(20_000, 0, 25), &mut net, 1000);
    assert!(fec.stats.frames_lost > 5);
    assert!(fec.stats.recovered_fec > 3, "{:?}", fec.stats);
    let (corr, _) = aligned_correlation(&pcm, &fec.output);
    assert!(corr > 0.8, "fec correlation {corr}");

    // Redundancy level 3 at 12 kbps: most lost primaries are replaced by EC copies.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut net = |_| (!rng.gen_bool(0.2)).then_some(0);
    let red = run(&pcm, settings(12_000, 3, 25), &mut net, 1000);
    assert!(red.stats.recovered_redundant > 5, "{:?}", red.stats);
    assert!(red.stats.frames_lost < fec.stats.frames_lost);
    let (corr, _) = aligned_correlation(&pcm, &red.output);
    assert!(corr > 0.8, "redundancy correlation {corr}");
}

#[test]
fn jittered_arrivals_raise_delay_and_keep_late_low() {
    let pcm = speech();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = |_| Some(rng.gen_range(0..=100));
    let r = run(&pcm, settings(16_000, 0, 5), &mut net, 1000);
    // The target covers the 95th percentile of the 0-100 ms jitter plus one frame.
    assert!(r.stats.target_delay_ms >= 140, "{:?}", r.stats);
    let frames = r.frames.len() as u64;
    assert!(r.stats.frames_late * 100 <= frames * 3, "{:?}", r.stats);
    let (corr, _) = aligned_correlation(&pcm, &r.output);
    assert!(corr > 0.85, "correlation {corr}");
}

#[test]
fn reordering_and_duplicates_are_harmless() {
    let pcm = speech();
    let t0 = Instant::now();
    let mut sender = AudioSender::new(settings(16_000, 0, 5)).unwrap();
    let frames: Vec<EncodedFrame> = pcm
        .chunks_exact(CHUNK_SAMPLES)
        .filter_map(|c| sender.push_chunk(c).unwrap())
        .collect();
    let mut rx = AudioReceiver::new(2).unwrap();
    let mut out = Vec::new();
    let mut chunk = vec![0i16; CHUNK_SAMPLES];
    for (i, _) in frames.iter().enumerate() {
        let now = t0 + Duration::from_millis(i as u64 * 60);
        // Deliver pairs swapped, each twice.
        let j = if i % 2 == 0 {
            (i + 1).min(frames.len() - 1)
        } else {
            i - 1
        };
        for k in [j, j] {
            rx.insert(now, (k * 60) as u32, &frames[k].primary, false);
        }
        for _ in 0..3 {
            rx.next_chunk(now, &mut chunk);
            out.extend_from_slice(&chunk);
        }
    }
    let st = rx.stats();
    assert_eq!(st.frames_lost, 0, "{st:?}");
    assert_eq!(st.frames_late, 0, "{st:?}");
    let (corr, _) = aligned_correlation(&pcm, &out);
    assert!(corr > 0.9, "correlation {corr}");
}

#[test]
fn outage_then_resume_resyncs_quickly() {
    let pcm = speech();
    // Frames 30..80 (1.8 s .. 4.8 s of audio, 3 s) never arrive.
    let mut net = |i: usize| (!(30..80).contains(&i)).then_some(0);
    let r = run(&pcm, settings(16_000, 0, 5), &mut net, 1000);
    // Frame 80 is sent at tick 3*80+2 = 242 and arrives 40 ms later.
    let resume_tick = 244;
    let first_audio = r.kinds[resume_tick..]
        .iter()
        .position(|k| *k == ChunkKind::Audio)
        .unwrap();
    assert!(
        first_audio * 20 <= 500,
        "resumed after {} ms",
        first_audio * 20
    );
    // During the outage the receiver stopped concealing and went silent.
    assert!(r.kinds[200..240].iter().all(|k| *k == ChunkKind::Silence));
}

#[test]
fn excess_delay_is_drained() {
    // Two passes of the sample (≈ 11 s) so the arrival window can forget the initial burst.
    let mut pcm = speech();
    pcm.extend_from_within(..);
    // The first 13 frames arrive in one burst 780 ms late, then the path is clean: the
    // receiver starts with a big backlog (within the jitter buffer's cap of the largest delay
    // plus 240 ms) and, once the burst leaves its statistics, a low target; it must shrink the
    // delay by time-scale compression.
    let mut net = |i: usize| Some(if i < 13 { 780 - i as u64 * 60 } else { 0 });
    let r = run(&pcm, settings(16_000, 0, 5), &mut net, 500);
    assert_eq!(r.stats.frames_lost, 0);
    assert!(r.stats.target_delay_ms <= 180, "{:?}", r.stats);
    let peak = r.buffered[..100].iter().max().copied().unwrap();
    let end = pcm.len() / CHUNK_SAMPLES;
    let later = r.buffered[end - 50..end].iter().max().copied().unwrap();
    assert!(peak >= 760, "peak {peak}");
    assert!(
        later <= 300,
        "buffered {later} ms at the end, peak {peak} ms"
    );
    assert!(r.stats.chunks_dropped >= 25, "{:?}", r.stats);
    // A longer burst (1.5 s) is cut to the cap from its oldest end instead of played late.
    let mut net = |i: usize| Some(if i < 25 { 1500 - i as u64 * 60 } else { 0 });
    let r = run(&pcm, settings(16_000, 0, 5), &mut net, 500);
    let peak = r.buffered[..100].iter().max().copied().unwrap();
    assert!(peak < 1000, "peak {peak}");
}

#[test]
fn controller_drives_sender_settings() {
    let limits = BitrateLimits {
        min: 8_000,
        max: 20_000,
        initial: 16_000,
        step_incr: 1_000,
        step_decr: 1_000,
        allow_redundancy: true,
    };
    let mut ctl = BitrateController::new(limits);
    let mut sender = AudioSender::new(ctl.settings()).unwrap();
    let pcm = speech();
    let mut t = Instant::now();
    let mut sizes = Vec::new();
    for (i, c) in pcm.chunks_exact(CHUNK_SAMPLES).enumerate() {
        if i % 15 == 0 {
            t += Duration::from_millis(300);
            let loss = if i < 120 { 0.0 } else { 0.1 };
            let s = ctl.update(
                t,
                &SendFeedback {
                    loss_ratio: loss,
                    rtt: None,
                    inflight_bytes: 200,
                    ..SendFeedback::default()
                },
            );
            sender.apply(s);
        }
        if let Some(f) = sender.push_chunk(c).unwrap() {
            sizes.push(f.redundancy.len());
        }
    }
    assert_eq!(sizes[..30].iter().max(), Some(&0));
    // Under 10 % loss redundancy comes on as the wire budget grows to carry it.
    assert!(sizes.last().is_some_and(|&n| n >= 2), "{sizes:?}");
    // The primary shares the wire budget with the copies: between the congestion floor and the
    // redundancy cap.
    let b = ctl.settings().bitrate;
    assert!((6_000..=12_000).contains(&b), "{b}");
}
