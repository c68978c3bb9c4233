//! Connectivity of the session state machine in simulated time: several relays (RTT, choice,
//! failover when one dies), a peer that moved to another relay, and P2P (peer-info answers,
//! switch to the direct path, fallback when it breaks, never without allow_p2p).

mod sim_queue;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use sim_queue::InFlight;
use tgvoip::api::{CallState, Endpoint, EndpointType};
use tgvoip::session::{
    Event, Session, SessionConfig, SessionTunables, UdpVerdict, Via, P2P_INET_ID, TCP_COPY_XOR,
};
use tgvoip::wire::relay;

const ADDRS: [SocketAddr; 2] = [
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 1000),
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 2000),
];

struct SimRelay {
    addr: SocketAddr,
    delay: Duration,
    sides: [Option<SocketAddr>; 2],
    /// Per sending side: false drops what that side sends (the relay is gone for it).
    up: [bool; 2],
    /// Per side: UDP from and to it is dropped (TCP still works).
    udp_blocked: [bool; 2],
    /// Per side: answer only every n-th self-info request (1 = all).
    self_info_every: [u32; 2],
    self_info_seen: [u32; 2],
}

/// The simulated address a side's TCP connections come from (packets to it are TCP frames).
fn tcp_addr(which: usize) -> SocketAddr {
    SocketAddr::new(ADDRS[which].ip(), ADDRS[which].port() + 10_000)
}

/// What one side observed: states and audio arrival times.
#[derive(Default)]
struct Observed {
    states: Vec<(Duration, CallState)>,
    audio_at: Vec<Duration>,
}

impl Observed {
    fn saw(&self, s: CallState) -> bool {
        self.states.iter().any(|(_, x)| *x == s)
    }
    /// Longest gap between audio frames arriving after `from`.
    fn longest_gap_after(&self, from: Duration) -> Duration {
        let after: Vec<_> = self.audio_at.iter().filter(|t| **t >= from).collect();
        let mut gap = after.first().map_or(Duration::MAX, |t| **t - from);
        for w in after.windows(2) {
            gap = gap.max(*w[1] - *w[0]);
        }
        gap
    }
}

struct Sim {
    t0: Instant,
    now: Instant,
    relays: Vec<SimRelay>,
    /// Direct path between the two sides, one-way delay; `None` = no direct path.
    direct: Option<Duration>,
    /// Datagrams delivered directly, per sending side.
    direct_delivered: [u64; 2],
    queue: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    s: [Session; 2],
    obs: [Observed; 2],
    next_audio: Instant,
}

fn endpoints(relays: &[SimRelay], side: u8) -> Vec<Endpoint> {
    relays
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut tag = [0x33u8; 16];
            tag[0] = i as u8;
            tag[15] = 0xA0 | side;
            let IpAddr::V4(v4) = r.addr.ip() else {
                unreachable!()
            };
            Endpoint {
                id: 100 + i as i64,
                ipv4: Some(v4),
                ipv6: None,
                port: r.addr.port(),
                kind: EndpointType::UdpRelay,
                peer_tag: tag,
            }
        })
        .collect()
}

