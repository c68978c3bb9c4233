//! The TURN messages (RFC 5766 over RFC 5389 framing) a call needs to relay its media through a
//! `phoneConnectionWebrtc` server with the `turn` flag: Allocate, Refresh and CreatePermission
//! requests with long-term credentials (MESSAGE-INTEGRITY), Send indications out, and the
//! responses and Data indications in. Bytes only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use md5::{Digest, Md5};

use super::stun::MAGIC_COOKIE;

/// Allocate method (a request; see [`TurnMessage::method`]).
pub const ALLOCATE: u16 = 0x0003;
/// Refresh method.
pub const REFRESH: u16 = 0x0004;
/// Send indication (client to server, data for a peer).
pub const SEND_INDICATION: u16 = 0x0016;
/// Data indication (server to client, data from a peer).
pub const DATA_INDICATION: u16 = 0x0017;
/// CreatePermission method.
pub const CREATE_PERMISSION: u16 = 0x0008;
const CLASS_SUCCESS: u16 = 0x0100;
const CLASS_ERROR: u16 = 0x0110;
const METHOD_MASK: u16 = 0x3EEF;

const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_LIFETIME: u16 = 0x000D;
const ATTR_XOR_PEER_ADDRESS: u16 = 0x0012;
const ATTR_DATA: u16 = 0x0013;
const ATTR_REALM: u16 = 0x0014;
const ATTR_NONCE: u16 = 0x0015;
const ATTR_XOR_RELAYED_ADDRESS: u16 = 0x0016;
const ATTR_REQUESTED_TRANSPORT: u16 = 0x0019;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const HEADER_LEN: usize = 20;
/// UDP, for REQUESTED-TRANSPORT.
const PROTO_UDP: u8 = 17;

/// Long-term credentials: username, realm, nonce from the server's 401, and the key
/// MD5(username ":" realm ":" password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// USERNAME.
    pub username: String,
    /// REALM from the server.
    pub realm: String,
    /// NONCE from the server.
    pub nonce: String,
    /// The HMAC key.
    pub key: [u8; 16],
}

impl Credentials {
    /// Credentials for `username` / `password` in the server's `realm` with its `nonce`.
    pub fn new(username: &str, password: &str, realm: &str, nonce: &str) -> Credentials {
        let mut h = Md5::new();
        h.update(format!("{username}:{realm}:{password}").as_bytes());
        Credentials {
            username: username.to_owned(),
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            key: h.finalize().into(),
        }
    }
}

/// A message being built: header, then attributes.
struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    fn new(kind: u16, txid: &[u8; 12]) -> Builder {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&kind.to_be_bytes());
        buf.extend_from_slice(&0u16.to_be_bytes());
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(txid);
        Builder { buf }
    }

    fn attr(&mut self, kind: u16, value: &[u8]) {
        self.buf.extend_from_slice(&kind.to_be_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
        self.set_len(self.buf.len() - HEADER_LEN);
    }

    fn set_len(&mut self, len: usize) {
        self.buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    }

    fn auth(&mut self, c: &Credentials) {
        self.attr(ATTR_USERNAME, c.username.as_bytes());
        self.attr(ATTR_REALM, c.realm.as_bytes());
        self.attr(ATTR_NONCE, c.nonce.as_bytes());
        // The length covers MESSAGE-INTEGRITY itself when the HMAC is computed (RFC 5389 15.4).
        self.set_len(self.buf.len() - HEADER_LEN + 24);
        let mac = message_integrity(&c.key, &self.buf);
        self.attr(ATTR_MESSAGE_INTEGRITY, &mac);
    }

    fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// HMAC-SHA1 of `msg` under `key`.
fn message_integrity(key: &[u8], msg: &[u8]) -> [u8; 20] {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = ring::hmac::sign(&k, msg);
    let mut out = [0u8; 20];
    out.copy_from_slice(tag.as_ref());
    out
}

fn xor_address(addr: SocketAddr, txid: &[u8; 12]) -> Vec<u8> {
    let mut v = vec![0];
    let port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
    match addr.ip() {
        IpAddr::V4(v4) => {
            v.push(1);
            v.extend_from_slice(&port.to_be_bytes());
            v.extend_from_slice(&(u32::from(v4) ^ MAGIC_COOKIE).to_be_bytes());
        }
        IpAddr::V6(v6) => {
            v.push(2);
            v.extend_from_slice(&port.to_be_bytes());
            let key = v6_key(txid);
            v.extend(v6.octets().iter().zip(key).map(|(a, k)| a ^ k));
        }
    }
    v
}

fn v6_key(txid: &[u8; 12]) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    key[4..].copy_from_slice(txid);
    key
}

