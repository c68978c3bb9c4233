//! One tgcalls 8.0.0 / 9.0.0 call side, sans-IO: the [`SignalingSession`] plus a str0m WebRTC
//! instance (ICE, DTLS-SRTP, RTP/RTCP, the SCTP data channel), glued the way `InstanceV2Impl`
//! uses them (spec/tgcalls.md 3).
//!
//! Input: signaling byte strings, UDP datagrams (with the local address they arrived on), Opus
//! frames to send, the clock. Output: signaling byte strings, datagrams (with the local address
//! to send from) and [`CallEvent`]s (state changes, received Opus frames, the peer's media
//! state). No sockets and no clocks here: the engine thread (crate::net) drives it, and tests
//! drive two of them in simulated time.
//!
//! Roles: the caller is ICE-controlling and the DTLS client (its fingerprint says `actpass`,
//! the callee's `passive`), and opens the data channel `"data"` (DCEP, stream 0).
//! Audio is Opus as raw RTP with the negotiated payload type (111), abs-send-time (id 2) and
//! transport-cc (id 3); RTCP and transport-cc feedback come from str0m.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::channel::{ChannelConfig, ChannelId};
use str0m::media::{MediaKind, Mid, Pt};
use str0m::net::{Protocol as NetProtocol, Receive};
use str0m::rtp::{Extension, ExtensionMap, RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate as IceCandidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc};

use super::turn::TurnClient;
use super::{LocalParams, SignalingEvent, SignalingSession};
use crate::api::CallState;
use crate::wire::tgcalls::reflector;
use crate::wire::tgcalls::{Candidate, MediaState, Message, VideoState};

mod relays;
mod stun_probe;

use relays::ReflectorPort;
use stun_probe::{StunProbe, STUN_TRIES};

/// The media id both sides' audio streams live under (never sent: tgcalls V2 has no MID).
const AUDIO_MID: &str = "0";
/// Data channel label tgcalls uses.
pub const DATA_CHANNEL_LABEL: &str = "data";
/// RTP clock of Opus.
const OPUS_CLOCK: u32 = 48_000;
/// How long an Opus frame lasts if its TOC cannot be read (our encoder sends 60 ms).
const DEFAULT_FRAME_SAMPLES: u32 = 2880;
/// Fail if ICE and DTLS have not connected this long after start (spec 2.5, step 6).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Fail after this long in RECONNECTING.
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How often str0m emits statistics (RTT, loss).
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Something the engine must act on.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// The call state changed (the libtgvoip states).
    State(CallState),
    /// An Opus frame from the peer; `pts_ms` is its RTP time in ms since the stream's first.
    AudioFrame {
        /// Presentation time, ms.
        pts_ms: u32,
        /// The Opus packet.
        data: Vec<u8>,
    },
    /// The peer's media state (its mute flag) from the data channel.
    RemoteMediaState(MediaState),
    /// A line for the debug log.
    Log(String),
}

/// A datagram to send from the local socket bound to `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTransmit {
    /// Local address (one of the added host candidates).
    pub source: SocketAddr,
    /// Remote address.
    pub destination: SocketAddr,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Statistics of the media transport.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallStats {
    /// Round-trip time from RTCP, if measured.
    pub rtt: Option<Duration>,
    /// Fraction of our packets the peer reports lost (0..1).
    pub send_loss: f64,
    /// RTP audio packets sent.
    pub packets_sent: u64,
    /// RTP audio packets received from the negotiated SSRC.
    pub packets_received: u64,
    /// Datagrams str0m refused (not STUN/DTLS/RTP, or failed decryption).
    pub datagrams_rejected: u64,
    /// When ICE+DTLS connected, relative to start.
    pub connect_time: Option<Duration>,
    /// Binding responses from STUN servers.
    pub stun_responses: u32,
    /// Server-reflexive candidates learned from them.
    pub reflexive_candidates: u32,
    /// Relayed candidates allocated on TURN servers.
    pub relayed_candidates: u32,
    /// Relay candidates on Telegram reflectors (answered hellos).
    pub reflector_candidates: u32,
    /// The ICE pair in use: (local, remote).
    pub selected_pair: Option<(SocketAddr, SocketAddr)>,
    /// Whether that pair's local side is a TURN relay or a reflector.
    pub via_relay: bool,
}

