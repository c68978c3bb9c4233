//! Decrypted packet bodies: the short header (layer >= 92), the TL headers of the long and legacy
//! formats, and the payloads of every packet type.

pub(crate) mod cursor;

use cursor::{write_tl_len, Reader};

use super::{extra, Extra, WireError, CODEC_OPUS};

/// xflags bit: an extras block follows the short header.
pub const XFLAG_HAS_EXTRA: u8 = 0x01;
/// xflags bit: a u32 receive timestamp follows the extras.
pub const XFLAG_HAS_RECV_TS: u8 = 0x02;

/// TL constructor of the handshake header.
pub const TL_DECRYPTED_AUDIO_BLOCK: u32 = 0xDBF9_48C1;
/// TL constructor of the ordinary header.
pub const TL_SIMPLE_AUDIO_BLOCK: u32 = 0xCC0D_0E76;
/// Protocol name in TL headers, "GrVP".
pub const TL_PROTOCOL_NAME: u32 = 0x5056_7247;

/// PFLAG bits of `decryptedAudioBlock` (wire.md 4.2.1).
const PFLAG_HAS_DATA: u32 = 0x01;
const PFLAG_HAS_EXTRA: u32 = 0x02;
const PFLAG_HAS_CALL_ID: u32 = 0x04;
const PFLAG_HAS_PROTO: u32 = 0x08;
const PFLAG_HAS_SEQ: u32 = 0x10;
const PFLAG_HAS_RECENT_RECV: u32 = 0x20;

/// simpleAudioBlock's TL length counts the payload plus type, ack_id, seq and ack_mask.
const SIMPLE_HEADER_LEN: usize = 13;

/// STREAM_DATA flag bits (wire.md 4.4).
const B0_LEN16: u8 = 0x40;
const B0_STREAM_MASK: u8 = 0x3F;
const LF_LEN_MASK: u16 = 0x07FF;
const LF_EXTRA_FEC: u16 = 0x2000;
const LF_FRAGMENTED: u16 = 0x4000;
const LF_KEYFRAME: u16 = 0x8000;

/// A packet type byte. Unknown values are kept so they can be counted and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketType(pub u8);

impl PacketType {
    /// Handshake offer (6.1).
    pub const INIT: PacketType = PacketType(1);
    /// Handshake answer (6.2).
    pub const INIT_ACK: PacketType = PacketType(2);
    /// Stream enable/disable for peers below v6.
    pub const STREAM_STATE: PacketType = PacketType(3);
    /// One media frame.
    pub const STREAM_DATA: PacketType = PacketType(4);
    /// Reserved, never sent.
    pub const UPDATE_STREAMS: PacketType = PacketType(5);
    /// Relay RTT probe.
    pub const PING: PacketType = PacketType(6);
    /// Answer to PING.
    pub const PONG: PacketType = PacketType(7);
    /// Two media frames (never sent by 2.4.4).
    pub const STREAM_DATA_X2: PacketType = PacketType(8);
    /// Three media frames (never sent by 2.4.4).
    pub const STREAM_DATA_X3: PacketType = PacketType(9);
    /// LAN address for peers below v6.
    pub const LAN_ENDPOINT: PacketType = PacketType(10);
    /// Network change notice for peers below v6.
    pub const NETWORK_CHANGED: PacketType = PacketType(11);
    /// Reserved, never sent.
    pub const SWITCH_PREF_RELAY: PacketType = PacketType(12);
    /// Reserved, never sent.
    pub const SWITCH_TO_P2P: PacketType = PacketType(13);
    /// Empty keep-alive.
    pub const NOP: PacketType = PacketType(14);
    /// Redundant audio for peers below v7.
    pub const STREAM_EC: PacketType = PacketType(17);

    /// A stable lower-case name for logs and statistics ("init", "stream_data", ..., "unknown").
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "init",
            2 => "init_ack",
            3 => "stream_state",
            4 => "stream_data",
            5 => "update_streams",
            6 => "ping",
            7 => "pong",
            8 => "stream_data_x2",
            9 => "stream_data_x3",
            10 => "lan_endpoint",
            11 => "network_changed",
            12 => "switch_pref_relay",
            13 => "switch_to_p2p",
            14 => "nop",
            15 | 16 => "retired",
            17 => "stream_ec",
            _ => "unknown",
        }
    }
}

