//! The remote endpoint table: relays from signalling, the current and preferred ones, and
//! per-endpoint ping RTT.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::api::{Endpoint, EndpointType};

/// RTT samples kept per endpoint.
const RTT_SAMPLES: usize = 6;

const fn fourcc(a: u8, b: u8, c: u8, d: u8) -> i64 {
    ((a as i64) << 24) | ((b as i64) << 16) | ((c as i64) << 8) | d as i64
}

/// Id of the public (IPv4) P2P endpoint, as 2.4.4 numbers it (wire.md 7.1).
pub const P2P_INET_ID: i64 = fourcc(b'P', b'2', b'P', b'4') << 32;
/// Id of the public IPv6 P2P endpoint.
pub const P2P_INET6_ID: i64 = fourcc(b'P', b'2', b'P', b'6') << 32;
/// Id of the LAN endpoint.
pub const LAN_ID: i64 = fourcc(b'L', b'A', b'N', b'4') << 32;
/// XORed into a relay id to name its IPv6-only copy.
pub const IPV6_COPY_XOR: i64 = fourcc(b'I', b'P', b'v', b'6') << 32;
/// XORed into a relay id to name its TCP copy.
pub const TCP_COPY_XOR: i64 = fourcc(b'T', b'C', b'P', 0) << 32;

/// One remote endpoint as the session tracks it.
#[derive(Debug, Clone)]
pub struct RemoteEndpoint {
    pub id: i64,
    pub addr: SocketAddr,
    pub kind: EndpointType,
    pub peer_tag: [u8; 16],
    /// The relay's IPv6 address when signalling gave it both an IPv4 and an IPv6 one (for the
    /// IPv6-only copy, wire.md 7.6).
    pub alt_v6: Option<SocketAddr>,
    /// Seq and send time of the last PING sent to it.
    pub last_ping: Option<(u32, Instant)>,
    rtt_samples: VecDeque<Duration>,
    /// Self-info responses received from this relay.
    pub self_info_answers: u32,
    /// Set when the call left this endpoint because nothing came back through it; cleared as
    /// soon as anything valid arrives from it. Dead relays are not chosen.
    pub dead: bool,
}

impl RemoteEndpoint {
    /// Mean of the recent PING/PONG samples.
    pub fn rtt(&self) -> Option<Duration> {
        if self.rtt_samples.is_empty() {
            return None;
        }
        let sum: Duration = self.rtt_samples.iter().sum();
        Some(sum / self.rtt_samples.len() as u32)
    }

    /// Records a PING/PONG round trip.
    pub fn add_rtt_sample(&mut self, rtt: Duration) {
        if self.rtt_samples.len() == RTT_SAMPLES {
            self.rtt_samples.pop_front();
        }
        self.rtt_samples.push_back(rtt);
    }

    /// Forgets RTT samples (after a network change).
    pub fn clear_rtt(&mut self) {
        self.rtt_samples.clear();
    }

    /// Whether this is a relay (UDP or TCP).
    pub fn is_relay(&self) -> bool {
        matches!(self.kind, EndpointType::UdpRelay | EndpointType::TcpRelay)
    }
}

/// Errors building the endpoint table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointError {
    /// No usable endpoint was given.
    NoEndpoints,
}

/// All remote endpoints of a call.
#[derive(Debug, Clone)]
pub struct EndpointTable {
    list: Vec<RemoteEndpoint>,
    current: usize,
    preferred: usize,
}

impl EndpointTable {
    /// Builds the table from signalling; the first usable endpoint is current and preferred.
    /// Endpoints without any address are skipped; duplicate ids keep the last entry.
    pub fn new(endpoints: &[Endpoint]) -> Result<EndpointTable, EndpointError> {
        let mut list: Vec<RemoteEndpoint> = Vec::new();
        for e in endpoints {
            let ip = match (e.ipv4, e.ipv6) {
                (Some(v4), _) => IpAddr::V4(v4),
                (None, Some(v6)) => IpAddr::V6(v6),
                (None, None) => continue,
            };
            let alt_v6 = match (e.ipv4, e.ipv6) {
                (Some(_), Some(v6)) => Some(SocketAddr::new(IpAddr::V6(v6), e.port)),
                _ => None,
            };
            let entry = RemoteEndpoint {
                id: e.id,
                addr: SocketAddr::new(ip, e.port),
                kind: e.kind,
                peer_tag: e.peer_tag,
                alt_v6,
                last_ping: None,
                rtt_samples: VecDeque::with_capacity(RTT_SAMPLES),
                self_info_answers: 0,
                dead: false,
            };
            match list.iter_mut().find(|x| x.id == e.id) {
                Some(slot) => *slot = entry,
                None => list.push(entry),
            }
        }
        if list.is_empty() {
            return Err(EndpointError::NoEndpoints);
        }
        Ok(EndpointTable {
            list,
            current: 0,
            preferred: 0,
        })
    }