/// One side of a tgcalls V2 call: signaling plus WebRTC transport.
pub struct TgcallsCall {
    signaling: SignalingSession,
    rtc: Rtc,
    is_caller: bool,
    mid: Mid,
    state: CallState,
    started_at: Option<Instant>,
    connected: bool,
    disconnected_at: Option<Instant>,
    tx_ssrc: Ssrc,
    tx_pt: Option<Pt>,
    tx_seq: u64,
    tx_time: u32,
    tx_last: Option<Instant>,
    rx_ssrc: Option<Ssrc>,
    rx_pts: Vec<u8>,
    rx_base: Option<u32>,
    channel: Option<ChannelId>,
    muted: bool,
    media_state_dirty: bool,
    events: VecDeque<CallEvent>,
    transmits: VecDeque<CallTransmit>,
    rtc_timeout: Option<Instant>,
    stats: CallStats,
    hosts: Vec<SocketAddr>,
    stun_servers: Vec<SocketAddr>,
    probes: Vec<StunProbe>,
    /// TURN servers (address, username, password) and one client per (host, server).
    turn_servers: Vec<(SocketAddr, String, String)>,
    turns: Vec<TurnClient>,
    /// `phoneCall.p2p_allowed`: when false only relayed candidates are offered (no host, no
    /// STUN), as tgcalls does.
    p2p_allowed: bool,
    reflectors: Vec<ReflectorPort>,
    /// Synthetic addresses of peer ports on our reflectors: (address, reflector index, tag).
    reflector_peers: Vec<(SocketAddr, usize, u32)>,
    next_synthetic: u32,
}

impl TgcallsCall {
    /// A call side for the 256-byte call key and our role. Host candidates are added with
    /// [`add_host_candidate`](Self::add_host_candidate); nothing is sent before
    /// [`start`](Self::start).
    pub fn new(key: &[u8; 256], is_caller: bool, now: Instant) -> TgcallsCall {
        let mut exts = ExtensionMap::empty();
        exts.set(2, Extension::AbsoluteSendTime);
        exts.set(3, Extension::TransportSequenceNumber);
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .set_extension_map(exts)
            .set_stats_interval(Some(STATS_INTERVAL))
            .set_local_ice_credentials(tgcalls_ice_credentials())
            .build(now);
        let mid = Mid::from(AUDIO_MID);
        let tx_ssrc = loop {
            let s: u32 = rand::random();
            if s != 0 {
                break Ssrc::from(s);
            }
        };
        {
            let mut api = rtc.direct_api();
            api.declare_media(mid, MediaKind::Audio);
            api.declare_stream_tx(tx_ssrc, None, mid, None);
            api.enable_twcc_feedback();
            api.set_ice_controlling(is_caller);
        }
        let (ufrag, pwd, fingerprint) = {
            let api = rtc.direct_api();
            let creds = api.local_ice_credentials();
            let fp = api.local_dtls_fingerprint().to_string();
            // Display is "sha-256 AB:CD:..."; signaling carries the hex part alone.
            let hex = fp.split_once(' ').map_or(fp.clone(), |(_, h)| h.to_owned());
            (creds.ufrag, creds.pass, hex)
        };
        let local = LocalParams {
            ufrag,
            pwd,
            fingerprint,
            audio_ssrc: *tx_ssrc,
        };
        TgcallsCall {
            signaling: SignalingSession::new(key, is_caller, local),
            rtc,
            is_caller,
            mid,
            state: CallState::WaitInit,
            started_at: None,
            connected: false,
            disconnected_at: None,
            tx_ssrc,
            tx_pt: None,
            tx_seq: u64::from(rand::random::<u16>() & 0x7fff),
            tx_time: rand::random(),
            tx_last: None,
            rx_ssrc: None,
            rx_pts: Vec::new(),
            rx_base: None,
            channel: None,
            muted: false,
            media_state_dirty: false,
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            rtc_timeout: Some(now),
            stats: CallStats::default(),
            hosts: Vec::new(),
            stun_servers: Vec::new(),
            probes: Vec::new(),
            turn_servers: Vec::new(),
            turns: Vec::new(),
            p2p_allowed: true,
            reflectors: Vec::new(),
            reflector_peers: Vec::new(),
            next_synthetic: 1,
        }
    }

    /// True for the call's initiator.
    pub fn is_caller(&self) -> bool {
        self.is_caller
    }

