//! Bytes only: relay framing, packet crypto, packet and extra (de)serialization for the
//! libtgvoip 2.4.4 protocol (version 9, minimum 3). No I/O, no clocks; every decoder takes any
//! bytes and returns a [`WireError`] instead of panicking.

pub mod crypto;
pub mod extra;
pub mod packet;
pub mod relay;
pub mod stun;
pub mod tcp;
#[cfg(test)]
mod test_hex;
pub mod tgcalls;
pub mod turn;

pub use crypto::{CallKey, PacketCrypto, PacketFormat};
pub use extra::Extra;
pub use packet::{
    Header, Init, InitAck, Packet, PacketType, Payload, StreamDesc, StreamEc, StreamFrame,
};
pub use relay::{RelayMessage, PEER_TAG_LEN};

/// Protocol version this implementation speaks.
pub const PROTOCOL_VERSION: i32 = 9;
/// Oldest peer protocol version accepted.
pub const MIN_PROTOCOL_VERSION: i32 = 3;
/// Connection max layer advertised by libtgvoip 2.4.4.
pub const CONNECTION_MAX_LAYER: i32 = 92;
/// Largest datagram accepted from the network (the receive buffer of 2.4.4).
pub const MAX_DATAGRAM: usize = 1500;
/// FOURCC of the Opus codec as it appears in INIT / INIT_ACK.
pub const CODEC_OPUS: u32 = 0x4F50_5553;

/// Why a datagram or packet body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than the smallest valid form of the thing being read.
    TooShort,
    /// More bytes than the protocol allows (ciphertext above 1500 bytes, extra above 254 bytes, ...).
    TooLong,
    /// Ciphertext length is not a multiple of the AES block size.
    NotBlockAligned,
    /// The key fingerprint in a long/legacy packet is not ours.
    BadFingerprint,
    /// The msg_key does not match the decrypted contents (wrong key, direction or tampering).
    BadMsgKey,
    /// The inner length field is larger than the plaintext or leaves too little padding.
    BadLength,
    /// A field ran past the end of the body; names the field.
    Truncated(&'static str),
    /// A TL constructor id that is not one of the known header ids.
    UnknownConstructor(u32),
    /// The TL header lacks the SEQ or RECENT_RECV flags.
    MissingHeaderFields,
    /// A value that the format forbids (names the field).
    Invalid(&'static str),
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::TooShort => f.write_str("datagram too short"),
            WireError::TooLong => f.write_str("datagram too long"),
            WireError::NotBlockAligned => f.write_str("ciphertext not a multiple of 16"),
            WireError::BadFingerprint => f.write_str("key fingerprint mismatch"),
            WireError::BadMsgKey => f.write_str("msg_key mismatch"),
            WireError::BadLength => f.write_str("bad inner length"),
            WireError::Truncated(what) => write!(f, "truncated {what}"),
            WireError::UnknownConstructor(id) => write!(f, "unknown TL constructor {id:#010x}"),
            WireError::MissingHeaderFields => f.write_str("TL header without seq/ack fields"),
            WireError::Invalid(what) => write!(f, "invalid {what}"),
        }
    }
}

impl std::error::Error for WireError {}

/// Wrap-aware "a is newer than b" for 32-bit sequence numbers.
pub fn seq_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}
