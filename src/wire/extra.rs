//! Extras: small signalling records carried in packet headers (wire.md 4.3 and 5).

use ring::digest;

use super::packet::cursor::Reader;
use super::WireError;

/// Largest extra payload: the record length byte counts the type byte too (wire.md 4.3).
pub const MAX_EXTRA_PAYLOAD: usize = 254;

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
    /// tgvoip-rs capabilities (type [`TGVOIP_RS_CAPS`], payload `"tgrs"`, `u8` version 1,
    /// `u32` flags): announced from the first INIT so two tgvoip-rs peers can use what both
    /// support. libtgvoip 2.4.4 ignores extra types it does not know (wire.md 5.3), so it never
    /// acts on it.
    Capabilities { flags: u32 },
    /// Any other type, kept raw.
    Unknown { ty: u8, data: Vec<u8> },
}

/// Extra type of [`Extra::Capabilities`] (unused by libtgvoip 2.4.4, whose types end at 9).
pub const TGVOIP_RS_CAPS: u8 = 0x54;
/// Magic at the start of the [`Extra::Capabilities`] payload.
pub const TGVOIP_RS_MAGIC: [u8; 4] = *b"tgrs";
/// Version byte of the [`Extra::Capabilities`] payload.
const TGVOIP_RS_CAPS_VERSION: u8 = 1;
/// Capability: the receiver reads each audio frame's duration from its Opus TOC and accepts a
/// pts step equal to it (20, 40 or 60 ms frames).
pub const CAP_VARIABLE_FRAMES: u32 = 1;
/// Capability: the receiver takes two or three 60 ms audio frames in one packet
/// (STREAM_DATA_X2 / STREAM_DATA_X3), which cuts the per-packet overhead on slow links.
pub const CAP_MULTI_FRAME: u32 = 2;

/// Extra type bytes (wire.md 5.1).
const STREAM_FLAGS: u8 = 1;
const STREAM_CSD: u8 = 2;
const LAN_ENDPOINT: u8 = 3;
const NETWORK_CHANGED: u8 = 4;
const GROUP_CALL_KEY: u8 = 5;
const REQUEST_GROUP: u8 = 6;
const IPV6_ENDPOINT: u8 = 7;

impl Extra {
    /// The extra's type byte.
    pub fn extra_type(&self) -> u8 {
        match self {
            Extra::StreamFlags { .. } => STREAM_FLAGS,
            Extra::StreamCsd(_) => STREAM_CSD,
            Extra::LanEndpoint { .. } => LAN_ENDPOINT,
            Extra::NetworkChanged { .. } => NETWORK_CHANGED,
            Extra::GroupCallKey(_) => GROUP_CALL_KEY,
            Extra::RequestGroup => REQUEST_GROUP,
            Extra::Ipv6Endpoint { .. } => IPV6_ENDPOINT,
            Extra::Capabilities { .. } => TGVOIP_RS_CAPS,
            Extra::Unknown { ty, .. } => *ty,
        }
    }

    /// Parses one extra from its type byte and payload. Bytes after the fixed fields of a known
    /// type are ignored, as a 2.4.4 receiver reads only the fields it knows.
    pub fn parse(ty: u8, data: &[u8]) -> Result<Extra, WireError> {
        let mut r = Reader::new(data);
        Ok(match ty {
            STREAM_FLAGS => Extra::StreamFlags {
                stream_id: r.u8("stream_flags")?,
                flags: r.u32("stream_flags")?,
            },
            STREAM_CSD => Extra::StreamCsd(data.to_vec()),
            LAN_ENDPOINT => Extra::LanEndpoint {
                addr: r.array("lan_endpoint")?,
                port: r.u32("lan_endpoint")?,
            },
            NETWORK_CHANGED => Extra::NetworkChanged {
                flags: r.u32("network_changed")?,
            },
            GROUP_CALL_KEY => Extra::GroupCallKey(data.to_vec()),
            REQUEST_GROUP => Extra::RequestGroup,
            IPV6_ENDPOINT => Extra::Ipv6Endpoint {
                addr: r.array("ipv6_endpoint")?,
                port: r.u16("ipv6_endpoint")?,
            },
            TGVOIP_RS_CAPS
                if data.len() >= 9
                    && data[..4] == TGVOIP_RS_MAGIC
                    && data[4] == TGVOIP_RS_CAPS_VERSION =>
            {
                let mut r = Reader::new(&data[5..]);
                Extra::Capabilities {
                    flags: r.u32("capabilities")?,
                }
            }
            _ => Extra::Unknown {
                ty,
                data: data.to_vec(),
            },
        })
    }