/// The header fields common to every packet, whatever the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Packet type.
    pub ptype: PacketType,
    /// Highest seq the sender has received from us.
    pub ack_id: u32,
    /// This packet's sequence number.
    pub seq: u32,
    /// Recently received seqs below (or at) `ack_id`, see wire.md 4.6.
    pub ack_mask: u32,
    /// Extras carried in the header (empty when none).
    pub extras: Vec<Extra>,
    /// Receive timestamp (HAS_RECV_TS), parsed and otherwise ignored.
    pub recv_ts: Option<u32>,
}

/// A parsed packet body: header plus the raw type-specific payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header.
    pub header: Header,
    /// Type-specific payload, parsed with [`Payload::parse`].
    pub payload: &'a [u8],
}

/// Reads the xflags byte and what it announces (extras block, receive timestamp).
fn read_xflags(r: &mut Reader<'_>) -> Result<(Vec<Extra>, Option<u32>), WireError> {
    let xflags = r.u8("xflags")?;
    let mut extras = Vec::new();
    if xflags & XFLAG_HAS_EXTRA != 0 {
        let (parsed, used) = extra::parse_block(r.peek_rest())?;
        r.bytes(used, "extras")?;
        extras = parsed;
    }
    let recv_ts = if xflags & XFLAG_HAS_RECV_TS != 0 {
        Some(r.u32("recv_ts")?)
    } else {
        None
    };
    Ok((extras, recv_ts))
}

/// Writes the xflags byte and what it announces.
fn write_xflags(header: &Header, out: &mut Vec<u8>) {
    let mut xflags = 0;
    if !header.extras.is_empty() {
        xflags |= XFLAG_HAS_EXTRA;
    }
    if header.recv_ts.is_some() {
        xflags |= XFLAG_HAS_RECV_TS;
    }
    out.push(xflags);
    if !header.extras.is_empty() {
        extra::write_block(&header.extras, out);
    }
    if let Some(ts) = header.recv_ts {
        out.extend_from_slice(&ts.to_le_bytes());
    }
}

/// Appends `type, ack_id, seq, ack_mask`.
fn write_seq_fields(header: &Header, out: &mut Vec<u8>) {
    out.push(header.ptype.0);
    out.extend_from_slice(&header.ack_id.to_le_bytes());
    out.extend_from_slice(&header.seq.to_le_bytes());
    out.extend_from_slice(&header.ack_mask.to_le_bytes());
}

/// Appends the random id and the 8-byte random TL string both TL headers start with.
fn write_tl_random(out: &mut Vec<u8>) {
    let mut random = [0u8; 16];
    rand::Rng::fill(&mut rand::thread_rng(), &mut random[..]);
    out.extend_from_slice(&random[..8]);
    out.push(7);
    out.extend_from_slice(&random[8..15]);
}

