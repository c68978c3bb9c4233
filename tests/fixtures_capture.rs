//! Decodes every datagram of the real libtgvoip 2.4.4 call captures in `shared/fixtures` with the
//! `wire` module and checks what a 2.4.4 call must look like on the wire.
//!
//! The shared folder is found through `TGVOIP_SHARED_DIR`, else `../shared` next to the repository
//! (the CI layout), else `../../shared` (a worktree one level deeper).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use tgvoip::wire::{self, Packet, PacketCrypto, PacketFormat, Payload, RelayMessage, CODEC_OPUS};

/// Peer version both 2.4.4 peers announce.
const PEER_VERSION: i32 = 9;

/// One captured datagram, as sent to the relay (sender's own tag first).
#[derive(Deserialize)]
pub struct Datagram {
    /// Seconds since the start of the capture.
    pub t: f64,
    /// "caller" or "callee".
    pub from: String,
    /// The datagram bytes in hex.
    pub hex: String,
}

/// The fields of a capture file this test uses.
#[derive(Deserialize)]
pub struct Fixture {
    /// The 256-byte call key in hex.
    pub auth_key_hex: String,
    /// Caller's relay tag in hex.
    pub caller_peer_tag_hex: String,
    /// Callee's relay tag in hex.
    pub callee_peer_tag_hex: String,
    /// The sample file (in ../shared/samples) the caller sent as its microphone.
    pub caller_input: String,
    /// Every datagram, in capture order.
    pub datagrams: Vec<Datagram>,
}

/// Which party sent a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `is_outgoing = true`.
    Caller,
    /// `is_outgoing = false`.
    Callee,
}

/// Decodes a hex string; panics on bad input (test data only).
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The shared folder (spec, fixtures, samples).
pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("TGVOIP_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [root.join("../shared"), root.join("../../shared")];
    for c in &candidates {
        if c.join("fixtures").is_dir() {
            return c.clone();
        }
    }
    panic!("shared dir not found; set TGVOIP_SHARED_DIR (tried {candidates:?})");
}

/// Every `libtgvoip-2.4.4-call-*.json` capture, sorted by file name.
pub fn fixture_paths() -> Vec<PathBuf> {
    let dir = shared_dir().join("fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("libtgvoip-2.4.4-call-") && name.ends_with(".json")
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
    paths
}

/// Loads one capture.
pub fn load_fixture(path: &std::path::Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

impl Fixture {
    fn key(&self) -> [u8; 256] {
        unhex(&self.auth_key_hex)
            .try_into()
            .expect("key must be 256 bytes")
    }

    fn tag(&self, side: Side) -> Vec<u8> {
        unhex(match side {
            Side::Caller => &self.caller_peer_tag_hex,
            Side::Callee => &self.callee_peer_tag_hex,
        })
    }

    /// The crypto of the side that RECEIVES datagrams sent by `sender`.
    fn receiver_crypto(&self, sender: Side) -> PacketCrypto {
        PacketCrypto::new(&self.key(), sender == Side::Callee)
    }
}

/// Decrypted body of an encrypted datagram, or the special relay message it is.
pub enum Decoded<'a> {
    /// An end-to-end packet's decrypted body.
    Body(Vec<u8>),
    /// A relay special packet.
    Special(RelayMessage<'a>),
}

/// Splits and, for encrypted packets, decrypts one datagram sent by `sender`.
pub fn decode<'a>(fx: &Fixture, sender: Side, datagram: &'a [u8]) -> Result<Decoded<'a>, String> {
    let (tag, msg) = wire::relay::parse(datagram).map_err(|e| format!("relay parse: {e}"))?;
    if tag[..] != fx.tag(sender)[..] {
        return Err("datagram does not start with the sender's tag".into());
    }
    match msg {
        RelayMessage::Packet(data) => fx
            .receiver_crypto(sender)
            .decrypt(PacketFormat::Short, data)
            .map(Decoded::Body)
            .map_err(|e| format!("decrypt: {e}")),
        other => Ok(Decoded::Special(other)),
    }
}

fn side_of(d: &Datagram) -> Side {
    match d.from.as_str() {
        "caller" => Side::Caller,
        "callee" => Side::Callee,
        other => panic!("unknown sender {other:?}"),
    }
}

/// The audio frames (pts, Opus packet) `side` sent, in capture order. Redundant (EXTRA_FEC)
/// copies are not included.
pub fn audio_frames(fx: &Fixture, side: Side) -> Vec<(u32, Vec<u8>)> {
    let mut frames = Vec::new();
    for d in fx.datagrams.iter().filter(|d| side_of(d) == side) {
        let bytes = unhex(&d.hex);
        let Ok(Decoded::Body(body)) = decode(fx, side, &bytes) else {
            continue;
        };
        let Ok(pkt) = Packet::parse_short(&body) else {
            continue;
        };
        if let Ok(Payload::StreamData(fs)) =
            Payload::parse(pkt.header.ptype, pkt.payload, PEER_VERSION)
        {
            frames.extend(fs.into_iter().map(|f| (f.pts, f.data.to_vec())));
        }
    }
    frames
}

