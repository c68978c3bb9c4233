//! Telegram reflector relay framing of tgcalls V2 (`phoneConnection` relays in a 8.0.0 / 9.0.0
//! call, spec/tgcalls.md 3.7; tgcalls `ReflectorPort`). Bytes only. UNVERIFIED against a live
//! reflector: checked against our own implementation and a test reflector.

/// The tail of a hello (ping) after our 16-byte tag: 12 x FF, FE, 3 x FF, u64 BE 123.
const HELLO_MARK: [u8; 16] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF,
];
const HELLO_VALUE: u64 = 123;

/// Our 16-byte tag on a reflector: the first 12 bytes of the relay's `peer_tag` and our random
/// tag (raw bytes, little-endian as on every real device).
pub fn own_tag(peer_tag: &[u8; 16], random_tag: u32) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[..12].copy_from_slice(&peer_tag[..12]);
    t[12..].copy_from_slice(&random_tag.to_le_bytes());
    t
}

/// The hello that registers `tag` on the reflector (repeated until answered, then kept alive).
pub fn hello(tag: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    out.extend_from_slice(tag);
    out.extend_from_slice(&HELLO_MARK);
    out.extend_from_slice(&HELLO_VALUE.to_be_bytes());
    out
}

/// `payload` for the peer whose random tag is `to_tag`, from us (`from_tag`).
pub fn wrap(peer_tag: &[u8; 16], to_tag: u32, from_tag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + payload.len() + 3);
    out.extend_from_slice(&peer_tag[..12]);
    out.extend_from_slice(&to_tag.to_le_bytes());
    out.extend_from_slice(&from_tag.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

/// What a datagram from the reflector is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A service reply (the answer to our hello).
    Service,
    /// Data from the peer with random tag `from_tag`.
    Data { from_tag: u32, payload: &'a [u8] },
}

/// Parses a datagram from the reflector for the owner of `tag`; `None` if it is not for us or
/// malformed.
pub fn parse<'a>(tag: &[u8; 16], data: &'a [u8]) -> Option<Incoming<'a>> {
    if data.len() < 28 || data[..12] != tag[..12] {
        return None;
    }
    if data[16..28].iter().all(|&b| b == 0xFF) {
        return Some(Incoming::Service);
    }
    let from_tag = u32::from_le_bytes(data[16..20].try_into().ok()?);
    let len = u32::from_be_bytes(data[20..24].try_into().ok()?) as usize;
    let payload = data.get(24..24usize.checked_add(len)?)?;
    Some(Incoming::Data { from_tag, payload })
}

/// The hostname tgcalls gives a reflector candidate: `reflector-<id>-<tag>.reflector`.
pub fn hostname(server_id: u8, random_tag: u32) -> String {
    format!("reflector-{server_id}-{random_tag}.reflector")
}

/// Splits a reflector candidate hostname into (server id, random tag).
pub fn parse_hostname(host: &str) -> Option<(u8, u32)> {
    let rest = host
        .strip_prefix("reflector-")?
        .strip_suffix(".reflector")?;
    let (id, tag) = rest.split_once('-')?;
    Some((id.parse().ok()?, tag.parse().ok()?))
}

/// For a reflector hello: the registering tag, if `data` is a hello (what a test reflector
/// reads).
pub fn parse_hello(data: &[u8]) -> Option<[u8; 16]> {
    if data.len() == 40 && data[16..32] == HELLO_MARK {
        data[..16].try_into().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips() {
        let peer_tag = [9u8; 16];
        let (a, b) = (0x0102_0304u32, 0xA0B0_C0D0u32);
        let tag_b = own_tag(&peer_tag, b);
        let h = hello(&tag_b);
        assert_eq!(h.len(), 40);
        assert_eq!(parse_hello(&h), Some(tag_b));
        // The reflector's reply to a hello is the hello itself in tgcalls's test servers;
        // anything with FF at 16..28 is service.
        assert_eq!(parse(&tag_b, &h), Some(Incoming::Service));
        let w = wrap(&peer_tag, b, a, b"hello");
        assert_eq!(w.len() % 4, 0);
        assert_eq!(&w[..16], &tag_b);
        assert_eq!(
            parse(&tag_b, &w),
            Some(Incoming::Data {
                from_tag: a,
                payload: b"hello"
            })
        );
        assert_eq!(parse(&own_tag(&[1; 16], b), &w), None);
        for cut in 0..w.len() - 3 {
            assert!(!matches!(parse(&tag_b, &w[..cut]), Some(Incoming::Data { .. })) || cut >= 29);
        }
        assert_eq!(
            parse_hostname(&hostname(3, 4_000_000_000)),
            Some((3, 4_000_000_000))
        );
        assert_eq!(parse_hostname("reflector-x-1.reflector"), None);
        assert_eq!(parse_hostname("192.0.2.1"), None);
    }
}