    /// Appends the payload (without the length and type bytes).
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        match self {
            Extra::StreamFlags { stream_id, flags } => {
                out.push(*stream_id);
                out.extend_from_slice(&flags.to_le_bytes());
            }
            Extra::StreamCsd(data) | Extra::GroupCallKey(data) | Extra::Unknown { data, .. } => {
                out.extend_from_slice(data)
            }
            Extra::LanEndpoint { addr, port } => {
                out.extend_from_slice(addr);
                out.extend_from_slice(&port.to_le_bytes());
            }
            Extra::NetworkChanged { flags } => out.extend_from_slice(&flags.to_le_bytes()),
            Extra::Capabilities { flags } => {
                out.extend_from_slice(&TGVOIP_RS_MAGIC);
                out.push(TGVOIP_RS_CAPS_VERSION);
                out.extend_from_slice(&flags.to_le_bytes());
            }
            Extra::RequestGroup => {}
            Extra::Ipv6Endpoint { addr, port } => {
                out.extend_from_slice(addr);
                out.extend_from_slice(&port.to_le_bytes());
            }
        }
    }

    /// `SHA1(type || payload)[0..8]`: the receiver's per-type duplicate filter (wire.md 5.3).
    pub fn dedup_hash(&self) -> [u8; 8] {
        let mut buf = vec![self.extra_type()];
        self.write_payload(&mut buf);
        let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &buf);
        let mut out = [0u8; 8];
        out.copy_from_slice(&hash.as_ref()[..8]);
        out
    }
}

/// Parses an extras block (count, then count records); returns the extras and the bytes consumed.
/// A record whose length byte is 0 (no room for the type byte) is `Invalid("extra length")`.
pub fn parse_block(bytes: &[u8]) -> Result<(Vec<Extra>, usize), WireError> {
    let mut r = Reader::new(bytes);
    let count = r.u8("extras count")?;
    let mut extras = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = r.u8("extra length")? as usize;
        if len == 0 {
            return Err(WireError::Invalid("extra length"));
        }
        let record = r.bytes(len, "extra")?;
        let (ty, data) = record.split_first().ok_or(WireError::Truncated("extra"))?;
        extras.push(Extra::parse(*ty, data)?);
    }
    Ok((extras, r.pos()))
}

