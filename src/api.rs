//! Protocol-agnostic public types of the controller API, with the values of libtgvoip 2.4.4
//! (`STATE_*`, `ERROR_*`, `NET_TYPE_*`, `DATA_SAVING_*`, `Endpoint::Type`).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Connection state, numbered as libtgvoip's `STATE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum CallState {
    WaitInit = 1,
    WaitInitAck = 2,
    Established = 3,
    Failed = 4,
    Reconnecting = 5,
}

impl CallState {
    /// The libtgvoip name without the `STATE_` prefix.
    pub fn name(self) -> &'static str {
        match self {
            CallState::WaitInit => "WAIT_INIT",
            CallState::WaitInitAck => "WAIT_INIT_ACK",
            CallState::Established => "ESTABLISHED",
            CallState::Failed => "FAILED",
            CallState::Reconnecting => "RECONNECTING",
        }
    }
}

/// Why a call failed, numbered as libtgvoip's `ERROR_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum CallError {
    #[default]
    Unknown = 0,
    Incompatible = 1,
    Timeout = 2,
    AudioIo = 3,
    Proxy = 4,
}

/// Network type, numbered as libtgvoip's `NET_TYPE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum NetworkType {
    #[default]
    Unknown = 0,
    Gprs = 1,
    Edge = 2,
    ThreeG = 3,
    Hspa = 4,
    Lte = 5,
    Wifi = 6,
    Ethernet = 7,
    OtherHighSpeed = 8,
    OtherLowSpeed = 9,
    Dialup = 10,
    OtherMobile = 11,
}

impl NetworkType {
    /// Maps a `NET_TYPE_*` value; `None` for values outside 0..=11.
    pub fn from_i32(v: i32) -> Option<NetworkType> {
        use NetworkType::*;
        Some(match v {
            0 => Unknown,
            1 => Gprs,
            2 => Edge,
            3 => ThreeG,
            4 => Hspa,
            5 => Lte,
            6 => Wifi,
            7 => Ethernet,
            8 => OtherHighSpeed,
            9 => OtherLowSpeed,
            10 => Dialup,
            11 => OtherMobile,
            _ => return None,
        })
    }

    /// Mobile networks count traffic as "mobile" and enable data saving in MOBILE mode.
    pub fn is_mobile(self) -> bool {
        use NetworkType::*;
        matches!(self, Gprs | Edge | ThreeG | Hspa | Lte | OtherMobile)
    }

    /// The name used in the debug log's `network.type`.
    pub fn log_name(self) -> &'static str {
        use NetworkType::*;
        match self {
            Unknown => "unknown",
            Gprs => "gprs",
            Edge => "edge",
            ThreeG => "3g",
            Hspa => "hspa",
            Lte => "lte",
            Wifi => "wifi",
            Ethernet => "ethernet",
            OtherHighSpeed => "other_high_speed",
            OtherLowSpeed => "other_low_speed",
            Dialup => "dialup",
            OtherMobile => "other_mobile",
        }
    }
}

/// Data-saving mode, numbered as libtgvoip's `DATA_SAVING_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum DataSaving {
    #[default]
    Never = 0,
    Mobile = 1,
    Always = 2,
}

impl DataSaving {
    /// Maps a `DATA_SAVING_*` value; `None` for anything else.
    pub fn from_i32(v: i32) -> Option<DataSaving> {
        match v {
            0 => Some(DataSaving::Never),
            1 => Some(DataSaving::Mobile),
            2 => Some(DataSaving::Always),
            _ => None,
        }
    }

    /// Whether saving is in effect on `net`.
    pub fn active_on(self, net: NetworkType) -> bool {
        match self {
            DataSaving::Never => false,
            DataSaving::Mobile => net.is_mobile(),
            DataSaving::Always => true,
        }
    }
}

/// Endpoint kind, numbered as libtgvoip's `Endpoint::Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i32)]
pub enum EndpointType {
    UdpP2pInet = 1,
    UdpP2pLan = 2,
    #[default]
    UdpRelay = 3,
    TcpRelay = 4,
}

/// A remote endpoint from Telegram signalling (`phoneConnection`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: i64,
    /// IPv4 address, if any.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address, if any.
    pub ipv6: Option<Ipv6Addr>,
    pub port: u16,
    pub kind: EndpointType,
    pub peer_tag: [u8; 16],
}

/// Per-call configuration (libtgvoip's `VoIPController::Config`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Fail with TIMEOUT if the handshake has not completed this long after connect.
    pub init_timeout: Duration,
    /// Fail with TIMEOUT after this long without any valid packet once established.
    pub recv_timeout: Duration,
    pub data_saving: DataSaving,
    pub enable_aec: bool,
    pub enable_ns: bool,
    pub enable_agc: bool,
    pub enable_call_upgrade: bool,
    /// Debug log file path (empty = none).
    pub log_file_path: String,
    /// Stats dump file path (empty = none).
    pub stats_dump_file_path: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            init_timeout: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(20),
            data_saving: DataSaving::Never,
            enable_aec: false,
            enable_ns: false,
            enable_agc: false,
            enable_call_upgrade: false,
            log_file_path: String::new(),
            stats_dump_file_path: String::new(),
        }
    }
}

/// Traffic counters (libtgvoip's `TrafficStats`), split by network type at send/receive time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficStats {
    pub bytes_sent_wifi: u64,
    pub bytes_recvd_wifi: u64,
    pub bytes_sent_mobile: u64,
    pub bytes_recvd_mobile: u64,
}

/// A relay or STUN/TURN server from Telegram signalling (`phoneConnectionWebrtc`), for tgcalls
/// 8.0.0 / 9.0.0 calls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebrtcEndpoint {
    /// The server's id.
    pub id: i64,
    /// IPv4 address, if any.
    pub ipv4: Option<Ipv4Addr>,
    /// IPv6 address, if any.
    pub ipv6: Option<Ipv6Addr>,
    /// UDP port.
    pub port: u16,
    /// Usable as a TURN relay (`turn` flag).
    pub turn: bool,
    /// Usable as a STUN server (`stun` flag).
    pub stun: bool,
    /// TURN username.
    pub username: String,
    /// TURN password.
    pub password: String,
}
