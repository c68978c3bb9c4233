//! A sans-IO TURN client (RFC 5766, UDP, long-term credentials) for one (local socket, TURN
//! server) pair: it allocates a relayed address, keeps the allocation and the peer permissions
//! fresh, wraps outgoing datagrams in Send indications and unwraps Data indications. Used by
//! [`super::TgcallsCall`] for `phoneConnectionWebrtc` servers with the `turn` flag.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::wire::turn::{self, Credentials};

/// Allocate requests before giving up, 500 ms apart, doubling.
const ALLOCATE_TRIES: u32 = 5;
const FIRST_RTO: Duration = Duration::from_millis(500);
/// Permissions last 300 s on the server; refreshed after this long.
const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// Allocation lifetime assumed when the server names none.
const DEFAULT_LIFETIME: u32 = 600;

/// What the call must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEvent {
    /// The relayed address is ready (add it as a relayed candidate).
    Allocated(SocketAddr),
    /// A datagram from `peer` through the relay.
    Data { peer: SocketAddr, data: Vec<u8> },
    /// The server refused us (bad credentials, no answer).
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Allocating {
        txid: [u8; 12],
        tries: u32,
        next_send: Instant,
    },
    Allocated {
        relayed: SocketAddr,
        refresh_at: Instant,
        refresh_txid: Option<[u8; 12]>,
    },
    Failed,
}

/// One TURN allocation.
#[derive(Debug)]
pub struct TurnClient {
    local: SocketAddr,
    server: SocketAddr,
    username: String,
    password: String,
    creds: Option<Credentials>,
    state: State,
    /// Peer IPs with a permission and when to refresh it.
    permissions: Vec<(IpAddr, Instant)>,
    /// Outstanding CreatePermission requests (txid, peer).
    pending_permissions: Vec<([u8; 12], SocketAddr)>,
    out: VecDeque<Vec<u8>>,
    auth_retries: u32,
}

impl TurnClient {
    /// A client that will allocate on `server` from the socket bound to `local`.
    pub fn new(
        local: SocketAddr,
        server: SocketAddr,
        username: &str,
        password: &str,
        now: Instant,
    ) -> TurnClient {
        TurnClient {
            local,
            server,
            username: username.to_owned(),
            password: password.to_owned(),
            creds: None,
            state: State::Allocating {
                txid: rand::random(),
                tries: 0,
                next_send: now,
            },
            permissions: Vec::new(),
            pending_permissions: Vec::new(),
            out: VecDeque::new(),
            auth_retries: 0,
        }
    }

    /// The local socket address this allocation uses.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The TURN server.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The relayed address, once allocated.
    pub fn relayed(&self) -> Option<SocketAddr> {
        match self.state {
            State::Allocated { relayed, .. } => Some(relayed),
            _ => None,
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match &self.state {
            State::Allocating { next_send, .. } => Some(*next_send),
            State::Allocated { refresh_at, .. } => Some(*refresh_at),
            State::Failed => None,
        };
        let perms = self.permissions.iter().map(|p| p.1).min();
        [state, perms].into_iter().flatten().min()
    }

    /// Sends due (re)allocations, refreshes and permission refreshes.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TurnEvent> {
        match &mut self.state {
            State::Allocating {
                txid,
                tries,
                next_send,
            } if *next_send <= now => {
                if *tries >= ALLOCATE_TRIES {
                    self.state = State::Failed;
                    return Some(TurnEvent::Failed("no answer to Allocate".into()));
                }
                *next_send = now + FIRST_RTO * (1 << *tries);
                *tries += 1;
                let msg = turn::allocate(txid, self.creds.as_ref());
                self.out.push_back(msg);
            }
            State::Allocated {
                refresh_at,
                refresh_txid,
                ..
            } if *refresh_at <= now => {
                if let Some(c) = &self.creds {
                    let txid = rand::random();
                    *refresh_txid = Some(txid);
                    *refresh_at = now + Duration::from_secs(u64::from(DEFAULT_LIFETIME) / 2);
                    self.out
                        .push_back(turn::refresh(&txid, DEFAULT_LIFETIME, c));
                }
            }
            _ => {}
        }
        let due: Vec<IpAddr> = self
            .permissions
            .iter()
            .filter(|p| p.1 <= now)
            .map(|p| p.0)
            .collect();
        for ip in due {
            self.request_permission(now, SocketAddr::new(ip, 0));
        }
        None
    }