impl<'a> Packet<'a> {
    /// Parses a short-format body (wire.md 4.1).
    pub fn parse_short(body: &'a [u8]) -> Result<Packet<'a>, WireError> {
        let mut r = Reader::new(body);
        let ptype = PacketType(r.u8("type")?);
        let ack_id = r.u32("ack_id")?;
        let seq = r.u32("seq")?;
        let ack_mask = r.u32("ack_mask")?;
        let (extras, recv_ts) = read_xflags(&mut r)?;
        let header = Header {
            ptype,
            ack_id,
            seq,
            ack_mask,
            extras,
            recv_ts,
        };
        Ok(Packet {
            header,
            payload: r.rest(),
        })
    }

    /// Parses a TL-format body (`decryptedAudioBlock` or `simpleAudioBlock`, wire.md 4.2).
    /// `peer_has_extras`: the receiver believes the peer is >= v6 (xflags byte present in
    /// simpleAudioBlock). A wrong call id yields `Invalid("call_id")`, a wrong protocol name
    /// `Invalid("protocol")`.
    pub fn parse_tl(
        body: &'a [u8],
        peer_has_extras: bool,
        call_id: &[u8; 16],
    ) -> Result<Packet<'a>, WireError> {
        let mut r = Reader::new(body);
        let id = r.u32("constructor")?;
        if id != TL_DECRYPTED_AUDIO_BLOCK && id != TL_SIMPLE_AUDIO_BLOCK {
            return Err(WireError::UnknownConstructor(id));
        }
        r.u64("random_id")?;
        r.tl_string("random_bytes")?;
        if id == TL_SIMPLE_AUDIO_BLOCK {
            let (tl_len, _) = r.tl_len("length")?;
            let payload_len = tl_len
                .checked_sub(SIMPLE_HEADER_LEN)
                .ok_or(WireError::Invalid("length"))?;
            let ptype = PacketType(r.u8("type")?);
            let ack_id = r.u32("ack_id")?;
            let seq = r.u32("seq")?;
            let ack_mask = r.u32("ack_mask")?;
            let (extras, recv_ts) = if peer_has_extras {
                read_xflags(&mut r)?
            } else {
                (Vec::new(), None)
            };
            let payload = r.bytes(payload_len, "payload")?;
            let header = Header {
                ptype,
                ack_id,
                seq,
                ack_mask,
                extras,
                recv_ts,
            };
            return Ok(Packet { header, payload });
        }
        let flags = r.u32("flags")?;
        if flags & PFLAG_HAS_SEQ == 0 || flags & PFLAG_HAS_RECENT_RECV == 0 {
            return Err(WireError::MissingHeaderFields);
        }
        let ptype = PacketType((flags >> 24) as u8);
        if flags & PFLAG_HAS_CALL_ID != 0 && r.bytes(16, "call_id")? != call_id {
            return Err(WireError::Invalid("call_id"));
        }
        let ack_id = r.u32("ack_id")?;
        let seq = r.u32("seq")?;
        let ack_mask = r.u32("ack_mask")?;
        if flags & PFLAG_HAS_PROTO != 0 && r.u32("protocol")? != TL_PROTOCOL_NAME {
            return Err(WireError::Invalid("protocol"));
        }
        if flags & PFLAG_HAS_EXTRA != 0 {
            r.tl_string("extra")?;
        }
        let payload = if flags & PFLAG_HAS_DATA != 0 {
            let (len, _) = r.tl_len("payload length")?;
            r.bytes(len, "payload")?
        } else {
            &[]
        };
        let header = Header {
            ptype,
            ack_id,
            seq,
            ack_mask,
            extras: Vec::new(),
            recv_ts: None,
        };
        Ok(Packet { header, payload })
    }

    /// Appends a short-format body. xflags gets HAS_EXTRA iff `header.extras` is non-empty
    /// and HAS_RECV_TS iff `header.recv_ts` is set.
    pub fn write_short(header: &Header, payload: &[u8], out: &mut Vec<u8>) {
        write_seq_fields(header, out);
        write_xflags(header, out);
        out.extend_from_slice(payload);
    }

    /// Appends a TL-format body: `decryptedAudioBlock` when `handshake` is true (sender in
    /// WAIT_INIT / WAIT_INIT_ACK), else `simpleAudioBlock` (with the xflags byte and extras iff
    /// `peer_has_extras`). Random fields are filled from `rand`.
    ///
    /// `decryptedAudioBlock` cannot carry extras or a receive timestamp; those header fields are
    /// not written in that form (2.4.4 never sets its HAS_EXTRA flag).
    pub fn write_tl(
        header: &Header,
        payload: &[u8],
        handshake: bool,
        peer_has_extras: bool,
        call_id: &[u8; 16],
        out: &mut Vec<u8>,
    ) {
        if handshake {
            out.extend_from_slice(&TL_DECRYPTED_AUDIO_BLOCK.to_le_bytes());
            write_tl_random(out);
            let mut flags = PFLAG_HAS_SEQ | PFLAG_HAS_RECENT_RECV | PFLAG_HAS_CALL_ID;
            flags |= PFLAG_HAS_PROTO;
            if !payload.is_empty() {
                flags |= PFLAG_HAS_DATA;
            }
            flags |= u32::from(header.ptype.0) << 24;
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(call_id);
            out.extend_from_slice(&header.ack_id.to_le_bytes());
            out.extend_from_slice(&header.seq.to_le_bytes());
            out.extend_from_slice(&header.ack_mask.to_le_bytes());
            out.extend_from_slice(&TL_PROTOCOL_NAME.to_le_bytes());
            if !payload.is_empty() {
                write_tl_len(payload.len(), out);
                out.extend_from_slice(payload);
            }
        } else {
            out.extend_from_slice(&TL_SIMPLE_AUDIO_BLOCK.to_le_bytes());
            write_tl_random(out);
            write_tl_len(payload.len() + SIMPLE_HEADER_LEN, out);
            write_seq_fields(header, out);
            if peer_has_extras {
                write_xflags(header, out);
            }
            out.extend_from_slice(payload);
        }
    }
}

