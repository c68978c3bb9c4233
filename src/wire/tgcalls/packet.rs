//! The V2 plaintext packet (spec/tgcalls.md 2.3): a sequence of entries, each `seq: u32 BE` then a
//! type byte: `0x7F` message (`len: u32 BE`, `len` bytes), `0xFF` ack (the acknowledged message's
//! full seq, no body) or `0xFE` empty (a fresh counter, no body).

use super::TgcallsWireError;

/// Bit 31 of a seq: "single message packet" (never set by V2 senders on acked messages).
pub const SEQ_SINGLE_MESSAGE: u32 = 0x8000_0000;
/// Bit 30 of a seq: the message must be acknowledged.
pub const SEQ_REQUIRES_ACK: u32 = 0x4000_0000;
/// Bits 0-29 of a seq: the per-direction counter.
pub const COUNTER_MASK: u32 = 0x3FFF_FFFF;
/// Entry type: a message with a length-prefixed body.
pub const ENTRY_MESSAGE: u8 = 0x7F;
/// Entry type: an acknowledgement of the message whose seq is the entry's seq.
pub const ENTRY_ACK: u8 = 0xFF;
/// Entry type: an empty header (first entry of service packets).
pub const ENTRY_EMPTY: u8 = 0xFE;
/// Largest message body accepted (tgcalls: 1 MiB).
pub const MAX_MESSAGE_LEN: usize = 1024 * 1024;

/// One entry of a plaintext signaling packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A message; `seq` carries the flags, `body` is the (possibly gzipped) JSON.
    Message {
        /// Full seq: counter plus flag bits.
        seq: u32,
        /// The message bytes as sent.
        body: Vec<u8>,
    },
    /// Acknowledges the message whose full seq (flags included) is `seq`.
    Ack {
        /// The acknowledged message's seq.
        seq: u32,
    },
    /// An empty header with its own counter.
    Empty {
        /// Full seq (normally just a counter).
        seq: u32,
    },
}

impl Entry {
    /// The entry's seq field.
    pub fn seq(&self) -> u32 {
        match self {
            Entry::Message { seq, .. } | Entry::Ack { seq } | Entry::Empty { seq } => *seq,
        }
    }

    /// The counter of a message or empty entry (none for acks, whose seq is the peer's).
    pub fn counter(&self) -> Option<u32> {
        match self {
            Entry::Message { seq, .. } | Entry::Empty { seq } => Some(seq & COUNTER_MASK),
            Entry::Ack { .. } => None,
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Entry::Message { body, .. } => 4 + 1 + 4 + body.len(),
            Entry::Ack { .. } | Entry::Empty { .. } => 5,
        }
    }
}

/// A decrypted signaling packet: its entries in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalingPacket {
    /// The entries; the first is never an ack.
    pub entries: Vec<Entry>,
}

impl SignalingPacket {
    /// Parses a plaintext packet. Any bytes: malformed input gives an error, never a panic.
    pub fn parse(plain: &[u8]) -> Result<SignalingPacket, TgcallsWireError> {
        let mut entries = Vec::new();
        let mut rest = plain;
        if rest.len() < 5 {
            return Err(TgcallsWireError::TooShort);
        }
        while !rest.is_empty() {
            if rest.len() < 5 {
                return Err(TgcallsWireError::Truncated("entry header"));
            }
            let seq = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let kind = rest[4];
            rest = &rest[5..];
            let entry = match kind {
                ENTRY_MESSAGE => {
                    if rest.len() < 4 {
                        return Err(TgcallsWireError::Truncated("message length"));
                    }
                    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                    rest = &rest[4..];
                    if len > MAX_MESSAGE_LEN {
                        return Err(TgcallsWireError::TooLong);
                    }
                    if len > rest.len() {
                        return Err(TgcallsWireError::Truncated("message body"));
                    }
                    let body = rest[..len].to_vec();
                    rest = &rest[len..];
                    Entry::Message { seq, body }
                }
                ENTRY_ACK => {
                    if entries.is_empty() {
                        return Err(TgcallsWireError::Invalid("ack as first entry"));
                    }
                    Entry::Ack { seq }
                }
                ENTRY_EMPTY => Entry::Empty { seq },
                other => return Err(TgcallsWireError::UnknownEntryType(other)),
            };
            entries.push(entry);
        }
        Ok(SignalingPacket { entries })
    }

    /// Serialized size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.entries.iter().map(Entry::encoded_len).sum()
    }

    /// Appends the plaintext to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        for e in &self.entries {
            out.extend_from_slice(&e.seq().to_be_bytes());
            match e {
                Entry::Message { body, .. } => {
                    out.push(ENTRY_MESSAGE);
                    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                    out.extend_from_slice(body);
                }
                Entry::Ack { .. } => out.push(ENTRY_ACK),
                Entry::Empty { .. } => out.push(ENTRY_EMPTY),
            }
        }
    }

    /// The plaintext as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let p = SignalingPacket {
            entries: vec![
                Entry::Empty { seq: 7 },
                Entry::Message {
                    seq: 3 | SEQ_REQUIRES_ACK,
                    body: b"{\"@type\":\"x\"}".to_vec(),
                },
                Entry::Ack {
                    seq: 5 | SEQ_REQUIRES_ACK,
                },
            ],
        };
        let b = p.to_bytes();
        assert_eq!(b.len(), p.encoded_len());
        assert_eq!(&b[..5], &[0, 0, 0, 7, 0xFE]);
        assert_eq!(SignalingPacket::parse(&b).unwrap(), p);
        assert_eq!(p.entries[1].counter(), Some(3));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            SignalingPacket::parse(&[0, 0, 0, 1, 0xFF]),
            Err(TgcallsWireError::Invalid("ack as first entry"))
        );
        assert_eq!(
            SignalingPacket::parse(&[0, 0, 0, 1, 0x01]),
            Err(TgcallsWireError::UnknownEntryType(1))
        );
        assert_eq!(
            SignalingPacket::parse(&[0, 0, 0, 1, 0x7F, 0, 0, 0, 9, b'{']),
            Err(TgcallsWireError::Truncated("message body"))
        );
        assert_eq!(
            SignalingPacket::parse(&[0, 0, 0, 1, 0xFE, 0]),
            Err(TgcallsWireError::Truncated("entry header"))
        );
        assert_eq!(
            SignalingPacket::parse(&[0, 0, 0, 1, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(TgcallsWireError::TooLong)
        );
        assert_eq!(SignalingPacket::parse(&[]), Err(TgcallsWireError::TooShort));
    }
}