fn parse_xor_address(v: &[u8], txid: &[u8; 12]) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let port = u16::from_be_bytes([v[2], v[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
    let ip = match (v[1], v.len()) {
        (1, 8) => IpAddr::V4(Ipv4Addr::from(
            u32::from_be_bytes([v[4], v[5], v[6], v[7]]) ^ MAGIC_COOKIE,
        )),
        (2, 20) => {
            let mut o: [u8; 16] = v[4..20].try_into().ok()?;
            for (b, k) in o.iter_mut().zip(v6_key(txid)) {
                *b ^= k;
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// An Allocate request for a UDP relay; unauthenticated when `creds` is `None` (the first try,
/// answered with 401 and the realm and nonce).
pub fn allocate(txid: &[u8; 12], creds: Option<&Credentials>) -> Vec<u8> {
    let mut b = Builder::new(ALLOCATE, txid);
    b.attr(ATTR_REQUESTED_TRANSPORT, &[PROTO_UDP, 0, 0, 0]);
    if let Some(c) = creds {
        b.auth(c);
    }
    b.finish()
}

/// A Refresh request (lifetime 0 releases the allocation).
pub fn refresh(txid: &[u8; 12], lifetime_s: u32, creds: &Credentials) -> Vec<u8> {
    let mut b = Builder::new(REFRESH, txid);
    b.attr(ATTR_LIFETIME, &lifetime_s.to_be_bytes());
    b.auth(creds);
    b.finish()
}

/// A CreatePermission request for `peer`'s IP.
pub fn create_permission(txid: &[u8; 12], peer: SocketAddr, creds: &Credentials) -> Vec<u8> {
    let mut b = Builder::new(CREATE_PERMISSION, txid);
    b.attr(ATTR_XOR_PEER_ADDRESS, &xor_address(peer, txid));
    b.auth(creds);
    b.finish()
}

/// A Send indication carrying `data` to `peer` through the allocation.
pub fn send_indication(txid: &[u8; 12], peer: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut b = Builder::new(SEND_INDICATION, txid);
    b.attr(ATTR_XOR_PEER_ADDRESS, &xor_address(peer, txid));
    b.attr(ATTR_DATA, data);
    b.finish()
}

/// A Data indication (server to client; for tests and local servers).
pub fn data_indication(txid: &[u8; 12], peer: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut b = Builder::new(DATA_INDICATION, txid);
    b.attr(ATTR_XOR_PEER_ADDRESS, &xor_address(peer, txid));
    b.attr(ATTR_DATA, data);
    b.finish()
}

/// A decoded TURN/STUN message with the attributes a TURN client or a test server reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnMessage {
    /// Method and class bits as on the wire.
    pub kind: u16,
    /// Transaction id.
    pub txid: [u8; 12],
    /// ERROR-CODE (class * 100 + number).
    pub error_code: Option<u16>,
    /// REALM.
    pub realm: Option<String>,
    /// NONCE.
    pub nonce: Option<String>,
    /// USERNAME.
    pub username: Option<String>,
    /// LIFETIME, seconds.
    pub lifetime: Option<u32>,
    /// XOR-RELAYED-ADDRESS.
    pub relayed: Option<SocketAddr>,
    /// XOR-MAPPED-ADDRESS.
    pub mapped: Option<SocketAddr>,
    /// XOR-PEER-ADDRESS.
    pub peer: Option<SocketAddr>,
    /// DATA.
    pub data: Option<Vec<u8>>,
    /// Offset of MESSAGE-INTEGRITY, if present (for verification).
    integrity_at: Option<usize>,
}

impl TurnMessage {
    /// The method (class bits cleared): [`ALLOCATE`], [`REFRESH`], ...
    pub fn method(&self) -> u16 {
        self.kind & METHOD_MASK
    }
    /// A success response.
    pub fn is_success(&self) -> bool {
        self.kind & 0x0110 == CLASS_SUCCESS
    }
    /// An error response.
    pub fn is_error(&self) -> bool {
        self.kind & 0x0110 == CLASS_ERROR
    }

    /// Whether MESSAGE-INTEGRITY of `raw` (the bytes this was parsed from) verifies with `key`.
    pub fn verify(&self, raw: &[u8], key: &[u8]) -> bool {
        let Some(at) = self.integrity_at else {
            return false;
        };
        let mut head = raw[..at].to_vec();
        head[2..4].copy_from_slice(&((at + 24 - HEADER_LEN) as u16).to_be_bytes());
        let mac = message_integrity(key, &head);
        raw.get(at + 4..at + 24) == Some(&mac[..])
    }
}

/// Parses a STUN-framed message; `None` for anything that is not one (RTP, DTLS, truncated).
pub fn parse(raw: &[u8]) -> Option<TurnMessage> {
    if raw.len() < HEADER_LEN
        || raw[0] & 0xC0 != 0
        || u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]) != MAGIC_COOKIE
    {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([raw[2], raw[3]]));
    let body = raw.get(HEADER_LEN..HEADER_LEN + len)?;
    let txid: [u8; 12] = raw[8..20].try_into().ok()?;
    let mut m = TurnMessage {
        kind: u16::from_be_bytes([raw[0], raw[1]]),
        txid,
        ..TurnMessage::default()
    };
    let text = |v: &[u8]| String::from_utf8(v.to_vec()).ok();
    let mut pos = 0;
    while pos + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[pos], body[pos + 1]]);
        let alen = usize::from(u16::from_be_bytes([body[pos + 2], body[pos + 3]]));
        let v = body.get(pos + 4..pos + 4 + alen)?;
        match kind {
            ATTR_ERROR_CODE if v.len() >= 4 => {
                m.error_code = Some(u16::from(v[2] & 7) * 100 + u16::from(v[3]))
            }
            ATTR_REALM => m.realm = text(v),
            ATTR_NONCE => m.nonce = text(v),
            ATTR_USERNAME => m.username = text(v),
            ATTR_LIFETIME if v.len() == 4 => {
                m.lifetime = Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
            }
            ATTR_XOR_RELAYED_ADDRESS => m.relayed = parse_xor_address(v, &txid),
            ATTR_XOR_MAPPED_ADDRESS => m.mapped = parse_xor_address(v, &txid),
            ATTR_XOR_PEER_ADDRESS => m.peer = parse_xor_address(v, &txid),
            ATTR_DATA => m.data = Some(v.to_vec()),
            ATTR_MESSAGE_INTEGRITY if alen == 20 => m.integrity_at = Some(HEADER_LEN + pos),
            _ => {}
        }
        pos += 4 + alen.div_ceil(4) * 4;
    }
    Some(m)
}

