//! The sans-IO call state machine of the libtgvoip 2.4.4 protocol: handshake, sequence numbers
//! and acks, extras, relay pings and choice, timeouts.
//!
//! Input: datagrams with their source address, the clock, and API calls. Output: datagrams to
//! send ([`Transmit`]) and [`Event`]s. No sockets, threads or clocks inside, so the whole state
//! machine runs in simulated time in tests.

mod delay_stats;
mod endpoints;
mod extras;
mod ipv6;
mod p2p;
mod relays;
mod send_stats;
mod seq;
pub mod tgcalls;
mod udp_test;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::api::{CallError, CallState, Endpoint, EndpointType};
use crate::wire::{
    self, relay, seq_gt, Extra, Header, Init, InitAck, Packet, PacketCrypto, PacketFormat,
    PacketType, Payload, RelayMessage, StreamDesc, StreamEc, StreamFrame, WireError,
};

pub use endpoints::{
    EndpointError, EndpointTable, RemoteEndpoint, IPV6_COPY_XOR, LAN_ID, P2P_INET6_ID, P2P_INET_ID,
    TCP_COPY_XOR,
};
pub use ipv6::is_usable_ipv6;
pub use p2p::lan_address;
pub use seq::{MaskConvention, RecvWindow, SeqVerdict};
pub use udp_test::UdpVerdict;

use extras::{ExtraFilter, PendingExtras};
use send_stats::SendStats;

/// Our outgoing audio stream id (as 2.4.4).
const OUR_AUDIO_STREAM: u8 = 1;
/// INIT is repeated this often until the handshake completes (2.4.4: 0.5 s). The first repeats
/// come sooner: the first INIT is often lost because the relay does not know the peer yet.
const INIT_INTERVAL: Duration = Duration::from_millis(500);
const INIT_FAST_REPEATS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(300),
];
/// Self-info ("UDP ping") rounds: interval and how many make the availability test.
const SELF_INFO_INTERVAL: Duration = Duration::from_millis(500);
/// Relay ping evaluation period, and the minimum interval between PINGs to one endpoint.
const PING_ROUND_INTERVAL: Duration = Duration::from_secs(2);
const PING_INTERVAL: Duration = Duration::from_secs(10);
/// NOP period while the microphone is muted.
const MUTE_NOP_INTERVAL: Duration = Duration::from_millis(200);
/// Send a NOP if nothing else went out for this long, so the peer never sees silence.
const KEEPALIVE_INTERVAL: Duration = Duration::from_millis(500);
/// Statistics tick.
const STATS_INTERVAL: Duration = Duration::from_millis(100);
/// ESTABLISHED this long after the first stream packet (INIT_ACK already received). 2.4.4 waits
/// 0.5 s; audio flowing both ways is proof enough, so we do not.
const ESTABLISH_AFTER_STREAM: Duration = Duration::ZERO;
/// Audio frame step in pts milliseconds.
const FRAME_PTS_STEP: u32 = 60;
/// tgvoip-rs capabilities we announce ([`Extra::Capabilities`]).
const LOCAL_RS_CAPS: u32 = wire::extra::CAP_VARIABLE_FRAMES | wire::extra::CAP_MULTI_FRAME;
/// Most audio frames packed in one packet (STREAM_DATA_X3).
pub const MAX_FRAMES_PER_PACKET: usize = 3;
/// Oldest libtgvoip protocol version known to parse multi-frame packets (2.4.4's).
const MULTI_FRAME_MIN_PEER_VERSION: i32 = 9;

/// Timing and policy knobs, from the call config and the server config.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTunables {
    pub init_timeout: Duration,
    pub recv_timeout: Duration,
    /// Silence before RECONNECTING (`reconnecting_state_timeout`).
    pub reconnecting_timeout: Duration,
    /// INIT_ACK to ESTABLISHED without stream data (`established_delay_if_no_stream_data`).
    pub established_delay: Duration,
    /// `relay_switch_threshold`.
    pub relay_switch_threshold: f64,
    /// `use_tcp`: fall back to TCP relays when UDP relays do not answer (wire.md 7.3).
    pub use_tcp: bool,
}

impl Default for SessionTunables {
    fn default() -> Self {
        SessionTunables {
            init_timeout: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(20),
            reconnecting_timeout: Duration::from_secs(2),
            established_delay: Duration::from_millis(1500),
            relay_switch_threshold: 0.8,
            use_tcp: true,
        }
    }
}

/// Everything a session needs to start.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub key: [u8; 256],
    /// True on the caller.
    pub is_outgoing: bool,
    pub endpoints: Vec<Endpoint>,
    pub allow_p2p: bool,
    /// `phoneCall.protocol.max_layer`.
    pub max_layer: i32,
    /// Local data saving, announced in INIT.
    pub data_saving: bool,
    /// Advertise group-call support (INIT flag bit 1).
    pub enable_call_upgrade: bool,
    pub tunables: SessionTunables,
}

/// Why a session could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// No endpoint with an address.
    NoEndpoints,
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SessionError::NoEndpoints => f.write_str("no usable remote endpoint"),
        }
    }
}

impl std::error::Error for SessionError {}

/// How a packet travels: as a UDP datagram, or as one frame on the TCP connection to a TCP
/// relay (the network layer adds the relay framing of wire.md 2.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Via {
    #[default]
    Udp,
    Tcp,
}

/// A datagram (or TCP relay frame) to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub via: Via,
    pub data: Vec<u8>,
}

/// Something the controller must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The connection state changed (FAILED comes with [`Session::last_error`] set).
    StateChanged(CallState),
    /// An audio frame from the peer; `redundant` for secondary (EC) copies.
    AudioFrame {
        pts: u32,
        data: Vec<u8>,
        redundant: bool,
    },
    /// The peer's audio stream flags changed.
    PeerStream { enabled: bool, extra_ec: bool },
    /// The peer's data-saving wish (from INIT or a network change).
    PeerDataSaving(bool),
}

/// Why a received datagram was dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// From an address that is not a known endpoint.
    pub unknown_source: u64,
    /// Shorter than a tag plus the smallest packet, or longer than 1500 bytes.
    pub bad_size: u64,
    /// The relay tag is not ours.
    pub bad_tag: u64,
    /// Failed decryption (msg_key, length or padding checks).
    pub decrypt: u64,
    /// Decrypted but the body could not be parsed.
    pub parse: u64,
    /// Seen before within the 32-packet window.
    pub duplicate: u64,
    /// Older than the 32-packet window.
    pub too_old: u64,
    /// Stream data before the handshake or for an unknown stream.
    pub unexpected_stream: u64,
}

