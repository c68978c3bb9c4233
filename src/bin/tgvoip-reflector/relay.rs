//! Pairing and forwarding decisions, without sockets or clocks.
//!
//! Pairing key = the whole 16-byte tag with bit 0 of byte 15 cleared (stricter than the mock
//! relay's first 8 bytes, so unrelated test calls never pair up). Side = bit 0 of byte 15.
//! Special requests are answered at once, without impairment.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tgvoip::wire::relay::{self, RelayMessage, PEER_TAG_LEN};
use tgvoip::wire::WireError;

use crate::impair::{CopyFate, Impairment, Schedule, HEADER_OVERHEAD};
use crate::stats::{DirStats, Report};
use crate::trace::Trace;

/// A forwarding direction, named after the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the side whose tag has bit 0 of byte 15 clear.
    CallerToCallee,
    /// From the side whose tag has bit 0 of byte 15 set.
    CalleeToCaller,
}

impl Direction {
    /// Both directions, in index order.
    pub const BOTH: [Direction; 2] = [Direction::CallerToCallee, Direction::CalleeToCaller];

    /// 0 for caller-to-callee, 1 for callee-to-caller (the sender's side bit).
    pub fn index(self) -> usize {
        match self {
            Direction::CallerToCallee => 0,
            Direction::CalleeToCaller => 1,
        }
    }

    fn of_tag(tag: &[u8; PEER_TAG_LEN]) -> Self {
        if tag[15] & 1 == 0 {
            Direction::CallerToCallee
        } else {
            Direction::CalleeToCaller
        }
    }
}

/// Where one side of a call was last heard from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A UDP address.
    Udp(SocketAddr),
    /// A TCP connection (the server's connection id) from this address.
    Tcp(u64, SocketAddr),
}

impl Peer {
    /// The network address.
    pub fn addr(self) -> SocketAddr {
        match self {
            Peer::Udp(a) | Peer::Tcp(_, a) => a,
        }
    }
}

/// A forwarded copy waiting for its release time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Release time since start.
    pub at: Duration,
    /// Pairing key of the call.
    pub key: [u8; PEER_TAG_LEN],
    /// Direction it travels.
    pub dir: Direction,
    /// The datagram with the receiver's tag.
    pub data: Vec<u8>,
}

/// What the relay wants done after a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `data` to `to` now.
    Reply {
        /// Destination.
        to: SocketAddr,
        /// Datagram.
        data: Vec<u8>,
    },
    /// Send a forwarded copy later (to the other side's address at that time).
    Forward(Pending),
}

struct Pair {
    addrs: [Option<Peer>; 2],
    impair: [Impairment; 2],
}

/// All calls the relay knows, with their impairment state and the counters.
pub struct Switchboard {
    pairs: HashMap<[u8; PEER_TAG_LEN], Pair>,
    schedules: [Schedule; 2],
    seed: u64,
    report: Report,
    trace: Trace,
    /// Per side (index = side bit): UDP from and to this side is dropped (TCP still works).
    block_udp: [bool; 2],
}

impl Switchboard {
    /// A relay whose calls get `schedules` (per direction) seeded from `seed`.
    pub fn new(schedules: [Schedule; 2], seed: u64) -> Self {
        Switchboard {
            pairs: HashMap::new(),
            schedules,
            seed,
            report: Report::default(),
            trace: Trace::default(),
            block_udp: [false; 2],
        }
    }

    /// Drops UDP from and to the given sides (index = side bit of the tag), so they can only
    /// use TCP.
    pub fn set_block_udp(&mut self, block: [bool; 2]) {
        self.block_udp = block;
    }

    /// Handles one UDP datagram from `from` at `now`; `unix_time` goes into self-info
    /// responses.
    #[cfg(test)]
    pub fn on_datagram(
        &mut self,
        data: &[u8],
        from: SocketAddr,
        now: Duration,
        unix_time: i32,
    ) -> Vec<Action> {
        self.on_packet(data, Peer::Udp(from), now, unix_time)
    }

