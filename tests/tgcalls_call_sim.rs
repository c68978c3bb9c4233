//! Two of our tgcalls 9.0.0 call sides (signaling + ICE/DTLS-SRTP/RTP/SCTP through str0m) in
//! simulated time, without sockets: they connect, exchange Opus over RTP in both directions
//! and the mute flag over the data channel, with and without packet loss.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tgvoip::media::{AudioSender, SenderSettings};
use tgvoip::session::tgcalls::{CallEvent, TgcallsCall};
use tgvoip::CallState;

struct Side {
    call: TgcallsCall,
    addr: SocketAddr,
    states: Vec<CallState>,
    frames: Vec<(u32, Vec<u8>)>,
    remote_muted: Vec<bool>,
    /// Datagrams sent anywhere but the STUN/TURN server.
    direct_sent: u64,
    logs: Vec<String>,
}

impl Side {
    fn new(key: &[u8; 256], caller: bool, addr: &str, now: Instant) -> Side {
        Side::with_p2p(key, caller, addr, now, true)
    }

    fn with_p2p(key: &[u8; 256], caller: bool, addr: &str, now: Instant, p2p: bool) -> Side {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut call = TgcallsCall::new(key, caller, now);
        call.set_p2p_allowed(p2p);
        assert!(call.add_host_candidate(addr));
        Side {
            call,
            addr,
            states: Vec::new(),
            frames: Vec::new(),
            remote_muted: Vec::new(),
            direct_sent: 0,
            logs: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(ev) = self.call.poll_event() {
            match ev {
                CallEvent::State(s) => self.states.push(s),
                CallEvent::AudioFrame { pts_ms, data } => self.frames.push((pts_ms, data)),
                CallEvent::RemoteMediaState(m) => self.remote_muted.push(m.muted),
                CallEvent::Log(l) => self.logs.push(l),
            }
        }
    }
}

/// A tiny deterministic network: per-direction queue with fixed delay and seeded loss.
struct Net {
    queue: VecDeque<(Instant, bool, SocketAddr, SocketAddr, Vec<u8>)>,
    signaling: VecDeque<(Instant, bool, Vec<u8>)>,
    loss: f64,
    rng: u64,
    delay: Duration,
}

impl Net {
    fn lost(&mut self) -> bool {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 10_000) as f64 / 10_000.0 < self.loss
    }
}

fn opus_frames(n: usize) -> Vec<Vec<u8>> {
    let mut enc = AudioSender::new(SenderSettings {
        bitrate: 24000,
        inband_fec: true,
        expected_loss_perc: 5,
        redundancy_level: 0,
        bandwidth: tgvoip::media::opus::Bandwidth::Full,
    })
    .unwrap();
    let mut out = Vec::new();
    let mut t = 0f64;
    while out.len() < n {
        let chunk: Vec<i16> = (0..960)
            .map(|_| {
                t += 1.0;
                ((t * 2.0 * std::f64::consts::PI * 440.0 / 48000.0).sin() * 8000.0) as i16
            })
            .collect();
        if let Some(f) = enc.push_chunk(&chunk).unwrap() {
            out.push(f.primary.clone());
        }
    }
    out
}

/// Runs both sides for `secs` of simulated time, sending one frame every 60 ms from each once
/// it can, and muting the caller at `mute_at`. Returns (caller, callee).
fn run(loss: f64, seed: u64, secs: u64, mute_at: Option<Duration>) -> (Side, Side) {
    run_net(loss, seed, secs, mute_at, Topology::Direct)
}

/// The STUN server of the NAT scenario.
const STUN: &str = "198.51.100.100:3478";

/// The TURN server of the relay-only scenario, its credentials, and the relayed addresses it
/// hands out (caller, callee).
const TURN: &str = "198.51.100.200:3478";
const TURN_USER: &str = "sim-user";
const TURN_PASS: &str = "sim-pass";

/// How the two sides can reach each other.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Topology {
    /// Host to host.
    Direct,
    /// Each side behind its own full-cone NAT (10.0.0.1:4000 is 198.51.100.1:6000, 10.1.0.2:5000
    /// is 198.51.100.2:7000): host addresses are unreachable from the other side, so only the
    /// server-reflexive candidates learned from the STUN server (when `stun`) can connect.
    Nat { stun: bool },
    /// Nothing but the TURN server is reachable: only relayed candidates connect.
    RelayOnly,
    /// Nothing but a Telegram reflector is reachable (`phoneConnection`, spec 3.7 framing).
    ReflectorOnly,
}