    /// Index of the endpoint a datagram from `addr` belongs to (wire.md 2.2): an exact address
    /// match among non-TCP endpoints, else the P2P-Inet endpoint without an RTT yet when the
    /// source IPv4 address shares octets 2-4 with it (2.4.4's relaxed "/24" check, which admits a
    /// symmetric NAT's changed port).
    pub fn find(&self, addr: SocketAddr) -> Option<usize> {
        let addr = canonical(addr);
        if let Some(i) = self
            .list
            .iter()
            .position(|e| e.kind != EndpointType::TcpRelay && canonical(e.addr) == addr)
        {
            return Some(i);
        }
        let IpAddr::V4(src) = addr.ip() else {
            return None;
        };
        self.list.iter().position(|e| {
            e.kind == EndpointType::UdpP2pInet
                && e.rtt().is_none()
                && matches!(canonical(e.addr).ip(), IpAddr::V4(v4) if v4.octets()[1..] == src.octets()[1..])
        })
    }

    /// Index of the TCP relay a frame received on the TCP connection to `addr` belongs to.
    pub fn find_tcp(&self, addr: SocketAddr) -> Option<usize> {
        let addr = canonical(addr);
        self.list
            .iter()
            .position(|e| e.kind == EndpointType::TcpRelay && canonical(e.addr) == addr)
    }

    /// Adds a TCP copy of every UDP relay (id XOR [`TCP_COPY_XOR`], same address and tag,
    /// wire.md 7.1/7.3) that has none yet. Returns how many were added.
    pub fn add_tcp_copies(&mut self) -> usize {
        let copies: Vec<RemoteEndpoint> = self
            .list
            .iter()
            .filter(|e| e.kind == EndpointType::UdpRelay)
            .filter(|e| self.index_of(e.id ^ TCP_COPY_XOR).is_none())
            .map(|e| RemoteEndpoint {
                id: e.id ^ TCP_COPY_XOR,
                kind: EndpointType::TcpRelay,
                last_ping: None,
                rtt_samples: VecDeque::with_capacity(RTT_SAMPLES),
                self_info_answers: 0,
                dead: false,
                ..e.clone()
            })
            .collect();
        let n = copies.len();
        self.list.extend(copies);
        n
    }

    /// Adds an IPv6-only UDP copy (id XOR [`IPV6_COPY_XOR`]) of every relay that has both an
    /// IPv4 and an IPv6 address (wire.md 7.6). Returns how many were added.
    pub fn add_ipv6_copies(&mut self) -> usize {
        let copies: Vec<RemoteEndpoint> = self
            .list
            .iter()
            .filter(|e| e.kind == EndpointType::UdpRelay)
            .filter_map(|e| e.alt_v6.map(|v6| (e, v6)))
            .filter(|(e, _)| self.index_of(e.id ^ IPV6_COPY_XOR).is_none())
            .map(|(e, v6)| RemoteEndpoint {
                id: e.id ^ IPV6_COPY_XOR,
                addr: v6,
                alt_v6: None,
                last_ping: None,
                rtt_samples: VecDeque::with_capacity(RTT_SAMPLES),
                self_info_answers: 0,
                dead: false,
                ..e.clone()
            })
            .collect();
        let n = copies.len();
        self.list.extend(copies);
        n
    }

    /// Index of the endpoint with this id.
    pub fn index_of(&self, id: i64) -> Option<usize> {
        self.list.iter().position(|e| e.id == id)
    }

    /// Adds a P2P or LAN endpoint, replacing the one with the same id (keeping current and
    /// preferred where they were). Returns its index.
    pub fn upsert(&mut self, id: i64, addr: SocketAddr, kind: EndpointType) -> usize {
        let entry = RemoteEndpoint {
            id,
            addr,
            kind,
            peer_tag: [0; 16],
            alt_v6: None,
            last_ping: None,
            rtt_samples: VecDeque::with_capacity(RTT_SAMPLES),
            self_info_answers: 0,
            dead: false,
        };
        match self.index_of(id) {
            Some(i) => {
                self.list[i] = entry;
                i
            }
            None => {
                self.list.push(entry);
                self.list.len() - 1
            }
        }
    }

    /// Removes the endpoint with this id unless it is the preferred relay; if it was current,
    /// the preferred relay becomes current.
    pub fn remove(&mut self, id: i64) {
        let Some(i) = self.index_of(id) else {
            return;
        };
        if i == self.preferred {
            return;
        }
        if i == self.current {
            self.current = self.preferred;
        }
        self.list.remove(i);
        if self.current > i {
            self.current -= 1;
        }
        if self.preferred > i {
            self.preferred -= 1;
        }
    }

    /// Makes `idx` current without touching the preferred relay.
    pub fn set_current_only(&mut self, idx: usize) {
        if idx < self.list.len() {
            self.current = idx;
        }
    }

