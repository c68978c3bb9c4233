//! Relays for a [`TgcallsCall`]: TURN allocations (`phoneConnectionWebrtc` with `turn`) and
//! Telegram reflectors (`phoneConnection`, spec/tgcalls.md 3.7). Both appear to str0m as
//! relayed candidates; this file moves datagrams between them and the real servers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::Candidate as IceCandidate;

use super::super::turn::{TurnClient, TurnEvent};
use super::{CallEvent, CallTransmit, TgcallsCall};
use crate::wire::tgcalls::reflector;

/// Reflector hellos: every 500 ms until the first reply, then every 10 s (spec 3.7).
pub(super) const REFLECTOR_HELLO_FAST: Duration = Duration::from_millis(500);
pub(super) const REFLECTOR_HELLO_SLOW: Duration = Duration::from_secs(10);

/// Our port on one Telegram reflector (`phoneConnection`). str0m sees it as a relayed
/// candidate at a synthetic address (240.0.0.0/8, never routed), as it sees each peer port on
/// the same reflector; the real traffic goes to the reflector in its own framing.
#[derive(Debug, Clone)]
pub(super) struct ReflectorPort {
    pub(super) server_id: u8,
    pub(super) server: SocketAddr,
    pub(super) peer_tag: [u8; 16],
    pub(super) local: SocketAddr,
    pub(super) random_tag: u32,
    pub(super) tag: [u8; 16],
    pub(super) synthetic: SocketAddr,
    pub(super) ready: bool,
    pub(super) next_hello: Instant,
}

impl TgcallsCall {
    /// Adds a TURN server (`phoneConnectionWebrtc` with `turn`, username and password): each
    /// host candidate of the same address family allocates a relayed address on it, which
    /// becomes a relayed candidate; media to and from it goes in Send / Data indications.
    pub fn add_turn_server(&mut self, server: SocketAddr, username: &str, password: &str) {
        if self.turn_servers.iter().any(|t| t.0 == server) {
            return;
        }
        self.turn_servers
            .push((server, username.to_owned(), password.to_owned()));
        for local in self.hosts.clone() {
            self.add_turn_client(local, server, username, password);
        }
    }

    pub(super) fn add_turn_client(
        &mut self,
        local: SocketAddr,
        server: SocketAddr,
        user: &str,
        pass: &str,
    ) {
        if local.is_ipv4() != server.is_ipv4() {
            return;
        }
        let now = self.started_at.unwrap_or_else(Instant::now);
        self.turns
            .push(TurnClient::new(local, server, user, pass, now));
    }

    /// Runs the TURN clients' timers and queues their messages.
    pub(super) fn drive_turns(&mut self, now: Instant) {
        if self.started_at.is_none() {
            return;
        }
        for i in 0..self.turns.len() {
            if let Some(ev) = self.turns[i].handle_timeout(now) {
                self.on_turn_event(now, i, ev);
            }
        }
        self.flush_turns();
    }

    pub(super) fn flush_turns(&mut self) {
        for t in &mut self.turns {
            while let Some(data) = t.poll_transmit() {
                self.transmits.push_back(CallTransmit {
                    source: t.local(),
                    destination: t.server(),
                    data,
                });
            }
        }
    }

    pub(super) fn on_turn_event(&mut self, now: Instant, i: usize, ev: TurnEvent) {
        let (local, server) = (self.turns[i].local(), self.turns[i].server());
        match ev {
            TurnEvent::Allocated(relayed) => {
                self.events.push_back(CallEvent::Log(format!(
                    "TURN {server}: {local} relayed as {relayed}"
                )));
                if let Ok(c) = IceCandidate::relayed(relayed, local, "udp") {
                    if let Some(c) = self.rtc.add_local_candidate(c) {
                        let sdp = c.to_sdp_string();
                        self.signal_candidate(&sdp);
                        self.stats.relayed_candidates += 1;
                    }
                }
            }
            TurnEvent::Data { peer, data } => {
                if let Some(relayed) = self.turns[i].relayed() {
                    self.feed_rtc(now, peer, relayed, &data);
                }
            }
            TurnEvent::Failed(why) => self
                .events
                .push_back(CallEvent::Log(format!("TURN {server}: {why}"))),
        }
    }