/// INIT payload (wire.md 6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    /// Sender's protocol version (9 for 2.4.4).
    pub protocol_version: i32,
    /// Oldest version the sender accepts (3 for 2.4.4).
    pub min_protocol_version: i32,
    /// bit0 data saving, bit1 group calls, bit2 video send, bit3 video receive.
    pub flags: u32,
    /// Audio codec ids (u32 FOURCCs, or the old one-byte ids widened, for peers below v5).
    pub audio_codecs: Vec<u32>,
    /// Video decoder FOURCCs (absent in audio-only INITs).
    pub video_decoders: Vec<u32>,
    /// 1=240p .. 7=4K, 0 when not given.
    pub max_video_resolution: u8,
}

impl Init {
    /// The INIT 2.4.4 sends at layer 92: version 9, min 3, the given flags, Opus only, no video.
    pub fn audio_only(flags: u32) -> Init {
        Init {
            protocol_version: super::PROTOCOL_VERSION,
            min_protocol_version: super::MIN_PROTOCOL_VERSION,
            flags,
            audio_codecs: vec![super::CODEC_OPUS],
            video_decoders: Vec::new(),
            max_video_resolution: 0,
        }
    }
}

/// One stream announced in INIT_ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDesc {
    /// Stream id (2.4.4: 1 for audio).
    pub id: u8,
    /// 1 audio, 2 video.
    pub stream_type: u8,
    /// Codec FOURCC, or the old one-byte id (1 = Opus) widened for peers below v5.
    pub codec: u32,
    /// Frame duration (60 for audio; ignored by 2.4.4 receivers).
    pub frame_duration_ms: u16,
    /// Whether the sender's stream is enabled.
    pub enabled: bool,
}

/// INIT_ACK payload (wire.md 6.2). A payload of 10 bytes or less means a version-1 peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitAck {
    /// Sender's protocol version (1 for the short version-1 form).
    pub protocol_version: i32,
    /// Oldest version the sender accepts (1 for the short version-1 form).
    pub min_protocol_version: i32,
    /// Announced streams.
    pub streams: Vec<StreamDesc>,
}

/// One frame record of STREAM_DATA (wire.md 4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFrame<'a> {
    /// Stream id (6 bits).
    pub stream_id: u8,
    /// Timestamp in milliseconds.
    pub pts: u32,
    /// Video keyframe flag.
    pub keyframe: bool,
    /// (index, count) for fragmented video frames.
    pub fragment: Option<(u8, u8)>,
    /// Frame data (one Opus packet for audio).
    pub data: &'a [u8],
    /// Inline redundancy (EXTRA_FEC): entry j covers `pts - (n-1-j)*60`, oldest first.
    pub fec: Vec<&'a [u8]>,
}

/// STREAM_EC payload (type 17, wire.md 6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEc<'a> {
    /// Stream id.
    pub stream_id: u8,
    /// pts of the newest covered frame.
    pub pts: u32,
    /// Entry j covers `pts - (n-1-j)*60`, oldest first.
    pub frames: Vec<&'a [u8]>,
}

/// A type-specific payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Type 1.
    Init(Init),
    /// Type 2.
    InitAck(InitAck),
    /// Type 3: `enabled` is true iff the byte is 1.
    StreamState { stream_id: u8, enabled: bool },
    /// One to three frames (types 4, 8, 9).
    StreamData(Vec<StreamFrame<'a>>),
    /// Type 6.
    Ping,
    /// Type 7: seq of the PING answered.
    Pong { ping_seq: u32 },
    /// Type 10.
    LanEndpoint { addr: [u8; 4], port: u32 },
    /// Type 11.
    NetworkChanged { flags: u32 },
    /// Type 14.
    Nop,
    /// Type 17.
    StreamEc(StreamEc<'a>),
    /// Types with no payload semantics (5, 12, 13, 15, 16, unknown): ignored by receivers.
    Ignored(PacketType),
}

/// Largest frame length expressible in the 16-bit length field.
pub const MAX_FRAME_LEN: usize = LF_LEN_MASK as usize;

/// Reads `n` × `{u8 len, bytes[len]}` entries.
fn read_len8_list<'a>(
    r: &mut Reader<'a>,
    n: u8,
    what: &'static str,
) -> Result<Vec<&'a [u8]>, WireError> {
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let len = r.u8(what)? as usize;
        out.push(r.bytes(len, what)?);
    }
    Ok(out)
}

