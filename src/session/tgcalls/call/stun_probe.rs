//! STUN servers (`phoneConnectionWebrtc` with `stun`) for a [`TgcallsCall`]: Binding requests
//! from each host candidate, and the server-reflexive candidates the answers give.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::Candidate as IceCandidate;

use super::{CallEvent, CallTransmit, TgcallsCall};
use crate::wire::stun;

/// STUN Binding requests per (host candidate, server), 500 ms apart, doubling.
pub(super) const STUN_TRIES: u32 = 4;
pub(super) const STUN_FIRST_RTO: Duration = Duration::from_millis(500);

/// A Binding request to a STUN server from one host candidate, until answered.
#[derive(Debug, Clone)]
pub(super) struct StunProbe {
    pub(super) txid: [u8; 12],
    pub(super) local: SocketAddr,
    pub(super) server: SocketAddr,
    pub(super) next_send: Instant,
    pub(super) tries: u32,
}

impl TgcallsCall {
    /// Adds a STUN server (`phoneConnectionWebrtc` with `stun`): each host candidate of the same
    /// address family asks it for its public address, which becomes a server-reflexive
    /// candidate when it differs from the host address.
    pub fn add_stun_server(&mut self, server: SocketAddr) {
        if self.stun_servers.contains(&server) {
            return;
        }
        self.stun_servers.push(server);
        for local in self.hosts.clone() {
            self.add_probe(local, server);
        }
    }

    pub(super) fn add_probe(&mut self, local: SocketAddr, server: SocketAddr) {
        if local.is_ipv4() != server.is_ipv4() || !self.p2p_allowed {
            return;
        }
        self.probes.push(StunProbe {
            txid: rand::random(),
            local,
            server,
            next_send: self.started_at.unwrap_or_else(Instant::now),
            tries: 0,
        });
    }

    /// Sends due STUN Binding requests.
    pub(super) fn send_probes(&mut self, now: Instant) {
        if self.started_at.is_none() {
            return;
        }
        for p in &mut self.probes {
            if p.tries < STUN_TRIES && p.next_send <= now {
                self.transmits.push_back(CallTransmit {
                    source: p.local,
                    destination: p.server,
                    data: stun::binding_request(&p.txid),
                });
                p.next_send = now + STUN_FIRST_RTO * (1 << p.tries);
                p.tries += 1;
            }
        }
        self.probes
            .retain(|p| p.tries < STUN_TRIES || p.next_send > now);
    }

    /// A Binding response to one of our probes: adds the server-reflexive candidate.
    pub(super) fn on_stun_response(&mut self, source: SocketAddr, data: &[u8]) -> bool {
        let Some((txid, mapped)) = stun::parse_binding_response(data) else {
            return false;
        };
        let Some(i) = self
            .probes
            .iter()
            .position(|p| p.txid == txid && p.server == source)
        else {
            return false;
        };
        let probe = self.probes.swap_remove(i);
        self.stats.stun_responses += 1;
        self.events.push_back(CallEvent::Log(format!(
            "STUN {}: {} is {mapped}",
            probe.server, probe.local
        )));
        if mapped != probe.local && !self.hosts.contains(&mapped) {
            if let Ok(c) = IceCandidate::server_reflexive(mapped, probe.local, "udp") {
                if let Some(c) = self.rtc.add_local_candidate(c) {
                    let sdp = c.to_sdp_string();
                    self.signal_candidate(&sdp);
                    self.stats.reflexive_candidates += 1;
                }
            }
        }
        true
    }
}