impl DropCounters {
    /// All drops together.
    pub fn total(&self) -> u64 {
        self.unknown_source
            + self.bad_size
            + self.bad_tag
            + self.decrypt
            + self.parse
            + self.duplicate
            + self.too_old
            + self.unexpected_stream
    }
}

/// Session counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Datagrams and bytes handed out for sending (protocol packets and relay requests).
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Datagrams and bytes received from known endpoints.
    pub datagrams_recvd: u64,
    pub bytes_recvd: u64,
    /// Packets that decrypted and parsed (2.4.4's `in`, before duplicate rejection).
    pub packets_recvd: u64,
    /// Next outgoing seq (2.4.4's `out`).
    pub next_seq: u32,
    pub audio_frames_sent: u64,
    /// Stream-data packets those frames went out in (fewer when several share a packet).
    pub audio_packets_sent: u64,
    /// Audio frames refused because the handshake had not finished.
    pub audio_frames_refused: u64,
    pub audio_frames_recvd: u64,
    /// Audio packets counted lost on the way out.
    pub lost_out: u64,
    pub drops: DropCounters,
}

/// What the session measured about the outgoing direction, for bitrate control.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SendReport {
    pub loss_ratio: f64,
    pub rtt: Option<Duration>,
    pub inflight_bytes: u32,
    /// Base (windowed minimum) RTT of direct acks.
    pub base_rtt: Option<Duration>,
    /// Fast-moving RTT of direct acks.
    pub recent_rtt: Option<Duration>,
    /// How long the oldest audio packet sent after the newest acked one has waited.
    pub ack_stall: Option<Duration>,
}

/// The call state machine.
pub struct Session {
    cfg: SessionConfig,
    crypto: PacketCrypto,
    endpoints: EndpointTable,
    state: CallState,
    last_error: Option<CallError>,
    last_error_message: Option<String>,
    /// Peer's protocol version (0 = unknown).
    peer_version: i32,
    mtproto2: bool,
    next_seq: u32,
    recv: RecvWindow,
    last_remote_ack: u32,
    mask_convention: MaskConvention,
    extras_out: PendingExtras,
    extras_in: ExtraFilter,
    init_received: bool,
    init_ack_received: bool,
    peer_audio_stream: Option<u8>,
    peer_caps: u32,
    /// tgvoip-rs capability flags announced by the peer (0 for libtgvoip).
    peer_rs_caps: u32,
    /// Audio frames in the peer's latest stream-data packet (1..=3).
    peer_frames_per_packet: u32,
    stream_data_seen: bool,
    ever_established: bool,
    ever_reconnecting: bool,
    audio_pts: u32,
    mic_muted: bool,
    extra_ec: bool,
    // Timers: `None` = not armed.
    connect_time: Option<Instant>,
    init_deadline: Option<Instant>,
    next_init_round: Option<Instant>,
    establish_at: Option<Instant>,
    next_self_info: Option<Instant>,
    self_info_rounds: u32,
    /// INIT rounds sent after the first one.
    init_rounds: usize,
    next_ping_round: Option<Instant>,
    next_nop: Option<Instant>,
    /// Endpoint in use when the call went RECONNECTING.
    reconnecting_from: Option<usize>,
    next_stats_tick: Option<Instant>,
    last_recv: Option<Instant>,
    last_send: Option<Instant>,
    send_stats: SendStats,
    stats: SessionStats,
    failover: relays::Failover,
    p2p: p2p::P2p,
    udp_test: udp_test::UdpTest,
    ipv6: ipv6::Ipv6State,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Session {
    /// Creates a session in WAIT_INIT; nothing is sent until [`connect`](Self::connect).
    pub fn new(cfg: SessionConfig) -> Result<Session, SessionError> {
        let endpoints =
            EndpointTable::new(&cfg.endpoints).map_err(|_| SessionError::NoEndpoints)?;
        let crypto = PacketCrypto::new(&cfg.key, cfg.is_outgoing);
        let mtproto2 = cfg.max_layer >= 74;
        let udp_test = udp_test::UdpTest::new(&endpoints);
        Ok(Session {
            crypto,
            endpoints,
            state: CallState::WaitInit,
            last_error: None,
            last_error_message: None,
            peer_version: 0,
            mtproto2,
            next_seq: 1,
            recv: RecvWindow::default(),
            last_remote_ack: 0,
            mask_convention: MaskConvention::default(),
            extras_out: PendingExtras::default(),
            extras_in: ExtraFilter::default(),
            init_received: false,
            init_ack_received: false,
            peer_audio_stream: None,
            peer_caps: 0,
            peer_rs_caps: 0,
            peer_frames_per_packet: 1,
            stream_data_seen: false,
            ever_established: false,
            ever_reconnecting: false,
            audio_pts: 0,
            mic_muted: false,
            extra_ec: false,
            connect_time: None,
            init_deadline: None,
            next_init_round: None,
            establish_at: None,
            next_self_info: None,
            self_info_rounds: 0,
            init_rounds: 0,
            next_ping_round: None,
            next_nop: None,
            reconnecting_from: None,
            next_stats_tick: None,
            last_recv: None,
            last_send: None,
            send_stats: SendStats::default(),
            stats: SessionStats::default(),
            failover: relays::Failover::default(),
            p2p: p2p::P2p::default(),
            udp_test,
            ipv6: ipv6::Ipv6State::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            cfg,
        })
    }

    /// Starts the handshake: first INIT round to every endpoint, self-info requests, init timer.
    pub fn connect(&mut self, now: Instant) {
        if self.connect_time.is_some() || self.state == CallState::Failed {
            return;
        }
        self.connect_time = Some(now);
        let init_timeout = if self.cfg.tunables.init_timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            self.cfg.tunables.init_timeout
        };
        self.init_deadline = Some(now + init_timeout);
        self.next_self_info = Some(now);
        self.next_stats_tick = Some(now + STATS_INTERVAL);
        // Rides on every packet from the first INIT until acknowledged; 2.4.4 ignores it.
        self.extras_out.queue(Extra::Capabilities {
            flags: LOCAL_RS_CAPS,
        });
        self.send_init_round(now);
        self.set_state(CallState::WaitInitAck);
        self.next_init_round = Some(now + INIT_FAST_REPEATS[0]);
        self.handle_timeout(now);
    }

