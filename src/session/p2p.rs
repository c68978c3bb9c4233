//! Direct (P2P) paths, wire.md 7.4: public endpoints learned from the relays' peer-info answers,
//! LAN endpoints announced in extras, and the switch between relay and direct path (7.2 steps
//! 4 and 5). Nothing here runs unless `allow_p2p` is set.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::api::EndpointType;
use crate::wire::{relay, Extra};

use super::endpoints::{LAN_ID, P2P_INET_ID};
use super::{Session, Transmit, Via};

/// Peer-info requests are repeated this often while unanswered (2.4.4: 5 s) ...
const PEER_INFO_INTERVAL: Duration = Duration::from_secs(5);
/// ... at most this many times in a row.
const PEER_INFO_MAX_TRIES: u32 = 10;
/// `relay_to_p2p_switch_threshold` and `p2p_to_relay_switch_threshold`.
const RELAY_TO_P2P: f64 = 0.8;
const P2P_TO_RELAY: f64 = 0.6;

/// P2P bookkeeping.
#[derive(Debug, Default)]
pub(super) struct P2p {
    /// Our address to announce as LAN endpoint (an interface address and the socket's port).
    lan_addr: Option<SocketAddrV4>,
    /// A peer-info request is waiting for its answer.
    outstanding: bool,
    next_request: Option<Instant>,
    tries: u32,
    /// Peer-info answers received.
    pub(super) answers: u64,
}

impl P2p {
    /// When the next peer-info repeat is due.
    pub(super) fn next_request(&self) -> Option<Instant> {
        self.next_request
    }
}

impl Session {
    /// Sets the address announced to the peer as our LAN endpoint (an IPv4 address of the
    /// active interface and the call socket's port). When it is a loopback address, LAN
    /// endpoints the peer announces outside loopback are ignored: they are unreachable from a
    /// loopback-bound socket.
    pub fn set_lan_address(&mut self, addr: Option<SocketAddrV4>) {
        self.p2p.lan_addr = addr;
    }

    /// Whether the current endpoint is a direct (P2P or LAN) path.
    pub fn on_direct_path(&self) -> bool {
        self.endpoints
            .get(self.endpoints.current())
            .is_some_and(|e| !e.is_relay())
    }

    /// Sends a peer-info request to every IPv4 UDP relay (only with `allow_p2p`).
    pub(super) fn request_peer_info(&mut self, now: Instant) {
        if !self.cfg.allow_p2p || !self.udp_in_use() {
            return;
        }
        if !self.p2p.outstanding {
            self.p2p.tries = 0;
        }
        self.p2p.outstanding = true;
        self.p2p.tries += 1;
        self.p2p.next_request =
            (self.p2p.tries < PEER_INFO_MAX_TRIES).then_some(now + PEER_INFO_INTERVAL);
        let mut list = Vec::new();
        for e in self.endpoints.iter() {
            if e.kind == EndpointType::UdpRelay && e.addr.is_ipv4() {
                let mut data = Vec::with_capacity(32);
                relay::write_peer_info_request(&e.peer_tag, &mut data);
                list.push(Transmit {
                    to: e.addr,
                    via: Via::Udp,
                    data,
                });
            }
        }
        for t in list {
            self.push_transmit(t);
        }
    }

    /// Stops waiting for a peer-info answer (UDP found unavailable, wire.md 7.3).
    pub(super) fn p2p_stop_waiting(&mut self) {
        self.p2p.outstanding = false;
        self.p2p.next_request = None;
    }

    /// The peer-info repeat timer.
    pub(super) fn peer_info_timer(&mut self, now: Instant) {
        if self.p2p.next_request.is_some_and(|t| now >= t) {
            self.p2p.next_request = None;
            if self.p2p.outstanding {
                self.request_peer_info(now);
            }
        }
    }

    /// A peer-info answer from a relay (wire.md 2.4.4).
    pub(super) fn on_peer_info(&mut self, my_addr: [u8; 4], peer_addr: [u8; 4], peer_port: u32) {
        if !self.cfg.allow_p2p {
            return;
        }
        self.p2p.answers += 1;
        // Step 1 leaves the IPv4 P2P and LAN paths only, not the IPv6 one.
        if self.on_direct_path() && !self.on_p2p6() {
            let preferred = self.endpoints.preferred();
            self.endpoints.set_current_only(preferred);
        }
        self.endpoints.remove(LAN_ID);
        if !self.p2p.outstanding {
            return;
        }
        self.p2p.outstanding = false;
        self.p2p.next_request = None;
        let Ok(port) = u16::try_from(peer_port) else {
            return;
        };
        if port == 0 {
            return;
        }
        let peer = SocketAddr::from((Ipv4Addr::from(peer_addr), port));
        self.endpoints
            .upsert(P2P_INET_ID, peer, EndpointType::UdpP2pInet);
        if my_addr == peer_addr {
            if let Some(lan) = self.p2p.lan_addr {
                self.extras_out.queue(Extra::LanEndpoint {
                    addr: lan.ip().octets(),
                    port: u32::from(lan.port()),
                });
            }
        }
    }

