//! The SOCKS5 client protocol (RFC 1928, username/password auth of RFC 1929) as pure
//! functions and a small sans-IO handshake state machine, so the byte handling is testable and
//! fuzzable without sockets. The socket side lives in [`super::proxy`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a SOCKS5 exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socks5Error {
    /// The server answered with another protocol version.
    BadVersion(u8),
    /// The server accepted none of our authentication methods.
    NoAcceptableMethod,
    /// The server rejected the username or password.
    AuthFailed,
    /// The server refused the command (RFC 1928 reply code).
    CommandFailed(u8),
    /// A reply that does not parse.
    Malformed(&'static str),
}

impl core::fmt::Display for Socks5Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Socks5Error::BadVersion(v) => write!(f, "SOCKS5 proxy answered version {v}"),
            Socks5Error::NoAcceptableMethod => {
                f.write_str("SOCKS5 proxy accepts none of our authentication methods")
            }
            Socks5Error::AuthFailed => f.write_str("SOCKS5 proxy rejected the username/password"),
            Socks5Error::CommandFailed(c) => {
                write!(f, "SOCKS5 proxy refused the request (code {c})")
            }
            Socks5Error::Malformed(what) => write!(f, "malformed SOCKS5 reply: {what}"),
        }
    }
}

impl std::error::Error for Socks5Error {}

/// What to ask the proxy for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socks5Command {
    /// A TCP tunnel to this address.
    Connect(SocketAddr),
    /// A UDP relay for datagrams from our UDP socket.
    UdpAssociate,
}

/// Greeting: no-auth only without a username, else no-auth and username/password.
pub fn greeting(with_auth: bool) -> Vec<u8> {
    if with_auth {
        vec![5, 2, 0, 2]
    } else {
        vec![5, 1, 0]
    }
}

/// RFC 1929 request; each field is cut to 255 bytes.
pub fn auth_request(user: &str, pass: &str) -> Vec<u8> {
    let u = &user.as_bytes()[..user.len().min(255)];
    let p = &pass.as_bytes()[..pass.len().min(255)];
    let mut out = Vec::with_capacity(3 + u.len() + p.len());
    out.push(1);
    out.push(u.len() as u8);
    out.extend_from_slice(u);
    out.push(p.len() as u8);
    out.extend_from_slice(p);
    out
}

/// Appends ATYP, address and port (network order).
fn put_addr(addr: SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(v4) => {
            out.push(1);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => {
                out.push(1);
                out.extend_from_slice(&v4.octets());
            }
            None => {
                out.push(4);
                out.extend_from_slice(&v6.octets());
            }
        },
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// The command request.
pub fn command_request(cmd: Socks5Command) -> Vec<u8> {
    match cmd {
        Socks5Command::Connect(addr) => {
            let mut out = vec![5, 1, 0];
            put_addr(addr, &mut out);
            out
        }
        Socks5Command::UdpAssociate => vec![5, 3, 0, 1, 0, 0, 0, 0, 0, 0],
    }
}

/// Parses ATYP, address and port at the start of `data`: the address (`None` for a domain
/// name, which the caller resolves from the returned name) and the bytes used.
/// `Ok(None)` when more bytes are needed.
fn parse_addr(data: &[u8]) -> Result<Option<(AddrField, usize)>, Socks5Error> {
    let Some(&atyp) = data.first() else {
        return Ok(None);
    };
    let (len, field) = match atyp {
        1 => {
            let Some(b) = data.get(1..7) else {
                return Ok(None);
            };
            let ip = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            (7, AddrField::Ip(SocketAddr::new(ip.into(), port(&b[4..6]))))
        }
        4 => {
            let Some(b) = data.get(1..19) else {
                return Ok(None);
            };
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[..16]);
            let ip = Ipv6Addr::from(o);
            (
                19,
                AddrField::Ip(SocketAddr::new(ip.into(), port(&b[16..18]))),
            )
        }
        3 => {
            let Some(&n) = data.get(1) else {
                return Ok(None);
            };
            let n = usize::from(n);
            let Some(b) = data.get(2..2 + n + 2) else {
                return Ok(None);
            };
            let name = String::from_utf8_lossy(&b[..n]).into_owned();
            (2 + n + 2, AddrField::Name(name, port(&b[n..n + 2])))
        }
        _ => return Err(Socks5Error::Malformed("address type")),
    };
    Ok(Some((field, len)))
}