/// Writes a `u8 n` count and `{u8 len, bytes}` entries; entries above 255 bytes are cut to 255
/// and at most 255 entries are written.
fn write_len8_list(entries: &[&[u8]], out: &mut Vec<u8>) {
    let entries = &entries[..entries.len().min(255)];
    out.push(entries.len() as u8);
    for e in entries {
        let e = &e[..e.len().min(255)];
        out.push(e.len() as u8);
        out.extend_from_slice(e);
    }
}

/// Reads a codec id: u32 FOURCC, or a one-byte id widened when `one_byte`.
fn read_codec(r: &mut Reader<'_>, one_byte: bool) -> Result<u32, WireError> {
    if one_byte {
        Ok(u32::from(r.u8("codec")?))
    } else {
        r.u32("codec")
    }
}

impl Init {
    /// Parses an INIT. Codec ids are one byte when `peer_version` is below 5; an unknown
    /// version (0) is taken from the INIT itself, as 2.4.4 learns it from the first INIT.
    fn parse(payload: &[u8], peer_version: i32) -> Result<Init, WireError> {
        let mut r = Reader::new(payload);
        let protocol_version = r.i32("protocol_version")?;
        let min_protocol_version = r.i32("min_protocol_version")?;
        let flags = r.u32("init flags")?;
        let version = if peer_version == 0 {
            protocol_version
        } else {
            peer_version
        };
        let count = r.u8("audio codec count")?;
        let mut audio_codecs = Vec::with_capacity(count as usize);
        for _ in 0..count {
            audio_codecs.push(read_codec(&mut r, version < 5)?);
        }
        // The video part is optional to the receiver (6.1 step 4); when its count is present the
        // list and the resolution byte must be complete.
        let mut video_decoders = Vec::new();
        let mut max_video_resolution = 0;
        if r.remaining() > 0 {
            let n = r.u8("video decoder count")?;
            for _ in 0..n {
                video_decoders.push(r.u32("video decoder")?);
            }
            max_video_resolution = r.u8("max video resolution")?;
        }
        Ok(Init {
            protocol_version,
            min_protocol_version,
            flags,
            audio_codecs,
            video_decoders,
            max_video_resolution,
        })
    }

    /// Writes the layer-74+ layout (u32 codec FOURCCs).
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.protocol_version.to_le_bytes());
        out.extend_from_slice(&self.min_protocol_version.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        let codecs = &self.audio_codecs[..self.audio_codecs.len().min(255)];
        out.push(codecs.len() as u8);
        for c in codecs {
            out.extend_from_slice(&c.to_le_bytes());
        }
        let decoders = &self.video_decoders[..self.video_decoders.len().min(255)];
        out.push(decoders.len() as u8);
        for d in decoders {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.push(self.max_video_resolution);
    }
}

impl InitAck {
    /// Parses an INIT_ACK. Payloads of 10 bytes or less are the version-1 form (stream list
    /// only, one-byte codecs). Otherwise the codec width follows the version the INIT_ACK
    /// announces, which 2.4.4 adopts as the peer version before reading the streams.
    fn parse(payload: &[u8]) -> Result<InitAck, WireError> {
        let mut r = Reader::new(payload);
        let (protocol_version, min_protocol_version) = if payload.len() > 10 {
            (r.i32("protocol_version")?, r.i32("min_protocol_version")?)
        } else {
            (1, 1)
        };
        let one_byte = protocol_version < 5;
        let count = r.u8("stream count")?;
        let mut streams = Vec::with_capacity(count as usize);
        for _ in 0..count {
            streams.push(StreamDesc {
                id: r.u8("stream id")?,
                stream_type: r.u8("stream type")?,
                codec: read_codec(&mut r, one_byte)?,
                frame_duration_ms: r.u16("frame duration")?,
                enabled: r.u8("stream enabled")? == 1,
            });
        }
        Ok(InitAck {
            protocol_version,
            min_protocol_version,
            streams,
        })
    }