    /// The best live relay other than `except` whose transport is in use: lowest RTT, then
    /// signalling order.
    pub fn best_other_relay(
        &self,
        except: usize,
        usable: impl Fn(EndpointType) -> bool,
    ) -> Option<usize> {
        let live = |(i, e): &(usize, &RemoteEndpoint)| {
            *i != except && e.is_relay() && !e.dead && usable(e.kind)
        };
        let measured = self
            .list
            .iter()
            .enumerate()
            .filter(live)
            .filter_map(|(i, e)| e.rtt().map(|r| (r, i)))
            .min()
            .map(|(_, i)| i);
        measured.or_else(|| self.list.iter().enumerate().find(live).map(|(i, _)| i))
    }

    pub fn get(&self, idx: usize) -> Option<&RemoteEndpoint> {
        self.list.get(idx)
    }

    pub fn get_mut(&mut self, idx: usize) -> Option<&mut RemoteEndpoint> {
        self.list.get_mut(idx)
    }

    pub fn iter(&self) -> impl Iterator<Item = &RemoteEndpoint> {
        self.list.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut RemoteEndpoint> {
        self.list.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Index of the endpoint ordinary packets go to.
    pub fn current(&self) -> usize {
        self.current
    }

    /// Index of the best relay.
    pub fn preferred(&self) -> usize {
        self.preferred
    }

    /// Makes `idx` the current endpoint (and the preferred one if it is a relay).
    pub fn set_current(&mut self, idx: usize) {
        if idx < self.list.len() {
            self.current = idx;
            if self.list[idx].is_relay() {
                self.preferred = idx;
            }
        }
    }

    /// Relay selection (wire.md 7.2): switch to a relay whose RTT (doubled for TCP relays) is
    /// below `threshold` times the preferred relay's. Relays of a transport not in use
    /// (`usable` false) are skipped. Returns true if the preferred relay changed.
    pub fn select_relay(&mut self, threshold: f64, usable: impl Fn(EndpointType) -> bool) -> bool {
        let weight = |e: &RemoteEndpoint| {
            let k = if e.kind == EndpointType::TcpRelay {
                2.0
            } else {
                1.0
            };
            e.rtt().map(|r| r.as_secs_f64() * k)
        };
        let mut best = self.preferred;
        let pref = &self.list[self.preferred];
        let mut best_rtt = weight(pref);
        if pref.dead || !usable(pref.kind) {
            best_rtt = None;
        }
        for (i, e) in self.list.iter().enumerate() {
            if !e.is_relay() || e.dead || !usable(e.kind) {
                continue;
            }
            if let Some(rtt) = weight(e) {
                if best_rtt.is_none_or(|b| rtt < b * threshold) {
                    best = i;
                    best_rtt = Some(rtt);
                }
            }
        }
        if best == self.preferred {
            return false;
        }
        let current_is_relay = self.list[self.current].is_relay();
        self.preferred = best;
        if current_is_relay {
            self.current = best;
        }
        true
    }

    /// Makes `idx` both current and preferred, whatever its kind.
    pub fn set_current_and_preferred(&mut self, idx: usize) {
        if idx < self.list.len() {
            self.current = idx;
            self.preferred = idx;
        }
    }
}

/// Maps IPv4-mapped IPv6 addresses to plain IPv4 so both forms compare equal.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn relay(id: i64, v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> Endpoint {
        Endpoint {
            id,
            ipv4: v4,
            ipv6: v6,
            port: 533,
            kind: EndpointType::UdpRelay,
            peer_tag: [id as u8; 16],
        }
    }

    #[test]
    fn tcp_and_ipv6_copies_have_synthetic_ids_and_their_own_lookup() {
        let v4 = Ipv4Addr::new(10, 0, 0, 1);
        let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let mut t =
            EndpointTable::new(&[relay(7, Some(v4), Some(v6)), relay(8, Some(v4), None)]).unwrap();
        assert_eq!(t.add_ipv6_copies(), 1);
        assert_eq!(t.add_ipv6_copies(), 0, "once");
        let c6 = t.index_of(7 ^ IPV6_COPY_XOR).unwrap();
        let e = t.get(c6).unwrap();
        assert_eq!(
            (e.addr, e.kind, e.peer_tag),
            (
                SocketAddr::new(v6.into(), 533),
                EndpointType::UdpRelay,
                [7; 16]
            )
        );
        assert_eq!(t.find(SocketAddr::new(v6.into(), 533)), Some(c6));
        // TCP copies of every UDP relay (the IPv6 copy included); datagrams never match them.
        assert_eq!(t.add_tcp_copies(), 3);
        assert_eq!(t.add_tcp_copies(), 0, "once");
        let tcp = t.index_of(7 ^ TCP_COPY_XOR).unwrap();
        assert_eq!(t.get(tcp).unwrap().kind, EndpointType::TcpRelay);
        let addr = SocketAddr::new(v4.into(), 533);
        assert_eq!(t.find_tcp(addr), Some(tcp));
        assert_eq!(t.find(addr), t.index_of(7));
        assert_eq!(0x5443_5000_i64 << 32, TCP_COPY_XOR);
    }
}
