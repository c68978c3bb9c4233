//! The session state machine in simulated time over a simulated network: two sessions, relays
//! that pair tags like Telegram's reflectors, per-datagram loss and delay. No sockets, no sleeping.

mod sim_queue;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim_queue::InFlight;
use tgvoip::api::{CallError, CallState, Endpoint, EndpointType};
use tgvoip::session::{Event, Session, SessionConfig, SessionTunables};
use tgvoip::wire::{self, Header, Packet, PacketCrypto, PacketFormat, PacketType, Payload};

const A_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 1000);
const B_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 2000);

/// One simulated relay.
struct SimRelay {
    addr: SocketAddr,
    /// One-way delay through this relay.
    delay: Duration,
    /// Last address seen per side (bit 0 of byte 15).
    sides: [Option<SocketAddr>; 2],
}

/// The network between the two sessions.
struct SimNet {
    relays: Vec<SimRelay>,
    queue: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    rng: ChaCha8Rng,
    /// Loss probability for every hop.
    loss: f64,
    /// While false, everything is dropped (an outage).
    up: bool,
    delivered: u64,
}

impl SimNet {
    fn new(relay_delays: &[u64], loss: f64, seed: u64) -> SimNet {
        let relays = relay_delays
            .iter()
            .enumerate()
            .map(|(i, d)| SimRelay {
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 0, i as u8 + 1)), 533),
                delay: Duration::from_millis(*d),
                sides: [None, None],
            })
            .collect();
        SimNet {
            relays,
            queue: BinaryHeap::new(),
            order: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            loss,
            up: true,
            delivered: 0,
        }
    }

    fn push(&mut self, at: Instant, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        if !self.up || self.rng.gen_bool(self.loss) {
            return;
        }
        self.order += 1;
        self.queue.push(Reverse(InFlight {
            at,
            order: self.order,
            to,
            from,
            data,
        }));
    }

    /// A datagram from a client reaches relay `to`; the relay forwards it to the other side.
    fn relay(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let Some(idx) = self.relays.iter().position(|r| r.addr == to) else {
            return;
        };
        if data.len() < 32 {
            return;
        }
        let side = usize::from(data[15] & 1);
        self.relays[idx].sides[side] = Some(from);
        let relay_addr = self.relays[idx].addr;
        if data[16..28] == [0xFF; 12] {
            // Self-info request: answer like a relay would.
            if u32::from_le_bytes([data[28], data[29], data[30], data[31]]) == 0xFFFF_FFFE {
                let mut tag = [0u8; 16];
                tag.copy_from_slice(&data[..16]);
                let mut out = Vec::new();
                wire::relay::write_self_info_response(&tag, 0, [0; 8], [0; 16], 1, &mut out);
                let at = now + self.relays[idx].delay;
                self.push(at, relay_addr, from, out);
            }
            return;
        }
        if let Some(dest) = self.relays[idx].sides[1 - side] {
            let mut fwd = data;
            fwd[15] ^= 1;
            let at = now + self.relays[idx].delay;
            self.push(at, relay_addr, dest, fwd);
        }
    }

    fn next_at(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(d)| d.at)
    }
}

fn endpoints(net: &SimNet, side: u8) -> Vec<Endpoint> {
    net.relays
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut tag = [0x5Au8; 16];
            tag[0] = i as u8;
            tag[15] = 0xA0 | side;
            Endpoint {
                id: 100 + i as i64,
                ipv4: match r.addr.ip() {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                },
                ipv6: None,
                port: r.addr.port(),
                kind: EndpointType::UdpRelay,
                peer_tag: tag,
            }
        })
        .collect()
}

fn test_key() -> [u8; 256] {
    let mut k = [0u8; 256];
    for (i, b) in k.iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    k
}

fn config(net: &SimNet, caller: bool, tunables: SessionTunables) -> SessionConfig {
    SessionConfig {
        key: test_key(),
        is_outgoing: caller,
        endpoints: endpoints(net, u8::from(!caller)),
        allow_p2p: false,
        max_layer: 92,
        data_saving: false,
        enable_call_upgrade: false,
        tunables,
    }
}

/// Everything one side observed.
#[derive(Default)]
struct Observed {
    states: Vec<(Duration, CallState)>,
    frames: Vec<(u32, bool)>,
    peer_stream: Vec<(Duration, bool, bool)>,
}

