//! The call's transport multiplexer: one UDP socket for relays and direct paths, plus one
//! lazily opened TCP connection per TCP relay, optionally all through a SOCKS5 proxy (UDP
//! ASSOCIATE for datagrams, CONNECT per TCP relay). Non-blocking; waited on with `poll(2)`.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::session::Via;

use super::proxy::{self, ProxyConfig, ProxyError, UdpAssociation};
use super::socks5;
use super::tcp_relay::{TcpRelayConn, TcpRelayError};
use super::udp::UdpTransport;

/// After a TCP relay connection fails, packets for that relay are dropped for this long before
/// a new connection is tried (no reconnect storm at the packet rate).
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// Something received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A UDP datagram of `len` bytes, now at the start of the caller's buffer.
    Datagram { len: usize, from: SocketAddr },
    /// One packet from the TCP connection to the relay at `from`.
    Tcp { from: SocketAddr, packet: Vec<u8> },
}

/// Counters of the transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// TCP relay connections opened.
    pub tcp_connects: u64,
    /// TCP relay connections that failed or went idle.
    pub tcp_failures: u64,
    /// Packets received over TCP.
    pub tcp_packets_in: u64,
    /// Packets sent over TCP.
    pub tcp_packets_out: u64,
    /// Datagrams sent through the SOCKS5 UDP relay.
    pub proxied_datagrams_out: u64,
}

/// All sockets of one call.
pub struct Transport {
    udp: UdpTransport,
    tcp: Vec<(SocketAddr, TcpRelayConn)>,
    /// When the last connection to each TCP relay failed.
    tcp_failed: Vec<(SocketAddr, Instant)>,
    proxy: Option<ProxyConfig>,
    assoc: Option<UdpAssociation>,
    tcp_in: VecDeque<(SocketAddr, Vec<u8>)>,
    scratch: Vec<Vec<u8>>,
    pollfds: Vec<libc::pollfd>,
    proxy_failure: Option<String>,
    stats: TransportStats,
}

impl Transport {
    /// Wraps the call's UDP socket; no proxy, no TCP connection yet.
    pub fn new(udp: UdpTransport) -> Transport {
        Transport {
            udp,
            tcp: Vec::new(),
            tcp_failed: Vec::new(),
            proxy: None,
            assoc: None,
            tcp_in: VecDeque::new(),
            scratch: Vec::new(),
            pollfds: Vec::new(),
            proxy_failure: None,
            stats: TransportStats::default(),
        }
    }

    /// Routes everything through this SOCKS5 proxy (call [`setup`](Self::setup) next).
    pub fn set_proxy(&mut self, proxy: Option<ProxyConfig>) {
        self.proxy = proxy;
    }