/// The reflector of the reflector-only scenario and the two sides' peer tags (same first 12
/// bytes: the call; the rest differs per side, as Telegram hands them out).
const REFLECTOR: &str = "198.51.100.250:443";
const TAG_A: [u8; 16] = [
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0, 0, 0, 1,
];
const TAG_B: [u8; 16] = [
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0, 0, 0, 2,
];

/// A minimal reflector: a hello registers its 16-byte tag and is echoed (the service reply);
/// any other datagram goes unchanged to whoever registered its first 16 bytes.
#[derive(Default)]
struct SimReflector {
    registered: Vec<([u8; 16], usize)>,
    forwarded: u64,
}

impl SimReflector {
    fn handle(&mut self, me: usize, data: &[u8]) -> Vec<(usize, Vec<u8>)> {
        use tgvoip::wire::tgcalls::reflector;
        if let Some(tag) = reflector::parse_hello(data) {
            if !self.registered.iter().any(|r| r.0 == tag) {
                self.registered.push((tag, me));
            }
            return vec![(me, data.to_vec())];
        }
        let Some(dest) = data.get(..16) else {
            return Vec::new();
        };
        match self.registered.iter().find(|r| r.0 == dest) {
            Some(&(_, to)) => {
                self.forwarded += 1;
                vec![(to, data.to_vec())]
            }
            None => Vec::new(),
        }
    }
}

/// A minimal TURN server: long-term auth (401 then MESSAGE-INTEGRITY checked), one allocation
/// per side, permissions, Send indications relayed as Data indications between allocations.
struct SimTurn {
    key: [u8; 16],
    relayed: [SocketAddr; 2],
    allocated: [bool; 2],
    perms: [Vec<std::net::IpAddr>; 2],
    refused_integrity: u32,
}

impl SimTurn {
    fn new() -> SimTurn {
        SimTurn {
            key: tgvoip::wire::turn::Credentials::new(TURN_USER, TURN_PASS, "sim", "n1").key,
            relayed: [
                "198.51.100.200:50000".parse().unwrap(),
                "198.51.100.200:50001".parse().unwrap(),
            ],
            allocated: [false; 2],
            perms: [Vec::new(), Vec::new()],
            refused_integrity: 0,
        }
    }

    /// A message from side `me`; returns (to side, data) replies or relayed datagrams.
    fn handle(&mut self, me: usize, raw: &[u8]) -> Vec<(usize, Vec<u8>)> {
        use tgvoip::wire::turn::*;
        let Some(m) = parse(raw) else {
            return Vec::new();
        };
        let other = 1 - me;
        if m.kind == SEND_INDICATION {
            let (Some(peer), Some(data)) = (m.peer, m.data) else {
                return Vec::new();
            };
            if self.allocated[me]
                && peer == self.relayed[other]
                && self.perms[me].contains(&peer.ip())
                && self.perms[other].contains(&self.relayed[me].ip())
            {
                let ind = data_indication(&rand_txid(), self.relayed[me], &data);
                return vec![(other, ind)];
            }
            return Vec::new();
        }
        if m.username.is_none() {
            return vec![(me, error(m.method(), &m.txid, 401, "sim", "n1"))];
        }
        if !m.verify(raw, &self.key) {
            self.refused_integrity += 1;
            return vec![(me, error(m.method(), &m.txid, 401, "sim", "n1"))];
        }
        let reply = match m.method() {
            ALLOCATE => {
                self.allocated[me] = true;
                success(ALLOCATE, &m.txid, Some(self.relayed[me]), None, Some(600))
            }
            CREATE_PERMISSION => {
                if let Some(p) = m.peer {
                    self.perms[me].push(p.ip());
                }
                success(CREATE_PERMISSION, &m.txid, None, None, None)
            }
            REFRESH => success(REFRESH, &m.txid, None, None, Some(600)),
            _ => return Vec::new(),
        };
        vec![(me, reply)]
    }
}

fn rand_txid() -> [u8; 12] {
    std::array::from_fn(|i| (i * 31 + 7) as u8)
}