    /// Handles one packet (UDP datagram or TCP frame) from `peer`. Special requests are
    /// answered over UDP only (clients send them only over UDP, wire.md 2.6).
    pub fn on_packet(
        &mut self,
        data: &[u8],
        peer: Peer,
        now: Duration,
        unix_time: i32,
    ) -> Vec<Action> {
        let from = peer.addr();
        let Some(tag) = data
            .get(..PEER_TAG_LEN)
            .and_then(|t| <[u8; PEER_TAG_LEN]>::try_from(t).ok())
        else {
            self.report.ignored_short += 1;
            return Vec::new();
        };
        let msg = match relay::parse(data) {
            Ok((_, msg)) => msg,
            Err(WireError::TooShort) => {
                self.report.ignored_short += 1;
                return Vec::new();
            }
            // A malformed special packet is not answered; it is forwarded like anything else.
            Err(_) => RelayMessage::Packet(&data[PEER_TAG_LEN..]),
        };
        let dir = Direction::of_tag(&tag);
        let key = pair_key(&tag);
        let is_udp = matches!(peer, Peer::Udp(_));
        if is_udp && self.block_udp[dir.index()] {
            self.report.blocked_udp += 1;
            return Vec::new();
        }
        if !self.pairs.contains_key(&key) {
            let n = self.pairs.len() as u64;
            let make = |d: Direction| {
                Impairment::new(
                    self.schedules[d.index()].clone(),
                    self.seed,
                    2 * n + d.index() as u64,
                )
            };
            let pair = Pair {
                addrs: [None, None],
                impair: Direction::BOTH.map(make),
            };
            self.pairs.insert(key, pair);
            self.report.pairs = n + 1;
        }
        let Some(pair) = self.pairs.get_mut(&key) else {
            return Vec::new();
        };
        pair.addrs[dir.index()] = Some(peer);
        let other = pair.addrs[1 - dir.index()].map(Peer::addr);

        match msg {
            RelayMessage::SelfInfoRequest { .. } | RelayMessage::PeerInfoRequest if !is_udp => {
                Vec::new()
            }
            RelayMessage::SelfInfoRequest { query_id } => {
                self.report.self_info_requests += 1;
                let mut out = Vec::with_capacity(64);
                relay::write_self_info_response(
                    &tag,
                    unix_time,
                    query_id,
                    ipv6_bytes(from.ip()),
                    u32::from(from.port()),
                    &mut out,
                );
                vec![Action::Reply {
                    to: from,
                    data: out,
                }]
            }
            RelayMessage::PeerInfoRequest => {
                self.report.peer_info_requests += 1;
                let (Some(me), Some(peer)) = (ipv4_of(from), other.and_then(ipv4_of)) else {
                    return Vec::new();
                };
                self.report.peer_info_answered += 1;
                let mut out = Vec::with_capacity(48);
                relay::write_peer_info_response(&tag, me.0, me.1, peer.0, peer.1, &mut out);
                vec![Action::Reply {
                    to: from,
                    data: out,
                }]
            }
            _ => {
                let stats = dir_stats(&mut self.report, dir);
                stats.received += 1;
                if other.is_none() {
                    stats.dropped_no_peer += 1;
                    return Vec::new();
                }
                let decision = pair.impair[dir.index()].process(data.len(), now);
                let rate = self.schedules[dir.index()].settings_at(now).rate_kbit;
                let bin = self.trace.bin(now, dir.index(), rate);
                let wire_len = (data.len() + HEADER_OVERHEAD) as u64;
                bin.offered += wire_len;
                bin.to_limiter += wire_len * decision.copies.len() as u64;
                bin.dropped_queue += decision
                    .copies
                    .iter()
                    .filter(|c| matches!(c, CopyFate::Overflow))
                    .count() as u64;
                stats.dropped_loss += u64::from(decision.lost);
                stats.duplicated += u64::from(decision.duplicated);
                let mut flipped = data.to_vec();
                flipped[..PEER_TAG_LEN].copy_from_slice(&relay::other_side(&tag));
                let mut actions = Vec::new();
                for fate in decision.copies {
                    match fate {
                        CopyFate::Overflow => stats.dropped_queue += 1,
                        CopyFate::Release {
                            at,
                            delayed,
                            reordered,
                        } => {
                            stats.delayed += u64::from(delayed);
                            stats.reordered += u64::from(reordered);
                            actions.push(Action::Forward(Pending {
                                at,
                                key,
                                dir,
                                data: flipped.clone(),
                            }));
                        }
                    }
                }
                actions
            }
        }
    }