fn port(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// An address in a SOCKS5 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrField {
    Ip(SocketAddr),
    /// A domain name and port (the caller resolves it).
    Name(String, u16),
}

/// Wraps an outgoing datagram for the proxy's UDP relay (RFC 1928 section 7).
pub fn wrap_udp(to: SocketAddr, data: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0, 0]);
    put_addr(to, out);
    out.extend_from_slice(data);
}

/// Unwraps a datagram from the proxy's UDP relay: its original source and payload.
/// Fragments and domain-name sources are refused.
pub fn unwrap_udp(data: &[u8]) -> Result<(SocketAddr, &[u8]), Socks5Error> {
    let head = data
        .get(..3)
        .ok_or(Socks5Error::Malformed("short datagram"))?;
    if head[2] != 0 {
        return Err(Socks5Error::Malformed("fragment"));
    }
    match parse_addr(&data[3..])? {
        Some((AddrField::Ip(from), n)) => Ok((from, &data[3 + n..])),
        Some((AddrField::Name(..), _)) => Err(Socks5Error::Malformed("named source")),
        None => Err(Socks5Error::Malformed("short datagram")),
    }
}

/// What the handshake wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Wait for more bytes from the proxy.
    NeedMore,
    /// Send these bytes to the proxy, then wait for more.
    Send(Vec<u8>),
    /// Done: the bound address of the reply, and bytes after the reply (tunnel data).
    Done { bound: AddrField, rest: Vec<u8> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Method,
    Auth,
    Reply,
    Done,
}

/// Client side of one SOCKS5 handshake (greeting, optional auth, one command).
#[derive(Debug, Clone)]
pub struct Handshake {
    user: String,
    pass: String,
    cmd: Socks5Command,
    phase: Phase,
    buf: Vec<u8>,
}

impl Handshake {
    /// A handshake for `cmd`; an empty `user` offers no authentication.
    pub fn new(user: &str, pass: &str, cmd: Socks5Command) -> Handshake {
        Handshake {
            user: user.to_owned(),
            pass: pass.to_owned(),
            cmd,
            phase: Phase::Method,
            buf: Vec::new(),
        }
    }

    /// The first bytes to send (the greeting).
    pub fn start(&self) -> Vec<u8> {
        greeting(!self.user.is_empty())
    }