fn run_net(
    loss: f64,
    seed: u64,
    secs: u64,
    mute_at: Option<Duration>,
    topo: Topology,
) -> (Side, Side) {
    let key = [7u8; 256];
    let t0 = Instant::now();
    let mut a = Side::new(&key, true, "10.0.0.1:4000", t0);
    // In the relay-only topology the callee has p2p_allowed = false: it offers its relay only.
    let p2p = !matches!(topo, Topology::RelayOnly | Topology::ReflectorOnly);
    let mut b = Side::with_p2p(&key, false, "10.1.0.2:5000", t0, p2p);
    let public: [SocketAddr; 2] = [
        "198.51.100.1:6000".parse().unwrap(),
        "198.51.100.2:7000".parse().unwrap(),
    ];
    let stun: SocketAddr = STUN.parse().unwrap();
    let turn: SocketAddr = TURN.parse().unwrap();
    let nat = topo != Topology::Direct;
    if topo == (Topology::Nat { stun: true }) {
        a.call.add_stun_server(stun);
        b.call.add_stun_server(stun);
    }
    let mut turn_server = SimTurn::new();
    let refl: SocketAddr = REFLECTOR.parse().unwrap();
    let mut reflector_server = SimReflector::default();
    if topo == Topology::ReflectorOnly {
        assert!(a.call.add_reflector(1, refl, TAG_A));
        assert!(b.call.add_reflector(1, refl, TAG_B));
    }
    if topo == Topology::RelayOnly {
        a.call.add_turn_server(turn, TURN_USER, TURN_PASS);
        b.call.add_turn_server(turn, TURN_USER, TURN_PASS);
    }
    let mut net = Net {
        queue: VecDeque::new(),
        signaling: VecDeque::new(),
        loss,
        rng: seed | 1,
        delay: Duration::from_millis(20),
    };
    a.call.start(t0);
    // The callee starts a little later; its early signaling is kept.
    let b_start = t0 + Duration::from_millis(300);
    let frames = opus_frames(4);
    let mut next_frame = t0;
    let mut now = t0;
    let end = t0 + Duration::from_secs(secs);
    let mut muted = false;
    while now < end {
        if now >= b_start {
            b.call.start(b_start);
        }
        // Deliver due datagrams and signaling.
        while let Some(pos) = net.queue.iter().position(|q| q.0 <= now) {
            let (_, to_b, from, to, data) = net.queue.remove(pos).unwrap();
            let side = if to_b { &mut b } else { &mut a };
            if side.addr == to {
                side.call.handle_datagram(now, from, to, &data);
            }
        }
        while let Some(pos) = net.signaling.iter().position(|q| q.0 <= now) {
            let (_, to_b, data) = net.signaling.remove(pos).unwrap();
            let side = if to_b { &mut b } else { &mut a };
            side.call.handle_signaling(now, &data);
        }
        if let Some(m) = mute_at {
            if !muted && now >= t0 + m {
                muted = true;
                a.call.set_muted(now, true);
            }
        }
        if now >= next_frame {
            for (i, s) in [&mut a, &mut b].into_iter().enumerate() {
                if s.call.can_send_audio() {
                    s.call.send_audio(now, &frames[i % frames.len()]);
                }
            }
            next_frame = now + Duration::from_millis(60);
        }
        let addrs = [a.addr, b.addr];
        for (to_b, s) in [(true, &mut a), (false, &mut b)] {
            s.call.handle_timeout(now);
            let (me, other) = if to_b { (0, 1) } else { (1, 0) };
            while let Some(t) = s.call.poll_transmit() {
                assert_eq!(t.source, s.addr);
                if t.destination != stun && t.destination != turn && t.destination != refl {
                    s.direct_sent += 1;
                }
                if net.lost() {
                    continue;
                }
                if topo == Topology::ReflectorOnly {
                    if t.destination == refl {
                        for (to, data) in reflector_server.handle(me, &t.data) {
                            net.queue
                                .push_back((now + net.delay, to == 1, refl, addrs[to], data));
                        }
                    }
                } else if topo == Topology::RelayOnly {
                    if t.destination == turn {
                        for (to, data) in turn_server.handle(me, &t.data) {
                            net.queue
                                .push_back((now + net.delay, to == 1, turn, addrs[to], data));
                        }
                    }
                } else if nat && t.destination == stun {
                    let txid = tgvoip::wire::stun::parse_binding_request(&t.data).unwrap();
                    let resp = tgvoip::wire::stun::binding_response(&txid, public[me]);
                    net.queue
                        .push_back((now + net.delay, !to_b, stun, t.source, resp));
                } else if nat {
                    // Through both NATs: only the other side's public address reaches it.
                    if t.destination == public[other] {
                        net.queue.push_back((
                            now + net.delay,
                            to_b,
                            public[me],
                            addrs[other],
                            t.data,
                        ));
                    }
                } else {
                    net.queue
                        .push_back((now + net.delay, to_b, t.source, t.destination, t.data));
                }
            }
            while let Some(d) = s.call.poll_signaling(now) {
                net.signaling
                    .push_back((now + Duration::from_millis(50), to_b, d));
            }
            s.drain();
        }
        now += Duration::from_millis(5);
    }
    (a, b)
}