/// Two sessions on a simulated network, driven in simulated time.
struct Sim {
    t0: Instant,
    now: Instant,
    net: SimNet,
    a: Session,
    b: Session,
    obs: [Observed; 2],
    /// Send a fake 60 ms audio frame from each side that can.
    audio: bool,
    next_audio: Instant,
}

impl Sim {
    fn new(net: SimNet, tunables: SessionTunables) -> Sim {
        let a = Session::new(config(&net, true, tunables.clone())).unwrap();
        let b = Session::new(config(&net, false, tunables)).unwrap();
        let t0 = Instant::now();
        Sim {
            t0,
            now: t0,
            net,
            a,
            b,
            obs: Default::default(),
            audio: true,
            next_audio: t0,
        }
    }

    fn connect_both(&mut self) {
        self.a.connect(self.now);
        self.b.connect(self.now);
        self.flush();
    }

    fn session(&mut self, which: usize) -> &mut Session {
        if which == 0 {
            &mut self.a
        } else {
            &mut self.b
        }
    }

    fn flush(&mut self) {
        let now = self.now;
        for (which, from) in [(0, A_ADDR), (1, B_ADDR)] {
            while let Some(t) = self.session(which).poll_transmit() {
                self.net.push(now, from, t.to, t.data);
            }
            while let Some(ev) = self.session(which).poll_event() {
                let at = now - self.t0;
                match ev {
                    Event::StateChanged(s) => self.obs[which].states.push((at, s)),
                    Event::AudioFrame { pts, redundant, .. } => {
                        self.obs[which].frames.push((pts, redundant))
                    }
                    Event::PeerStream { enabled, extra_ec } => {
                        self.obs[which].peer_stream.push((at, enabled, extra_ec))
                    }
                    Event::PeerDataSaving(_) => {}
                }
            }
        }
    }

    /// Runs until `until` (relative to the start).
    fn run_until(&mut self, until: Duration) {
        let end = self.t0 + until;
        loop {
            let mut next = end;
            for t in [
                self.a.poll_timeout(),
                self.b.poll_timeout(),
                self.net.next_at(),
            ]
            .into_iter()
            .flatten()
            {
                next = next.min(t);
            }
            if self.audio {
                next = next.min(self.next_audio);
            }
            if next > end || next < self.now {
                if next < self.now {
                    next = self.now;
                } else {
                    self.now = end;
                    break;
                }
            }
            self.now = next;
            while self.net.next_at().is_some_and(|t| t <= self.now) {
                let Some(Reverse(d)) = self.net.queue.pop() else {
                    break;
                };
                self.net.delivered += 1;
                if d.to == A_ADDR {
                    self.a.handle_datagram(self.now, d.from, &d.data);
                } else if d.to == B_ADDR {
                    self.b.handle_datagram(self.now, d.from, &d.data);
                } else {
                    self.net.relay(self.now, d.from, d.to, d.data);
                }
            }
            self.a.handle_timeout(self.now);
            self.b.handle_timeout(self.now);
            if self.audio && self.now >= self.next_audio {
                let frame = vec![0x7Bu8; 60];
                for which in 0..2 {
                    let now = self.now;
                    if self.session(which).can_send_audio() {
                        self.session(which).send_audio(now, &frame, &[]);
                    }
                }
                self.next_audio += Duration::from_millis(60);
            }
            self.flush();
            if self.now >= end {
                break;
            }
        }
    }

    fn established_at(&self, which: usize) -> Option<Duration> {
        self.obs[which]
            .states
            .iter()
            .find(|(_, s)| *s == CallState::Established)
            .map(|(t, _)| *t)
    }
}

