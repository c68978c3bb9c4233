//! Relay ("reflector") framing: the 16-byte peer tag in front of every datagram, and the
//! unencrypted special packets (self-info and peer-info requests and responses).

use super::WireError;

/// Length of a relay peer tag.
pub const PEER_TAG_LEN: usize = 16;

/// A datagram between a client and a relay, after the tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayMessage<'a> {
    /// An end-to-end encrypted protocol packet (everything after the tag).
    Packet(&'a [u8]),
    /// Self-info request ("UDP ping"), client to relay.
    SelfInfoRequest { query_id: [u8; 8] },
    /// Self-info response, relay to client: the client's address as the relay sees it.
    SelfInfoResponse {
        date: i32,
        query_id: [u8; 8],
        my_ip: [u8; 16],
        my_port: u32,
    },
    /// Peer-info request ("public endpoints request"), client to relay.
    PeerInfoRequest,
    /// Peer-info response (IPv4), relay to client.
    PeerInfoResponse {
        my_addr: [u8; 4],
        my_port: u32,
        peer_addr: [u8; 4],
        peer_port: u32,
    },
    /// A special packet (12 x 0xFF after the tag) with an id we do not handle.
    UnknownSpecial { id: u32 },
}

/// Splits a relay datagram into its tag and message. Datagrams shorter than 32 bytes are rejected.
pub fn parse(datagram: &[u8]) -> Result<([u8; PEER_TAG_LEN], RelayMessage<'_>), WireError> {
    if datagram.len() < 2 * PEER_TAG_LEN {
        return Err(WireError::TooShort);
    }
    let (tag_bytes, rest) = datagram.split_at(PEER_TAG_LEN);
    let mut tag = [0u8; PEER_TAG_LEN];
    tag.copy_from_slice(tag_bytes);
    if rest[..SPECIAL_MARKER_LEN] != [0xFF; SPECIAL_MARKER_LEN] {
        return Ok((tag, RelayMessage::Packet(rest)));
    }
    let id = u32_at(rest, SPECIAL_MARKER_LEN);
    let body = &rest[SPECIAL_MARKER_LEN + 4..];
    let message = match id {
        SELF_INFO_REQUEST => {
            let query_id = array_at::<8>(body, 0).ok_or(WireError::Truncated("query_id"))?;
            RelayMessage::SelfInfoRequest { query_id }
        }
        PEER_INFO_REQUEST => RelayMessage::PeerInfoRequest,
        TL_SELF_INFO => {
            if body.len() < 32 {
                return Err(WireError::Truncated("self info"));
            }
            RelayMessage::SelfInfoResponse {
                date: u32_at(body, 0) as i32,
                query_id: array_at::<8>(body, 4).ok_or(WireError::Truncated("query_id"))?,
                my_ip: array_at::<16>(body, 12).ok_or(WireError::Truncated("my_ip"))?,
                my_port: u32_at(body, 28),
            }
        }
        TL_PEER_INFO => {
            if body.len() < 16 {
                return Err(WireError::Truncated("peer info"));
            }
            RelayMessage::PeerInfoResponse {
                my_addr: array_at::<4>(body, 0).ok_or(WireError::Truncated("my_addr"))?,
                my_port: u32_at(body, 4),
                peer_addr: array_at::<4>(body, 8).ok_or(WireError::Truncated("peer_addr"))?,
                peer_port: u32_at(body, 12),
            }
        }
        other => RelayMessage::UnknownSpecial { id: other },
    };
    Ok((tag, message))
}

/// Bytes of 0xFF after the tag that mark a special (unencrypted) relay packet.
const SPECIAL_MARKER_LEN: usize = 12;
/// Selector of the self-info request (i32 -2).
const SELF_INFO_REQUEST: u32 = 0xFFFF_FFFE;
/// Selector of the peer-info request (i32 -1).
const PEER_INFO_REQUEST: u32 = 0xFFFF_FFFF;
/// TL id `udpReflectorSelfInfo`.
const TL_SELF_INFO: u32 = 0xC015_72C7;
/// TL id `udpReflectorPeerInfo`.
const TL_PEER_INFO: u32 = 0x27D9_371C;

/// Little-endian u32 at `off`; the caller has checked the length.
fn u32_at(bytes: &[u8], off: usize) -> u32 {
    array_at::<4>(bytes, off).map_or(0, u32::from_le_bytes)
}

fn array_at<const N: usize>(bytes: &[u8], off: usize) -> Option<[u8; N]> {
    bytes.get(off..off + N)?.try_into().ok()
}

fn write_special_header(tag: &[u8; PEER_TAG_LEN], id: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&[0xFF; SPECIAL_MARKER_LEN]);
    out.extend_from_slice(&id.to_le_bytes());
}