    /// The peer announced its LAN address (extra or legacy packet).
    pub(super) fn on_lan_endpoint(&mut self, addr: [u8; 4], port: u32) {
        if !self.cfg.allow_p2p {
            return;
        }
        if self.endpoints.current() == self.endpoints.index_of(LAN_ID).unwrap_or(usize::MAX) {
            let preferred = self.endpoints.preferred();
            self.endpoints.set_current_only(preferred);
        }
        let ip = Ipv4Addr::from(addr);
        let lan = SocketAddr::from((ip, port as u16));
        let local_loopback = self.p2p.lan_addr.is_some_and(|a| a.ip().is_loopback());
        if (local_loopback && !ip.is_loopback()) || ip.is_unspecified() || port as u16 == 0 {
            return;
        }
        // Same address as the public endpoint: one endpoint is enough.
        let same_as_public = self
            .endpoints
            .index_of(P2P_INET_ID)
            .and_then(|i| self.endpoints.get(i))
            .is_some_and(|e| e.addr == lan);
        if same_as_public {
            self.endpoints.remove(LAN_ID);
            return;
        }
        self.endpoints.upsert(LAN_ID, lan, EndpointType::UdpP2pLan);
    }

    /// The peer's network changed: back to a relay, look for its new public address, forget
    /// every RTT (wire.md 5.3).
    pub(super) fn on_peer_network_changed(&mut self, now: Instant) {
        if self.on_direct_path() {
            let preferred = self.endpoints.preferred();
            self.endpoints.set_current_only(preferred);
        }
        for ep in self.endpoints.iter_mut() {
            ep.clear_rtt();
        }
        self.request_peer_info(now);
    }

    /// Relay/direct switching after the pings (wire.md 7.2 steps 4 and 5).
    pub(super) fn choose_path(&mut self) {
        let preferred = self.endpoints.preferred();
        let min_ping = self
            .endpoints
            .get(preferred)
            .and_then(|e| e.rtt())
            .map(|r| {
                let k = if self
                    .endpoints
                    .get(preferred)
                    .is_some_and(|e| e.kind == EndpointType::TcpRelay)
                {
                    2.0
                } else {
                    1.0
                };
                r.as_secs_f64() * k
            });
        let cur = self.endpoints.current();
        let Some(cur_ep) = self.endpoints.get(cur) else {
            return;
        };
        if cur_ep.kind == EndpointType::UdpRelay {
            if !self.cfg.allow_p2p || self.endpoints.index_of(P2P_INET_ID).is_none() {
                return;
            }
            let limit = min_ping.map_or(f64::INFINITY, |m| m * RELAY_TO_P2P);
            for id in [LAN_ID, P2P_INET_ID] {
                let Some(i) = self.endpoints.index_of(id) else {
                    continue;
                };
                let rtt = self.endpoints.get(i).and_then(|e| e.rtt());
                if rtt.is_some_and(|r| r.as_secs_f64() > 0.0 && r.as_secs_f64() < limit) {
                    self.endpoints.set_current_only(i);
                    return;
                }
            }
        } else if !cur_ep.is_relay() || cur_ep.kind == EndpointType::TcpRelay {
            let cur_rtt = cur_ep.rtt().map_or(0.0, |r| r.as_secs_f64());
            if min_ping.is_some_and(|m| m > 0.0 && m < cur_rtt * P2P_TO_RELAY) {
                self.endpoints.set_current_only(preferred);
            }
        }
    }
}

/// The address to announce as our LAN endpoint for a socket bound to `local`: the bound IPv4
/// address itself when it is specific (loopback included), else the given interface address.
pub fn lan_address(local: SocketAddr, interface: Option<Ipv4Addr>) -> Option<SocketAddrV4> {
    let ip = match local.ip() {
        IpAddr::V4(v4) if !v4.is_unspecified() => v4,
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => v6.to_ipv4_mapped()?,
        _ => interface?,
    };
    Some(SocketAddrV4::new(ip, local.port()))
}