/// The caller's audio frames (pts, Opus packet) in capture order.
pub fn caller_audio_frames(fx: &Fixture) -> Vec<(u32, Vec<u8>)> {
    audio_frames(fx, Side::Caller)
}

/// Duration in tenths of a millisecond of an Opus packet, from its TOC (RFC 6716 3.1).
fn opus_duration_tenths_ms(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [100, 200, 400, 600][(config % 4) as usize],
        12..=15 => [100, 200][(config % 2) as usize],
        _ => [25, 50, 100, 200][(config % 4) as usize],
    };
    let count = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(packet.get(1)? & 0x3F),
    };
    Some(frame * count)
}

/// What one capture contained.
#[derive(Default)]
struct Summary {
    counts: BTreeMap<String, usize>,
    fec_frames: usize,
}

fn check_fixture(path: &std::path::Path) -> Summary {
    let fx = load_fixture(path);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut s = Summary::default();
    let mut failures = Vec::new();
    for (i, d) in fx.datagrams.iter().enumerate() {
        let side = side_of(d);
        let bytes = unhex(&d.hex);
        let key = match decode(&fx, side, &bytes) {
            Err(e) => {
                failures.push(format!("#{i} t={} {:?}: {e}", d.t, side));
                continue;
            }
            Ok(Decoded::Special(m)) => format!("{side:?} special:{}", special_name(&m)),
            Ok(Decoded::Body(body)) => {
                let pkt = match Packet::parse_short(&body) {
                    Ok(p) => p,
                    Err(e) => {
                        failures.push(format!("#{i} {side:?}: header: {e}"));
                        continue;
                    }
                };
                for e in &pkt.header.extras {
                    *s.counts
                        .entry(format!("{side:?} extra:{}", e.extra_type()))
                        .or_default() += 1;
                }
                match Payload::parse(pkt.header.ptype, pkt.payload, PEER_VERSION) {
                    Err(e) => {
                        failures.push(format!("#{i} {side:?} {}: {e}", pkt.header.ptype.name()));
                        continue;
                    }
                    Ok(Payload::Ignored(t)) => {
                        failures.push(format!("#{i} {side:?}: unclassified type {}", t.0));
                        continue;
                    }
                    Ok(Payload::StreamData(frames)) => {
                        for f in &frames {
                            if !f.fec.is_empty() {
                                s.fec_frames += 1;
                                for (j, r) in f.fec.iter().enumerate() {
                                    assert_eq!(
                                        opus_duration_tenths_ms(r),
                                        Some(600),
                                        "{name} #{i} fec entry {j} toc {:02x?}",
                                        &r[..r.len().min(2)]
                                    );
                                }
                            }
                        }
                    }
                    Ok(Payload::Init(init)) => {
                        assert_eq!((init.protocol_version, init.min_protocol_version), (9, 3));
                        assert_eq!(init.audio_codecs, vec![CODEC_OPUS], "{name} #{i}");
                        assert!(init.video_decoders.is_empty(), "{name} #{i}");
                    }
                    Ok(Payload::InitAck(ack)) => {
                        assert_eq!((ack.protocol_version, ack.min_protocol_version), (9, 3));
                        assert_eq!(ack.streams.len(), 1, "{name} #{i}");
                        let st = &ack.streams[0];
                        assert_eq!((st.id, st.stream_type, st.codec), (1, 1, CODEC_OPUS));
                        assert_eq!(st.frame_duration_ms, 60, "{name} #{i}");
                    }
                    Ok(_) => {}
                }
                format!("{side:?} {}", pkt.header.ptype.name())
            }
        };
        *s.counts.entry(key).or_default() += 1;
    }
    println!("{name}: {} datagrams", fx.datagrams.len());
    for (k, v) in &s.counts {
        println!("  {k:<32} {v}");
    }
    println!("  frames with EXTRA_FEC: {}", s.fec_frames);
    assert!(
        failures.is_empty(),
        "{name}: unclassified datagrams:\n{}",
        failures.join("\n")
    );

    for side in [Side::Caller, Side::Callee] {
        for t in ["init", "init_ack"] {
            let n = s.counts.get(&format!("{side:?} {t}")).copied().unwrap_or(0);
            assert!(n > 0, "{name}: no {t} from {side:?}");
        }
        let frames = audio_frames(&fx, side);
        assert!(
            frames.len() > 10,
            "{name}: only {} audio frames from {side:?}",
            frames.len()
        );
        for w in frames.windows(2) {
            assert_eq!(w[1].0.wrapping_sub(w[0].0), 60, "{name} {side:?}: pts step");
        }
        // Mostly code-3 packets of three 20 ms frames (TOC 7B 83); at low bitrates the encoder
        // also emits single 60 ms SILK frames (code 0), so only the total duration is checked.
        let mut tocs: BTreeMap<String, usize> = BTreeMap::new();
        for (pts, data) in &frames {
            assert_eq!(
                opus_duration_tenths_ms(data),
                Some(600),
                "{name} {side:?} pts {pts}"
            );
            let toc = data.iter().take(if data[0] & 3 == 3 { 2 } else { 1 });
            let toc: String = toc.map(|b| format!("{b:02x}")).collect();
            *tocs.entry(toc).or_default() += 1;
        }
        println!("  {side:?} opus TOCs: {tocs:?}");
    }
    s
}

