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
    SelfInfoResponse { date: i32, query_id: [u8; 8], my_ip: [u8; 16], my_port: u32 },
    /// Peer-info request ("public endpoints request"), client to relay.
    PeerInfoRequest,
    /// Peer-info response (IPv4), relay to client.
    PeerInfoResponse { my_addr: [u8; 4], my_port: u32, peer_addr: [u8; 4], peer_port: u32 },
    /// A special packet (12 x 0xFF after the tag) with an id we do not handle.
    UnknownSpecial { id: u32 },
}

/// Splits a relay datagram into its tag and message. Datagrams shorter than 32 bytes are rejected.
pub fn parse(datagram: &[u8]) -> Result<([u8; PEER_TAG_LEN], RelayMessage<'_>), WireError> {
    unimplemented!()
}

/// Appends a 40-byte self-info request.
pub fn write_self_info_request(tag: &[u8; PEER_TAG_LEN], query_id: [u8; 8], out: &mut Vec<u8>) {
    unimplemented!()
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
    unimplemented!()
}

/// Appends a 32-byte peer-info request.
pub fn write_peer_info_request(tag: &[u8; PEER_TAG_LEN], out: &mut Vec<u8>) {
    unimplemented!()
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
    unimplemented!()
}

/// The tag of the other party on the same relay: bit 0 of byte 15 flipped.
pub fn other_side(tag: &[u8; PEER_TAG_LEN]) -> [u8; PEER_TAG_LEN] {
    let mut t = *tag;
    t[15] ^= 1;
    t
}
