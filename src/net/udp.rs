//! The call's UDP socket: dual-stack when possible, non-blocking, waited on with `poll(2)`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// Largest datagram read; longer ones are truncated and then fail decryption.
pub const RECV_BUFFER: usize = 1500;

/// One UDP socket for relays and peers.
pub struct UdpTransport {
    socket: UdpSocket,
    /// True when the socket is IPv6 with IPv4-mapped addresses enabled.
    dual_stack: bool,
}

impl UdpTransport {
    /// Opens a non-blocking socket on an ephemeral port: dual-stack `[::]` if the host has IPv6,
    /// else `0.0.0.0`. `bind_ip` overrides the address (tests bind to loopback).
    pub fn open(bind_ip: Option<IpAddr>) -> io::Result<UdpTransport> {
        let (socket, dual_stack) = match bind_ip {
            Some(ip) => (bind(SocketAddr::new(ip, 0), false)?, false),
            None => match bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0), true) {
                Ok(s) => (s, true),
                Err(_) => (
                    bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0), false)?,
                    false,
                ),
            },
        };
        Ok(UdpTransport { socket, dual_stack })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Sends one datagram; IPv4 destinations go out as IPv4-mapped on a dual-stack socket.
    pub fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        let to = match (self.dual_stack, to) {
            (true, SocketAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => to,
        };
        self.socket.send_to(data, to)
    }

    /// Receives one datagram if one is waiting (`Ok(None)` when none is).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        match self.socket.recv_from(buf) {
            Ok((n, from)) => Ok(Some((n, unmap(from)))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            // ICMP errors from an earlier send surface here on Linux; they are not fatal.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The socket's descriptor, for `poll(2)` over several sockets.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }

    /// Waits until a datagram is readable or `timeout` passes. Returns true if readable.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut pfd = [libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        poll_fds(&mut pfd, timeout)
    }
}

/// Waits with `poll(2)` until one of `fds` is ready or `timeout` passes; true if any is ready.
/// An interrupted wait counts as a timeout.
pub fn poll_fds(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<bool> {
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(rc > 0)
}

fn bind(addr: SocketAddr, dual_stack: bool) -> io::Result<UdpSocket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    // DSCP EF, as libtgvoip does for voice.
    if addr.is_ipv4() {
        let _ = socket.set_tos(0xB8);
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Maps `::ffff:a.b.c.d` back to `a.b.c.d`.
fn unmap(addr: SocketAddr) -> SocketAddr {
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

    #[test]
    fn loopback_round_trip_and_timeout() {
        let a = UdpTransport::open(None).unwrap();
        let b = UdpTransport::open(Some(IpAddr::V4(Ipv4Addr::LOCALHOST))).unwrap();
        let b_addr = b.local_addr().unwrap();
        let mut buf = [0u8; RECV_BUFFER];
        assert!(!b.wait_readable(Duration::from_millis(20)).unwrap());
        assert_eq!(b.try_recv(&mut buf).unwrap(), None);
        a.send_to(b"hello", b_addr).unwrap();
        assert!(b.wait_readable(Duration::from_secs(2)).unwrap());
        let (n, from) = b.try_recv(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..n], b"hello");
        // The sender's address comes back as plain IPv4 even from a dual-stack socket.
        assert!(from.is_ipv4());
        b.send_to(b"back", from).unwrap();
        assert!(a.wait_readable(Duration::from_secs(2)).unwrap());
        let (n, from) = a.try_recv(&mut buf).unwrap().unwrap();
        assert_eq!((&buf[..n], from), (&b"back"[..], b_addr));
    }
}