/// A success response (for tests and local servers) with the given attributes.
pub fn success(
    method: u16,
    txid: &[u8; 12],
    relayed: Option<SocketAddr>,
    mapped: Option<SocketAddr>,
    lifetime: Option<u32>,
) -> Vec<u8> {
    let mut b = Builder::new(method | CLASS_SUCCESS, txid);
    if let Some(r) = relayed {
        b.attr(ATTR_XOR_RELAYED_ADDRESS, &xor_address(r, txid));
    }
    if let Some(m) = mapped {
        b.attr(ATTR_XOR_MAPPED_ADDRESS, &xor_address(m, txid));
    }
    if let Some(l) = lifetime {
        b.attr(ATTR_LIFETIME, &l.to_be_bytes());
    }
    b.finish()
}

/// An error response (for tests and local servers): `code` with `realm` and `nonce` (401, 438).
pub fn error(method: u16, txid: &[u8; 12], code: u16, realm: &str, nonce: &str) -> Vec<u8> {
    let mut b = Builder::new(method | CLASS_ERROR, txid);
    b.attr(
        ATTR_ERROR_CODE,
        &[0, 0, (code / 100) as u8, (code % 100) as u8],
    );
    b.attr(ATTR_REALM, realm.as_bytes());
    b.attr(ATTR_NONCE, nonce.as_bytes());
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_integrity_verifies() {
        let txid = [3u8; 12];
        let c = Credentials::new("user", "pass", "example.org", "n0nce");
        let a = allocate(&txid, Some(&c));
        let m = parse(&a).unwrap();
        assert_eq!(m.method(), ALLOCATE);
        assert!(!m.is_success() && !m.is_error());
        assert_eq!(m.username.as_deref(), Some("user"));
        assert_eq!(m.nonce.as_deref(), Some("n0nce"));
        assert!(m.verify(&a, &c.key));
        assert!(!m.verify(
            &a,
            &Credentials::new("user", "bad", "example.org", "n0nce").key
        ));
        let mut tampered = a.clone();
        tampered[25] ^= 1;
        assert!(!parse(&tampered).unwrap().verify(&tampered, &c.key));
        assert!(!parse(&allocate(&txid, None)).unwrap().verify(&a, &c.key));

        let peer: SocketAddr = "[2001:db8::9]:5555".parse().unwrap();
        let s = send_indication(&txid, peer, b"hello");
        let m = parse(&s).unwrap();
        assert_eq!(m.kind, SEND_INDICATION);
        assert_eq!(
            (m.peer, m.data.as_deref()),
            (Some(peer), Some(&b"hello"[..]))
        );

        let relayed: SocketAddr = "198.51.100.7:50000".parse().unwrap();
        let r = success(ALLOCATE, &txid, Some(relayed), None, Some(600));
        let m = parse(&r).unwrap();
        assert!(m.is_success());
        assert_eq!((m.relayed, m.lifetime), (Some(relayed), Some(600)));

        let e = parse(&error(ALLOCATE, &txid, 401, "realm", "nonce")).unwrap();
        assert!(e.is_error());
        assert_eq!(e.error_code, Some(401));
        assert_eq!(e.realm.as_deref(), Some("realm"));
        for cut in 0..r.len() {
            let _ = parse(&r[..cut]);
        }
    }

    #[test]
    fn long_term_key_is_md5_of_user_realm_password() {
        // MD5("user:realm:pass")
        let c = Credentials::new("user", "pass", "realm", "");
        let hex: String = c.key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "8493fbc53ba582fb4c044c456bdc40eb");
    }
}