    /// Feeds bytes received from the proxy.
    pub fn on_bytes(&mut self, data: &[u8]) -> Result<Step, Socks5Error> {
        self.buf.extend_from_slice(data);
        match self.phase {
            Phase::Method => {
                let Some(b) = self.buf.get(..2) else {
                    return Ok(Step::NeedMore);
                };
                let (ver, method) = (b[0], b[1]);
                self.buf.drain(..2);
                if ver != 5 {
                    return Err(Socks5Error::BadVersion(ver));
                }
                match method {
                    0 => {
                        self.phase = Phase::Reply;
                        Ok(Step::Send(command_request(self.cmd)))
                    }
                    2 if !self.user.is_empty() => {
                        self.phase = Phase::Auth;
                        Ok(Step::Send(auth_request(&self.user, &self.pass)))
                    }
                    _ => Err(Socks5Error::NoAcceptableMethod),
                }
            }
            Phase::Auth => {
                let Some(b) = self.buf.get(..2) else {
                    return Ok(Step::NeedMore);
                };
                let ok = b[1] == 0;
                self.buf.drain(..2);
                if !ok {
                    return Err(Socks5Error::AuthFailed);
                }
                self.phase = Phase::Reply;
                Ok(Step::Send(command_request(self.cmd)))
            }
            Phase::Reply => {
                let Some(b) = self.buf.get(..3) else {
                    return Ok(Step::NeedMore);
                };
                if b[0] != 5 {
                    return Err(Socks5Error::BadVersion(b[0]));
                }
                if b[1] != 0 {
                    return Err(Socks5Error::CommandFailed(b[1]));
                }
                let Some((bound, n)) = parse_addr(&self.buf[3..])? else {
                    return Ok(Step::NeedMore);
                };
                let rest = self.buf.split_off(3 + n);
                self.buf.clear();
                self.phase = Phase::Done;
                Ok(Step::Done { bound, rest })
            }
            Phase::Done => Err(Socks5Error::Malformed("handshake already done")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_with_auth_byte_by_byte() {
        let relay: SocketAddr = "10.1.2.3:443".parse().unwrap();
        let mut h = Handshake::new("bob", "pw", Socks5Command::Connect(relay));
        assert_eq!(h.start(), vec![5, 2, 0, 2]);
        assert_eq!(h.on_bytes(&[5]).unwrap(), Step::NeedMore);
        assert_eq!(
            h.on_bytes(&[2]).unwrap(),
            Step::Send(vec![1, 3, b'b', b'o', b'b', 2, b'p', b'w'])
        );
        assert_eq!(
            h.on_bytes(&[1, 0]).unwrap(),
            Step::Send(vec![5, 1, 0, 1, 10, 1, 2, 3, 0x01, 0xBB])
        );
        let reply = [5, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39];
        for b in &reply[..9] {
            assert_eq!(h.on_bytes(&[*b]).unwrap(), Step::NeedMore);
        }
        assert_eq!(
            h.on_bytes(&reply[9..]).unwrap(),
            Step::Done {
                bound: AddrField::Ip("127.0.0.1:12345".parse().unwrap()),
                rest: vec![]
            }
        );
        let mut h = Handshake::new("", "", Socks5Command::UdpAssociate);
        assert_eq!(h.start(), vec![5, 1, 0]);
        assert_eq!(
            h.on_bytes(&[5, 0]).unwrap(),
            Step::Send(vec![5, 3, 0, 1, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(
            h.on_bytes(&[5, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39, 0xAA])
                .unwrap(),
            Step::Done {
                bound: AddrField::Ip("127.0.0.1:12345".parse().unwrap()),
                rest: vec![0xAA]
            }
        );
    }

    #[test]
    fn failures() {
        let mut h = Handshake::new("bob", "bad", Socks5Command::UdpAssociate);
        assert!(matches!(h.on_bytes(&[5, 2]), Ok(Step::Send(_))));
        assert_eq!(h.on_bytes(&[1, 1]), Err(Socks5Error::AuthFailed));
        let mut h = Handshake::new("", "", Socks5Command::UdpAssociate);
        assert_eq!(h.on_bytes(&[5, 0xFF]), Err(Socks5Error::NoAcceptableMethod));
        let mut h = Handshake::new("", "", Socks5Command::UdpAssociate);
        assert_eq!(h.on_bytes(&[4, 0]), Err(Socks5Error::BadVersion(4)));
        let mut h = Handshake::new("", "", Socks5Command::UdpAssociate);
        h.on_bytes(&[5, 0]).unwrap();
        assert_eq!(
            h.on_bytes(&[5, 2, 0, 1]),
            Err(Socks5Error::CommandFailed(2))
        );
        let mut h = Handshake::new("", "", Socks5Command::UdpAssociate);
        h.on_bytes(&[5, 0]).unwrap();
        assert_eq!(
            h.on_bytes(&[5, 0, 0, 9, 1, 2]),
            Err(Socks5Error::Malformed("address type"))
        );
    }

    #[test]
    fn udp_wrap_round_trip_and_garbage() {
        for to in ["10.0.0.1:5000", "[2001:db8::1]:443"] {
            let to: SocketAddr = to.parse().unwrap();
            let mut out = Vec::new();
            wrap_udp(to, b"payload", &mut out);
            assert_eq!(unwrap_udp(&out).unwrap(), (to, &b"payload"[..]));
        }
        assert!(unwrap_udp(&[0, 0]).is_err());
        assert!(unwrap_udp(&[0, 0, 1, 1, 1, 2, 3, 4, 0, 1]).is_err());
        assert!(unwrap_udp(&[0, 0, 0, 1, 1, 2]).is_err());
        // Every prefix of random bytes is handled without panicking.
        let mut seed = 0x1234_5678u32;
        for _ in 0..2000 {
            let len = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = unwrap_udp(&bytes);
            let mut h = Handshake::new("u", "p", Socks5Command::UdpAssociate);
            let _ = h.on_bytes(&bytes);
            let _ = h.on_bytes(&bytes);
        }
    }
}