    /// The current state.
    pub fn state(&self) -> CallState {
        self.state
    }

    /// Transport statistics.
    pub fn stats(&self) -> CallStats {
        self.stats
    }

    /// The signaling session (for its counters).
    pub fn signaling(&self) -> &SignalingSession {
        &self.signaling
    }

    /// Whether direct paths are allowed (`phoneCall.p2p_allowed`, default true). When false,
    /// host and server-reflexive candidates are neither used nor sent: only TURN relays carry
    /// the call. Set before adding candidates.
    pub fn set_p2p_allowed(&mut self, allowed: bool) {
        self.p2p_allowed = allowed;
    }

    /// Adds a local UDP socket address as a host candidate (to str0m and to the peer; with P2P
    /// off only as the base of STUN/TURN traffic). Returns false if the address cannot be a
    /// candidate (unspecified, multicast).
    pub fn add_host_candidate(&mut self, addr: SocketAddr) -> bool {
        let Ok(c) = IceCandidate::host(addr, "udp") else {
            return false;
        };
        if self.p2p_allowed {
            let Some(c) = self.rtc.add_local_candidate(c) else {
                return false;
            };
            let sdp = c.to_sdp_string();
            self.signal_candidate(&sdp);
        }
        self.hosts.push(addr);
        for server in self.stun_servers.clone() {
            self.add_probe(addr, server);
        }
        for (server, user, pass) in self.turn_servers.clone() {
            self.add_turn_client(addr, server, &user, &pass);
        }
        true
    }

    fn signal_candidate(&mut self, sdp: &str) {
        let sdp = sdp.strip_prefix("a=").unwrap_or(sdp).to_owned();
        self.events
            .push_back(CallEvent::Log(format!("local candidate {sdp}")));
        self.signaling.add_local_candidate(Candidate {
            sdp_string: sdp,
            sdp_mid: Some(String::new()),
            sdp_m_line_index: Some(0),
        });
    }

    /// Starts signaling (and the connect timer).
    pub fn start(&mut self, now: Instant) {
        if self.started_at.is_some() {
            return;
        }
        self.started_at = Some(now);
        for p in &mut self.probes {
            p.next_send = now;
        }
        for r in &mut self.reflectors {
            r.next_hello = now;
        }
        self.send_probes(now);
        self.drive_turns(now);
        self.drive_reflectors(now);
        self.signaling.start(now);
        self.drain_signaling(now);
    }

    /// Feeds one signaling byte string from the peer (kept until [`start`](Self::start)).
    pub fn handle_signaling(&mut self, now: Instant, data: &[u8]) {
        self.signaling.handle_input(now, data);
        self.drain_signaling(now);
    }

    /// The next byte string for `phone.sendSignalingData`.
    pub fn poll_signaling(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.signaling.poll_transmit(now)
    }