    /// Where a pending copy goes now: the receiving side's last address.
    pub fn destination(&self, p: &Pending) -> Option<Peer> {
        let to = self.pairs.get(&p.key)?.addrs[1 - p.dir.index()]?;
        let blocked = matches!(to, Peer::Udp(_)) && self.block_udp[1 - p.dir.index()];
        (!blocked).then_some(to)
    }

    /// Counts a copy actually sent.
    pub fn record_forwarded(&mut self, dir: Direction) {
        dir_stats(&mut self.report, dir).forwarded += 1;
    }

    /// The per-interval byte counts so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The counters so far.
    pub fn report(&self) -> Report {
        self.report
    }
}

fn dir_stats(r: &mut Report, dir: Direction) -> &mut DirStats {
    match dir {
        Direction::CallerToCallee => &mut r.caller_to_callee,
        Direction::CalleeToCaller => &mut r.callee_to_caller,
    }
}

/// The tag with the side bit cleared.
fn pair_key(tag: &[u8; PEER_TAG_LEN]) -> [u8; PEER_TAG_LEN] {
    let mut k = *tag;
    k[15] &= !1;
    k
}

/// IPv6 form of an address; IPv4 becomes `::ffff:a.b.c.d`.
fn ipv6_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// IPv4 octets and port of an address, accepting IPv4-mapped IPv6.
fn ipv4_of(a: SocketAddr) -> Option<([u8; 4], u32)> {
    let v4 = match a.ip() {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6.to_ipv4_mapped()?,
    };
    Some((v4.octets(), u32::from(a.port())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impair::Settings;

    const T0: Duration = Duration::ZERO;

    fn tag(side: u8) -> [u8; 16] {
        let mut t = [0xA5u8; 16];
        t[15] = 0x40 | side;
        t
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    fn packet(side: u8, body: u8) -> Vec<u8> {
        let mut d = tag(side).to_vec();
        d.extend_from_slice(&[body; 48]);
        d
    }

    fn plain() -> Switchboard {
        Switchboard::new([Schedule::default(), Schedule::default()], 1)
    }

    #[test]
    fn self_info_request_is_answered_with_mapped_address() {
        let mut sb = plain();
        let mut req = Vec::new();
        relay::write_self_info_request(&tag(1), *b"queryid!", &mut req);
        let acts = sb.on_datagram(&req, addr(5555), T0, 1_700_000_000);
        let [Action::Reply { to, data }] = acts.as_slice() else {
            panic!("{acts:?}")
        };
        assert_eq!(*to, addr(5555));
        assert_eq!(data.len(), 64);
        let (t, msg) = relay::parse(data).unwrap();
        assert_eq!(t, tag(1));
        let mut ip = [0u8; 16];
        ip[10..12].copy_from_slice(&[0xFF, 0xFF]);
        ip[12..].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!(
            msg,
            RelayMessage::SelfInfoResponse {
                date: 1_700_000_000,
                query_id: *b"queryid!",
                my_ip: ip,
                my_port: 5555
            }
        );
        assert_eq!(sb.report().self_info_requests, 1);
    }

    #[test]
    fn forwards_with_flipped_bit_once_both_sides_known() {
        let mut sb = plain();
        // The callee is unknown: the caller's first packet is dropped.
        assert!(sb.on_datagram(&packet(0, 1), addr(1000), T0, 0).is_empty());
        assert_eq!(sb.report().caller_to_callee.dropped_no_peer, 1);
        // The callee's packet goes to the caller's address with the caller's tag.
        let acts = sb.on_datagram(&packet(1, 2), addr(2000), T0, 0);
        let [Action::Forward(p)] = acts.as_slice() else {
            panic!("{acts:?}")
        };
        assert_eq!(p.data, packet(0, 2));
        assert_eq!(p.dir, Direction::CalleeToCaller);
        assert_eq!(sb.destination(p), Some(Peer::Udp(addr(1000))));
        // And back, to the callee's latest address.
        sb.on_datagram(&packet(1, 3), addr(2001), T0, 0);
        let acts = sb.on_datagram(&packet(0, 4), addr(1000), T0, 0);
        let [Action::Forward(p)] = acts.as_slice() else {
            panic!("{acts:?}")
        };
        assert_eq!(p.data, packet(1, 4));
        assert_eq!(sb.destination(p), Some(Peer::Udp(addr(2001))));
        let r = sb.report();
        assert_eq!(
            (
                r.caller_to_callee.received,
                r.callee_to_caller.received,
                r.pairs
            ),
            (2, 2, 1)
        );
    }

    #[test]
    fn short_datagrams_are_ignored_and_do_not_register() {
        let mut sb = plain();
        assert!(sb
            .on_datagram(&packet(1, 0)[..31], addr(2000), T0, 0)
            .is_empty());
        assert!(sb.on_datagram(&packet(0, 0), addr(1000), T0, 0).is_empty());
        let r = sb.report();
        assert_eq!(
            (r.ignored_short, r.caller_to_callee.dropped_no_peer),
            (1, 1)
        );
    }

    #[test]
    fn different_tags_do_not_pair() {
        let mut sb = plain();
        sb.on_datagram(&packet(1, 0), addr(2000), T0, 0);
        let mut other = packet(0, 0);
        other[3] ^= 0xFF;
        assert!(sb.on_datagram(&other, addr(1000), T0, 0).is_empty());
        assert_eq!(sb.report().pairs, 2);
    }

    #[test]
    fn peer_info_answered_only_when_both_known() {
        let mut sb = plain();
        let mut req = Vec::new();
        relay::write_peer_info_request(&tag(0), &mut req);
        assert!(sb.on_datagram(&req, addr(1000), T0, 0).is_empty());
        sb.on_datagram(&packet(1, 0), addr(2000), T0, 0);
        let acts = sb.on_datagram(&req, addr(1000), T0, 0);
        let [Action::Reply { to, data }] = acts.as_slice() else {
            panic!("{acts:?}")
        };
        assert_eq!(*to, addr(1000));
        let (_, msg) = relay::parse(data).unwrap();
        assert_eq!(
            msg,
            RelayMessage::PeerInfoResponse {
                my_addr: [10, 0, 0, 1],
                my_port: 1000,
                peer_addr: [10, 0, 0, 1],
                peer_port: 2000
            }
        );
        assert_eq!(
            (
                sb.report().peer_info_requests,
                sb.report().peer_info_answered
            ),
            (2, 1)
        );
    }

    #[test]
    fn impairment_is_per_direction() {
        let lossy = Schedule::constant(Settings {
            loss: 100.0,
            ..Settings::default()
        });
        let mut sb = Switchboard::new([lossy, Schedule::default()], 3);
        sb.on_datagram(&packet(0, 0), addr(1000), T0, 0);
        sb.on_datagram(&packet(1, 0), addr(2000), T0, 0);
        assert!(sb.on_datagram(&packet(0, 0), addr(1000), T0, 0).is_empty());
        assert_eq!(sb.on_datagram(&packet(1, 0), addr(2000), T0, 0).len(), 1);
        assert_eq!(sb.report().caller_to_callee.dropped_loss, 1);
        assert_eq!(sb.report().callee_to_caller.dropped_loss, 0);
    }

    #[test]
    fn blocked_udp_side_is_reached_over_tcp_only() {
        let mut sb = plain();
        sb.set_block_udp([false, true]);
        // The callee's UDP is dropped and does not register it.
        assert!(sb.on_datagram(&packet(1, 0), addr(2000), T0, 0).is_empty());
        assert_eq!(sb.report().blocked_udp, 1);
        assert!(sb.on_datagram(&packet(0, 0), addr(1000), T0, 0).is_empty());
        // Over TCP it registers, and the caller's UDP packets go to its connection.
        let tcp = Peer::Tcp(7, addr(2000));
        let acts = sb.on_packet(&packet(1, 1), tcp, T0, 0);
        let [Action::Forward(p)] = acts.as_slice() else {
            panic!("{acts:?}")
        };
        assert_eq!(sb.destination(p), Some(Peer::Udp(addr(1000))));
        let acts = sb.on_datagram(&packet(0, 2), addr(1000), T0, 0);
        let [Action::Forward(p)] = acts.as_slice() else {
            panic!("{acts:?}")
        };
        assert_eq!(sb.destination(p), Some(tcp));
        // Special requests over TCP are not answered.
        let mut req = Vec::new();
        relay::write_self_info_request(&tag(1), [1; 8], &mut req);
        assert!(sb.on_packet(&req, tcp, T0, 0).is_empty());
    }
}
