//! The remote endpoint table: relays from signalling, the current and preferred ones, and
//! per-endpoint ping RTT.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::api::{Endpoint, EndpointType};

/// RTT samples kept per endpoint.
const RTT_SAMPLES: usize = 6;

/// One remote endpoint as the session tracks it.
#[derive(Debug, Clone)]
pub struct RemoteEndpoint {
    pub id: i64,
    pub addr: SocketAddr,
    pub kind: EndpointType,
    pub peer_tag: [u8; 16],
    /// Seq and send time of the last PING sent to it.
    pub last_ping: Option<(u32, Instant)>,
    rtt_samples: VecDeque<Duration>,
    /// Self-info responses received from this relay.
    pub self_info_answers: u32,
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
            let entry = RemoteEndpoint {
                id: e.id,
                addr: SocketAddr::new(ip, e.port),
                kind: e.kind,
                peer_tag: e.peer_tag,
                last_ping: None,
                rtt_samples: VecDeque::with_capacity(RTT_SAMPLES),
                self_info_answers: 0,
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

    /// Index of the endpoint a datagram from `addr` belongs to.
    pub fn find(&self, addr: SocketAddr) -> Option<usize> {
        let addr = canonical(addr);
        self.list.iter().position(|e| canonical(e.addr) == addr)
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

    /// Relay selection (wire.md 7.2): switch to a relay whose RTT is below `threshold` times the
    /// preferred relay's. Returns true if the preferred relay changed.
    pub fn select_relay(&mut self, threshold: f64) -> bool {
        let mut best = self.preferred;
        let mut best_rtt = self.list[self.preferred].rtt().map(|r| r.as_secs_f64());
        for (i, e) in self.list.iter().enumerate() {
            if !e.is_relay() {
                continue;
            }
            if let Some(rtt) = e.rtt().map(|r| r.as_secs_f64()) {
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