    /// Writes the INIT_ACK. One-byte codec ids (Opus = 1) when `peer_version < 5`; the version
    /// fields are left out when `protocol_version` is 1 (the version-1 form).
    fn write(&self, peer_version: i32, out: &mut Vec<u8>) {
        let one_byte = peer_version < 5 || self.protocol_version == 1;
        if self.protocol_version != 1 {
            out.extend_from_slice(&self.protocol_version.to_le_bytes());
            out.extend_from_slice(&self.min_protocol_version.to_le_bytes());
        }
        let streams = &self.streams[..self.streams.len().min(255)];
        out.push(streams.len() as u8);
        for s in streams {
            out.push(s.id);
            out.push(s.stream_type);
            if one_byte {
                let old = match s.codec {
                    CODEC_OPUS => 1,
                    c if c < 256 => c as u8,
                    _ => 0,
                };
                out.push(old);
            } else {
                out.extend_from_slice(&s.codec.to_le_bytes());
            }
            out.extend_from_slice(&s.frame_duration_ms.to_le_bytes());
            out.push(u8::from(s.enabled));
        }
    }
}

impl<'a> StreamFrame<'a> {
    /// Parses one frame record (wire.md 4.4).
    fn parse(r: &mut Reader<'a>) -> Result<StreamFrame<'a>, WireError> {
        let b0 = r.u8("stream byte")?;
        let stream_id = b0 & B0_STREAM_MASK;
        let (len, lf) = if b0 & B0_LEN16 != 0 {
            let lf = r.u16("frame length")?;
            ((lf & LF_LEN_MASK) as usize, lf)
        } else {
            (r.u8("frame length")? as usize, 0)
        };
        let pts = r.u32("pts")?;
        let fragment = if lf & LF_FRAGMENTED != 0 {
            Some((r.u8("fragment index")?, r.u8("fragment count")?))
        } else {
            None
        };
        let data = r.bytes(len, "frame data")?;
        let fec = if lf & LF_EXTRA_FEC != 0 {
            let n = r.u8("fec count")?;
            read_len8_list(r, n, "fec entry")?
        } else {
            Vec::new()
        };
        Ok(StreamFrame {
            stream_id,
            pts,
            keyframe: lf & LF_KEYFRAME != 0,
            fragment,
            data,
            fec,
        })
    }

    /// Appends one frame record; LEN16 is used when `data` exceeds 255 bytes or `fec` is non-empty
    /// (also for keyframes and fragments, whose flags exist only in the 16-bit form). Data above
    /// [`MAX_FRAME_LEN`] bytes cannot be expressed and is cut to that length.
    pub fn write(&self, out: &mut Vec<u8>) {
        let data = &self.data[..self.data.len().min(MAX_FRAME_LEN)];
        let mut lf = data.len() as u16;
        if !self.fec.is_empty() {
            lf |= LF_EXTRA_FEC;
        }
        if self.fragment.is_some() {
            lf |= LF_FRAGMENTED;
        }
        if self.keyframe {
            lf |= LF_KEYFRAME;
        }
        let b0 = self.stream_id & B0_STREAM_MASK;
        if data.len() > 255 || lf & !LF_LEN_MASK != 0 {
            out.push(b0 | B0_LEN16);
            out.extend_from_slice(&lf.to_le_bytes());
        } else {
            out.push(b0);
            out.push(data.len() as u8);
        }
        out.extend_from_slice(&self.pts.to_le_bytes());
        if let Some((index, count)) = self.fragment {
            out.push(index);
            out.push(count);
        }
        out.extend_from_slice(data);
        if !self.fec.is_empty() {
            write_len8_list(&self.fec, out);
        }
    }
}

impl<'a> Payload<'a> {
    /// Parses the payload of a packet of type `ptype`. `peer_version` is what the receiver
    /// believes the peer's protocol version is (0 = unknown); it selects one-byte codec ids below 5.
    /// A NETWORK_CHANGED payload from a peer below v2 is not read (flags = 0).
    ///
    /// Bytes after the last field a type defines are ignored, as 2.4.4 does.
    pub fn parse(
        ptype: PacketType,
        payload: &'a [u8],
        peer_version: i32,
    ) -> Result<Self, WireError> {
        let mut r = Reader::new(payload);
        Ok(match ptype {
            PacketType::INIT => Payload::Init(Init::parse(payload, peer_version)?),
            PacketType::INIT_ACK => Payload::InitAck(InitAck::parse(payload)?),
            PacketType::STREAM_STATE => Payload::StreamState {
                stream_id: r.u8("stream id")?,
                enabled: r.u8("stream enabled")? == 1,
            },
            PacketType::STREAM_DATA | PacketType::STREAM_DATA_X2 | PacketType::STREAM_DATA_X3 => {
                let count = match ptype {
                    PacketType::STREAM_DATA_X2 => 2,
                    PacketType::STREAM_DATA_X3 => 3,
                    _ => 1,
                };
                let mut frames = Vec::with_capacity(count);
                for _ in 0..count {
                    frames.push(StreamFrame::parse(&mut r)?);
                }
                Payload::StreamData(frames)
            }
            PacketType::PING => Payload::Ping,
            PacketType::PONG => Payload::Pong {
                ping_seq: r.u32("ping seq")?,
            },
            PacketType::LAN_ENDPOINT => Payload::LanEndpoint {
                addr: r.array("lan address")?,
                port: r.u32("lan port")?,
            },
            PacketType::NETWORK_CHANGED => {
                let flags = if peer_version >= 2 {
                    r.u32("network flags")?
                } else {
                    0
                };
                Payload::NetworkChanged { flags }
            }
            PacketType::NOP => Payload::Nop,
            PacketType::STREAM_EC => {
                let stream_id = r.u8("stream id")?;
                let pts = r.u32("pts")?;
                let n = r.u8("ec count")?;
                let frames = read_len8_list(&mut r, n, "ec entry")?;
                Payload::StreamEc(StreamEc {
                    stream_id,
                    pts,
                    frames,
                })
            }
            other => Payload::Ignored(other),
        })
    }