fn special_name(m: &RelayMessage<'_>) -> &'static str {
    match m {
        RelayMessage::Packet(_) => "packet",
        RelayMessage::SelfInfoRequest { .. } => "self_info_request",
        RelayMessage::SelfInfoResponse { .. } => "self_info_response",
        RelayMessage::PeerInfoRequest => "peer_info_request",
        RelayMessage::PeerInfoResponse { .. } => "peer_info_response",
        RelayMessage::UnknownSpecial { .. } => "unknown_special",
    }
}

#[test]
fn every_captured_datagram_decodes() {
    let mut fec_by_fixture = BTreeMap::new();
    for path in fixture_paths() {
        let s = check_fixture(&path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        fec_by_fixture.insert(name, s.fec_frames);
    }
    let loss20: Vec<_> = fec_by_fixture
        .iter()
        .filter(|(n, _)| n.contains("loss20"))
        .collect();
    assert_eq!(loss20.len(), 1, "the loss20 capture is missing");
    assert!(
        *loss20[0].1 > 0,
        "no EXTRA_FEC frames in the loss20 capture"
    );
}

#[test]
fn caller_frames_helper_returns_audio() {
    let path = fixture_paths()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("wifi"))
        .unwrap();
    let fx = load_fixture(&path);
    let frames = caller_audio_frames(&fx);
    assert!(frames.len() > 10);
    assert!(frames.iter().all(|(_, d)| !d.is_empty() && d.len() <= 1024));
}

/// RMS of each 60 ms block.
fn envelope(pcm: &[i16]) -> Vec<f64> {
    pcm.chunks(2880)
        .map(|c| (c.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect()
}

/// Pearson correlation of two equally long series.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va.sqrt() * vb.sqrt()).max(1e-9)
}

/// Decodes the caller's frames in pts order (concealing gaps) and checks that the energy envelope
/// follows the sample the caller sent, at the best alignment.
#[test]
fn caller_audio_follows_the_caller_sample() {
    use tgvoip::media::opus::Decoder;
    for path in fixture_paths() {
        let fx = load_fixture(&path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut frames = caller_audio_frames(&fx);
        frames.sort_by_key(|f| f.0);
        frames.dedup_by_key(|f| f.0);
        let mut dec = Decoder::new().unwrap();
        let mut pcm = Vec::new();
        let mut buf = vec![0i16; 2880];
        let mut next_pts = frames[0].0;
        for (pts, data) in &frames {
            while next_pts < *pts {
                let n = dec.decode(None, &mut buf, false).unwrap();
                pcm.extend_from_slice(&buf[..n]);
                next_pts += 60;
            }
            let n = dec.decode(Some(data), &mut buf, false).unwrap();
            assert_eq!(n, 2880, "{name}: frame at pts {pts} is not 60 ms");
            pcm.extend_from_slice(&buf[..n]);
            next_pts = pts + 60;
        }
        let bytes = std::fs::read(shared_dir().join("samples").join(&fx.caller_input)).unwrap();
        let input: Vec<i16> = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let (got, sent) = (envelope(&pcm), envelope(&input));
        let len = got.len().min(sent.len()) - 5;
        let (best_offset, best) = (0..sent.len() - len)
            .map(|off| (off, correlation(&got[..len], &sent[off..off + len])))
            .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
        println!(
            "{name}: {} frames, envelope correlation {best:.3} at offset {} ms",
            frames.len(),
            best_offset * 60
        );
        let min = if name.contains("loss20") { 0.6 } else { 0.85 };
        assert!(
            best >= min,
            "{name}: decoded audio does not follow the caller's sample ({best:.3})"
        );
    }
}

/// wire.md 4.6: a 2.4.4 writer sets bit 31-k of the ack mask for seq ack_id-k, so bit 31 (ack_id
/// itself) is always set. In the 20 %-loss capture, a writer using the other convention (bit 31 =
/// ack_id-1) would clear bit 31 about a fifth of the time.
#[test]
fn captured_ack_masks_use_the_2_4_4_writer_convention() {
    let path = fixture_paths()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("loss20"))
        .unwrap();
    let fx = load_fixture(&path);
    let (mut masks, mut top_set, mut holes) = (0, 0, 0);
    for d in &fx.datagrams {
        let side = side_of(d);
        let bytes = unhex(&d.hex);
        if let Ok(Decoded::Body(body)) = decode(&fx, side, &bytes) {
            let h = Packet::parse_short(&body).unwrap().header;
            if h.ack_id > 40 {
                masks += 1;
                top_set += usize::from(h.ack_mask & 0x8000_0000 != 0);
                holes += (h.ack_mask << 1).count_zeros() as usize - 1;
            }
        }
    }
    println!("ack masks: {masks}, bit 31 set in {top_set}, clear bits below it: {holes}");
    assert!(masks > 100);
    assert_eq!(top_set, masks, "a 2.4.4 writer always sets bit 31");
    assert!(holes > masks, "the capture shows loss in the masks");
}