    /// Feeds a datagram that arrived on the local socket `local` from `source`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        local: SocketAddr,
        data: &[u8],
    ) {
        if self.stun_servers.contains(&source) && self.on_stun_response(source, data) {
            return;
        }
        if let Some(i) = self
            .reflectors
            .iter()
            .position(|r| r.server == source && r.local == local)
        {
            if self.on_reflector_datagram(now, i, data) {
                self.drain_rtc(now);
                return;
            }
        }
        if let Some(i) = self
            .turns
            .iter()
            .position(|t| t.server() == source && t.local() == local)
        {
            if let Some(ev) = self.turns[i].handle_input(now, data) {
                self.on_turn_event(now, i, ev);
            }
            self.flush_turns();
            self.drain_rtc(now);
            return;
        }
        self.feed_rtc(now, source, local, data);
        self.drain_rtc(now);
    }

    fn feed_rtc(&mut self, now: Instant, source: SocketAddr, local: SocketAddr, data: &[u8]) {
        let Ok(recv) = Receive::new(NetProtocol::Udp, source, local, data) else {
            self.stats.datagrams_rejected += 1;
            return;
        };
        let input = Input::Receive(now, recv);
        if !self.rtc.accepts(&input) {
            self.stats.datagrams_rejected += 1;
            return;
        }
        if self.rtc.handle_input(input).is_err() {
            self.stats.datagrams_rejected += 1;
        }
    }

    /// Advances timers (signaling resends, ICE, DTLS, RTCP, the connect timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.signaling.handle_timeout(now);
        self.send_probes(now);
        self.drive_turns(now);
        self.drive_reflectors(now);
        if self.rtc_timeout.is_some_and(|t| t <= now) {
            let _ = self.rtc.handle_input(Input::Timeout(now));
        }
        self.drain_rtc(now);
        self.check_timeouts(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probes = self.started_at.and(
            self.probes
                .iter()
                .filter(|p| p.tries < STUN_TRIES)
                .map(|p| p.next_send)
                .min(),
        );
        let turns = self
            .started_at
            .and(self.turns.iter().filter_map(|t| t.poll_timeout()).min());
        let hellos = self
            .started_at
            .and(self.reflectors.iter().map(|r| r.next_hello).min());
        [
            self.rtc_timeout,
            self.signaling.poll_timeout(),
            probes,
            turns,
            hellos,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<CallTransmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// True when audio can be sent (connected and the peer accepted our audio).
    pub fn can_send_audio(&self) -> bool {
        self.connected && self.tx_pt.is_some()
    }

    /// Sends one Opus frame as an RTP packet. Returns false (frame dropped) before the call can
    /// carry audio or while muted.
    pub fn send_audio(&mut self, now: Instant, opus: &[u8]) -> bool {
        if !self.can_send_audio() || self.muted || opus.is_empty() {
            return false;
        }
        let Some(pt) = self.tx_pt else {
            return false;
        };
        let samples =
            crate::media::opus::packet_samples(opus).map_or(DEFAULT_FRAME_SAMPLES, |n| n as u32);
        // After a pause (mute), move the RTP clock on by the wall time that passed, on the
        // 20 ms grid, so the receiver sees a gap rather than a time warp.
        if let Some(last) = self.tx_last {
            let gap = now.saturating_duration_since(last).as_millis() as u32;
            let frame_ms = samples * 1000 / OPUS_CLOCK;
            if gap > 3 * frame_ms {
                let extra_ms = (gap - frame_ms) / 20 * 20;
                self.tx_time = self.tx_time.wrapping_add(extra_ms * (OPUS_CLOCK / 1000));
            }
        }
        self.tx_last = Some(now);
        let seq = SeqNo::from(self.tx_seq);
        let time = self.tx_time;
        self.tx_seq += 1;
        self.tx_time = self.tx_time.wrapping_add(samples);
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx(&self.tx_ssrc) else {
            return false;
        };
        stream.write_rtp(RtpWrite::new(pt, seq, time, now, opus.to_vec()));
        self.stats.packets_sent += 1;
        self.drain_rtc(now);
        true
    }

    /// Mutes or unmutes our microphone; the peer is told with `MediaState` over the data channel.
    pub fn set_muted(&mut self, now: Instant, muted: bool) {
        if self.muted != muted {
            self.muted = muted;
            self.media_state_dirty = true;
            self.tx_last = self.tx_last.map(|_| now);
            self.flush_media_state();
            self.drain_rtc(now);
        }
    }

    /// Ends the call side: releases TURN allocations and closes the WebRTC session (RTCP BYE,
    /// SCTP shutdown, DTLS close_notify). Send the remaining
    /// [`poll_transmit`](Self::poll_transmit) output.
    pub fn close(&mut self, now: Instant) {
        for t in &mut self.turns {
            t.release();
        }
        self.flush_turns();
        // RTCP BYE, SCTP shutdown and DTLS close_notify, drained below.
        if self.rtc.close().is_err() {
            self.rtc.disconnect();
        }
        self.drain_rtc(now);
    }

    /// True while our microphone is muted.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// True when the data channel to the peer is open.
    pub fn data_channel_open(&self) -> bool {
        self.channel.is_some()
    }

    fn set_state(&mut self, state: CallState) {
        if self.state != state && self.state != CallState::Failed {
            self.state = state;
            self.events.push_back(CallEvent::State(state));
        }
    }

    fn check_timeouts(&mut self, now: Instant) {
        if let Some(start) = self.started_at {
            if !self.connected && now.saturating_duration_since(start) >= CONNECT_TIMEOUT {
                self.set_state(CallState::Failed);
            }
        }
        if let Some(at) = self.disconnected_at {
            if now.saturating_duration_since(at) >= RECONNECT_TIMEOUT {
                self.set_state(CallState::Failed);
            }
        }
    }

    fn drain_signaling(&mut self, now: Instant) {
        while let Some(ev) = self.signaling.poll_event() {
            match ev {
                SignalingEvent::RemoteSetup(setup) => {
                    let creds = IceCreds {
                        ufrag: setup.ufrag.clone(),
                        pass: setup.pwd.clone(),
                    };
                    let fingerprint = setup
                        .fingerprints
                        .first()
                        .and_then(|f| format!("{} {}", f.hash, f.fingerprint).parse().ok());
                    let mut api = self.rtc.direct_api();
                    api.set_remote_ice_credentials(creds);
                    if let Some(fp) = fingerprint {
                        api.set_remote_fingerprint(fp);
                    }
                    if self.state == CallState::WaitInit {
                        if let Err(e) = api.start_dtls(self.is_caller) {
                            self.events
                                .push_back(CallEvent::Log(format!("DTLS start: {e}")));
                        }
                        api.start_sctp(self.is_caller);
                        self.set_state(CallState::WaitInitAck);
                    }
                }
                SignalingEvent::RemoteCandidates(cands) => {
                    for c in cands {
                        let sdp = self
                            .map_reflector_candidate(&c.sdp_string)
                            .unwrap_or_else(|| c.sdp_string.clone());
                        match IceCandidate::from_sdp_string(&sdp) {
                            Ok(ic) => self.rtc.add_remote_candidate(ic),
                            Err(e) => self.events.push_back(CallEvent::Log(format!(
                                "remote candidate {:?} ignored: {e}",
                                c.sdp_string
                            ))),
                        }
                    }
                }
                SignalingEvent::IncomingAudio(content) => {
                    let ssrc = Ssrc::from(content.ssrc);
                    self.rx_pts = content
                        .payload_types
                        .iter()
                        .filter(|p| p.name.eq_ignore_ascii_case("opus"))
                        .filter_map(|p| u8::try_from(p.id).ok())
                        .collect();
                    if self.rx_ssrc != Some(ssrc) {
                        self.rx_ssrc = Some(ssrc);
                        self.rx_base = None;
                        self.rtc
                            .direct_api()
                            .expect_stream_rx(ssrc, None, self.mid, None);
                    }
                }
                SignalingEvent::OutgoingAudio(content) => {
                    self.tx_pt = content
                        .payload_types
                        .iter()
                        .find(|p| p.name.eq_ignore_ascii_case("opus"))
                        .and_then(|p| u8::try_from(p.id).ok())
                        .map(Pt::from);
                }
                SignalingEvent::RemoteMediaState(s) => {
                    self.events.push_back(CallEvent::RemoteMediaState(s))
                }
                SignalingEvent::Ignored(what) => self.events.push_back(CallEvent::Log(what)),
            }
        }
        self.drain_rtc(now);
    }

    fn drain_rtc(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.rtc_timeout = Some(t.max(now));
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    // From our reflector port: in the reflector's framing, to a peer port on
                    // the same reflector.
                    if let Some(idx) = self.reflectors.iter().position(|r| r.synthetic == t.source)
                    {
                        let peer = self
                            .reflector_peers
                            .iter()
                            .find(|p| p.0 == t.destination && p.1 == idx)
                            .map(|p| p.2);
                        if let Some(to_tag) = peer {
                            let r = &self.reflectors[idx];
                            let data =
                                reflector::wrap(&r.peer_tag, to_tag, r.random_tag, &t.contents);
                            self.transmits.push_back(CallTransmit {
                                source: r.local,
                                destination: r.server,
                                data,
                            });
                        }
                        continue;
                    }
                    // From a relayed candidate: through its TURN allocation.
                    if let Some(turn) = self
                        .turns
                        .iter_mut()
                        .find(|c| c.relayed() == Some(t.source))
                    {
                        turn.send(now, t.destination, &t.contents);
                        self.flush_turns();
                        continue;
                    }
                    self.transmits.push_back(CallTransmit {
                        source: t.source,
                        destination: t.destination,
                        data: t.contents.to_vec(),
                    })
                }
                Ok(Output::Event(e)) => self.on_rtc_event(now, e),
                Err(e) => {
                    self.events
                        .push_back(CallEvent::Log(format!("WebRTC error: {e}")));
                    self.rtc_timeout = Some(now + Duration::from_millis(10));
                    break;
                }
            }
        }
    }

    fn on_rtc_event(&mut self, now: Instant, e: Event) {
        match e {
            Event::Connected => {
                if !self.connected {
                    self.connected = true;
                    self.stats.connect_time =
                        self.started_at.map(|s| now.saturating_duration_since(s));
                    if self.is_caller {
                        let id = self.rtc.direct_api().create_data_channel(ChannelConfig {
                            label: DATA_CHANNEL_LABEL.into(),
                            ordered: true,
                            ..ChannelConfig::default()
                        });
                        self.events
                            .push_back(CallEvent::Log(format!("data channel {id:?} opening")));
                    }
                }
                self.disconnected_at = None;
                self.set_state(CallState::Established);
            }
            Event::IceConnectionStateChange(s) if self.connected => match s {
                IceConnectionState::Disconnected => {
                    self.disconnected_at.get_or_insert(now);
                    self.set_state(CallState::Reconnecting);
                }
                IceConnectionState::Connected | IceConnectionState::Completed => {
                    self.disconnected_at = None;
                    self.set_state(CallState::Established);
                }
                _ => {}
            },
            Event::RtpPacket(p) => {
                if Some(p.header.ssrc) != self.rx_ssrc
                    || !self.rx_pts.contains(&*p.header.payload_type)
                {
                    return;
                }
                self.stats.packets_received += 1;
                let ts = p.header.timestamp;
                let base = *self.rx_base.get_or_insert(ts);
                let pts_ms = ts.wrapping_sub(base) / (OPUS_CLOCK / 1000);
                self.events.push_back(CallEvent::AudioFrame {
                    pts_ms,
                    data: p.payload.to_vec(),
                });
            }
            Event::ChannelOpen(id, label) => {
                self.events
                    .push_back(CallEvent::Log(format!("data channel {label:?} open")));
                self.channel = Some(id);
                self.media_state_dirty = true;
                self.flush_media_state();
            }
            Event::ChannelData(d) => {
                if d.binary {
                    return;
                }
                match Message::from_json(&d.data) {
                    Ok(Message::MediaState(s)) => {
                        self.events.push_back(CallEvent::RemoteMediaState(s))
                    }
                    Ok(other) => self.events.push_back(CallEvent::Log(format!(
                        "data channel message {:?} ignored",
                        other.type_name()
                    ))),
                    Err(e) => self
                        .events
                        .push_back(CallEvent::Log(format!("bad data channel message: {e}"))),
                }
            }
            Event::ChannelClose(id) if self.channel == Some(id) => self.channel = None,
            Event::PeerStats(s) => {
                if let Some(p) = &s.selected_candidate_pair {
                    let pair = (p.local.addr, p.remote.addr);
                    self.stats.selected_pair = Some(pair);
                    self.stats.via_relay = self.turns.iter().any(|t| t.relayed() == Some(pair.0))
                        || self.reflectors.iter().any(|r| r.synthetic == pair.0);
                    if let Some(rtt) = p.current_round_trip_time {
                        self.stats.rtt = Some(rtt);
                    }
                }
                if let Some(rtt) = s.rtt {
                    self.stats.rtt = Some(rtt);
                }
                if let Some(l) = s.egress_loss_fraction {
                    self.stats.send_loss = f64::from(l);
                }
            }
            Event::MediaEgressStats(s) => {
                if let Some(rtt) = s.rtt {
                    self.stats.rtt = Some(rtt);
                }
                if let Some(l) = s.loss {
                    self.stats.send_loss = f64::from(l);
                }
            }
            _ => {}
        }
    }

    fn flush_media_state(&mut self) {
        if !self.media_state_dirty {
            return;
        }
        let Some(id) = self.channel else {
            return;
        };
        let json = Message::MediaState(MediaState {
            muted: self.muted,
            low_battery: false,
            video_state: VideoState::Inactive,
            ..MediaState::default()
        })
        .to_json();
        if let Some(mut ch) = self.rtc.channel(id) {
            if matches!(ch.write(false, &json), Ok(true)) {
                self.media_state_dirty = false;
            }
        }
    }
}

/// ICE credentials of the shape tgcalls uses (4-character ufrag, 24-character password).
fn tgcalls_ice_credentials() -> IceCreds {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::thread_rng();
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
            .collect()
    };
    let ufrag = pick(4);
    let pass = pick(24);
    IceCreds { ufrag, pass }
}
