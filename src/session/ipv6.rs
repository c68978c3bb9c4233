//! IPv6 (wire.md 7.6): IPv6-only copies of dual-address relays when this device has an IPv6
//! address, the one-per-network IPV6_ENDPOINT announcement after a relay's self-info answer
//! echoes that address (no NAT), and the IPv6 P2P endpoint a peer's announcement creates.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use crate::api::EndpointType;
use crate::wire::Extra;

use super::endpoints::P2P_INET6_ID;
use super::Session;

/// IPv6 bookkeeping.
#[derive(Debug, Default)]
pub(super) struct Ipv6State {
    /// Our IPv6 address and the call socket's port, when the device has one.
    local: Option<SocketAddrV6>,
    /// IPV6_ENDPOINT was sent on this network.
    announced: bool,
}

/// Whether 2.4.4 counts an address as usable IPv6: the first octet's high nibble is not `F`
/// (which excludes link-local, ULA and multicast) and it is not unspecified.
pub fn is_usable_ipv6(ip: &Ipv6Addr) -> bool {
    ip.octets()[0] >> 4 != 0xF && !ip.is_unspecified() && ip.to_ipv4_mapped().is_none()
}

impl Session {
    /// Sets this device's IPv6 address and the call socket's port (`None`: no IPv6). With one,
    /// every relay that has both an IPv4 and an IPv6 address gets an IPv6-only copy. Call
    /// before [`connect`](Self::connect).
    pub fn set_local_ipv6(&mut self, local: Option<SocketAddrV6>) {
        self.ipv6.local = local.filter(|a| is_usable_ipv6(a.ip()));
        if self.ipv6.local.is_some() {
            self.endpoints.add_ipv6_copies();
        }
    }

    /// Whether this device has usable IPv6.
    pub fn has_ipv6(&self) -> bool {
        self.ipv6.local.is_some()
    }

    /// A self-info answer from endpoint `idx`: from an IPv6-only relay that sees our own address
    /// (so no NAT), announce our IPv6 endpoint once per network (with `allow_p2p`).
    pub(super) fn on_self_info_ipv6(&mut self, idx: usize, my_ip: [u8; 16]) {
        let Some(local) = self.ipv6.local else {
            return;
        };
        let v6_only = self
            .endpoints
            .get(idx)
            .is_some_and(|e| e.kind == EndpointType::UdpRelay && is_v6_only(e.addr));
        if !v6_only || self.ipv6.announced || my_ip != local.ip().octets() {
            return;
        }
        self.ipv6.announced = true;
        if self.cfg.allow_p2p {
            self.extras_out.queue(Extra::Ipv6Endpoint {
                addr: my_ip,
                port: local.port(),
            });
        }
    }

    /// The peer announced its IPv6 endpoint: create the IPv6 P2P endpoint and, if we have IPv6,
    /// make it current at once (wire.md 5.3).
    pub(super) fn on_ipv6_endpoint(&mut self, addr: [u8; 16], port: u16) {
        if !self.cfg.allow_p2p || port == 0 {
            return;
        }
        let ip = Ipv6Addr::from(addr);
        if !is_usable_ipv6(&ip) {
            return;
        }
        let idx = self.endpoints.upsert(
            P2P_INET6_ID,
            SocketAddr::new(IpAddr::V6(ip), port),
            EndpointType::UdpP2pInet,
        );
        if self.ipv6.local.is_some() {
            self.endpoints.set_current_only(idx);
        }
    }

    /// A local network change allows a new announcement (wire.md 7.7 step 4).
    pub(super) fn ipv6_network_changed(&mut self) {
        self.ipv6.announced = false;
        if self.ipv6.local.is_some() {
            self.endpoints.add_ipv6_copies();
        }
    }

    /// Whether the current endpoint is the IPv6 P2P endpoint.
    pub(super) fn on_p2p6(&self) -> bool {
        self.endpoints
            .get(self.endpoints.current())
            .is_some_and(|e| e.id == P2P_INET6_ID)
    }
}

/// A plain IPv6 address (not IPv4-mapped).
fn is_v6_only(addr: SocketAddr) -> bool {
    matches!(addr, SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_none())
}
