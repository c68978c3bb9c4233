//! The two STUN messages (RFC 5389) a call needs to learn its public address from a STUN server
//! (`phoneConnectionWebrtc` with the `stun` flag): a Binding request without attributes, and the
//! XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) of a Binding success response. Bytes only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The magic cookie of RFC 5389.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const HEADER_LEN: usize = 20;

/// A Binding request with transaction id `txid`.
pub fn binding_request(txid: &[u8; 12]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(txid);
    out
}

/// A Binding success response carrying XOR-MAPPED-ADDRESS `mapped` (for tests and local
/// servers).
pub fn binding_response(txid: &[u8; 12], mapped: SocketAddr) -> Vec<u8> {
    let mut attr = Vec::new();
    attr.push(0);
    let port = mapped.port() ^ (MAGIC_COOKIE >> 16) as u16;
    match mapped.ip() {
        IpAddr::V4(v4) => {
            attr.push(1);
            attr.extend_from_slice(&port.to_be_bytes());
            attr.extend_from_slice(&(u32::from(v4) ^ MAGIC_COOKIE).to_be_bytes());
        }
        IpAddr::V6(v6) => {
            attr.push(2);
            attr.extend_from_slice(&port.to_be_bytes());
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            key[4..].copy_from_slice(txid);
            let x: Vec<u8> = v6.octets().iter().zip(key).map(|(a, k)| a ^ k).collect();
            attr.extend_from_slice(&x);
        }
    }
    let mut out = Vec::with_capacity(HEADER_LEN + 4 + attr.len());
    out.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    out.extend_from_slice(&((4 + attr.len()) as u16).to_be_bytes());
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(txid);
    out.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
    out.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    out.extend_from_slice(&attr);
    out
}

/// The transaction id of a Binding request, if `data` is one (what a STUN server answers).
pub fn parse_binding_request(data: &[u8]) -> Option<[u8; 12]> {
    if data.len() < HEADER_LEN
        || u16::from_be_bytes([data[0], data[1]]) != BINDING_REQUEST
        || u32::from_be_bytes([data[4], data[5], data[6], data[7]]) != MAGIC_COOKIE
    {
        return None;
    }
    data[8..20].try_into().ok()
}

/// The transaction id and mapped address of a Binding success response; `None` for anything
/// else (other messages, truncated or malformed attributes).
pub fn parse_binding_response(data: &[u8]) -> Option<([u8; 12], SocketAddr)> {
    if data.len() < HEADER_LEN
        || u16::from_be_bytes([data[0], data[1]]) != BINDING_SUCCESS
        || u32::from_be_bytes([data[4], data[5], data[6], data[7]]) != MAGIC_COOKIE
    {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let body = data.get(HEADER_LEN..HEADER_LEN + len)?;
    let txid: [u8; 12] = data[8..20].try_into().ok()?;
    let mut plain = None;
    let mut pos = 0;
    while pos + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[pos], body[pos + 1]]);
        let alen = usize::from(u16::from_be_bytes([body[pos + 2], body[pos + 3]]));
        let value = body.get(pos + 4..pos + 4 + alen)?;
        match kind {
            ATTR_XOR_MAPPED_ADDRESS => return Some((txid, parse_address(value, Some(&txid))?)),
            ATTR_MAPPED_ADDRESS => plain = parse_address(value, None),
            _ => {}
        }
        pos += 4 + alen.div_ceil(4) * 4;
    }
    plain.map(|a| (txid, a))
}

fn parse_address(v: &[u8], xor_txid: Option<&[u8; 12]>) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    if xor_txid.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match (v[1], v.len()) {
        (1, 8) => {
            let mut a = u32::from_be_bytes([v[4], v[5], v[6], v[7]]);
            if xor_txid.is_some() {
                a ^= MAGIC_COOKIE;
            }
            IpAddr::V4(Ipv4Addr::from(a))
        }
        (2, 20) => {
            let mut o: [u8; 16] = v[4..20].try_into().ok()?;
            if let Some(txid) = xor_txid {
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                key[4..].copy_from_slice(txid);
                for (b, k) in o.iter_mut().zip(key) {
                    *b ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response_round_trip() {
        let txid = [7u8; 12];
        let req = binding_request(&txid);
        assert_eq!(req.len(), 20);
        assert_eq!(parse_binding_request(&req), Some(txid));
        for mapped in ["203.0.113.5:40000", "[2001:db8::5]:1234"] {
            let mapped: SocketAddr = mapped.parse().unwrap();
            let resp = binding_response(&txid, mapped);
            assert_eq!(parse_binding_response(&resp), Some((txid, mapped)));
            assert_eq!(parse_binding_request(&resp), None);
            for cut in 0..resp.len() {
                assert_eq!(parse_binding_response(&resp[..cut]), None);
            }
        }
        assert_eq!(parse_binding_response(&req), None);
    }

    #[test]
    fn rfc5769_ipv4_response() {
        // RFC 5769 2.2: XOR-MAPPED-ADDRESS 192.0.2.1:32853 (SOFTWARE, MESSAGE-INTEGRITY and
        // FINGERPRINT are skipped).
        let hex = "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b\
                   7465737420766563746f7220002000080001a147e112a643\
                   000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7\
                   80280004c07d4c96";
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let (_, addr) = parse_binding_response(&bytes).unwrap();
        assert_eq!(addr, "192.0.2.1:32853".parse().unwrap());
    }
}
