//! The sans-IO signaling state machine of tgcalls 8.0.0 / 9.0.0 (`InstanceV2Impl`, signaling
//! "V2"; spec/tgcalls.md 2.3 and 2.5).
//!
//! Input: signaling byte strings from the peer (`updatePhoneCallSignalingData`), the clock and
//! API calls (start, local ICE candidates). Output: byte strings for `phone.sendSignalingData`
//! ([`SignalingSession::poll_transmit`]) and [`SignalingEvent`]s for the media layer (the remote
//! ICE credentials and DTLS fingerprint, remote candidates, the negotiated audio in each
//! direction). Media (ICE, DTLS-SRTP, RTP) is not here: phase 2 hosts it beside this.
//!
//! Ordering (2.5): both sides send their candidates as they are gathered. The caller sends its
//! `InitialSetup` at start and its offer once the callee's `InitialSetup` arrives (as tgcalls
//! does). The callee answers the caller's `InitialSetup` with its own, answers any offer and then
//! sends its own offer. An offer that crosses ours is ignored by the caller and wins on the
//! callee, which answers it and offers again. Remote candidates are held until the remote
//! `InitialSetup` has been delivered. Signaling fed before [`SignalingSession::start`] is kept and
//! processed at start.

mod call;
mod channel;
pub mod turn;

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use crate::wire::tgcalls::{
    Candidate, Candidates, Fingerprint, InitialSetup, MediaContent, MediaState, Message,
    NegotiateChannels, PayloadType, RtcpFeedback, RtpExtension,
};

pub use call::{
    CallEvent, CallStats, CallTransmit, TgcallsCall, CONNECT_TIMEOUT, DATA_CHANNEL_LABEL,
    RECONNECT_TIMEOUT,
};
pub use channel::{
    ChannelEvent, ChannelStats, SendError, SignalingChannel, ACK_DELAY, MAX_UNACKED, REPLAY_WINDOW,
    RESEND_ATTACH_AFTER, RESEND_FORCE_AFTER,
};

/// Protocol versions this library supports, in preference order, for `phoneCallProtocol.
/// library_versions`: tgcalls 9.0.0 and 8.0.0 (byte-identical, `InstanceV2Impl` with V2
/// signaling), then libtgvoip 2.4.4.
pub const SUPPORTED_VERSIONS: &[&str] = &["9.0.0", "8.0.0", "2.4.4"];

/// The protocol family a negotiated version string selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// libtgvoip 2.4.4 over `phoneConnection` relays (crate::session).
    Legacy,
    /// tgcalls 8.0.0 / 9.0.0: signaling through the app, media over WebRTC transport (this module).
    TgcallsV2,
}

impl Protocol {
    /// The protocol for the version the server chose (`phoneCall.protocol.library_versions[0]`),
    /// or `None` if we do not speak it.
    pub fn from_version(version: &str) -> Option<Protocol> {
        match version.trim() {
            "9.0.0" | "8.0.0" => Some(Protocol::TgcallsV2),
            "2.4.4" => Some(Protocol::Legacy),
            _ => None,
        }
    }

    /// The first version of `offered` (the server's list, best first) that we support.
    pub fn choose<'a>(offered: &[&'a str]) -> Option<(&'a str, Protocol)> {
        offered
            .iter()
            .find_map(|v| Protocol::from_version(v).map(|p| (*v, p)))
    }
}

/// RTP payload type we offer for Opus (the tgcalls / WebRTC default).
pub const OPUS_PAYLOAD_TYPE: u32 = 111;
/// `abs-send-time` header extension URI (id 2 in tgcalls offers).
pub const EXT_ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
/// Transport-wide congestion control extension URI (id 3 in tgcalls offers).
pub const EXT_TRANSPORT_CC: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
/// Buffered incoming packets before start are capped at this many bytes (older ones dropped).
const MAX_EARLY_BYTES: usize = 4 * 1024 * 1024;

/// Our side's transport parameters for `InitialSetup` and the offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalParams {
    /// ICE username fragment.
    pub ufrag: String,
    /// ICE password.
    pub pwd: String,
    /// SHA-256 fingerprint of our DTLS certificate, uppercase hex with colons.
    pub fingerprint: String,
    /// SSRC of our outgoing audio.
    pub audio_ssrc: u32,
}

/// What the media layer must act on.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalingEvent {
    /// The peer's ICE credentials and DTLS fingerprint (apply, then start ICE; the caller is
    /// ICE-controlling and DTLS client).
    RemoteSetup(InitialSetup),
    /// Remote ICE candidates (only after [`SignalingEvent::RemoteSetup`]).
    RemoteCandidates(Vec<Candidate>),
    /// We accepted the peer's audio: receive this SSRC with this payload type and extensions.
    IncomingAudio(MediaContent),
    /// The peer accepted our audio offer: send with this payload type and extensions.
    OutgoingAudio(MediaContent),
    /// The peer's media state (V2 sends it over the data channel; delivered if it comes here).
    RemoteMediaState(MediaState),
    /// A message this state machine does not handle (or a malformed body), for logging.
    Ignored(String),
}

