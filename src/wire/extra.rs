//! Extras: small signalling records carried in packet headers (wire.md 4.3 and 5).

use super::WireError;

/// One extra. Payload layouts follow wire.md 5.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extra {
    /// Type 1: stream id and flags (bit0 enabled, bit1 DTX, bit2 extra EC).
    StreamFlags { stream_id: u8, flags: u32 },
    /// Type 2: video codec config, kept raw.
    StreamCsd(Vec<u8>),
    /// Type 3: LAN address and port.
    LanEndpoint { addr: [u8; 4], port: u32 },
    /// Type 4: bit0 = sender in data-saving mode.
    NetworkChanged { flags: u32 },
    /// Type 5: group call key (broken in 2.4.4, never sent).
    GroupCallKey(Vec<u8>),
    /// Type 6: request to upgrade to a group call.
    RequestGroup,
    /// Type 7: public IPv6 address and port.
    Ipv6Endpoint { addr: [u8; 16], port: u16 },
    /// Any other type, kept raw.
    Unknown { ty: u8, data: Vec<u8> },
}

impl Extra {
    /// The extra's type byte.
    pub fn extra_type(&self) -> u8 {
        unimplemented!()
    }

    /// Parses one extra from its type byte and payload.
    pub fn parse(ty: u8, data: &[u8]) -> Result<Extra, WireError> {
        unimplemented!()
    }

    /// Appends the payload (without the length and type bytes).
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        unimplemented!()
    }

    /// `SHA1(type || payload)[0..8]`: the receiver's per-type duplicate filter (wire.md 5.3).
    pub fn dedup_hash(&self) -> [u8; 8] {
        unimplemented!()
    }
}

/// Parses an extras block (count, then count records); returns the extras and the bytes consumed.
pub fn parse_block(bytes: &[u8]) -> Result<(Vec<Extra>, usize), WireError> {
    unimplemented!()
}

/// Appends an extras block. Extras whose payload exceeds 254 bytes are skipped.
pub fn write_block(extras: &[Extra], out: &mut Vec<u8>) {
    unimplemented!()
}