    /// The next message for the server (send from [`local`](Self::local) to
    /// [`server`](Self::server)).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Releases the allocation (Refresh with lifetime 0); nothing is sent after this.
    pub fn release(&mut self) {
        if let (State::Allocated { .. }, Some(c)) = (&self.state, &self.creds) {
            self.out.push_back(turn::refresh(&rand::random(), 0, c));
        }
        self.state = State::Failed;
        self.permissions.clear();
    }

    /// Sends `data` to `peer` through the relay (a permission is requested first if needed).
    /// Returns false when there is no allocation.
    pub fn send(&mut self, now: Instant, peer: SocketAddr, data: &[u8]) -> bool {
        if self.relayed().is_none() {
            return false;
        }
        if !self.permissions.iter().any(|p| p.0 == peer.ip()) {
            self.request_permission(now, peer);
        }
        self.out
            .push_back(turn::send_indication(&rand::random(), peer, data));
        true
    }

    fn request_permission(&mut self, now: Instant, peer: SocketAddr) {
        let Some(c) = &self.creds else {
            return;
        };
        let txid = rand::random();
        self.out.push_back(turn::create_permission(&txid, peer, c));
        self.pending_permissions.push((txid, peer));
        match self.permissions.iter_mut().find(|p| p.0 == peer.ip()) {
            Some(p) => p.1 = now + PERMISSION_REFRESH,
            None => self.permissions.push((peer.ip(), now + PERMISSION_REFRESH)),
        }
    }

    /// A datagram from the server. Returns what it meant, if anything.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Option<TurnEvent> {
        let m = turn::parse(data)?;
        if m.kind == turn::DATA_INDICATION {
            return Some(TurnEvent::Data {
                peer: m.peer?,
                data: m.data?,
            });
        }
        // Stale nonce or first challenge: take the server's realm and nonce.
        let challenge = m.is_error() && matches!(m.error_code, Some(401) | Some(438));
        if challenge {
            if let (Some(realm), Some(nonce)) = (&m.realm, &m.nonce) {
                self.creds = Some(Credentials::new(
                    &self.username,
                    &self.password,
                    realm,
                    nonce,
                ));
            }
        }
        if let Some(i) = self.pending_permissions.iter().position(|p| p.0 == m.txid) {
            let (_, peer) = self.pending_permissions.swap_remove(i);
            if challenge && self.auth_retries < 3 {
                self.auth_retries += 1;
                self.request_permission(now, peer);
            }
            return None;
        }
        match &mut self.state {
            State::Allocating {
                txid, next_send, ..
            } if m.txid == *txid => {
                if m.is_success() {
                    let relayed = m.relayed?;
                    let lifetime = m.lifetime.unwrap_or(DEFAULT_LIFETIME).max(60);
                    self.state = State::Allocated {
                        relayed,
                        refresh_at: now + Duration::from_secs(u64::from(lifetime) / 2),
                        refresh_txid: None,
                    };
                    return Some(TurnEvent::Allocated(relayed));
                }
                if challenge && self.auth_retries < 3 && self.creds.is_some() {
                    self.auth_retries += 1;
                    *txid = rand::random();
                    *next_send = now;
                    let msg = turn::allocate(txid, self.creds.as_ref());
                    *next_send = now + FIRST_RTO;
                    self.out.push_back(msg);
                    return None;
                }
                self.state = State::Failed;
                Some(TurnEvent::Failed(format!(
                    "Allocate refused: error {:?}",
                    m.error_code
                )))
            }
            State::Allocated {
                refresh_txid,
                refresh_at,
                ..
            } if Some(m.txid) == *refresh_txid => {
                *refresh_txid = None;
                if challenge {
                    *refresh_at = now;
                }
                None
            }
            _ => None,
        }
    }
}