/// Which negotiation step we are in for our own offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OfferState {
    NotSent,
    Pending(u32),
    Accepted,
}

/// The tgcalls V2 signaling state machine of one call side.
#[derive(Debug)]
pub struct SignalingSession {
    is_caller: bool,
    local: LocalParams,
    channel: SignalingChannel,
    started: bool,
    early: VecDeque<Vec<u8>>,
    early_bytes: usize,
    early_dropped: u64,
    queued_candidates: Vec<Candidate>,
    setup_sent: bool,
    remote_setup: Option<InitialSetup>,
    held_candidates: Vec<Candidate>,
    offer: OfferState,
    events: VecDeque<SignalingEvent>,
}

impl SignalingSession {
    /// A session for the call's 256-byte key and our role; nothing is sent before
    /// [`start`](Self::start).
    pub fn new(key: &[u8; 256], is_caller: bool, local: LocalParams) -> SignalingSession {
        SignalingSession {
            is_caller,
            local,
            channel: SignalingChannel::new(key, is_caller),
            started: false,
            early: VecDeque::new(),
            early_bytes: 0,
            early_dropped: 0,
            queued_candidates: Vec::new(),
            setup_sent: false,
            remote_setup: None,
            held_candidates: Vec::new(),
            offer: OfferState::NotSent,
            events: VecDeque::new(),
        }
    }

    /// True once started.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The channel's counters.
    pub fn stats(&self) -> ChannelStats {
        self.channel.stats()
    }

    /// Packets fed before start that were dropped because the early buffer was full.
    pub fn early_dropped(&self) -> u64 {
        self.early_dropped
    }

    /// Our messages not yet acknowledged by the peer.
    pub fn unacked(&self) -> usize {
        self.channel.unacked()
    }

    /// The peer's `InitialSetup`, once received.
    pub fn remote_setup(&self) -> Option<&InitialSetup> {
        self.remote_setup.as_ref()
    }

    /// True when our offer has been answered.
    pub fn offer_accepted(&self) -> bool {
        self.offer == OfferState::Accepted
    }

    /// Starts signaling: sends the queued candidates (and, on the caller, `InitialSetup`), then
    /// processes what was fed before.
    pub fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        if self.is_caller {
            self.send_setup();
        }
        for c in std::mem::take(&mut self.queued_candidates) {
            self.send_candidate(c);
        }
        while let Some(data) = self.early.pop_front() {
            self.early_bytes -= data.len();
            self.process(now, &data);
        }
    }

    /// Adds a locally gathered candidate (sent at once, one per `Candidates` message, as tgcalls).
    pub fn add_local_candidate(&mut self, candidate: Candidate) {
        if self.started {
            self.send_candidate(candidate);
        } else {
            self.queued_candidates.push(candidate);
        }
    }

    /// Feeds one signaling byte string from the peer. Before start it is kept (up to 4 MiB).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if !self.started {
            self.early_bytes += data.len();
            self.early.push_back(data.to_vec());
            while self.early_bytes > MAX_EARLY_BYTES {
                if let Some(old) = self.early.pop_front() {
                    self.early_bytes -= old.len();
                    self.early_dropped += 1;
                }
            }
            return;
        }
        self.process(now, data);
    }

    /// The next byte string to send with `phone.sendSignalingData`. Call until `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if !self.started {
            return None;
        }
        self.channel.poll_transmit(now)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) (then `poll_transmit`).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.started {
            return None;
        }
        self.channel.poll_timeout()
    }

    /// Advances timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.channel.handle_timeout(now);
    }

    /// The next event for the media layer.
    pub fn poll_event(&mut self) -> Option<SignalingEvent> {
        self.events.pop_front()
    }

    fn process(&mut self, now: Instant, data: &[u8]) {
        // A dropped packet (bad key, replay, garbage) is counted in the stats and ignored.
        let _ = self.channel.handle_input(now, data);
        while let Some(ev) = self.channel.poll_event() {
            match ev {
                ChannelEvent::Message(m) => self.on_message(m),
                ChannelEvent::BadMessage { seq, error } => self.events.push_back(
                    SignalingEvent::Ignored(format!("message {seq:#x}: {error}")),
                ),
            }
        }
    }

    fn send(&mut self, msg: &Message) {
        // Our own messages are small (an audio-only offer is < 1 KB), far below the limits.
        if let Err(e) = self.channel.send(msg) {
            self.events
                .push_back(SignalingEvent::Ignored(format!("cannot send: {e}")));
        }
    }

    fn send_setup(&mut self) {
        if self.setup_sent {
            return;
        }
        self.setup_sent = true;
        let setup = InitialSetup {
            ufrag: self.local.ufrag.clone(),
            pwd: self.local.pwd.clone(),
            // Standard USE-CANDIDATE nomination (spec 3.1).
            renomination: false,
            fingerprints: vec![Fingerprint {
                hash: "sha-256".into(),
                setup: if self.is_caller { "actpass" } else { "passive" }.into(),
                fingerprint: self.local.fingerprint.clone(),
            }],
        };
        self.send(&Message::InitialSetup(setup));
    }

    fn send_candidate(&mut self, candidate: Candidate) {
        self.send(&Message::Candidates(Candidates {
            candidates: vec![candidate],
        }));
    }

    fn send_offer(&mut self) {
        if self.offer != OfferState::NotSent {
            return;
        }
        let exchange_id = rand::random::<u32>();
        self.offer = OfferState::Pending(exchange_id);
        let offer = NegotiateChannels {
            exchange_id,
            contents: vec![our_audio_content(self.local.audio_ssrc)],
        };
        self.send(&Message::NegotiateChannels(offer));
    }

    fn on_message(&mut self, msg: Message) {
        match msg {
            Message::InitialSetup(setup) => self.on_setup(setup),
            Message::Candidates(c) => {
                if self.remote_setup.is_some() {
                    self.events
                        .push_back(SignalingEvent::RemoteCandidates(c.candidates));
                } else {
                    self.held_candidates.extend(c.candidates);
                }
            }
            Message::NegotiateChannels(n) => self.on_negotiate(n),
            Message::MediaState(s) => self.events.push_back(SignalingEvent::RemoteMediaState(s)),
            Message::Unknown { type_name, .. } => self.events.push_back(SignalingEvent::Ignored(
                format!("unknown @type {type_name:?}"),
            )),
        }
    }

    fn on_setup(&mut self, setup: InitialSetup) {
        let first = self.remote_setup.is_none();
        self.remote_setup = Some(setup.clone());
        self.events.push_back(SignalingEvent::RemoteSetup(setup));
        if first && !self.held_candidates.is_empty() {
            let held = std::mem::take(&mut self.held_candidates);
            self.events
                .push_back(SignalingEvent::RemoteCandidates(held));
        }
        if self.is_caller {
            self.send_offer();
        } else {
            self.send_setup();
        }
    }

    fn on_negotiate(&mut self, n: NegotiateChannels) {
        if let OfferState::Pending(id) = self.offer {
            if n.exchange_id == id {
                // The answer to our offer.
                self.offer = OfferState::Accepted;
                if let Some(c) = n
                    .contents
                    .into_iter()
                    .find(|c| c.kind == "audio" && c.ssrc == self.local.audio_ssrc)
                {
                    self.events.push_back(SignalingEvent::OutgoingAudio(c));
                }
                return;
            }
            if self.is_caller {
                // Crossing offers: the caller's wins; the callee will answer ours and re-offer.
                return;
            }
            // Callee: drop our pending offer, answer theirs, offer again.
            self.offer = OfferState::NotSent;
        }
        let answer = answer_offer(&n);
        for c in &answer.contents {
            self.events
                .push_back(SignalingEvent::IncomingAudio(c.clone()));
        }
        self.send(&Message::NegotiateChannels(answer));
        if !self.is_caller || self.remote_setup.is_some() {
            self.send_offer();
        }
    }
}

