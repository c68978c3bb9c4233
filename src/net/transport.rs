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
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `pollfds` is a valid array of `len` pollfd structs during the call.
        let rc = unsafe {
            libc::poll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                ms,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(err);
        }
        Ok(rc > 0)
    }
}