#[test]
fn handshake_completes_on_a_clean_network() {
    let mut sim = Sim::new(SimNet::new(&[20, 30], 0.0, 1), SessionTunables::default());
    sim.connect_both();
    sim.run_until(Duration::from_secs(3));
    for which in 0..2 {
        let t = sim.established_at(which).expect("established");
        assert!(
            t < Duration::from_millis(700),
            "side {which} established at {t:?}"
        );
        assert_eq!(sim.obs[which].states[0].1, CallState::WaitInitAck);
    }
    assert_eq!(sim.a.peer_version(), 9);
    assert_eq!(sim.b.peer_version(), 9);
    assert_eq!(sim.a.state(), CallState::Established);
    // Audio flows both ways with pts stepping by 60.
    for which in 0..2 {
        let pts: Vec<u32> = sim.obs[which].frames.iter().map(|f| f.0).collect();
        assert!(pts.len() > 30, "side {which} got {} frames", pts.len());
        assert!(pts.windows(2).all(|w| w[1] == w[0] + 60), "pts {pts:?}");
    }
    let stats = sim.a.stats();
    // INIT copies through the second relay are duplicates; nothing else may be dropped.
    let d = stats.drops;
    assert_eq!(
        d.decrypt + d.parse + d.bad_tag + d.unknown_source + d.too_old,
        0,
        "{d:?}"
    );
    assert_eq!(stats.lost_out, 0);
}

#[test]
fn handshake_completes_under_30_percent_loss() {
    for seed in 0..20 {
        let mut sim = Sim::new(
            SimNet::new(&[20, 40], 0.30, seed),
            SessionTunables::default(),
        );
        sim.connect_both();
        sim.run_until(Duration::from_secs(10));
        for which in 0..2 {
            assert!(
                sim.established_at(which).is_some(),
                "seed {seed}: side {which} states {:?}",
                sim.obs[which].states
            );
        }
        assert_eq!(sim.a.peer_version(), 9, "seed {seed}");
        assert_eq!(sim.b.peer_version(), 9, "seed {seed}");
        // Loss is measured on the way out (both hops lose 30%: about half the packets).
        let loss = sim.a.send_report(sim.now).loss_ratio;
        assert!(
            loss > 0.25 && loss < 0.75,
            "seed {seed}: measured loss {loss}"
        );
    }
}

#[test]
fn init_timeout_fires_at_the_configured_instant() {
    let tunables = SessionTunables {
        init_timeout: Duration::from_secs(7),
        ..Default::default()
    };
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), tunables);
    sim.a.connect(sim.now); // the callee never connects
    sim.flush();
    sim.run_until(Duration::from_secs(12));
    let last = *sim.obs[0].states.last().unwrap();
    assert_eq!(last, (Duration::from_secs(7), CallState::Failed));
    assert_eq!(sim.a.last_error(), Some(CallError::Timeout));
    // INIT was repeated every 0.5 s meanwhile: 14 rounds plus self-info requests.
    assert!(sim.a.stats().packets_sent >= 14);
    // Nothing is sent after failing.
    let sent = sim.a.stats().packets_sent;
    sim.run_until(Duration::from_secs(15));
    assert_eq!(sim.a.stats().packets_sent, sent);
}

#[test]
fn receive_timeout_goes_reconnecting_then_failed() {
    let tunables = SessionTunables {
        recv_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), tunables);
    sim.connect_both();
    sim.run_until(Duration::from_secs(3));
    assert_eq!(sim.a.state(), CallState::Established);
    sim.net.up = false;
    sim.net.queue.clear();
    let cut = sim.now - sim.t0;
    sim.run_until(Duration::from_secs(12));
    let states = &sim.obs[0].states;
    let reconnecting = states
        .iter()
        .find(|(_, s)| *s == CallState::Reconnecting)
        .unwrap()
        .0;
    let failed = states
        .iter()
        .find(|(_, s)| *s == CallState::Failed)
        .unwrap()
        .0;
    // The last packet arrived within 60 ms before the cut.
    let last_recv = reconnecting - Duration::from_secs(2);
    assert!(
        last_recv <= cut && cut - last_recv < Duration::from_millis(80),
        "{last_recv:?} {cut:?}"
    );
    assert_eq!(failed - last_recv, Duration::from_secs(5));
    assert_eq!(sim.a.last_error(), Some(CallError::Timeout));
    assert!(sim.a.ever_reconnecting());
}

#[test]
fn reconnecting_recovers_when_packets_return() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), SessionTunables::default());
    sim.connect_both();
    sim.run_until(Duration::from_secs(2));
    sim.net.up = false;
    sim.run_until(Duration::from_secs(5));
    assert_eq!(sim.a.state(), CallState::Reconnecting);
    sim.net.up = true;
    sim.run_until(Duration::from_secs(6));
    assert_eq!(sim.a.state(), CallState::Established);
    assert_eq!(sim.b.state(), CallState::Established);
}