/// Our audio offer: Opus only (PT 111, 48000/2, transport-cc feedback, `minptime=10;
/// useinbandfec=1`) with abs-send-time (2) and transport-cc (3).
pub fn our_audio_content(ssrc: u32) -> MediaContent {
    let mut parameters = BTreeMap::new();
    parameters.insert("minptime".to_owned(), "10".to_owned());
    parameters.insert("useinbandfec".to_owned(), "1".to_owned());
    MediaContent {
        kind: "audio".into(),
        ssrc,
        ssrc_groups: Vec::new(),
        payload_types: vec![PayloadType {
            id: OPUS_PAYLOAD_TYPE,
            name: "opus".into(),
            clockrate: 48000,
            channels: 2,
            feedback_types: vec![RtcpFeedback {
                kind: "transport-cc".into(),
                subtype: String::new(),
            }],
            parameters,
        }],
        rtp_extensions: vec![
            RtpExtension {
                id: 2,
                uri: EXT_ABS_SEND_TIME.into(),
            },
            RtpExtension {
                id: 3,
                uri: EXT_TRANSPORT_CC.into(),
            },
        ],
    }
}

/// The answer to an offer: each offered audio content that has Opus, echoing its SSRC with only
/// the Opus payload type and the extensions we understand (abs-send-time, transport-cc); video
/// and anything without Opus is omitted, i.e. rejected.
pub fn answer_offer(offer: &NegotiateChannels) -> NegotiateChannels {
    let contents = offer
        .contents
        .iter()
        .filter(|c| c.kind == "audio")
        .filter_map(|c| {
            let opus = c
                .payload_types
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case("opus") && p.clockrate == 48000)?;
            Some(MediaContent {
                kind: "audio".into(),
                ssrc: c.ssrc,
                ssrc_groups: Vec::new(),
                payload_types: vec![opus.clone()],
                rtp_extensions: c
                    .rtp_extensions
                    .iter()
                    .filter(|e| e.uri == EXT_ABS_SEND_TIME || e.uri == EXT_TRANSPORT_CC)
                    .cloned()
                    .collect(),
            })
        })
        .collect();
    NegotiateChannels {
        exchange_id: offer.exchange_id,
        contents,
    }
}
