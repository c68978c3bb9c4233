//! One non-blocking TCP connection to a TCP relay, optionally through a SOCKS5 proxy
//! (CONNECT): connect, proxy handshake, the obfuscated2 header, then abridged frames both ways
//! (framing and ciphers from [`crate::wire::tcp`]).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::wire::tcp::TcpObfuscation;

use super::proxy::ProxyConfig;
use super::socks5::{Handshake, Socks5Command, Socks5Error, Step};

/// A connection without successful I/O for this long is closed (2.4.4: 10 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes queued for a connection beyond which new frames are dropped (the link is stuck).
const MAX_QUEUED: usize = 256 * 1024;

/// Why a connection failed.
#[derive(Debug)]
pub enum TcpRelayError {
    Io(io::Error),
    /// The proxy refused (wrong password, ...).
    Proxy(Socks5Error),
    /// The relay's stream is out of sync.
    Framing,
    /// Closed by the other end.
    Closed,
    /// No successful I/O for [`IDLE_TIMEOUT`].
    Idle,
}

impl core::fmt::Display for TcpRelayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TcpRelayError::Io(e) => write!(f, "TCP relay I/O error: {e}"),
            TcpRelayError::Proxy(e) => write!(f, "{e}"),
            TcpRelayError::Framing => f.write_str("TCP relay stream out of sync"),
            TcpRelayError::Closed => f.write_str("TCP relay closed the connection"),
            TcpRelayError::Idle => f.write_str("TCP relay connection idle for 10 s"),
        }
    }
}

/// A TCP relay connection.
pub struct TcpRelayConn {
    stream: TcpStream,
    connected: bool,
    /// SOCKS5 handshake still in progress.
    proxy: Option<Handshake>,
    obf: TcpObfuscation,
    /// Proxy handshake bytes to write (before `out`).
    pre: Vec<u8>,
    /// Obfuscated header and frames to write once the tunnel is open.
    out: Vec<u8>,
    last_io: Instant,
}

impl TcpRelayConn {
    /// Starts connecting to `relay` (or to the proxy, which is then asked to CONNECT to it).
    pub fn open(
        relay: SocketAddr,
        proxy: Option<&ProxyConfig>,
        now: Instant,
    ) -> io::Result<TcpRelayConn> {
        let target = proxy.map_or(relay, |p| p.addr);
        let domain = if target.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        let _ = socket.set_nodelay(true);
        match socket.connect(&target.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let (obf, header) = TcpObfuscation::new_random();
        let handshake =
            proxy.map(|p| Handshake::new(&p.user, &p.pass, Socks5Command::Connect(relay)));
        let pre = handshake.as_ref().map_or_else(Vec::new, Handshake::start);
        Ok(TcpRelayConn {
            stream: socket.into(),
            connected: false,
            proxy: handshake,
            obf,
            pre,
            out: header.to_vec(),
            last_io: now,
        })
    }

    /// The socket, for `poll(2)`.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Whether the connection has bytes to write (or is still connecting).
    pub fn wants_write(&self) -> bool {
        !self.connected || !self.pre.is_empty() || (self.proxy.is_none() && !self.out.is_empty())
    }

    /// Queues one packet as an abridged frame. Returns false if the queue is full.
    pub fn queue(&mut self, packet: &[u8]) -> bool {
        if self.out.len() > MAX_QUEUED {
            return false;
        }
        self.obf.encode_frame(packet, &mut self.out);
        true
    }

    /// Writes what it can and reads what is there; complete packets are appended to
    /// `packets`.
    pub fn service(
        &mut self,
        now: Instant,
        packets: &mut Vec<Vec<u8>>,
    ) -> Result<(), TcpRelayError> {
        if !self.connected {
            match self.stream.take_error() {
                Ok(Some(e)) | Err(e) => return Err(TcpRelayError::Io(e)),
                Ok(None) => {}
            }
            match self.stream.peer_addr() {
                Ok(_) => self.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    return self.check_idle(now);
                }
                Err(e) => return Err(TcpRelayError::Io(e)),
            }
        }
        self.flush(now)?;
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(TcpRelayError::Closed),
                Ok(n) => {
                    self.last_io = now;
                    self.on_bytes(&buf[..n], packets)?;
                    self.flush(now)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TcpRelayError::Io(e)),
            }
        }
        self.check_idle(now)
    }

    fn check_idle(&self, now: Instant) -> Result<(), TcpRelayError> {
        if now.saturating_duration_since(self.last_io) >= IDLE_TIMEOUT {
            return Err(TcpRelayError::Idle);
        }
        Ok(())
    }

    fn on_bytes(&mut self, data: &[u8], packets: &mut Vec<Vec<u8>>) -> Result<(), TcpRelayError> {
        let Some(h) = self.proxy.as_mut() else {
            let got = self.obf.decode(data).map_err(|_| TcpRelayError::Framing)?;
            packets.extend(got);
            return Ok(());
        };
        match h.on_bytes(data).map_err(TcpRelayError::Proxy)? {
            Step::NeedMore => Ok(()),
            Step::Send(bytes) => {
                self.pre.extend_from_slice(&bytes);
                Ok(())
            }
            Step::Done { rest, .. } => {
                self.proxy = None;
                if rest.is_empty() {
                    return Ok(());
                }
                let got = self.obf.decode(&rest).map_err(|_| TcpRelayError::Framing)?;
                packets.extend(got);
                Ok(())
            }
        }
    }

    fn flush(&mut self, now: Instant) -> Result<(), TcpRelayError> {
        write_some(&mut self.stream, &mut self.pre, now, &mut self.last_io)?;
        if self.pre.is_empty() && self.proxy.is_none() {
            write_some(&mut self.stream, &mut self.out, now, &mut self.last_io)?;
        }
        Ok(())
    }
}

/// Writes as much of `buf` as the socket takes and removes it from `buf`.
fn write_some(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    now: Instant,
    last_io: &mut Instant,
) -> Result<(), TcpRelayError> {
    while !buf.is_empty() {
        match stream.write(buf) {
            Ok(0) => return Err(TcpRelayError::Closed),
            Ok(n) => {
                buf.drain(..n);
                *last_io = now;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(TcpRelayError::Io(e)),
        }
    }
    Ok(())
}