#[test]
fn two_sides_connect_and_exchange_audio() {
    let (a, b) = run(0.0, 1, 6, Some(Duration::from_secs(4)));
    for s in [&a, &b] {
        assert_eq!(
            s.states.first(),
            Some(&CallState::WaitInitAck),
            "{:?}",
            s.states
        );
        assert!(s.states.contains(&CallState::Established), "{:?}", s.states);
        assert!(!s.states.contains(&CallState::Failed));
        assert!(s.call.data_channel_open());
        assert!(!s.call.stats().via_relay);
        let (local, _) = s.call.stats().selected_pair.expect("a selected pair");
        assert_eq!(local, s.addr);
        assert!(s.call.stats().rtt.is_some());
        let ct = s.call.stats().connect_time.expect("connected");
        assert!(ct < Duration::from_secs(2), "connect took {ct:?}");
    }
    // Audio both ways, in order, on the 60 ms grid, with the caller's stopping at the mute.
    for (s, min) in [(&a, 50), (&b, 40)] {
        assert!(s.frames.len() >= min, "{} frames", s.frames.len());
        for w in s.frames.windows(2) {
            assert_eq!(w[1].0.wrapping_sub(w[0].0), 60, "pts step");
        }
    }
    let b_frames_before = b.frames.len();
    assert!(
        b_frames_before < a.frames.len(),
        "the muted caller kept sending"
    );
    // The callee saw the caller's MediaState: unmuted on open, then muted.
    assert_eq!(b.remote_muted.first(), Some(&false));
    assert_eq!(b.remote_muted.last(), Some(&true));
    assert_eq!(a.remote_muted.last(), Some(&false));
}

#[test]
fn connects_and_carries_audio_with_loss() {
    for seed in 1..=5 {
        let (a, b) = run(0.15, seed, 8, None);
        for s in [&a, &b] {
            assert!(
                s.states.contains(&CallState::Established),
                "seed {seed}: {:?}",
                s.states
            );
            // 15 % loss: most of ~100 frames arrive.
            assert!(
                s.frames.len() > 60,
                "seed {seed}: {} frames",
                s.frames.len()
            );
        }
    }
}

#[test]
fn garbage_datagrams_are_counted_not_fatal() {
    let key = [1u8; 256];
    let now = Instant::now();
    let mut c = TgcallsCall::new(&key, true, now);
    c.add_host_candidate("10.0.0.1:1".parse().unwrap());
    c.start(now);
    let from: SocketAddr = "10.0.0.9:9".parse().unwrap();
    let to: SocketAddr = "10.0.0.1:1".parse().unwrap();
    let mut seed = 5u64;
    for i in 0..2000usize {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (seed >> 33) as usize % 300;
        let mut d: Vec<u8> = (0..len).map(|j| (seed >> (j % 56)) as u8).collect();
        if let Some(b) = d.first_mut() {
            // Walk the demultiplexing ranges: STUN (0-3), DTLS (20-63), RTP/RTCP (128-191).
            *b = [0u8, 1, 22, 23, 128, 144, 200, 255][i % 8];
        }
        c.handle_datagram(now, from, to, &d);
        c.handle_timeout(now);
    }
    assert!(c.stats().datagrams_rejected > 0);
    assert_ne!(c.state(), CallState::Established);
}