#[test]
fn mute_is_signalled_and_keeps_the_link_alive() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.2, 3), SessionTunables::default());
    sim.connect_both();
    sim.run_until(Duration::from_secs(2));
    let now = sim.now;
    sim.a.set_mic_mute(now, true);
    let frames_before = sim.obs[1].frames.len();
    sim.run_until(Duration::from_secs(8));
    assert!(!sim.a.can_send_audio());
    // The callee learned the stream is disabled despite 20% loss, and never went RECONNECTING.
    let last = sim.obs[1]
        .peer_stream
        .last()
        .copied()
        .expect("stream flags received");
    assert!(!last.1, "{last:?}");
    assert_eq!(sim.b.state(), CallState::Established);
    assert!(!sim.b.ever_reconnecting());
    let during_mute = sim.obs[1].frames.len() - frames_before;
    assert!(during_mute < 10, "{during_mute} frames while muted");
    let now = sim.now;
    sim.a.set_mic_mute(now, false);
    sim.run_until(Duration::from_secs(10));
    assert!(sim.obs[1].peer_stream.last().unwrap().1);
    assert!(sim.obs[1].frames.len() - frames_before > during_mute + 20);
}

#[test]
fn relay_pings_measure_rtt_and_pick_the_faster_relay() {
    // Relay 0 is slow, relay 1 fast; the first INIT may arrive through either.
    let mut sim = Sim::new(SimNet::new(&[150, 10], 0.0, 1), SessionTunables::default());
    sim.connect_both();
    sim.run_until(Duration::from_secs(6));
    let rtts: Vec<_> = sim.a.endpoints().iter().map(|e| e.rtt()).collect();
    let slow = rtts[0].expect("rtt of relay 0");
    let fast = rtts[1].expect("rtt of relay 1");
    // Each relay delays each hop; a PING/PONG crosses it twice.
    assert!(
        slow >= Duration::from_millis(300) && slow < Duration::from_millis(320),
        "{slow:?}"
    );
    assert!(
        fast >= Duration::from_millis(20) && fast < Duration::from_millis(30),
        "{fast:?}"
    );
    assert_eq!(sim.a.preferred_relay_id(), 101);
    assert_eq!(sim.b.preferred_relay_id(), 101);
}

#[test]
fn redundancy_is_delivered_with_the_right_timestamps() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), SessionTunables::default());
    sim.audio = false;
    sim.connect_both();
    sim.run_until(Duration::from_secs(2));
    let now = sim.now;
    for _ in 0..3 {
        assert!(sim
            .a
            .send_audio(now, &[1, 2, 3], &[vec![7; 10], vec![8; 10], vec![9; 10]]));
    }
    sim.flush();
    sim.run_until(Duration::from_secs(3));
    let frames = &sim.obs[1].frames;
    let primaries: Vec<u32> = frames.iter().filter(|f| !f.1).map(|f| f.0).collect();
    let redundant: Vec<u32> = frames.iter().filter(|f| f.1).map(|f| f.0).collect();
    assert_eq!(primaries, vec![0, 60, 120]);
    // Three entries per packet covering pts-120, pts-60 and pts (wrapping below zero); the last
    // one (the current frame, which the primary carries) goes out empty and is not delivered.
    assert_eq!(
        redundant,
        vec![
            0u32.wrapping_sub(120),
            0u32.wrapping_sub(60),
            0u32.wrapping_sub(60),
            0,
            0,
            60,
        ]
    );
}

/// Builds a datagram as the callee would send it, from raw header fields and payload.
fn craft(net: &SimNet, header: Header, payload: &[u8]) -> (SocketAddr, Vec<u8>) {
    let crypto = PacketCrypto::new(&test_key(), false);
    let mut body = Vec::new();
    Packet::write_short(&header, payload, &mut body);
    let mut tag = endpoints(net, 0)[0].peer_tag;
    tag[15] &= !1;
    let mut data = tag.to_vec();
    crypto.encrypt(PacketFormat::Short, &body, &mut data);
    (net.relays[0].addr, data)
}

