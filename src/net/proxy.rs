//! SOCKS5 proxy settings and the UDP ASSOCIATE set-up (a short blocking exchange on the call's
//! engine thread, before the call starts sending).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::socks5::{AddrField, Handshake, Socks5Command, Socks5Error, Step};

/// How long the UDP ASSOCIATE exchange may take.
const ASSOCIATE_TIMEOUT: Duration = Duration::from_secs(5);

/// A SOCKS5 proxy with optional username/password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    pub addr: SocketAddr,
    pub user: String,
    pub pass: String,
}

/// Why the proxy could not be used.
#[derive(Debug)]
pub enum ProxyError {
    Io(io::Error),
    Socks(Socks5Error),
}

impl core::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProxyError::Io(e) => write!(f, "SOCKS5 proxy unreachable: {e}"),
            ProxyError::Socks(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ProxyError {}

/// A UDP association: datagrams go to `relay`; the association lives as long as `control`.
pub struct UdpAssociation {
    pub relay: SocketAddr,
    /// The TCP connection that keeps the association alive.
    _control: TcpStream,
}

/// Runs greeting, auth and UDP ASSOCIATE with the proxy (blocking, bounded by a timeout).
pub fn udp_associate(proxy: &ProxyConfig) -> Result<UdpAssociation, ProxyError> {
    let mut stream =
        TcpStream::connect_timeout(&proxy.addr, ASSOCIATE_TIMEOUT).map_err(ProxyError::Io)?;
    stream
        .set_read_timeout(Some(ASSOCIATE_TIMEOUT))
        .map_err(ProxyError::Io)?;
    let _ = stream.set_nodelay(true);
    let mut h = Handshake::new(&proxy.user, &proxy.pass, Socks5Command::UdpAssociate);
    stream.write_all(&h.start()).map_err(ProxyError::Io)?;
    let mut buf = [0u8; 512];
    loop {
        let n = stream.read(&mut buf).map_err(ProxyError::Io)?;
        if n == 0 {
            return Err(ProxyError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        match h.on_bytes(&buf[..n]).map_err(ProxyError::Socks)? {
            Step::NeedMore => {}
            Step::Send(bytes) => stream.write_all(&bytes).map_err(ProxyError::Io)?,
            Step::Done { bound, .. } => {
                let mut relay = match bound {
                    AddrField::Ip(a) => a,
                    AddrField::Name(name, port) => (name.as_str(), port)
                        .to_socket_addrs()
                        .map_err(ProxyError::Io)?
                        .next()
                        .ok_or(ProxyError::Socks(Socks5Error::Malformed("bound name")))?,
                };
                // 0.0.0.0 means "the proxy's own address".
                if relay.ip().is_unspecified() {
                    relay.set_ip(proxy.addr.ip());
                }
                return Ok(UdpAssociation {
                    relay,
                    _control: stream,
                });
            }
        }
    }
}