    /// The packet type this payload is sent as.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Payload::Init(_) => PacketType::INIT,
            Payload::InitAck(_) => PacketType::INIT_ACK,
            Payload::StreamState { .. } => PacketType::STREAM_STATE,
            Payload::StreamData(frames) => match frames.len() {
                2 => PacketType::STREAM_DATA_X2,
                3 => PacketType::STREAM_DATA_X3,
                _ => PacketType::STREAM_DATA,
            },
            Payload::Ping => PacketType::PING,
            Payload::Pong { .. } => PacketType::PONG,
            Payload::LanEndpoint { .. } => PacketType::LAN_ENDPOINT,
            Payload::NetworkChanged { .. } => PacketType::NETWORK_CHANGED,
            Payload::Nop => PacketType::NOP,
            Payload::StreamEc(_) => PacketType::STREAM_EC,
            Payload::Ignored(t) => *t,
        }
    }

    /// Appends the payload bytes. `peer_version` selects one-byte codec ids below 5 (INIT uses
    /// the layer-74+ layout; `max_layer < 74` compatibility is not needed for 2.4.4 peers).
    pub fn write(&self, peer_version: i32, out: &mut Vec<u8>) {
        match self {
            Payload::Init(init) => init.write(out),
            Payload::InitAck(ack) => ack.write(peer_version, out),
            Payload::StreamState { stream_id, enabled } => {
                out.push(*stream_id);
                out.push(u8::from(*enabled));
            }
            Payload::StreamData(frames) => {
                for f in frames {
                    f.write(out);
                }
            }
            Payload::Ping | Payload::Nop | Payload::Ignored(_) => {}
            Payload::Pong { ping_seq } => out.extend_from_slice(&ping_seq.to_le_bytes()),
            Payload::LanEndpoint { addr, port } => {
                out.extend_from_slice(addr);
                out.extend_from_slice(&port.to_le_bytes());
            }
            Payload::NetworkChanged { flags } => out.extend_from_slice(&flags.to_le_bytes()),
            Payload::StreamEc(ec) => {
                out.push(ec.stream_id);
                out.extend_from_slice(&ec.pts.to_le_bytes());
                write_len8_list(&ec.frames, out);
            }
        }
    }
}

#[cfg(test)]
mod tests;