    /// Current state.
    pub fn state(&self) -> CallState {
        self.state
    }

    /// The error that made the call fail, if it failed.
    pub fn last_error(&self) -> Option<CallError> {
        self.last_error
    }

    /// A readable reason for the failure, when the network layer gave one.
    pub fn last_error_message(&self) -> Option<&str> {
        self.last_error_message.as_deref()
    }

    /// The network layer cannot carry the call (e.g. the SOCKS5 proxy refused us): FAILED
    /// with `error` and a readable `message`.
    pub fn fail_transport(&mut self, error: CallError, message: String) {
        if self.state != CallState::Failed {
            self.last_error_message = Some(message);
            self.fail(error);
        }
    }

    /// The peer's protocol version (0 until known).
    pub fn peer_version(&self) -> i32 {
        self.peer_version
    }

    /// Capability bits from the peer's INIT (TGVOIP_PEER_CAP_*).
    pub fn peer_capabilities(&self) -> u32 {
        self.peer_caps
    }

    /// Whether the peer is a tgvoip-rs that accepts audio frames of 20, 40, 60 or 120 ms with
    /// the pts stepping by the frame duration (see [`send_audio_frame`](Self::send_audio_frame)).
    /// Always false toward libtgvoip.
    pub fn peer_accepts_variable_frames(&self) -> bool {
        self.peer_rs_caps & wire::extra::CAP_VARIABLE_FRAMES != 0
    }

    /// Whether the peer takes two or three 60 ms frames per packet (see
    /// [`send_audio_frames`](Self::send_audio_frames)): a tgvoip-rs that announced it, or a
    /// libtgvoip of protocol 9 (2.4.4) or later, whose receiver parses STREAM_DATA_X2/X3 though
    /// it never sends them.
    pub fn peer_accepts_multi_frame(&self) -> bool {
        self.peer_rs_caps & wire::extra::CAP_MULTI_FRAME != 0
            || self.peer_version >= MULTI_FRAME_MIN_PEER_VERSION
    }

    /// Audio frames the peer packed in its latest stream-data packet (1 until one arrives):
    /// a receiver needs that much more delay to use the copies in the next packet.
    pub fn peer_frames_per_packet(&self) -> u32 {
        self.peer_frames_per_packet
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        let mut s = self.stats;
        s.next_seq = self.next_seq;
        s.lost_out = self.send_stats.lost_total();
        s
    }

    /// Outgoing-direction measurements for bitrate control, at `now`.
    pub fn send_report(&self, now: Instant) -> SendReport {
        SendReport {
            loss_ratio: self.send_stats.loss_ratio(),
            rtt: self.send_stats.srtt().or_else(|| self.current_rtt()),
            inflight_bytes: self.send_stats.inflight_bytes(),
            base_rtt: self.send_stats.delay().base(),
            recent_rtt: self.send_stats.delay().recent(),
            ack_stall: self.send_stats.ack_stall(now),
        }
    }

    /// The endpoints, with their RTTs.
    pub fn endpoints(&self) -> &EndpointTable {
        &self.endpoints
    }

    /// Id of the preferred relay (reported to Telegram in `phone.discardCall`).
    pub fn preferred_relay_id(&self) -> i64 {
        self.endpoints
            .get(self.endpoints.preferred())
            .map_or(0, |e| e.id)
    }

    /// RTT of the current endpoint from PING/PONG.
    pub fn current_rtt(&self) -> Option<Duration> {
        self.endpoints
            .get(self.endpoints.current())
            .and_then(|e| e.rtt())
    }

    /// RTT of the preferred relay from PING/PONG.
    pub fn preferred_relay_rtt(&self) -> Option<Duration> {
        self.endpoints
            .get(self.endpoints.preferred())
            .and_then(|e| e.rtt())
    }

    /// Whether RECONNECTING was ever entered.
    pub fn ever_reconnecting(&self) -> bool {
        self.ever_reconnecting
    }

    /// Whether ESTABLISHED was ever reached.
    pub fn ever_established(&self) -> bool {
        self.ever_established
    }

    /// Whether any relay answered a self-info request (UDP works).
    pub fn udp_available(&self) -> bool {
        self.endpoints.iter().any(|e| e.self_info_answers > 0)
    }

    /// The MTProto 2.0 flag (for the debug string).
    pub fn uses_mtproto2(&self) -> bool {
        self.mtproto2
    }

    /// The last seq we sent and the last one the peer acknowledged.
    pub fn seq_summary(&self) -> (u32, u32, u32) {
        (
            self.next_seq.wrapping_sub(1),
            self.last_remote_ack,
            self.recv.ack_id(),
        )
    }