/// Appends a 40-byte self-info request.
pub fn write_self_info_request(tag: &[u8; PEER_TAG_LEN], query_id: [u8; 8], out: &mut Vec<u8>) {
    write_special_header(tag, SELF_INFO_REQUEST, out);
    out.extend_from_slice(&query_id);
}

/// Appends a 64-byte self-info response (what a relay answers).
pub fn write_self_info_response(
    tag: &[u8; PEER_TAG_LEN],
    date: i32,
    query_id: [u8; 8],
    my_ip: [u8; 16],
    my_port: u32,
    out: &mut Vec<u8>,
) {
    write_special_header(tag, TL_SELF_INFO, out);
    out.extend_from_slice(&date.to_le_bytes());
    out.extend_from_slice(&query_id);
    out.extend_from_slice(&my_ip);
    out.extend_from_slice(&my_port.to_le_bytes());
}

/// Appends a 32-byte peer-info request.
pub fn write_peer_info_request(tag: &[u8; PEER_TAG_LEN], out: &mut Vec<u8>) {
    write_special_header(tag, PEER_INFO_REQUEST, out);
}

/// Appends a 48-byte peer-info response (what a relay answers).
pub fn write_peer_info_response(
    tag: &[u8; PEER_TAG_LEN],
    my_addr: [u8; 4],
    my_port: u32,
    peer_addr: [u8; 4],
    peer_port: u32,
    out: &mut Vec<u8>,
) {
    write_special_header(tag, TL_PEER_INFO, out);
    out.extend_from_slice(&my_addr);
    out.extend_from_slice(&my_port.to_le_bytes());
    out.extend_from_slice(&peer_addr);
    out.extend_from_slice(&peer_port.to_le_bytes());
}

/// The tag of the other party on the same relay: bit 0 of byte 15 flipped.
pub fn other_side(tag: &[u8; PEER_TAG_LEN]) -> [u8; PEER_TAG_LEN] {
    let mut t = *tag;
    t[15] ^= 1;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: [u8; 16] = [0x11; 16];

    #[test]
    fn special_packets_round_trip_with_spec_sizes() {
        let mut out = Vec::new();
        write_self_info_request(&TAG, [1, 2, 3, 4, 5, 6, 7, 8], &mut out);
        assert_eq!(out.len(), 40);
        assert_eq!(&out[28..32], &[0xFE, 0xFF, 0xFF, 0xFF]);
        assert_eq!(
            parse(&out).unwrap(),
            (
                TAG,
                RelayMessage::SelfInfoRequest {
                    query_id: [1, 2, 3, 4, 5, 6, 7, 8]
                }
            )
        );

        out.clear();
        let mut ip = [0u8; 16];
        ip[10] = 0xFF;
        ip[11] = 0xFF;
        ip[12..].copy_from_slice(&[127, 0, 0, 1]);
        write_self_info_response(&TAG, 77, [9; 8], ip, 40000, &mut out);
        assert_eq!(out.len(), 64);
        assert_eq!(&out[28..32], &[0xc7, 0x72, 0x15, 0xc0]);
        assert_eq!(
            parse(&out).unwrap().1,
            RelayMessage::SelfInfoResponse {
                date: 77,
                query_id: [9; 8],
                my_ip: ip,
                my_port: 40000
            }
        );

        out.clear();
        write_peer_info_request(&TAG, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(parse(&out).unwrap().1, RelayMessage::PeerInfoRequest);

        out.clear();
        write_peer_info_response(&TAG, [1, 2, 3, 4], 5, [6, 7, 8, 9], 10, &mut out);
        assert_eq!(out.len(), 48);
        assert_eq!(
            parse(&out).unwrap().1,
            RelayMessage::PeerInfoResponse {
                my_addr: [1, 2, 3, 4],
                my_port: 5,
                peer_addr: [6, 7, 8, 9],
                peer_port: 10
            }
        );
    }

    #[test]
    fn ordinary_packets_and_short_input() {
        let mut d = TAG.to_vec();
        d.extend_from_slice(&[0xAB; 48]);
        assert_eq!(parse(&d).unwrap().1, RelayMessage::Packet(&[0xAB; 48][..]));
        assert_eq!(parse(&d[..31]), Err(WireError::TooShort));
        // A truncated special response is an error, not a panic.
        let mut r = Vec::new();
        write_self_info_response(&TAG, 1, [0; 8], [0; 16], 1, &mut r);
        assert!(parse(&r[..40]).is_err());
        assert_eq!(other_side(&TAG)[15], 0x10);
    }
}