impl Sim {
    fn new(delays: &[u64], direct: Option<u64>, allow_p2p: [bool; 2]) -> Sim {
        let relays: Vec<SimRelay> = delays
            .iter()
            .enumerate()
            .map(|(i, d)| SimRelay {
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 0, i as u8 + 1)), 533),
                delay: Duration::from_millis(*d),
                sides: [None, None],
                up: [true, true],
                udp_blocked: [false, false],
                self_info_every: [1, 1],
                self_info_seen: [0, 0],
            })
            .collect();
        let key: [u8; 256] = std::array::from_fn(|i| (i * 11 + 1) as u8);
        let make = |which: usize| {
            let mut s = Session::new(SessionConfig {
                key,
                is_outgoing: which == 0,
                endpoints: endpoints(&relays, which as u8),
                allow_p2p: allow_p2p[which],
                max_layer: 92,
                data_saving: false,
                enable_call_upgrade: false,
                tunables: SessionTunables::default(),
            })
            .unwrap();
            let SocketAddr::V4(v4) = ADDRS[which] else {
                unreachable!()
            };
            s.set_lan_address(Some(v4));
            s
        };
        let t0 = Instant::now();
        let s = [make(0), make(1)];
        Sim {
            t0,
            now: t0,
            relays,
            direct: direct.map(Duration::from_millis),
            direct_delivered: [0, 0],
            queue: BinaryHeap::new(),
            order: 0,
            s,
            obs: Default::default(),
            next_audio: t0,
        }
    }

    fn push(&mut self, at: Instant, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        self.order += 1;
        self.queue.push(Reverse(InFlight {
            at,
            order: self.order,
            to,
            from,
            data,
        }));
    }

    fn at_relay(&mut self, idx: usize, from: SocketAddr, data: Vec<u8>) {
        if data.len() < 32 {
            return;
        }
        let side = usize::from(data[15] & 1);
        if !self.relays[idx].up[side] {
            return;
        }
        let via_tcp = from == tcp_addr(side);
        if !via_tcp && self.relays[idx].udp_blocked[side] {
            return;
        }
        self.relays[idx].sides[side] = Some(from);
        let (raddr, delay) = (self.relays[idx].addr, self.relays[idx].delay);
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&data[..16]);
        match relay::parse(&data) {
            Ok((_, relay::RelayMessage::SelfInfoRequest { query_id })) => {
                let r = &mut self.relays[idx];
                r.self_info_seen[side] += 1;
                if via_tcp || r.self_info_seen[side] % r.self_info_every[side] != 0 {
                    return;
                }
                let mut out = Vec::new();
                relay::write_self_info_response(&tag, 0, query_id, [0; 16], 1, &mut out);
                self.push(self.now + delay, raddr, from, out);
                return;
            }
            Ok((_, relay::RelayMessage::PeerInfoRequest)) => {
                let Some(peer) = self.relays[idx].sides[1 - side] else {
                    return;
                };
                let v4 = |a: SocketAddr| match a.ip() {
                    IpAddr::V4(v) => v.octets(),
                    IpAddr::V6(_) => [0; 4],
                };
                let mut out = Vec::new();
                relay::write_peer_info_response(
                    &tag,
                    v4(from),
                    u32::from(from.port()),
                    v4(peer),
                    u32::from(peer.port()),
                    &mut out,
                );
                self.push(self.now + delay, raddr, from, out);
                return;
            }
            _ => {}
        }
        if let Some(dest) = self.relays[idx].sides[1 - side] {
            if dest != tcp_addr(1 - side) && self.relays[idx].udp_blocked[1 - side] {
                return;
            }
            let mut fwd = data;
            fwd[15] ^= 1;
            self.push(self.now + delay, raddr, dest, fwd);
        }
    }

    fn flush(&mut self) {
        let now = self.now;
        for which in 0..2 {
            while let Some(t) = self.s[which].poll_transmit() {
                if let Some(i) = self.relays.iter().position(|r| r.addr == t.to) {
                    let from = if t.via == Via::Tcp {
                        tcp_addr(which)
                    } else {
                        ADDRS[which]
                    };
                    let _ = i;
                    self.push(now, from, t.to, t.data);
                } else if t.to == ADDRS[1 - which] {
                    if let Some(d) = self.direct {
                        self.direct_delivered[which] += 1;
                        self.push(now + d, ADDRS[which], t.to, t.data);
                    }
                }
            }
            while let Some(ev) = self.s[which].poll_event() {
                let at = now - self.t0;
                match ev {
                    Event::StateChanged(s) => self.obs[which].states.push((at, s)),
                    Event::AudioFrame {
                        redundant: false, ..
                    } => self.obs[which].audio_at.push(at),
                    _ => {}
                }
            }
        }
    }

    fn run_until(&mut self, secs: f64) {
        let end = self.t0 + Duration::from_secs_f64(secs);
        while self.now < end {
            let mut next = end.min(self.next_audio);
            for t in [
                self.s[0].poll_timeout(),
                self.s[1].poll_timeout(),
                self.queue.peek().map(|Reverse(d)| d.at),
            ]
            .into_iter()
            .flatten()
            {
                next = next.min(t);
            }
            self.now = next.max(self.now);
            while self.queue.peek().is_some_and(|Reverse(d)| d.at <= self.now) {
                let Some(Reverse(d)) = self.queue.pop() else {
                    break;
                };
                let now = self.now;
                if let Some(w) = ADDRS.iter().position(|a| *a == d.to) {
                    self.s[w].handle_datagram(now, d.from, &d.data);
                } else if let Some(w) = (0..2).find(|w| tcp_addr(*w) == d.to) {
                    self.s[w].handle_tcp_packet(now, d.from, &d.data);
                } else if let Some(i) = self.relays.iter().position(|r| r.addr == d.to) {
                    self.at_relay(i, d.from, d.data);
                }
            }
            for which in 0..2 {
                let now = self.now;
                self.s[which].handle_timeout(now);
            }
            if self.now >= self.next_audio {
                for which in 0..2 {
                    let now = self.now;
                    if self.s[which].can_send_audio() {
                        self.s[which].send_audio(now, &[0x55; 60], &[]);
                    }
                }
                self.next_audio += Duration::from_millis(60);
            }
            self.flush();
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }
}

