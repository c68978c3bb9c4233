//! Decrypted packet bodies: the short header (layer >= 92), the TL headers of the long and legacy
//! formats, and the payloads of every packet type.

use super::{Extra, WireError};

/// A packet type byte. Unknown values are kept so they can be counted and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketType(pub u8);

impl PacketType {
    pub const INIT: PacketType = PacketType(1);
    pub const INIT_ACK: PacketType = PacketType(2);
    pub const STREAM_STATE: PacketType = PacketType(3);
    pub const STREAM_DATA: PacketType = PacketType(4);
    pub const UPDATE_STREAMS: PacketType = PacketType(5);
    pub const PING: PacketType = PacketType(6);
    pub const PONG: PacketType = PacketType(7);
    pub const STREAM_DATA_X2: PacketType = PacketType(8);
    pub const STREAM_DATA_X3: PacketType = PacketType(9);
    pub const LAN_ENDPOINT: PacketType = PacketType(10);
    pub const NETWORK_CHANGED: PacketType = PacketType(11);
    pub const SWITCH_PREF_RELAY: PacketType = PacketType(12);
    pub const SWITCH_TO_P2P: PacketType = PacketType(13);
    pub const NOP: PacketType = PacketType(14);
    pub const STREAM_EC: PacketType = PacketType(17);

    /// A stable lower-case name for logs and statistics ("init", "stream_data", ..., "unknown").
    pub fn name(self) -> &'static str {
        unimplemented!()
    }
}

/// The header fields common to every packet, whatever the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
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
    pub header: Header,
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses a short-format body (wire.md 4.1).
    pub fn parse_short(body: &'a [u8]) -> Result<Packet<'a>, WireError> {
        unimplemented!()
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
        unimplemented!()
    }

    /// Appends a short-format body. xflags gets HAS_EXTRA iff `header.extras` is non-empty
    /// and HAS_RECV_TS iff `header.recv_ts` is set.
    pub fn write_short(header: &Header, payload: &[u8], out: &mut Vec<u8>) {
        unimplemented!()
    }

    /// Appends a TL-format body: `decryptedAudioBlock` when `handshake` is true (sender in
    /// WAIT_INIT / WAIT_INIT_ACK), else `simpleAudioBlock` (with the xflags byte and extras iff
    /// `peer_has_extras`). Random fields are filled from `rand`.
    pub fn write_tl(
        header: &Header,
        payload: &[u8],
        handshake: bool,
        peer_has_extras: bool,
        call_id: &[u8; 16],
        out: &mut Vec<u8>,
    ) {
        unimplemented!()
    }
}

/// INIT payload (wire.md 6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    pub protocol_version: i32,
    pub min_protocol_version: i32,
    /// bit0 data saving, bit1 group calls, bit2 video send, bit3 video receive.
    pub flags: u32,
    /// Audio codec ids (u32 FOURCCs, or the old one-byte ids widened, for peers below v5).
    pub audio_codecs: Vec<u32>,
    /// Video decoder FOURCCs (absent in audio-only INITs).
    pub video_decoders: Vec<u32>,
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
    pub id: u8,
    /// 1 audio, 2 video.
    pub stream_type: u8,
    pub codec: u32,
    pub frame_duration_ms: u16,
    pub enabled: bool,
}

/// INIT_ACK payload (wire.md 6.2). A payload of 10 bytes or less means a version-1 peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitAck {
    pub protocol_version: i32,
    pub min_protocol_version: i32,
    pub streams: Vec<StreamDesc>,
}

/// One frame record of STREAM_DATA (wire.md 4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFrame<'a> {
    pub stream_id: u8,
    pub pts: u32,
    pub keyframe: bool,
    /// (index, count) for fragmented video frames.
    pub fragment: Option<(u8, u8)>,
    pub data: &'a [u8],
    /// Inline redundancy (EXTRA_FEC): entry j covers `pts - (n-1-j)*60`, oldest first.
    pub fec: Vec<&'a [u8]>,
}

/// STREAM_EC payload (type 17, wire.md 6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEc<'a> {
    pub stream_id: u8,
    pub pts: u32,
    pub frames: Vec<&'a [u8]>,
}

/// A type-specific payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    Init(Init),
    InitAck(InitAck),
    StreamState { stream_id: u8, enabled: bool },
    /// One to three frames (types 4, 8, 9).
    StreamData(Vec<StreamFrame<'a>>),
    Ping,
    Pong { ping_seq: u32 },
    LanEndpoint { addr: [u8; 4], port: u32 },
    NetworkChanged { flags: u32 },
    Nop,
    StreamEc(StreamEc<'a>),
    /// Types with no payload semantics (5, 12, 13, 15, 16, unknown): ignored by receivers.
    Ignored(PacketType),
}

impl<'a> Payload<'a> {
    /// Parses the payload of a packet of type `ptype`. `peer_version` is what the receiver
    /// believes the peer's protocol version is (0 = unknown); it selects one-byte codec ids below 5.
    /// A NETWORK_CHANGED payload from a peer below v2 is not read (flags = 0).
    pub fn parse(ptype: PacketType, payload: &'a [u8], peer_version: i32) -> Result<Self, WireError> {
        unimplemented!()
    }

    /// The packet type this payload is sent as.
    pub fn packet_type(&self) -> PacketType {
        unimplemented!()
    }

    /// Appends the payload bytes. `peer_version` selects one-byte codec ids below 5 (INIT uses
    /// the layer-74+ layout; `max_layer < 74` compatibility is not needed for 2.4.4 peers).
    pub fn write(&self, peer_version: i32, out: &mut Vec<u8>) {
        unimplemented!()
    }
}

impl<'a> StreamFrame<'a> {
    /// Appends one frame record; LEN16 is used when `data` exceeds 255 bytes or `fec` is non-empty.
    pub fn write(&self, out: &mut Vec<u8>) {
        unimplemented!()
    }
}