#[test]
fn a_peer_below_version_3_is_incompatible() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), SessionTunables::default());
    sim.a.connect(sim.now);
    sim.flush();
    // A version-2 peer: one one-byte codec id (1 = Opus), no video.
    let init = [2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0];
    assert!(matches!(
        Payload::parse(PacketType::INIT, &init, 0),
        Ok(Payload::Init(wire::Init {
            protocol_version: 2,
            ..
        }))
    ));
    let header = Header {
        ptype: PacketType::INIT,
        ack_id: 0,
        seq: 1,
        ack_mask: 0,
        extras: vec![],
        recv_ts: None,
    };
    let (from, data) = craft(&sim.net, header, &init);
    let now = sim.now;
    sim.a.handle_datagram(now, from, &data);
    sim.flush();
    assert_eq!(sim.a.state(), CallState::Failed);
    assert_eq!(sim.a.last_error(), Some(CallError::Incompatible));
}

#[test]
fn hostile_datagrams_are_dropped_and_counted() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), SessionTunables::default());
    sim.connect_both();
    sim.run_until(Duration::from_secs(2));
    let relay = sim.net.relays[0].addr;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut tag = endpoints(&sim.net, 0)[0].peer_tag;
    tag[15] &= !1;
    let before = sim.a.stats().drops.total();
    let mut sent = 0;
    for i in 0..5000 {
        let len = rng.gen_range(0..1600);
        let mut d: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if i % 2 == 0 && d.len() >= 16 {
            d[..16].copy_from_slice(&tag);
        }
        let from = if i % 7 == 0 { B_ADDR } else { relay };
        let now = sim.now;
        sim.a.handle_datagram(now, from, &d);
        sent += 1;
    }
    let after = sim.a.stats().drops;
    assert!(after.total() - before >= sent - 5, "{after:?}");
    assert!(after.decrypt > 1000 && after.unknown_source > 500 && after.bad_tag > 1000);
    sim.run_until(Duration::from_secs(4));
    assert_eq!(sim.a.state(), CallState::Established);
    assert!(!sim.a.ever_reconnecting());
}

#[test]
fn a_single_relay_gets_an_rtt_too() {
    let mut sim = Sim::new(SimNet::new(&[25], 0.0, 1), SessionTunables::default());
    sim.connect_both();
    sim.run_until(Duration::from_secs(3));
    let rtt = sim.a.current_rtt().expect("rtt measured");
    assert!(
        rtt >= Duration::from_millis(50) && rtt < Duration::from_millis(60),
        "{rtt:?}"
    );
    assert_eq!(sim.b.preferred_relay_rtt(), sim.b.current_rtt());
}

#[test]
fn growing_path_delay_shows_as_queueing_delay_in_the_send_report() {
    let mut sim = Sim::new(SimNet::new(&[25], 0.0, 1), SessionTunables::default());
    sim.connect_both();
    sim.run_until(Duration::from_secs(3));
    let r = sim.a.send_report(sim.now);
    let (base, recent) = (r.base_rtt.expect("base rtt"), r.recent_rtt.expect("recent"));
    assert!(
        recent.saturating_sub(base) < Duration::from_millis(40),
        "{r:?}"
    );
    // A queue builds up on the relay: 300 ms more each way.
    sim.net.relays[0].delay = Duration::from_millis(325);
    sim.run_until(Duration::from_secs(5));
    let r = sim.a.send_report(sim.now);
    let (base, recent) = (r.base_rtt.expect("base rtt"), r.recent_rtt.expect("recent"));
    assert!(base < Duration::from_millis(70), "{r:?}");
    assert!(recent - base > Duration::from_millis(400), "{r:?}");
}