#[test]
fn the_call_moves_to_the_other_relay_when_the_preferred_one_dies() {
    let mut sim = Sim::new(&[10, 30], None, [false, false]);
    for s in &mut sim.s {
        s.connect(sim.now);
    }
    sim.flush();
    sim.run_until(5.0);
    for s in &sim.s {
        assert_eq!(s.state(), CallState::Established);
        assert_eq!(s.preferred_relay_id(), 100, "faster relay preferred");
        let rtts: Vec<_> = s.endpoints().iter().map(|e| e.rtt()).collect();
        assert!(rtts.iter().all(Option::is_some), "{rtts:?}");
    }
    let kill = sim.elapsed();
    sim.relays[0].up = [false, false];
    sim.run_until(15.0);
    for (which, s) in sim.s.iter().enumerate() {
        let obs = &sim.obs[which];
        assert!(
            obs.saw(CallState::Reconnecting),
            "side {which}: {:?}",
            obs.states
        );
        assert_eq!(s.state(), CallState::Established, "side {which}");
        assert_eq!(s.preferred_relay_id(), 101, "side {which}");
        let gap = obs.longest_gap_after(kill);
        println!("side {which}: audio gap {gap:?} after the preferred relay died");
        assert!(
            gap < Duration::from_millis(2600),
            "side {which}: gap {gap:?}"
        );
        // Audio still flows at the end.
        assert!(*obs.audio_at.last().unwrap() > sim.elapsed() - Duration::from_millis(200));
    }
}

#[test]
fn a_peer_that_moved_to_another_relay_is_followed() {
    // Relay 0 stops forwarding only what the callee sends: the callee hears nothing and moves;
    // the caller still hears through relay 0 until the callee's packets come from relay 1.
    let mut sim = Sim::new(&[10, 30], None, [false, false]);
    for s in &mut sim.s {
        s.connect(sim.now);
    }
    sim.flush();
    sim.run_until(5.0);
    let kill = sim.elapsed();
    sim.relays[0].up = [true, false];
    sim.run_until(15.0);
    assert_eq!(sim.s[0].preferred_relay_id(), 101);
    assert_eq!(sim.s[1].preferred_relay_id(), 101);
    for which in 0..2 {
        let gap = sim.obs[which].longest_gap_after(kill);
        println!("side {which}: audio gap {gap:?} (one direction of the relay died)");
        assert!(
            gap < Duration::from_millis(2600),
            "side {which}: gap {gap:?}"
        );
        assert_eq!(sim.s[which].state(), CallState::Established);
    }
}