    /// Establishes the proxy's UDP association (no-op without a proxy). Blocks for at most a
    /// few seconds; a refusal (wrong password, ...) is an error the call fails with.
    pub fn setup(&mut self) -> Result<(), ProxyError> {
        let Some(p) = self.proxy.as_ref() else {
            return Ok(());
        };
        match proxy::udp_associate(p) {
            Ok(a) => {
                self.assoc = Some(a);
                Ok(())
            }
            // A proxy without UDP ASSOCIATE: datagrams go direct (as 2.4.4 does once it finds
            // the proxy has no UDP); TCP relays still go through it.
            Err(ProxyError::Socks(socks5::Socks5Error::CommandFailed(_))) => Ok(()),
            Err(e) => {
                self.proxy_failure = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Whether datagrams go through the proxy's UDP association.
    pub fn udp_proxied(&self) -> bool {
        self.assoc.is_some()
    }

    /// Sends datagrams directly from now on (the proxy relays no UDP); TCP relays still use
    /// the proxy.
    pub fn drop_udp_proxy(&mut self) {
        self.assoc = None;
    }

    /// The proxy's refusal seen on a TCP relay connection, once.
    pub fn take_proxy_failure(&mut self) -> Option<String> {
        self.proxy_failure.take()
    }

    /// Counters.
    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// The UDP socket's local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// Open TCP relay connections.
    pub fn tcp_connections(&self) -> usize {
        self.tcp.len()
    }

    /// Closes every TCP relay connection (they reopen on the next TCP send).
    pub fn close_tcp(&mut self) {
        self.tcp.clear();
    }

    /// Sends one packet: a datagram, or a frame on the (possibly new) connection to the TCP
    /// relay at `to`.
    pub fn send(
        &mut self,
        now: Instant,
        via: Via,
        to: SocketAddr,
        data: &[u8],
    ) -> io::Result<usize> {
        match via {
            Via::Udp => match self.assoc.as_ref() {
                Some(a) => {
                    let mut wrapped = Vec::with_capacity(data.len() + 22);
                    socks5::wrap_udp(to, data, &mut wrapped);
                    self.stats.proxied_datagrams_out += 1;
                    self.udp.send_to(&wrapped, a.relay).map(|_| data.len())
                }
                None => self.udp.send_to(data, to),
            },
            Via::Tcp => {
                let i = match self.tcp.iter().position(|(a, _)| *a == to) {
                    Some(i) => i,
                    None => {
                        let recent_failure = self.tcp_failed.iter().any(|(a, t)| {
                            *a == to && now.saturating_duration_since(*t) < RECONNECT_BACKOFF
                        });
                        if recent_failure {
                            return Err(io::ErrorKind::NotConnected.into());
                        }
                        let conn = TcpRelayConn::open(to, self.proxy.as_ref(), now)?;
                        self.stats.tcp_connects += 1;
                        self.tcp.push((to, conn));
                        self.tcp.len() - 1
                    }
                };
                if !self.tcp[i].1.queue(data) {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                self.stats.tcp_packets_out += 1;
                Ok(data.len())
            }
        }
    }

    /// The next received datagram or TCP packet, if any (`Ok(None)` when nothing is waiting).
    /// Also moves queued TCP bytes along.
    pub fn try_recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<Incoming>> {
        if let Some((from, packet)) = self.tcp_in.pop_front() {
            return Ok(Some(Incoming::Tcp { from, packet }));
        }
        while let Some((n, from)) = self.udp.try_recv(buf)? {
            let Some(a) = self.assoc.as_ref() else {
                return Ok(Some(Incoming::Datagram { len: n, from }));
            };
            if from != a.relay {
                return Ok(Some(Incoming::Datagram { len: n, from }));
            }
            // From the proxy's UDP relay: strip the SOCKS5 header; drop what does not parse.
            let Ok((src, payload)) = socks5::unwrap_udp(&buf[..n]) else {
                continue;
            };
            let (off, len) = (n - payload.len(), payload.len());
            buf.copy_within(off..n, 0);
            return Ok(Some(Incoming::Datagram { len, from: src }));
        }
        self.service_tcp(now);
        Ok(self
            .tcp_in
            .pop_front()
            .map(|(from, packet)| Incoming::Tcp { from, packet }))
    }

    /// Services every TCP connection; failed ones are closed (and reopen on the next send).
    fn service_tcp(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.tcp.len() {
            let (addr, conn) = &mut self.tcp[i];
            let addr = *addr;
            self.scratch.clear();
            let result = conn.service(now, &mut self.scratch);
            self.stats.tcp_packets_in += self.scratch.len() as u64;
            for p in self.scratch.drain(..) {
                self.tcp_in.push_back((addr, p));
            }
            match result {
                Ok(()) => i += 1,
                Err(e) => {
                    if let TcpRelayError::Proxy(p) = &e {
                        self.proxy_failure = Some(p.to_string());
                    }
                    self.stats.tcp_failures += 1;
                    self.tcp_failed.retain(|(a, _)| *a != addr);
                    self.tcp_failed.push((addr, now));
                    self.tcp.remove(i);
                }
            }
        }
    }

    /// Waits until a socket is readable (or a TCP connection writable) or `timeout` passes.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        self.pollfds.clear();
        self.pollfds.push(libc::pollfd {
            fd: self.udp.fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        for (_, c) in &self.tcp {
            let mut events = libc::POLLIN;
            if c.wants_write() {
                events |= libc::POLLOUT;
            }
            self.pollfds.push(libc::pollfd {
                fd: c.fd(),
                events,
                revents: 0,
            });
        }
        super::udp::poll_fds(&mut self.pollfds, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, TcpListener};

    use crate::wire::tcp::TcpObfuscation;

    /// Polls the transport until a TCP packet arrives (or 2 s pass).
    fn next_tcp(t: &mut Transport) -> Option<(SocketAddr, Vec<u8>)> {
        let mut buf = [0u8; 1500];
        let end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < end {
            let _ = t.wait(Duration::from_millis(20));
            if let Ok(Some(Incoming::Tcp { from, packet })) = t.try_recv(Instant::now(), &mut buf) {
                return Some((from, packet));
            }
        }
        None
    }

    #[test]
    fn tcp_relay_round_trip_then_backoff_after_the_relay_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = listener.local_addr().unwrap();
        let udp = UdpTransport::open(Some(IpAddr::V4(Ipv4Addr::LOCALHOST))).unwrap();
        let mut t = Transport::new(udp);
        t.send(Instant::now(), Via::Tcp, relay, &[7u8; 64]).unwrap();
        assert_eq!(t.tcp_connections(), 1);
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        // Drive the client's writes while the relay end reads header + one frame.
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(2);
        while got.len() < 64 + 1 + 64 && Instant::now() < end {
            let _ = t.try_recv(Instant::now(), &mut [0u8; 1500]);
            let mut b = [0u8; 256];
            if let Ok(n) = conn.read(&mut b) {
                got.extend_from_slice(&b[..n]);
            }
        }
        let header: [u8; 64] = got[..64].try_into().unwrap();
        let mut relay_side = TcpObfuscation::relay_side_from_header(&header).unwrap();
        assert_eq!(relay_side.decode(&got[64..]).unwrap(), vec![vec![7u8; 64]]);
        let mut reply = Vec::new();
        relay_side.encode_frame(&[9u8; 32], &mut reply);
        conn.write_all(&reply).unwrap();
        assert_eq!(next_tcp(&mut t), Some((relay, vec![9u8; 32])));
        assert_eq!(t.stats().tcp_packets_in, 1);
        // The relay goes away: the connection fails, and for a while no new one is tried.
        drop(conn);
        drop(listener);
        let end = Instant::now() + Duration::from_secs(2);
        while t.tcp_connections() > 0 && Instant::now() < end {
            let _ = t.wait(Duration::from_millis(10));
            let _ = t.try_recv(Instant::now(), &mut [0u8; 1500]);
        }
        assert_eq!(t.tcp_connections(), 0);
        assert_eq!(t.stats().tcp_failures, 1);
        assert!(t.send(Instant::now(), Via::Tcp, relay, &[7u8; 64]).is_err());
        assert_eq!(t.stats().tcp_connects, 1);
        let later = Instant::now() + RECONNECT_BACKOFF;
        assert!(t.send(later, Via::Tcp, relay, &[7u8; 64]).is_ok());
        assert_eq!(t.stats().tcp_connects, 2);
    }
}