    /// Next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == CallState::Failed {
            return None;
        }
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        if !self.init_ack_received {
            consider(self.init_deadline);
        }
        if self.state == CallState::WaitInitAck {
            consider(self.next_init_round);
            consider(self.establish_at);
        }
        consider(self.next_self_info);
        consider(self.udp_test.eval_at());
        consider(self.p2p.next_request());
        consider(self.next_ping_round);
        consider(self.next_nop);
        consider(self.next_stats_tick);
        if self.ever_established {
            if let Some(last) = self.last_recv {
                if self.state == CallState::Established {
                    consider(Some(last + self.cfg.tunables.reconnecting_timeout));
                }
                consider(Some(last + self.cfg.tunables.recv_timeout));
            }
            if !self.mic_muted {
                consider(self.last_send.map(|t| t + KEEPALIVE_INTERVAL));
            }
        }
        t
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == CallState::Failed || self.connect_time.is_none() {
            return;
        }
        if !self.init_ack_received && self.init_deadline.is_some_and(|d| now >= d) {
            self.fail(CallError::Timeout);
            return;
        }
        if self.state == CallState::WaitInitAck {
            if self.establish_at.is_some_and(|t| now >= t) {
                self.establish(now);
            } else if let Some(t) = self.next_init_round {
                if now >= t {
                    self.send_init_round(now);
                    self.init_rounds += 1;
                    let interval = INIT_FAST_REPEATS
                        .get(self.init_rounds - 1)
                        .copied()
                        .unwrap_or(INIT_INTERVAL);
                    self.next_init_round = Some(next_after(t, interval, now));
                }
            }
        }
        if let Some(t) = self.next_self_info {
            if now >= t {
                self.send_self_info_round();
                self.self_info_rounds += 1;
                self.next_self_info = (self.self_info_rounds < self.udp_test.rounds_wanted())
                    .then(|| next_after(t, SELF_INFO_INTERVAL, now));
                self.udp_test.after_round(now, self.self_info_rounds);
            }
        }
        self.udp_test_timer(now);
        self.peer_info_timer(now);
        if let Some(t) = self.next_stats_tick {
            if now >= t {
                self.send_stats.tick(now);
                self.next_stats_tick = Some(next_after(t, STATS_INTERVAL, now));
            }
        }
        if self.ever_established {
            self.check_liveness(now);
            if self.state == CallState::Failed {
                return;
            }
            if let Some(t) = self.next_ping_round {
                if now >= t {
                    self.ping_round(now);
                    self.next_ping_round = Some(next_after(t, PING_ROUND_INTERVAL, now));
                }
            }
            if let Some(t) = self.next_nop {
                if now >= t {
                    if self.state == CallState::Established {
                        self.send_to_current(now, PacketType::NOP, &[]);
                    }
                    self.next_nop = Some(next_after(t, MUTE_NOP_INTERVAL, now));
                }
            }
            if !self.mic_muted
                && self
                    .last_send
                    .is_some_and(|t| now >= t + KEEPALIVE_INTERVAL)
            {
                self.send_to_current(now, PacketType::NOP, &[]);
            }
        }
    }

    /// Whether audio frames are accepted for sending: both the peer's INIT and its INIT_ACK have
    /// arrived, as 2.4.4 requires before it starts audio. Sending after the INIT_ACK alone
    /// makes a 2.4.4 peer that has not yet had our INIT_ACK spend its "first stream packet"
    /// trigger while it cannot use it: it then turns ESTABLISHED only 1.5 s after our INIT_ACK
    /// (about 2 s into the call) instead of 0.5 s after our first audio.
    pub fn can_send_audio(&self) -> bool {
        self.init_ack_received
            && self.init_received
            && self.state != CallState::Failed
            && !self.mic_muted
    }

    /// Sends one 60 ms Opus frame with optional redundancy (oldest first, the last entry being
    /// this frame's own secondary encoding). Returns false if the frame was refused (handshake not
    /// done, muted or failed); pts then does not advance.
    pub fn send_audio(&mut self, now: Instant, primary: &[u8], redundancy: &[Vec<u8>]) -> bool {
        self.send_audio_frame(now, primary, redundancy, FRAME_PTS_STEP)
    }

    /// Like [`send_audio`](Self::send_audio) for a frame of `duration_ms` (20, 40, 60 or 120);
    /// pts then advances by `duration_ms`. Anything but 60 ms is refused (returns false) unless the
    /// peer announced [`peer_accepts_variable_frames`](Self::peer_accepts_variable_frames), so a
    /// libtgvoip peer always gets 60 ms frames with pts stepping by 60. Redundancy entries are
    /// mapped at 60 ms steps by the receiver: send them with 60 ms frames only.
    pub fn send_audio_frame(
        &mut self,
        now: Instant,
        primary: &[u8],
        redundancy: &[Vec<u8>],
        duration_ms: u32,
    ) -> bool {
        if !self.can_send_audio() || !self.duration_ok(duration_ms) {
            self.stats.audio_frames_refused += 1;
            return false;
        }
        let pts = self.audio_pts;
        let inline_fec = !redundancy.is_empty() && self.peer_version >= 7;
        let frame = StreamFrame {
            stream_id: OUR_AUDIO_STREAM,
            pts,
            keyframe: false,
            fragment: None,
            data: primary,
            fec: if inline_fec {
                inline_fec_entries(redundancy)
            } else {
                Vec::new()
            },
        };
        let mut payload = Vec::with_capacity(primary.len() + 16);
        frame.write(&mut payload);
        let seq = self.send_to_current(now, PacketType::STREAM_DATA, &payload);
        self.send_stats.on_sent(now, seq, payload.len() as u32);
        if !redundancy.is_empty() && !inline_fec {
            let ec = Payload::StreamEc(StreamEc {
                stream_id: OUR_AUDIO_STREAM,
                pts,
                frames: redundancy.iter().map(Vec::as_slice).collect(),
            });
            let mut ec_payload = Vec::new();
            ec.write(self.peer_version, &mut ec_payload);
            self.send_to_current(now, PacketType::STREAM_EC, &ec_payload);
        }
        self.audio_pts = self.audio_pts.wrapping_add(duration_ms);
        self.stats.audio_frames_sent += 1;
        self.stats.audio_packets_sent += 1;
        true
    }

    /// Whether a frame of `duration_ms` may go to this peer: 60 ms always, 20, 40 and 120 ms
    /// only to a tgvoip-rs that announced variable frames.
    fn duration_ok(&self, duration_ms: u32) -> bool {
        duration_ms == FRAME_PTS_STEP
            || (matches!(duration_ms, 20 | 40 | 120) && self.peer_accepts_variable_frames())
    }

    /// Sends two or three frames of `duration_ms` (oldest first) in one STREAM_DATA_X2/X3
    /// packet. The copies of earlier frames that the frames' redundancy lists carry (each once)
    /// ride in the last frame's redundancy block, with empty entries for the frames of the
    /// packet itself: 2.4.4 parses a multi-frame packet correctly only when no frame but the
    /// last has a redundancy block (wire.md 6.3), and tgvoip-rs reads it the same way. Copies
    /// map to 60 ms steps, so frames of another duration go without them. Refused (false, pts
    /// unchanged) unless [`peer_accepts_multi_frame`](Self::peer_accepts_multi_frame) and the
    /// duration suits the peer (as for [`send_audio_frame`](Self::send_audio_frame)); one frame
    /// is sent as by `send_audio_frame`.
    pub fn send_audio_frames(
        &mut self,
        now: Instant,
        frames: &[(&[u8], &[Vec<u8>])],
        duration_ms: u32,
    ) -> bool {
        if let [(primary, redundancy)] = frames {
            return self.send_audio_frame(now, primary, redundancy, duration_ms);
        }
        if !self.can_send_audio()
            || !self.peer_accepts_multi_frame()
            || !self.duration_ok(duration_ms)
            || frames.is_empty()
            || frames.len() > MAX_FRAMES_PER_PACKET
        {
            self.stats.audio_frames_refused += frames.len() as u64;
            return false;
        }
        let first_pts = self.audio_pts;
        let mut copies = if duration_ms == FRAME_PTS_STEP {
            earlier_copies(frames)
        } else {
            Vec::new()
        };
        let last = frames.len() - 1;
        let mut payload = Vec::with_capacity(
            frames.iter().map(|f| f.0.len() + 8).sum::<usize>()
                + copies.iter().map(|c| c.len() + 1).sum::<usize>()
                + frames.len(),
        );
        for (i, (primary, _)) in frames.iter().enumerate() {
            let fec = if i == last && !copies.is_empty() {
                // Copies oldest first, then one empty entry per frame of this packet.
                let mut fec = std::mem::take(&mut copies);
                fec.resize(fec.len() + frames.len(), &[][..]);
                fec
            } else {
                Vec::new()
            };
            let frame = StreamFrame {
                stream_id: OUR_AUDIO_STREAM,
                pts: first_pts.wrapping_add(i as u32 * duration_ms),
                keyframe: false,
                fragment: None,
                data: primary,
                fec,
            };
            frame.write(&mut payload);
        }
        let ptype = if frames.len() == 2 {
            PacketType::STREAM_DATA_X2
        } else {
            PacketType::STREAM_DATA_X3
        };
        let seq = self.send_to_current(now, ptype, &payload);
        self.send_stats.on_sent(now, seq, payload.len() as u32);
        self.audio_pts = first_pts.wrapping_add(frames.len() as u32 * duration_ms);
        self.stats.audio_frames_sent += frames.len() as u64;
        self.stats.audio_packets_sent += 1;
        true
    }

    /// Mutes or unmutes the microphone: the peer is told through stream flags and NOPs keep the
    /// link alive while muted.
    pub fn set_mic_mute(&mut self, now: Instant, muted: bool) {
        if self.mic_muted == muted {
            return;
        }
        self.mic_muted = muted;
        self.queue_stream_flags();
        self.next_nop = muted.then(|| now + MUTE_NOP_INTERVAL);
    }

    /// Turns the "extra EC" stream flag on or off (we send redundancy; the peer deepens its buffer).
    pub fn set_extra_ec(&mut self, on: bool) {
        if self.extra_ec != on {
            self.extra_ec = on;
            self.queue_stream_flags();
        }
    }

    /// Local data-saving mode changed (network type change): tell the peer.
    pub fn set_data_saving(&mut self, on: bool) {
        if self.cfg.data_saving != on {
            self.cfg.data_saving = on;
            if self.connect_time.is_some() {
                self.extras_out.queue(Extra::NetworkChanged {
                    flags: u32::from(on),
                });
            }
        }
    }

    /// Processes one UDP datagram from `from`. Bad datagrams are dropped and counted, never
    /// fatal.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if self.state == CallState::Failed {
            return;
        }
        let Some(ep_idx) = self.endpoints.find(from) else {
            self.stats.drops.unknown_source += 1;
            return;
        };
        self.handle_from(now, ep_idx, from, data);
    }

    /// Processes one packet received on the TCP connection to the relay at `from` (the frame
    /// content, tag included; wire.md 2.6). Bad packets are dropped and counted.
    pub fn handle_tcp_packet(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if self.state == CallState::Failed {
            return;
        }
        let Some(ep_idx) = self.endpoints.find_tcp(from) else {
            self.stats.drops.unknown_source += 1;
            return;
        };
        self.handle_from(now, ep_idx, from, data);
    }

    fn handle_from(&mut self, now: Instant, ep_idx: usize, from: SocketAddr, data: &[u8]) {
        self.stats.datagrams_recvd += 1;
        self.stats.bytes_recvd += data.len() as u64;
        if data.len() > wire::MAX_DATAGRAM {
            self.stats.drops.bad_size += 1;
            return;
        }
        let Some(ep) = self.endpoints.get(ep_idx) else {
            return;
        };
        let (is_relay, peer_tag, kind) = (ep.is_relay(), ep.peer_tag, ep.kind);
        let encrypted = if is_relay {
            let (tag, message) = match relay::parse(data) {
                Ok(parsed) => parsed,
                Err(_) => {
                    self.stats.drops.bad_size += 1;
                    return;
                }
            };
            if tag != peer_tag {
                self.stats.drops.bad_tag += 1;
                return;
            }
            match message {
                RelayMessage::Packet(bytes) => bytes,
                RelayMessage::SelfInfoResponse { my_ip, .. } if kind == EndpointType::UdpRelay => {
                    if let Some(ep) = self.endpoints.get_mut(ep_idx) {
                        ep.self_info_answers += 1;
                        ep.dead = false;
                    }
                    self.on_self_info_ipv6(ep_idx, my_ip);
                    return;
                }
                RelayMessage::PeerInfoResponse {
                    my_addr,
                    peer_addr,
                    peer_port,
                    ..
                } => {
                    self.on_peer_info(my_addr, peer_addr, peer_port);
                    return;
                }
                _ => return,
            }
        } else if self.peer_version < 9 {
            // Direct path to an older peer: the call id precedes the packet.
            match data.split_at_checked(16) {
                Some((cid, rest)) if cid == self.crypto.key().call_id() => rest,
                _ => {
                    self.stats.drops.bad_tag += 1;
                    return;
                }
            }
        } else {
            data
        };
        let body = match self.decrypt(encrypted) {
            Ok(body) => body,
            Err(_) => {
                self.stats.drops.decrypt += 1;
                return;
            }
        };
        self.last_recv = Some(now);
        if let Some(ep) = self.endpoints.get_mut(ep_idx) {
            // Admitted by the relaxed source check: the peer's real public address.
            if ep.kind == EndpointType::UdpP2pInet && ep.addr != from {
                ep.addr = from;
            }
        }
        self.on_valid_from(now, ep_idx, self.state == CallState::Reconnecting);
        if self.state == CallState::Reconnecting {
            // Back on another path: what went into the old one is no congestion signal. Back
            // on the same one, the packets were held (a queue) and their late acks count.
            if self.reconnecting_from.take() != Some(ep_idx) {
                self.send_stats.forget_break();
            }
            self.set_state(CallState::Established);
        }
        let packet = match self.parse_body(&body) {
            Ok(p) => p,
            Err(WireError::Invalid("call_id")) => {
                self.fail(CallError::Unknown);
                return;
            }
            Err(WireError::Invalid("protocol")) => {
                self.fail(CallError::Incompatible);
                return;
            }
            Err(_) => {
                self.stats.drops.parse += 1;
                return;
            }
        };
        self.stats.packets_recvd += 1;
        match self.recv.record(packet.header.seq) {
            SeqVerdict::Accept => {}
            SeqVerdict::Duplicate => {
                self.stats.drops.duplicate += 1;
                return;
            }
            SeqVerdict::TooOld => {
                self.stats.drops.too_old += 1;
                return;
            }
        }
        self.process_acks(now, &packet.header);
        for extra in &packet.header.extras {
            if self.extras_in.is_new(extra) {
                self.handle_extra(now, extra);
            }
        }
        match Payload::parse(packet.header.ptype, packet.payload, self.peer_version) {
            Ok(payload) => self.handle_payload(now, ep_idx, packet.header.seq, payload),
            Err(_) => self.stats.drops.parse += 1,
        }
    }

    // ----- receive helpers -----

    fn in_handshake(&self) -> bool {
        matches!(self.state, CallState::WaitInit | CallState::WaitInitAck)
    }

    /// Short format: peer >= v8, or unknown peer and layer >= 92.
    fn short_format(&self) -> bool {
        self.peer_version >= 8 || (self.peer_version == 0 && self.cfg.max_layer >= 92)
    }

    fn packet_format(&self) -> PacketFormat {
        if self.short_format() {
            PacketFormat::Short
        } else if self.mtproto2 {
            PacketFormat::Long
        } else {
            PacketFormat::Legacy
        }
    }

    fn decrypt(&mut self, data: &[u8]) -> Result<Vec<u8>, WireError> {
        let format = self.packet_format();
        match self.crypto.decrypt(format, data) {
            Ok(body) => Ok(body),
            Err(e) if format == PacketFormat::Legacy && self.in_handshake() => {
                let body = self
                    .crypto
                    .decrypt(PacketFormat::Long, data)
                    .map_err(|_| e)?;
                self.mtproto2 = true;
                Ok(body)
            }
            Err(e) => Err(e),
        }
    }

    fn parse_body<'a>(&self, body: &'a [u8]) -> Result<Packet<'a>, WireError> {
        if self.short_format() {
            Packet::parse_short(body)
        } else {
            Packet::parse_tl(body, self.peer_version >= 6, &self.crypto.key().call_id())
        }
    }

    fn process_acks(&mut self, now: Instant, header: &Header) {
        let ack_id = header.ack_id;
        if ack_id == 0 || !(self.last_remote_ack == 0 || seq_gt(ack_id, self.last_remote_ack)) {
            return;
        }
        self.last_remote_ack = ack_id;
        self.mask_convention = self.mask_convention.observe(ack_id, header.ack_mask);
        self.send_stats.on_acked(now, ack_id, true);
        for seq in self.mask_convention.acked_seqs(ack_id, header.ack_mask) {
            self.send_stats.on_acked(now, seq, false);
        }
        self.extras_out.acknowledge(ack_id);
    }

    fn handle_extra(&mut self, now: Instant, extra: &Extra) {
        match extra {
            Extra::StreamFlags { stream_id, flags }
                if self.peer_audio_stream.is_none_or(|id| id == *stream_id) =>
            {
                self.events.push_back(Event::PeerStream {
                    enabled: flags & 1 != 0,
                    extra_ec: flags & 4 != 0,
                });
            }
            Extra::Capabilities { flags } => self.peer_rs_caps = *flags,
            Extra::NetworkChanged { flags } => {
                self.events.push_back(Event::PeerDataSaving(flags & 1 != 0));
                self.on_peer_network_changed(now);
            }
            Extra::LanEndpoint { addr, port } => self.on_lan_endpoint(*addr, *port),
            Extra::Ipv6Endpoint { addr, port } => self.on_ipv6_endpoint(*addr, *port),
            // Group calls and video config are not supported: ignored.
            _ => {}
        }
    }

    fn handle_payload(&mut self, now: Instant, ep_idx: usize, seq: u32, payload: Payload<'_>) {
        match payload {
            Payload::Init(init) => self.handle_init(now, ep_idx, &init),
            Payload::InitAck(ack) => self.handle_init_ack(now, &ack),
            Payload::StreamData(frames) => {
                if !self.on_stream_packet(now) {
                    return;
                }
                self.peer_frames_per_packet = frames.len().clamp(1, MAX_FRAMES_PER_PACKET) as u32;
                for f in frames {
                    self.deliver_frame(f.stream_id, f.pts, f.data, &f.fec);
                }
            }
            Payload::StreamEc(ec) => {
                if !self.on_stream_packet(now) || Some(ec.stream_id) != self.peer_audio_stream {
                    return;
                }
                self.deliver_redundancy(ec.pts, &ec.frames);
            }
            Payload::StreamState { stream_id, enabled } => {
                if Some(stream_id) == self.peer_audio_stream {
                    self.events.push_back(Event::PeerStream {
                        enabled,
                        extra_ec: false,
                    });
                }
            }
            Payload::Ping => {
                let is_relay = self.endpoints.get(ep_idx).is_some_and(|e| e.is_relay());
                if is_relay || self.cfg.allow_p2p {
                    self.send_to(now, ep_idx, PacketType::PONG, &seq.to_le_bytes());
                }
            }
            Payload::Pong { ping_seq } => {
                if let Some(ep) = self.endpoints.get_mut(ep_idx) {
                    if let Some((seq, sent)) = ep.last_ping {
                        if seq == ping_seq {
                            ep.add_rtt_sample(now.saturating_duration_since(sent));
                        }
                    }
                }
            }
            Payload::NetworkChanged { flags } => {
                if self.peer_version >= 2 {
                    self.events.push_back(Event::PeerDataSaving(flags & 1 != 0));
                }
                self.on_peer_network_changed(now);
            }
            Payload::LanEndpoint { addr, port } => self.on_lan_endpoint(addr, port),
            Payload::Nop | Payload::Ignored(_) => {}
        }
    }

    fn handle_init(&mut self, now: Instant, ep_idx: usize, init: &Init) {
        let first = !self.init_received;
        if first {
            self.init_received = true;
            self.peer_version = init.protocol_version;
            self.peer_caps = (init.flags >> 1) & 0x7;
            if init.flags & 1 != 0 {
                self.events.push_back(Event::PeerDataSaving(true));
            }
        }
        if init.min_protocol_version > wire::PROTOCOL_VERSION
            || init.protocol_version < wire::MIN_PROTOCOL_VERSION
        {
            self.fail(CallError::Incompatible);
            return;
        }
        let ack = Payload::InitAck(InitAck {
            protocol_version: wire::PROTOCOL_VERSION,
            min_protocol_version: wire::MIN_PROTOCOL_VERSION,
            streams: vec![StreamDesc {
                id: OUR_AUDIO_STREAM,
                stream_type: 1,
                codec: wire::CODEC_OPUS,
                frame_duration_ms: FRAME_PTS_STEP as u16,
                enabled: !self.mic_muted,
            }],
        });
        let mut payload = Vec::with_capacity(24);
        ack.write(self.peer_version, &mut payload);
        // Answer through the relay the INIT came from: it surely reaches the peer.
        self.send_to(now, ep_idx, PacketType::INIT_ACK, &payload);
        if first {
            let is_udp_relay = self
                .endpoints
                .get(ep_idx)
                .is_some_and(|e| e.kind == EndpointType::UdpRelay);
            // An IPv6 P2P endpoint announced in this same packet's extras stays current.
            if is_udp_relay && !self.udp_test.udp_bad() && !self.on_p2p6() {
                self.endpoints.set_current(ep_idx);
            }
        }
    }

    fn handle_init_ack(&mut self, now: Instant, ack: &InitAck) {
        if self.init_ack_received {
            return;
        }
        self.init_ack_received = true;
        self.peer_version = ack.protocol_version;
        if ack.min_protocol_version > wire::PROTOCOL_VERSION
            || ack.protocol_version < wire::MIN_PROTOCOL_VERSION
        {
            self.fail(CallError::Incompatible);
            return;
        }
        self.peer_audio_stream = ack
            .streams
            .iter()
            .find(|s| s.stream_type == 1)
            .map(|s| s.id);
        if self.peer_version >= 5 {
            self.mtproto2 = true;
        }
        self.request_peer_info(now);
        if self.state == CallState::WaitInitAck {
            let at = now + self.cfg.tunables.established_delay;
            self.establish_at = Some(self.establish_at.map_or(at, |t| t.min(at)));
        }
    }

    /// Bookkeeping for any stream packet; false if it must be dropped.
    fn on_stream_packet(&mut self, now: Instant) -> bool {
        if !self.init_ack_received || self.peer_audio_stream.is_none() {
            self.stats.drops.unexpected_stream += 1;
            return false;
        }
        if !self.stream_data_seen {
            self.stream_data_seen = true;
            if self.state == CallState::WaitInitAck {
                let at = now + ESTABLISH_AFTER_STREAM;
                self.establish_at = Some(self.establish_at.map_or(at, |t| t.min(at)));
            }
        }
        true
    }

    fn deliver_frame(&mut self, stream_id: u8, pts: u32, data: &[u8], fec: &[&[u8]]) {
        if Some(stream_id) != self.peer_audio_stream {
            self.stats.drops.unexpected_stream += 1;
            return;
        }
        self.stats.audio_frames_recvd += 1;
        self.events.push_back(Event::AudioFrame {
            pts,
            data: data.to_vec(),
            redundant: false,
        });
        self.deliver_redundancy(pts, fec);
    }

    /// Entry j of n covers `pts - (n-1-j)*60`; the newest (this frame's own copy) is skipped
    /// when it is empty.
    fn deliver_redundancy(&mut self, pts: u32, frames: &[&[u8]]) {
        let n = frames.len() as u32;
        for (j, data) in frames.iter().enumerate() {
            if data.is_empty() {
                continue;
            }
            let back = (n - 1 - j as u32) * FRAME_PTS_STEP;
            self.events.push_back(Event::AudioFrame {
                pts: pts.wrapping_sub(back),
                data: data.to_vec(),
                redundant: true,
            });
        }
    }

    // ----- send helpers -----

    fn set_state(&mut self, state: CallState) {
        if self.state != state {
            self.state = state;
            self.events.push_back(Event::StateChanged(state));
        }
    }

    fn fail(&mut self, error: CallError) {
        if self.state != CallState::Failed {
            self.last_error = Some(error);
            self.set_state(CallState::Failed);
        }
    }

    fn establish(&mut self, now: Instant) {
        self.establish_at = None;
        self.set_state(CallState::Established);
        if !self.ever_established {
            self.ever_established = true;
            self.next_ping_round = Some(now);
            if self.mic_muted {
                self.next_nop = Some(now + MUTE_NOP_INTERVAL);
            }
        }
    }

    fn check_liveness(&mut self, now: Instant) {
        let Some(last) = self.last_recv else {
            return;
        };
        let silent = now.saturating_duration_since(last);
        if !matches!(self.state, CallState::Established | CallState::Reconnecting) {
            return;
        }
        if silent >= self.cfg.tunables.recv_timeout {
            if self.on_direct_path() {
                // 8.3: a silent direct path falls back to the relay and the clock restarts.
                self.on_silence(now, last);
                self.last_recv = Some(now);
            } else {
                self.fail(CallError::Timeout);
            }
        } else if silent >= self.cfg.tunables.reconnecting_timeout {
            if self.state == CallState::Established {
                self.ever_reconnecting = true;
                self.reconnecting_from = Some(self.endpoints.current());
                self.set_state(CallState::Reconnecting);
            }
            self.on_silence(now, last);
        }
    }

    fn ping_round(&mut self, now: Instant) {
        // A better relay becomes preferred (and current); ordinary packets follow it.
        let usable = self.udp_test.usable_fn();
        self.endpoints
            .select_relay(self.cfg.tunables.relay_switch_threshold, usable);
        for idx in 0..self.endpoints.len() {
            let due = self.endpoints.get(idx).is_some_and(|e| {
                usable(e.kind) && e.last_ping.is_none_or(|(_, t)| now >= t + PING_INTERVAL)
            });
            if due {
                let seq = self.send_to(now, idx, PacketType::PING, &[]);
                if let Some(ep) = self.endpoints.get_mut(idx) {
                    ep.last_ping = Some((seq, now));
                }
            }
        }
        self.choose_path();
    }

    fn queue_stream_flags(&mut self) {
        if self.connect_time.is_none() {
            return;
        }
        let flags = u32::from(!self.mic_muted) | if self.extra_ec { 4 } else { 0 };
        self.extras_out.queue(Extra::StreamFlags {
            stream_id: OUR_AUDIO_STREAM,
            flags,
        });
    }

    fn init_flags(&self) -> u32 {
        u32::from(self.cfg.data_saving) | if self.cfg.enable_call_upgrade { 2 } else { 0 }
    }

    fn send_init_round(&mut self, now: Instant) {
        let mut payload = Vec::with_capacity(24);
        // At layer >= 74 INIT always lists codecs as u32 FOURCCs.
        Payload::Init(Init::audio_only(self.init_flags()))
            .write(wire::PROTOCOL_VERSION, &mut payload);
        let seq = self.take_seq();
        let body = self.build_body(seq, PacketType::INIT, &payload);
        for idx in 0..self.endpoints.len() {
            self.emit_body(now, idx, &body);
        }
    }

    fn send_self_info_round(&mut self) {
        let mut query_id = [0u8; 8];
        rand::Rng::fill(&mut rand::thread_rng(), &mut query_id[..]);
        let mut list = Vec::new();
        for e in self.endpoints.iter() {
            if e.kind == EndpointType::UdpRelay {
                let mut data = Vec::with_capacity(40);
                relay::write_self_info_request(&e.peer_tag, query_id, &mut data);
                list.push(Transmit {
                    to: e.addr,
                    via: Via::Udp,
                    data,
                });
            }
        }
        for t in list {
            self.push_transmit(t);
        }
    }

    fn send_to_current(&mut self, now: Instant, ptype: PacketType, payload: &[u8]) -> u32 {
        let idx = self.endpoints.current();
        self.send_to(now, idx, ptype, payload)
    }

    /// Builds, encrypts and queues one packet to endpoint `idx`; returns its seq.
    fn send_to(&mut self, now: Instant, idx: usize, ptype: PacketType, payload: &[u8]) -> u32 {
        let seq = self.take_seq();
        let body = self.build_body(seq, ptype, payload);
        self.emit_body(now, idx, &body);
        seq
    }

    fn take_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        seq
    }

    fn build_body(&mut self, seq: u32, ptype: PacketType, payload: &[u8]) -> Vec<u8> {
        let header = Header {
            ptype,
            ack_id: self.recv.ack_id(),
            seq,
            ack_mask: self.recv.ack_mask(),
            extras: self.extras_out.take_for_packet(seq),
            recv_ts: None,
        };
        let mut body = Vec::with_capacity(payload.len() + 32);
        if self.short_format() {
            Packet::write_short(&header, payload, &mut body);
        } else {
            Packet::write_tl(
                &header,
                payload,
                self.in_handshake(),
                self.peer_version >= 6,
                &self.crypto.key().call_id(),
                &mut body,
            );
        }
        body
    }

    fn emit_body(&mut self, now: Instant, idx: usize, body: &[u8]) {
        let Some(ep) = self.endpoints.get(idx) else {
            return;
        };
        // A packet for a transport not in use is not transmitted; its seq stays used (7.1).
        // It still counts as sent for the keepalive timer, which would otherwise fire at once
        // again and again.
        if !self.udp_test.usable(ep.kind) {
            self.last_send = Some(now);
            return;
        }
        let to = ep.addr;
        let via = if ep.kind == EndpointType::TcpRelay {
            Via::Tcp
        } else {
            Via::Udp
        };
        let mut data = Vec::with_capacity(body.len() + 64);
        if ep.is_relay() {
            data.extend_from_slice(&ep.peer_tag);
        } else if self.peer_version < 9 {
            data.extend_from_slice(&self.crypto.key().call_id());
        }
        self.crypto.encrypt(self.packet_format(), body, &mut data);
        self.last_send = Some(now);
        self.push_transmit(Transmit { to, via, data });
    }

    fn push_transmit(&mut self, t: Transmit) {
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += t.data.len() as u64;
        self.transmits.push_back(t);
    }
}