#[test]
fn p2p_is_used_when_it_works_and_left_when_it_breaks() {
    let mut sim = Sim::new(&[40], Some(2), [true, true]);
    for s in &mut sim.s {
        s.connect(sim.now);
    }
    sim.flush();
    sim.run_until(6.0);
    for (which, s) in sim.s.iter().enumerate() {
        assert!(s.on_direct_path(), "side {which} not on P2P");
        let p2p = s.endpoints().iter().find(|e| e.id == P2P_INET_ID).unwrap();
        assert_eq!(p2p.addr, ADDRS[1 - which]);
        assert!(p2p.rtt().unwrap() < Duration::from_millis(10));
        // The preferred relay id stays the relay's.
        assert_eq!(s.preferred_relay_id(), 100);
    }
    let before = sim.direct_delivered;
    sim.run_until(8.0);
    // Audio goes direct now (about 16 packets/s each way).
    assert!(
        sim.direct_delivered[0] - before[0] > 25,
        "{:?}",
        sim.direct_delivered
    );
    let cut = sim.elapsed();
    sim.direct = None;
    sim.run_until(16.0);
    for (which, s) in sim.s.iter().enumerate() {
        let obs = &sim.obs[which];
        assert!(!s.on_direct_path(), "side {which} still on P2P");
        assert_eq!(s.state(), CallState::Established);
        let gap = obs.longest_gap_after(cut);
        println!("side {which}: audio gap {gap:?} after the direct path broke");
        assert!(
            gap < Duration::from_millis(2600),
            "side {which}: gap {gap:?}"
        );
    }
}

#[test]
fn no_p2p_unless_both_allow_it() {
    for allow in [[true, false], [false, true], [false, false]] {
        let mut sim = Sim::new(&[40], Some(2), allow);
        for s in &mut sim.s {
            s.connect(sim.now);
        }
        sim.flush();
        sim.run_until(10.0);
        for (which, s) in sim.s.iter().enumerate() {
            assert!(!s.on_direct_path(), "{allow:?}: side {which} on P2P");
            assert_eq!(s.state(), CallState::Established);
            if !allow[which] {
                // A side without allow_p2p sends nothing direct, not even a PONG.
                assert_eq!(sim.direct_delivered[which], 0, "{allow:?}");
                assert!(s.endpoints().iter().all(|e| e.is_relay()));
            }
        }
    }
}

#[test]
fn udp_blocked_for_one_side_moves_it_to_the_tcp_copy_after_the_udp_test() {
    let mut sim = Sim::new(&[10], None, [false, false]);
    sim.relays[0].udp_blocked = [false, true];
    for s in &mut sim.s {
        s.connect(sim.now);
    }
    sim.flush();
    // Rounds at 0, 0.5, 1.0 and 1.5 s; the verdict comes one second after the fourth.
    sim.run_until(2.45);
    assert!(!sim.s[1].tcp_in_use());
    assert_eq!(sim.s[1].udp_verdict(), UdpVerdict::Unknown);
    sim.run_until(2.55);
    assert_eq!(sim.s[1].udp_verdict(), UdpVerdict::NotAvailable);
    assert!(sim.s[1].tcp_in_use() && !sim.s[1].udp_in_use());
    assert!(sim.s[1].on_tcp_relay());
    assert_eq!(sim.s[1].preferred_relay_id(), 100 ^ TCP_COPY_XOR);
    sim.run_until(8.0);
    for (which, s) in sim.s.iter().enumerate() {
        assert_eq!(s.state(), CallState::Established, "side {which}");
        let obs = &sim.obs[which];
        let est = obs
            .states
            .iter()
            .find(|(_, s)| *s == CallState::Established)
            .map(|(t, _)| *t)
            .unwrap();
        let gap = obs.longest_gap_after(est + Duration::from_millis(200));
        println!("side {which}: established at {est:?}, audio gap {gap:?}");
        assert!(
            gap < Duration::from_millis(200),
            "side {which}: gap {gap:?}"
        );
    }
    // The other side found UDP fine and stayed on it.
    assert_eq!(sim.s[0].udp_verdict(), UdpVerdict::Available);
    assert!(!sim.s[0].tcp_in_use());
    assert_eq!(sim.s[0].preferred_relay_id(), 100);
    // A local network change turns TCP off and goes back to the UDP relay (wire.md 7.7); UDP
    // is still blocked, so the restarted test moves the call to TCP again.
    let now = sim.now;
    sim.s[1].network_changed(now, false);
    assert!(!sim.s[1].tcp_in_use() && sim.s[1].udp_in_use());
    assert_eq!(sim.s[1].preferred_relay_id(), 100);
    sim.flush();
    sim.run_until(11.0);
    assert!(sim.s[1].on_tcp_relay());
    assert_eq!(sim.s[1].preferred_relay_id(), 100 ^ TCP_COPY_XOR);
    for s in &sim.s {
        assert_eq!(s.state(), CallState::Established);
    }
    assert!(*sim.obs[0].audio_at.last().unwrap() > sim.elapsed() - Duration::from_millis(200));
}

