//! Two tgcalls V2 signaling state machines (`tgvoip::session::tgcalls`) talking through a
//! simulated app/server pipe with loss, duplication, reordering and delay, in simulated time.
//! Every message must be delivered exactly once and in order, every negotiation must complete,
//! and every message must end up acknowledged.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tgvoip::session::tgcalls::{LocalParams, SignalingEvent, SignalingSession, SUPPORTED_VERSIONS};
use tgvoip::wire::tgcalls::Candidate;

#[derive(Clone, Copy, Debug)]
struct Impair {
    loss: f64,
    dup: f64,
    base_ms: u64,
    jitter_ms: u64,
}

struct Link {
    inflight: Vec<(Instant, Vec<u8>)>,
}

impl Link {
    fn send(&mut self, rng: &mut ChaCha8Rng, im: Impair, now: Instant, data: Vec<u8>) {
        let copies = if rng.gen_bool(im.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if rng.gen_bool(im.loss) {
                continue;
            }
            let d = im.base_ms + rng.gen_range(0..=im.jitter_ms);
            self.inflight
                .push((now + Duration::from_millis(d), data.clone()));
        }
    }

    fn due(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.inflight.len() {
            if self.inflight[i].0 <= now {
                out.push(self.inflight.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
        out
    }
}

fn key(seed: u64) -> [u8; 256] {
    let mut k = [0u8; 256];
    ChaCha8Rng::seed_from_u64(seed ^ 0x5eed).fill(&mut k[..]);
    k
}

fn local(tag: &str, ssrc: u32) -> LocalParams {
    LocalParams {
        ufrag: format!("u{tag}"),
        pwd: format!("pwd-{tag}-0123456789abcdef"),
        fingerprint: "AB:CD:EF".into(),
        audio_ssrc: ssrc,
    }
}

fn cand(tag: &str, i: usize) -> Candidate {
    Candidate {
        sdp_string: format!(
            "candidate:{i} 1 udp 2122194688 192.0.2.{} {} typ host generation 0 ufrag u{tag}",
            i + 1,
            40000 + i
        ),
        sdp_mid: None,
        sdp_m_line_index: None,
    }
}

#[derive(Default, Debug)]
struct Seen {
    setups: usize,
    candidates: Vec<String>,
    incoming: Vec<u32>,
    outgoing: Vec<u32>,
    ignored: Vec<String>,
    candidates_before_setup: bool,
}

fn drain(s: &mut SignalingSession, seen: &mut Seen) {
    while let Some(ev) = s.poll_event() {
        match ev {
            SignalingEvent::RemoteSetup(_) => seen.setups += 1,
            SignalingEvent::RemoteCandidates(c) => {
                if seen.setups == 0 {
                    seen.candidates_before_setup = true;
                }
                seen.candidates.extend(c.into_iter().map(|c| c.sdp_string));
            }
            SignalingEvent::IncomingAudio(c) => seen.incoming.push(c.ssrc),
            SignalingEvent::OutgoingAudio(c) => seen.outgoing.push(c.ssrc),
            SignalingEvent::RemoteMediaState(_) => {}
            SignalingEvent::Ignored(e) => seen.ignored.push(e),
        }
    }
}

/// Runs one call; returns (caller seen, callee seen, both sessions).
fn run(seed: u64, im: Impair, callee_start_delay: Duration) -> (Seen, Seen, [SignalingSession; 2]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = key(seed);
    let t0 = Instant::now();
    let mut a = SignalingSession::new(&k, true, local("a", 1111));
    let mut b = SignalingSession::new(&k, false, local("b", 2222));
    // Candidates gathered before start are queued; more arrive later.
    for i in 0..3 {
        a.add_local_candidate(cand("a", i));
        b.add_local_candidate(cand("b", i));
    }
    a.start(t0);
    let mut ab = Link { inflight: vec![] };
    let mut ba = Link { inflight: vec![] };
    let (mut sa, mut sb) = (Seen::default(), Seen::default());
    let step = Duration::from_millis(10);
    let mut now = t0;
    let end = t0 + Duration::from_secs(120);
    while now < end {
        if !b.is_started() && now >= t0 + callee_start_delay {
            b.start(now);
        }
        if now == t0 + Duration::from_millis(700) {
            for i in 3..5 {
                a.add_local_candidate(cand("a", i));
                b.add_local_candidate(cand("b", i));
            }
        }
        for d in ab.due(now) {
            b.handle_input(now, &d);
        }
        for d in ba.due(now) {
            a.handle_input(now, &d);
        }
        for s in [&mut a, &mut b] {
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
        }
        while let Some(p) = a.poll_transmit(now) {
            assert!(p.len() <= 16 * 1024);
            ab.send(&mut rng, im, now, p);
        }
        while let Some(p) = b.poll_transmit(now) {
            ba.send(&mut rng, im, now, p);
        }
        drain(&mut a, &mut sa);
        drain(&mut b, &mut sb);
        let done = b.is_started()
            && a.unacked() == 0
            && b.unacked() == 0
            && a.offer_accepted()
            && b.offer_accepted()
            && sa.candidates.len() == 5
            && sb.candidates.len() == 5
            && ab.inflight.is_empty()
            && ba.inflight.is_empty();
        if done {
            break;
        }
        now += step;
    }
    (sa, sb, [a, b])
}

fn check(seed: u64, im: Impair, delay: Duration) {
    let (sa, sb, [a, b]) = run(seed, im, delay);
    let ctx = format!("seed {seed} {im:?} delay {delay:?}: caller {sa:?} callee {sb:?}");
    let want_a: Vec<String> = (0..5).map(|i| cand("b", i).sdp_string).collect();
    let want_b: Vec<String> = (0..5).map(|i| cand("a", i).sdp_string).collect();
    assert_eq!(sa.candidates, want_a, "{ctx}");
    assert_eq!(sb.candidates, want_b, "{ctx}");
    assert_eq!((sa.setups, sb.setups), (1, 1), "{ctx}");
    assert!(
        !sa.candidates_before_setup && !sb.candidates_before_setup,
        "{ctx}"
    );
    // Each side received the other's audio and got its own accepted, exactly once.
    assert_eq!(sa.incoming, vec![2222], "{ctx}");
    assert_eq!(sb.incoming, vec![1111], "{ctx}");
    assert_eq!(sa.outgoing, vec![1111], "{ctx}");
    assert_eq!(sb.outgoing, vec![2222], "{ctx}");
    assert!(sa.ignored.is_empty() && sb.ignored.is_empty(), "{ctx}");
    assert_eq!((a.unacked(), b.unacked()), (0, 0), "{ctx}");
    assert_eq!(a.stats().late + b.stats().late, 0, "{ctx}");
    assert_eq!(a.stats().drop_decrypt + b.stats().drop_decrypt, 0, "{ctx}");
    assert_eq!(b.early_dropped(), 0, "{ctx}");
}

#[test]
fn clean_pipe() {
    let im = Impair {
        loss: 0.0,
        dup: 0.0,
        base_ms: 30,
        jitter_ms: 0,
    };
    check(1, im, Duration::ZERO);
    let (_, _, [a, b]) = run(1, im, Duration::ZERO);
    // No resends on a clean pipe.
    assert_eq!(a.stats().resends + b.stats().resends, 0);
}

#[test]
fn loss_duplication_reordering() {
    let mut resends = 0;
    for seed in 0..40 {
        let im = Impair {
            loss: [0.1, 0.3, 0.5][seed as usize % 3],
            dup: 0.2,
            base_ms: 20,
            jitter_ms: 400,
        };
        check(seed, im, Duration::ZERO);
        let (_, _, [a, b]) = run(seed, im, Duration::ZERO);
        resends += a.stats().resends + b.stats().resends + a.stats().drop_replay;
    }
    // The impairment really exercised resends and duplicate drops.
    assert!(resends > 40, "{resends}");
}

#[test]
fn signaling_before_start_is_kept() {
    for seed in 100..110 {
        let im = Impair {
            loss: 0.2,
            dup: 0.1,
            base_ms: 10,
            jitter_ms: 100,
        };
        // The callee starts 2 s after the caller: the caller's first packets reach it before.
        check(seed, im, Duration::from_secs(2));
    }
}

#[test]
fn replayed_packets_are_dropped() {
    let k = key(7);
    let t = Instant::now();
    let mut a = SignalingSession::new(&k, true, local("a", 1));
    let mut b = SignalingSession::new(&k, false, local("b", 2));
    a.start(t);
    b.start(t);
    let p = a.poll_transmit(t).expect("InitialSetup");
    b.handle_input(t, &p);
    b.handle_input(t, &p);
    assert_eq!(b.stats().drop_replay, 1);
    assert!(matches!(
        b.poll_event(),
        Some(SignalingEvent::RemoteSetup(_))
    ));
    assert!(b.poll_event().is_none());
    // Garbage and a packet in the wrong direction are dropped, never delivered.
    b.handle_input(t, &[0u8; 40]);
    let own = b.poll_transmit(t).expect("callee InitialSetup + ack");
    b.handle_input(t, &own);
    assert_eq!(b.stats().drop_decrypt, 2);
    assert!(b.poll_event().is_none());
}

#[test]
fn supported_versions_in_preference_order() {
    use tgvoip::session::tgcalls::Protocol;
    assert_eq!(SUPPORTED_VERSIONS, &["9.0.0", "8.0.0", "2.4.4"]);
    assert_eq!(
        Protocol::choose(&["13.0.0", "9.0.0", "2.4.4"]),
        Some(("9.0.0", Protocol::TgcallsV2))
    );
    assert_eq!(
        Protocol::choose(&["2.4.4"]),
        Some(("2.4.4", Protocol::Legacy))
    );
    assert_eq!(Protocol::choose(&["12.0.0"]), None);
}