/// The next periodic deadline after `prev`, skipping missed periods instead of bursting.
fn next_after(prev: Instant, period: Duration, now: Instant) -> Instant {
    let next = prev + period;
    if next > now {
        next
    } else {
        now + period
    }
}

/// The copies of frames before the first one of `frames` (60 ms apart), oldest first, at 60 ms
/// steps up to the frame just before it (none at all when every copy is empty): each frame's
/// redundancy entry `j` of `n` covers its pts − (n−1−j)·60. A pts no frame has a non-empty copy
/// for gets an empty entry.
fn earlier_copies<'a>(frames: &[(&[u8], &'a [Vec<u8>])]) -> Vec<&'a [u8]> {
    // How far back (in frames before the first) each frame's copies reach.
    let depth = frames
        .iter()
        .enumerate()
        .map(|(i, (_, red))| red.len().saturating_sub(1 + i))
        .max()
        .unwrap_or(0);
    let copies: Vec<&[u8]> = (0..depth)
        .map(|k| {
            // Entry k covers the frame `depth − k` before the first.
            let back = depth - k;
            frames
                .iter()
                .enumerate()
                .find_map(|(i, (_, red))| {
                    // In frame i's list that pts is `back + i` frames back: entry n−1−(back+i).
                    let idx = red.len().checked_sub(1 + back + i)?;
                    red.get(idx).filter(|c| !c.is_empty())
                })
                .map_or(&[][..], Vec::as_slice)
        })
        .collect();
    if copies.iter().all(|c| c.is_empty()) {
        return Vec::new();
    }
    copies
}

/// The inline redundancy block of a STREAM_DATA record: every entry but the last as given; the
/// last one (the current frame's own secondary encoding, media.md 2.10) is sent empty. Both
/// tgvoip-rs and 2.4.4 already hold the record's primary for that pts when they read the block
/// (2.4.4 inserts the primary first and ignores an EC copy of a held pts; tgvoip-rs ignores empty
/// entries), so the copy only cost ~60 bytes per packet (media.md 11.6). Positions, and with them
/// the pts each entry maps to, are unchanged.
fn inline_fec_entries(redundancy: &[Vec<u8>]) -> Vec<&[u8]> {
    let n = redundancy.len();
    redundancy
        .iter()
        .enumerate()
        .map(|(i, e)| if i + 1 == n { &[][..] } else { e.as_slice() })
        .collect()
}