/// When the way back stops carrying acks (a queue holds them), the wait of the oldest unacked
/// packet grows at once, while RTT samples just stop coming.
#[test]
fn ack_stall_grows_while_acks_are_held_and_late_acks_undo_the_loss() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 5), SessionTunables::default());
    sim.connect_both();
    sim.run_until(Duration::from_secs(3));
    let r = sim.a.send_report(sim.now);
    let stall = r.ack_stall.expect("stall once acked");
    assert!(stall < Duration::from_millis(200), "{r:?}");
    assert!(r.loss_ratio < 0.01, "{r:?}");
    // 2.5 s more each way: acks come back after the 2 s loss timeout.
    sim.net.relays[0].delay = Duration::from_millis(2_520);
    sim.run_until(Duration::from_millis(4_500));
    let r = sim.a.send_report(sim.now);
    let stall = r.ack_stall.expect("stall");
    assert!(stall > Duration::from_millis(1_200), "{r:?}");
    sim.run_until(Duration::from_millis(6_000));
    assert!(
        sim.a.send_report(sim.now).loss_ratio > 0.2,
        "timed out while held"
    );
    // The queue drains (as fast as time passes, so nothing overtakes): the held acks arrive,
    // the packets were delayed, not lost.
    for k in 1..=42u64 {
        sim.net.relays[0].delay = Duration::from_millis(2_520 - 60 * k);
        sim.run_until(Duration::from_millis(6_000 + 60 * k));
    }
    sim.run_until(Duration::from_millis(9_000));
    let r = sim.a.send_report(sim.now);
    assert!(r.loss_ratio < 0.1, "{r:?}");
    assert!(
        r.ack_stall.expect("stall") < Duration::from_millis(300),
        "{r:?}"
    );
}

/// 2.4.4 starts audio only once it has both the peer's INIT and its INIT_ACK. A side that got
/// an INIT_ACK but whose peer's INIT was lost (the relay did not know it yet) must wait too:
/// otherwise its audio reaches a 2.4.4 peer that has no INIT_ACK yet, which then spends its
/// "first stream packet" trigger and turns ESTABLISHED only 1.5 s after the INIT_ACK.
#[test]
fn audio_waits_for_the_peer_init_as_well_as_its_init_ack() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 3), SessionTunables::default());
    // A's first INIT round reaches a relay that does not know B yet and is dropped.
    sim.a.connect(sim.now);
    sim.flush();
    sim.run_until(Duration::from_millis(10));
    sim.b.connect(sim.now);
    sim.flush();
    // B's INIT reaches A (30 ms), A's INIT_ACK is back at B by 50 ms; A's next INIT round is
    // due at 100 ms.
    sim.run_until(Duration::from_millis(80));
    assert!(!sim.b.can_send_audio(), "B sends audio before A's INIT");
    assert!(
        sim.obs[0].frames.is_empty(),
        "A got audio from B: {:?}",
        sim.obs[0].frames
    );
    sim.run_until(Duration::from_secs(1));
    assert!(sim.b.can_send_audio());
    for which in 0..2 {
        assert!(sim.established_at(which).is_some(), "side {which}");
        assert!(
            !sim.obs[which].frames.is_empty(),
            "side {which} got no audio"
        );
    }
}

#[test]
fn tgvoip_rs_peers_negotiate_short_frames_from_the_first_init() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), SessionTunables::default());
    sim.audio = false;
    // The very first INIT already carries the capability extra (2.4.4 ignores unknown types).
    sim.a.connect(sim.now);
    let first = sim.a.poll_transmit().expect("first INIT");
    let peer = PacketCrypto::new(&test_key(), false);
    let body = peer
        .decrypt(PacketFormat::Short, &first.data[16..])
        .unwrap();
    let packet = Packet::parse_short(&body).unwrap();
    assert_eq!(packet.header.ptype, PacketType::INIT);
    assert!(packet.header.extras.contains(&wire::Extra::Capabilities {
        flags: wire::extra::CAP_VARIABLE_FRAMES | wire::extra::CAP_MULTI_FRAME
    }));
    sim.net.push(sim.now, A_ADDR, first.to, first.data);
    sim.b.connect(sim.now);
    sim.flush();
    sim.run_until(Duration::from_secs(2));
    assert!(sim.a.peer_accepts_variable_frames());
    assert!(sim.b.peer_accepts_variable_frames());
    // 20 ms and 40 ms frames: pts steps by the frame duration.
    let now = sim.now;
    for ms in [20, 20, 40, 60, 20] {
        assert!(sim.a.send_audio_frame(now, &[0x7B; 20], &[], ms));
    }
    assert!(!sim.a.send_audio_frame(now, &[0x7B; 20], &[], 30));
    sim.flush();
    sim.run_until(Duration::from_secs(3));
    let pts: Vec<u32> = sim.obs[1].frames.iter().map(|f| f.0).collect();
    assert_eq!(pts, vec![0, 20, 40, 80, 140]);
}