#[test]
fn few_self_info_answers_mean_bad_udp_then_tcp_only_after_ten_rounds() {
    let mut sim = Sim::new(&[10], None, [false, false]);
    // Side 1 gets one answer in two: 2 of 4 is BAD (< 3), 5 of 10 gives up on UDP (< 7).
    sim.relays[0].self_info_every = [1, 2];
    for s in &mut sim.s {
        s.connect(sim.now);
    }
    sim.flush();
    sim.run_until(2.6);
    assert_eq!(sim.s[1].udp_verdict(), UdpVerdict::Bad);
    assert!(sim.s[1].tcp_in_use() && sim.s[1].udp_in_use());
    assert!(sim.s[1].on_tcp_relay());
    // BAD moves only the current endpoint: the preferred relay stays the UDP one.
    assert_eq!(sim.s[1].preferred_relay_id(), 100);
    // Rounds 5..10 run every 0.5 s from the verdict; the second verdict 1 s after round 10.
    sim.run_until(7.0);
    assert_eq!(sim.s[1].udp_verdict(), UdpVerdict::NotAvailable);
    // 5 answers > 1: UDP stays in use, TCP carries the call. The current endpoint was
    // already the TCP copy, so (as in 2.4.4) the preferred relay is left alone.
    assert!(sim.s[1].tcp_in_use() && sim.s[1].udp_in_use());
    assert!(sim.s[1].on_tcp_relay());
    sim.run_until(9.0);
    for s in &sim.s {
        assert_eq!(s.state(), CallState::Established);
    }
    assert!(*sim.obs[0].audio_at.last().unwrap() > sim.elapsed() - Duration::from_millis(200));
    assert_eq!(sim.s[0].udp_verdict(), UdpVerdict::Available);
}

#[test]
fn a_proxy_without_udp_is_dropped_for_udp_before_the_tcp_fallback() {
    // Side 1's datagrams go "through a proxy" that relays nothing: after the first test it
    // asks to go direct and tests again; the second test (UDP still dead) moves it to TCP.
    let mut sim = Sim::new(&[10], None, [false, false]);
    sim.relays[0].udp_blocked = [false, true];
    sim.s[1].set_udp_via_proxy(true);
    for s in &mut sim.s {
        s.connect(sim.now);
    }
    sim.flush();
    sim.run_until(2.45);
    assert!(!sim.s[1].take_proxy_udp_drop());
    sim.run_until(2.55);
    assert!(sim.s[1].take_proxy_udp_drop(), "proxy dropped for UDP");
    assert!(!sim.s[1].take_proxy_udp_drop(), "reported once");
    assert_eq!(sim.s[1].udp_verdict(), UdpVerdict::Unknown);
    assert!(!sim.s[1].tcp_in_use());
    sim.run_until(5.05);
    assert_eq!(sim.s[1].udp_verdict(), UdpVerdict::NotAvailable);
    assert!(sim.s[1].on_tcp_relay());
    sim.run_until(9.0);
    for s in &sim.s {
        assert_eq!(s.state(), CallState::Established);
    }
}
