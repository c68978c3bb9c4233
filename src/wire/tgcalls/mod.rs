//! Bytes only, for the tgcalls 8.0.0 / 9.0.0 protocol (`InstanceV2Impl`, signaling "V2";
//! spec/tgcalls.md section 2): the signaling encryption ([`SignalingCrypto`]), the plaintext packet
//! of seq-numbered entries with acks ([`SignalingPacket`]), and the typed JSON messages
//! ([`Message`]). No I/O, no clocks; every decoder takes any bytes and returns a
//! [`TgcallsWireError`] instead of panicking.
//!
//! The message layer is independent of the carrier, so the V3 carrier of 12.0.0 / 13.0.0 (gzip,
//! raw-packet encryption, SCTP) can be added beside it later.

mod crypto;
mod message;
mod packet;
pub mod reflector;

pub use crypto::{SignalingCrypto, MAX_INCOMING_PACKET, MAX_SIGNALING_PACKET, MIN_PACKET};
pub use message::{
    decode_body, Candidate, Candidates, Fingerprint, InitialSetup, MediaContent, MediaState,
    Message, NegotiateChannels, PayloadType, RtcpFeedback, RtpExtension, SsrcGroup, VideoState,
    MAX_GUNZIPPED_BODY,
};
pub use packet::{
    Entry, SignalingPacket, COUNTER_MASK, ENTRY_ACK, ENTRY_EMPTY, ENTRY_MESSAGE, MAX_MESSAGE_LEN,
    SEQ_REQUIRES_ACK, SEQ_SINGLE_MESSAGE,
};

/// Why a signaling packet or message was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TgcallsWireError {
    /// Fewer bytes than the smallest valid packet (16-byte msg_key + a 4-byte seq + a type byte).
    TooShort,
    /// More bytes than the protocol accepts (packet, message or gunzipped body).
    TooLong,
    /// The msg_key does not match the decrypted contents (wrong key, wrong role or tampering).
    BadMsgKey,
    /// A field ran past the end of the plaintext; names the field.
    Truncated(&'static str),
    /// An entry type byte that is not message (0x7F), ack (0xFF) or empty (0xFE).
    UnknownEntryType(u8),
    /// A structural rule of the packet is broken (names it).
    Invalid(&'static str),
    /// The gzip stream of a body is corrupt.
    Gzip,
    /// The body is not a JSON object of a known shape; the serde message says why.
    Json(String),
}

impl core::fmt::Display for TgcallsWireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TgcallsWireError::TooShort => f.write_str("signaling packet too short"),
            TgcallsWireError::TooLong => f.write_str("signaling packet or message too long"),
            TgcallsWireError::BadMsgKey => f.write_str("signaling msg_key mismatch"),
            TgcallsWireError::Truncated(what) => write!(f, "truncated {what}"),
            TgcallsWireError::UnknownEntryType(t) => write!(f, "unknown entry type {t:#04x}"),
            TgcallsWireError::Invalid(what) => write!(f, "invalid {what}"),
            TgcallsWireError::Gzip => f.write_str("corrupt gzip body"),
            TgcallsWireError::Json(e) => write!(f, "bad signaling JSON: {e}"),
        }
    }
}

impl std::error::Error for TgcallsWireError {}