#[test]
fn a_libtgvoip_peer_gets_60_ms_frames_and_copies_only_in_the_last_frame_of_a_packet() {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), SessionTunables::default());
    sim.a.connect(sim.now);
    sim.flush();
    // A libtgvoip-like peer: INIT and INIT_ACK without any tgvoip-rs extra.
    let mut init = Vec::new();
    Payload::Init(wire::Init::audio_only(0)).write(9, &mut init);
    let mut ack = Vec::new();
    Payload::InitAck(wire::InitAck {
        protocol_version: 9,
        min_protocol_version: 3,
        streams: vec![wire::StreamDesc {
            id: 1,
            stream_type: 1,
            codec: wire::CODEC_OPUS,
            frame_duration_ms: 60,
            enabled: true,
        }],
    })
    .write(9, &mut ack);
    for (seq, ptype, payload) in [
        (1, PacketType::INIT, &init),
        (2, PacketType::INIT_ACK, &ack),
    ] {
        let header = Header {
            ptype,
            ack_id: 1,
            seq,
            ack_mask: 0x8000_0000,
            extras: vec![],
            recv_ts: None,
        };
        let (from, data) = craft(&sim.net, header, payload);
        let now = sim.now;
        sim.a.handle_datagram(now, from, &data);
    }
    sim.flush();
    assert!(sim.a.can_send_audio());
    assert!(!sim.a.peer_accepts_variable_frames());
    let now = sim.now;
    assert!(!sim.a.send_audio_frame(now, &[0x7B; 20], &[], 20));
    assert!(!sim.a.send_audio_frame(now, &[0x7B; 20], &[], 40));
    assert!(sim.a.send_audio_frame(now, &[0x7B; 20], &[], 60));
    assert_eq!(sim.a.stats().audio_frames_sent, 1);
    // Nor 120 ms frames, alone or packed.
    assert!(!sim.a.send_audio_frame(now, &[0x7B; 20], &[], 120));
    let long: [(&[u8], &[Vec<u8>]); 3] =
        [(&[0x7B; 20], &[]), (&[0x7B; 20], &[]), (&[0x7B; 20], &[])];
    assert!(!sim.a.send_audio_frames(now, &long, 120));
    assert_eq!(sim.a.stats().audio_frames_sent, 1);
    // 2.4.4 parses multi-frame packets as long as only the last frame has a redundancy block:
    // the copies of earlier frames ride there, with empty entries for the packet's own frames.
    assert!(sim.a.peer_accepts_multi_frame());
    let red: Vec<Vec<u8>> = vec![vec![0x11; 8], vec![0x22; 9], vec![0x33; 10]];
    let three: [(&[u8], &[Vec<u8>]); 3] = [
        (&[0x7B; 20], &red),
        (&[0x7C; 21], &red),
        (&[0x7D; 22], &red),
    ];
    assert!(sim.a.send_audio_frames(now, &three, 60));
    assert_eq!(sim.a.stats().audio_frames_sent, 4);
    let peer = PacketCrypto::new(&test_key(), false);
    let body = std::iter::from_fn(|| sim.a.poll_transmit())
        .map(|t| peer.decrypt(PacketFormat::Short, &t.data[16..]).unwrap())
        .find(|body| Packet::parse_short(body).unwrap().header.ptype == PacketType::STREAM_DATA_X3)
        .expect("the X3 packet");
    let packet = Packet::parse_short(&body).unwrap();
    let Payload::StreamData(frames) =
        Payload::parse(packet.header.ptype, packet.payload, 9).unwrap()
    else {
        panic!("not stream data");
    };
    assert_eq!(frames.len(), 3);
    assert_eq!(
        frames
            .iter()
            .map(|f| (f.pts, f.data.len()))
            .collect::<Vec<_>>(),
        vec![(60, 20), (120, 21), (180, 22)]
    );
    assert!(frames[0].fec.is_empty() && frames[1].fec.is_empty());
    // Entry j of 5 covers 180 − (4−j)·60: the two frames before pts 60 (copies 0x11 and 0x22 of
    // the first frame's list), then 60, 120 and 180 (in this packet, empty).
    let empty: &[u8] = &[];
    assert_eq!(
        frames[2].fec,
        vec![&[0x11; 8][..], &[0x22; 9][..], empty, empty, empty]
    );
}