    /// Adds a Telegram reflector (`phoneConnection` with its 16-byte `peer_tag`; `server_id`
    /// is 1 + its index in the ascending order of the reflector ids, spec 3.1). Our port on it
    /// uses the first host socket of the same address family; call after the host candidates.
    /// Returns false without such a socket.
    pub fn add_reflector(&mut self, server_id: u8, server: SocketAddr, peer_tag: [u8; 16]) -> bool {
        let Some(&local) = self.hosts.iter().find(|h| h.is_ipv4() == server.is_ipv4()) else {
            return false;
        };
        let random_tag = loop {
            let t: u32 = rand::random();
            if t != 0 {
                break t;
            }
        };
        let synthetic = self.alloc_synthetic(server.port());
        self.reflectors.push(ReflectorPort {
            server_id,
            server,
            peer_tag,
            local,
            random_tag,
            tag: reflector::own_tag(&peer_tag, random_tag),
            synthetic,
            ready: false,
            next_hello: self.started_at.unwrap_or_else(Instant::now),
        });
        true
    }

    pub(super) fn alloc_synthetic(&mut self, port: u16) -> SocketAddr {
        let n = self.next_synthetic;
        self.next_synthetic += 1;
        let ip = std::net::Ipv4Addr::new(240, (n >> 16) as u8, (n >> 8) as u8, n as u8);
        SocketAddr::new(ip.into(), port)
    }

    /// The synthetic address str0m uses for the peer port `tag` on reflector `idx`.
    pub(super) fn reflector_peer(&mut self, idx: usize, tag: u32) -> SocketAddr {
        if let Some(p) = self
            .reflector_peers
            .iter()
            .find(|p| p.1 == idx && p.2 == tag)
        {
            return p.0;
        }
        let addr = self.alloc_synthetic(self.reflectors[idx].server.port());
        self.reflector_peers.push((addr, idx, tag));
        addr
    }

    /// Sends due reflector hellos.
    pub(super) fn drive_reflectors(&mut self, now: Instant) {
        if self.started_at.is_none() {
            return;
        }
        for r in &mut self.reflectors {
            if r.next_hello <= now {
                self.transmits.push_back(CallTransmit {
                    source: r.local,
                    destination: r.server,
                    data: reflector::hello(&r.tag),
                });
                r.next_hello = now
                    + if r.ready {
                        REFLECTOR_HELLO_SLOW
                    } else {
                        REFLECTOR_HELLO_FAST
                    };
            }
        }
    }

    /// A datagram from reflector `idx`. Returns false if it was not for us.
    pub(super) fn on_reflector_datagram(&mut self, now: Instant, idx: usize, data: &[u8]) -> bool {
        let tag = self.reflectors[idx].tag;
        match reflector::parse(&tag, data) {
            Some(reflector::Incoming::Service) => {
                if !self.reflectors[idx].ready {
                    self.reflectors[idx].ready = true;
                    self.reflectors[idx].next_hello = now + REFLECTOR_HELLO_SLOW;
                    let r = self.reflectors[idx].clone();
                    if let Ok(c) = IceCandidate::relayed(r.synthetic, r.local, "udp") {
                        if let Some(c) = self.rtc.add_local_candidate(c) {
                            // The peer gets the hostname form tgcalls uses, not the synthetic
                            // address.
                            let sdp = c.to_sdp_string().replacen(
                                &format!("{} {}", r.synthetic.ip(), r.synthetic.port()),
                                &format!(
                                    "{} {}",
                                    reflector::hostname(r.server_id, r.random_tag),
                                    r.server.port()
                                ),
                                1,
                            );
                            self.signal_candidate(&sdp);
                            self.stats.reflector_candidates += 1;
                        }
                    }
                }
                true
            }
            Some(reflector::Incoming::Data { from_tag, payload }) => {
                let from = self.reflector_peer(idx, from_tag);
                let to = self.reflectors[idx].synthetic;
                self.feed_rtc(now, from, to, payload);
                true
            }
            None => false,
        }
    }

    /// A remote candidate on a reflector (`reflector-<id>-<tag>.reflector`) as the synthetic
    /// address of that peer port on our port of the same reflector; `None` for other candidates
    /// or reflectors we do not have.
    pub(super) fn map_reflector_candidate(&mut self, sdp: &str) -> Option<String> {
        let mut tokens: Vec<String> = sdp.split_whitespace().map(str::to_owned).collect();
        let (id, tag) = reflector::parse_hostname(tokens.get(4)?)?;
        let idx = self.reflectors.iter().position(|r| r.server_id == id)?;
        let addr = self.reflector_peer(idx, tag);
        tokens[4] = addr.ip().to_string();
        *tokens.get_mut(5)? = addr.port().to_string();
        Some(tokens.join(" "))
    }
}