#[test]
fn fails_after_connect_timeout_without_peer() {
    let key = [2u8; 256];
    let t0 = Instant::now();
    let mut c = TgcallsCall::new(&key, false, t0);
    c.add_host_candidate("10.0.0.1:1".parse().unwrap());
    c.start(t0);
    let mut now = t0;
    let mut failed_at = None;
    while now < t0 + Duration::from_secs(25) {
        c.handle_timeout(now);
        while c.poll_transmit().is_some() {}
        while let Some(ev) = c.poll_event() {
            if ev == CallEvent::State(CallState::Failed) {
                failed_at.get_or_insert(now);
            }
        }
        now += Duration::from_millis(100);
    }
    let at = failed_at.expect("failed").duration_since(t0);
    assert!(
        at >= Duration::from_secs(20) && at < Duration::from_secs(21),
        "{at:?}"
    );
}

#[test]
fn connects_through_nat_with_stun_reflexive_candidates() {
    let (a, b) = run_net(0.0, 3, 6, None, Topology::Nat { stun: true });
    for s in [&a, &b] {
        assert!(s.states.contains(&CallState::Established), "{:?}", s.states);
        let st = s.call.stats();
        assert_eq!(st.stun_responses, 1);
        assert_eq!(st.reflexive_candidates, 1);
        assert!(s.frames.len() > 40, "{} frames", s.frames.len());
    }
    // Without STUN the same network cannot connect: host candidates are unreachable.
    let (a, b) = run_net(0.0, 3, 4, None, Topology::Nat { stun: false });
    for s in [&a, &b] {
        assert!(
            !s.states.contains(&CallState::Established),
            "{:?}",
            s.states
        );
        assert_eq!(s.call.stats().reflexive_candidates, 0);
    }
}

#[test]
fn connects_through_turn_when_only_the_relay_is_reachable() {
    let (a, b) = run_net(
        0.05,
        11,
        8,
        Some(Duration::from_secs(6)),
        Topology::RelayOnly,
    );
    for s in [&a, &b] {
        assert!(s.states.contains(&CallState::Established), "{:?}", s.states);
        assert_eq!(s.call.stats().relayed_candidates, 1);
        assert!(s.call.stats().via_relay, "{:?}", s.call.stats());
        // 5 % loss on every leg (twice through the relay): most frames still arrive.
        assert!(s.frames.len() > 40, "{} frames", s.frames.len());
    }
    // MediaState crossed the relay too.
    assert_eq!(b.remote_muted.last(), Some(&true));
    // The callee (P2P not allowed) never tried a direct path; the caller did (its host
    // candidate, against the callee's relay, through nothing).
    assert_eq!(b.direct_sent, 0);
    assert!(a.direct_sent > 0);
    // Closing releases the allocation: a Refresh with lifetime 0 to the TURN server.
    let mut a = a;
    a.call.close(Instant::now());
    let mut released = false;
    while let Some(t) = a.call.poll_transmit() {
        if t.destination == TURN.parse::<SocketAddr>().unwrap() {
            let m = tgvoip::wire::turn::parse(&t.data).unwrap();
            released |= m.method() == tgvoip::wire::turn::REFRESH && m.lifetime == Some(0);
        }
    }
    assert!(released);
}

#[test]
fn connects_through_a_telegram_reflector() {
    let (a, b) = run_net(
        0.05,
        5,
        8,
        Some(Duration::from_secs(6)),
        Topology::ReflectorOnly,
    );
    for s in [&a, &b] {
        assert!(s.states.contains(&CallState::Established), "{:?}", s.states);
        assert_eq!(s.call.stats().reflector_candidates, 1);
        assert!(s.call.stats().via_relay, "{:?}", s.call.stats());
        assert!(s.frames.len() > 40, "{} frames", s.frames.len());
    }
    assert_eq!(b.remote_muted.last(), Some(&true));
    assert_eq!(b.direct_sent, 0);
    // The candidate went out in tgcalls's hostname form, never as the synthetic address.
    for s in [&a, &b] {
        let cand: Vec<&String> = s.logs.iter().filter(|l| l.contains("typ relay")).collect();
        assert_eq!(cand.len(), 1, "{cand:?}");
        assert!(cand[0].contains(".reflector 443 typ relay"), "{}", cand[0]);
        assert!(cand[0].contains("reflector-1-"), "{}", cand[0]);
        assert!(!cand[0].contains("240."), "{}", cand[0]);
    }
}