/// Pts of the frames b heard: primaries, or (`redundant`) copies.
fn heard_pts(sim: &Sim, redundant: bool) -> Vec<u32> {
    sim.obs[1]
        .frames
        .iter()
        .filter(|f| f.1 == redundant)
        .map(|f| f.0)
        .collect()
}

/// Two tgvoip-rs sessions connected over a clean 20 ms path, sending no audio of their own.
fn connected_quiet_pair() -> Sim {
    let mut sim = Sim::new(SimNet::new(&[20], 0.0, 1), SessionTunables::default());
    sim.audio = false;
    sim.a.connect(sim.now);
    sim.b.connect(sim.now);
    sim.flush();
    sim.run_until(Duration::from_secs(2));
    sim
}

#[test]
fn tgvoip_rs_peers_pack_several_frames_per_packet_with_each_copy_once() {
    let mut sim = connected_quiet_pair();
    assert!(sim.a.peer_accepts_multi_frame());
    assert!(sim.b.peer_accepts_multi_frame());
    assert_eq!(sim.b.peer_frames_per_packet(), 1);
    // Level-3 redundancy: each frame carries copies of the two frames before it and an empty
    // entry for itself.
    let red: Vec<Vec<u8>> = vec![vec![0x11; 8], vec![0x22; 8], vec![0x33; 8]];
    let prim = [0x7B; 20];
    let now = sim.now;
    let pair: [(&[u8], &[Vec<u8>]); 2] = [(&prim, &red), (&prim, &red)];
    assert!(sim.a.send_audio_frames(now, &pair, 60));
    assert!(sim.a.send_audio_frames(now, &pair, 60));
    let triple: [(&[u8], &[Vec<u8>]); 3] = [(&prim, &red), (&prim, &red), (&prim, &red)];
    assert!(sim.a.send_audio_frames(now, &triple, 60));
    let four = [(&prim[..], &red[..]); 4];
    assert!(!sim.a.send_audio_frames(now, &four, 60));
    assert_eq!(sim.a.stats().audio_frames_sent, 7);
    sim.flush();
    sim.run_until(Duration::from_secs(3));
    assert_eq!(sim.b.peer_frames_per_packet(), 3);
    let primaries: Vec<u32> = heard_pts(&sim, false);
    assert_eq!(primaries, vec![0, 60, 120, 180, 240, 300, 360]);
    // Copies: the first packet covers the two frames before pts 0 (wrapping), the second
    // 0 and 60, the third 120 and 180; copies of frames inside the same packet are not sent.
    let mut copies: Vec<u32> = heard_pts(&sim, true);
    copies.sort_unstable();
    let mut want = vec![
        0,
        60,
        120,
        180,
        0u32.wrapping_sub(120),
        0u32.wrapping_sub(60),
    ];
    want.sort_unstable();
    assert_eq!(copies, want);
}

#[test]
fn tgvoip_rs_peers_pack_120_ms_frames_without_copies() {
    let mut sim = connected_quiet_pair();
    assert!(sim.a.peer_accepts_variable_frames());
    let red: Vec<Vec<u8>> = vec![vec![0x11; 8], vec![0x22; 8], vec![0x33; 8]];
    let prim = [0x7B; 40];
    let now = sim.now;
    let triple: [(&[u8], &[Vec<u8>]); 3] = [(&prim, &red), (&prim, &red), (&prim, &red)];
    assert!(sim.a.send_audio_frames(now, &triple, 120));
    assert!(sim.a.send_audio_frames(now, &triple[..2], 120));
    // Back to 60 ms frames: pts goes on from where the long frames ended.
    assert!(sim.a.send_audio_frames(now, &triple[..1], 60));
    assert!(!sim.a.send_audio_frames(now, &triple, 80));
    assert_eq!(sim.a.stats().audio_frames_sent, 6);
    assert_eq!(sim.a.stats().audio_packets_sent, 3);
    sim.flush();
    sim.run_until(Duration::from_secs(3));
    let primaries: Vec<u32> = heard_pts(&sim, false);
    assert_eq!(primaries, vec![0, 120, 240, 360, 480, 600]);
    // Copies map to 60 ms steps: none ride with long frames (the single 60 ms frame carries its
    // own list: the two frames before it).
    let copies: Vec<u32> = heard_pts(&sim, true);
    assert_eq!(copies, vec![480, 540]);
}