/// Appends an extras block. Extras whose payload exceeds 254 bytes are skipped.
pub fn write_block(extras: &[Extra], out: &mut Vec<u8>) {
    let mut records = Vec::new();
    let mut count: u8 = 0;
    for extra in extras {
        let mut payload = Vec::new();
        extra.write_payload(&mut payload);
        if payload.len() > MAX_EXTRA_PAYLOAD || count == u8::MAX {
            continue;
        }
        records.push(payload.len() as u8 + 1);
        records.push(extra.extra_type());
        records.extend_from_slice(&payload);
        count += 1;
    }
    out.push(count);
    out.extend_from_slice(&records);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;

    fn parse_record(rec: &[u8]) -> Extra {
        Extra::parse(rec[0], &rec[1..]).unwrap()
    }

    #[test]
    fn captured_examples() {
        assert_eq!(
            parse_record(&hex("01 01 00000000")),
            Extra::StreamFlags {
                stream_id: 1,
                flags: 0
            }
        );
        assert_eq!(
            parse_record(&hex("01 01 05000000")),
            Extra::StreamFlags {
                stream_id: 1,
                flags: 5
            }
        );
        assert_eq!(
            parse_record(&hex("03 c0000202 d9720000")),
            Extra::LanEndpoint {
                addr: [192, 0, 2, 2],
                port: 29401
            }
        );
    }

    #[test]
    fn captured_block_from_appendix_b() {
        // Extras block of the mute STREAM_DATA in wire.md Appendix B, followed by the payload.
        let bytes = hex("01 06 01 01 00000000 01 80 9c090000");
        let (extras, used) = parse_block(&bytes).unwrap();
        assert_eq!(used, 8);
        assert_eq!(
            extras,
            vec![Extra::StreamFlags {
                stream_id: 1,
                flags: 0
            }]
        );
        let mut out = Vec::new();
        write_block(&extras, &mut out);
        assert_eq!(out, bytes[..8]);
    }

    fn all_kinds() -> Vec<Extra> {
        vec![
            Extra::StreamFlags {
                stream_id: 1,
                flags: 5,
            },
            Extra::StreamCsd(vec![2, 0x80, 2, 0xE0, 1, 1, 3, 9, 8, 7]),
            Extra::LanEndpoint {
                addr: [10, 0, 0, 7],
                port: 40000,
            },
            Extra::NetworkChanged { flags: 1 },
            Extra::GroupCallKey(vec![0x5A; 200]),
            Extra::RequestGroup,
            Extra::Ipv6Endpoint {
                addr: [0x20; 16],
                port: 443,
            },
            Extra::Unknown {
                ty: 9,
                data: vec![1, 2, 3],
            },
        ]
    }

    #[test]
    fn block_round_trip_every_type() {
        let extras = all_kinds();
        let mut out = Vec::new();
        write_block(&extras, &mut out);
        out.extend_from_slice(b"payload");
        let (parsed, used) = parse_block(&out).unwrap();
        assert_eq!(parsed, extras);
        assert_eq!(&out[used..], b"payload");
        for e in &extras {
            assert_eq!(
                Extra::parse(e.extra_type(), &{
                    let mut p = Vec::new();
                    e.write_payload(&mut p);
                    p
                })
                .unwrap(),
                *e
            );
        }
    }

    #[test]
    fn oversized_extra_is_skipped() {
        let extras = vec![Extra::GroupCallKey(vec![0; 256]), Extra::RequestGroup];
        let mut out = Vec::new();
        write_block(&extras, &mut out);
        assert_eq!(out, vec![1, 1, 6]);
    }

    #[test]
    fn dedup_hash_is_sha1_of_type_and_payload() {
        // Expected values from `printf '\x06' | sha1sum` and
        // `printf '\x01\x01\x00\x00\x00\x00' | sha1sum`, first 8 bytes.
        assert_eq!(
            Extra::RequestGroup.dedup_hash().to_vec(),
            hex("2d0134ed3b9de132")
        );
        let muted = Extra::StreamFlags {
            stream_id: 1,
            flags: 0,
        };
        assert_eq!(muted.dedup_hash().to_vec(), hex("faf1cd4bdf2d5926"));
        assert_ne!(
            muted.dedup_hash(),
            Extra::StreamFlags {
                stream_id: 1,
                flags: 1
            }
            .dedup_hash()
        );
    }

    #[test]
    fn truncated_blocks_are_errors() {
        let mut out = Vec::new();
        write_block(&all_kinds(), &mut out);
        for cut in 0..out.len() {
            assert!(parse_block(&out[..cut]).is_err(), "cut {cut}");
        }
        assert_eq!(
            parse_block(&[1, 0]),
            Err(WireError::Invalid("extra length"))
        );
        assert_eq!(
            parse_block(&hex("01 05 01 01 000000")),
            Err(WireError::Truncated("stream_flags"))
        );
    }
}
