//! The tgcalls 8.0.0 / 9.0.0 side of the controller: protocol choice, WebRTC endpoints,
//! signaling in and out, and building the tgcalls engine at `connect`.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use crossbeam_channel::unbounded;

use super::{
    bitrate_limits, spawn_callbacks, Controller, ControllerError, EngineCommands, Running, Setup,
    SignalingCallback, SilentIo, CAPTURE_RING_CHUNKS, LIBTGVOIP_VERSION, PLAYBACK_RING_CHUNKS,
};
use crate::api::{EndpointType, NetworkType, WebrtcEndpoint};
use crate::audio::{chunk_ring, AudioThread};
use crate::media::opus::Bandwidth;
use crate::media::{AudioReceiver, AudioSender, BitrateController, BitrateLimits, SenderSettings};
use crate::net::engine::Notice;
use crate::net::tgcalls_engine::{TgcallsCommand, TgcallsEngine};
use crate::server_config::ServerConfig;
use crate::session::tgcalls::{Protocol, TgcallsCall, SUPPORTED_VERSIONS};

/// Signaling bytes kept before the call runs are capped at this many bytes.
const MAX_EARLY_SIGNALING: usize = 4 * 1024 * 1024;

impl Controller {
    /// Protocol versions this library speaks, best first, for `phoneCallProtocol.
    /// library_versions`: "9.0.0", "8.0.0" (tgcalls) and "2.4.4" (libtgvoip).
    pub fn supported_versions() -> &'static [&'static str] {
        SUPPORTED_VERSIONS
    }

    /// Sets the protocol version the server chose (`phoneCall.protocol.library_versions[0]`):
    /// "9.0.0" or "8.0.0" run a tgcalls call, "2.4.4" a libtgvoip one (the default when never
    /// called). Call before [`start`](Self::start).
    pub fn set_protocol_version(&self, version: &str) -> Result<(), ControllerError> {
        let protocol = Protocol::from_version(version).ok_or(ControllerError::InvalidArgument(
            "unsupported protocol version",
        ))?;
        let mut s = self.setup.lock();
        if s.started {
            return Err(ControllerError::InvalidState(
                "the protocol must be set before start()",
            ));
        }
        s.protocol = Some((version.trim().to_owned(), protocol));
        Ok(())
    }

    /// The protocol version in use ("2.4.4" unless [`set_protocol_version`](Self::set_protocol_version)
    /// chose another).
    pub fn protocol_version(&self) -> String {
        self.setup
            .lock()
            .protocol
            .as_ref()
            .map_or_else(|| LIBTGVOIP_VERSION.to_owned(), |(v, _)| v.clone())
    }

    /// Sets the `phoneConnectionWebrtc` servers of a tgcalls call (STUN/TURN flags, TURN username
    /// and password). An empty list is allowed: the call then uses direct (P2P) paths only.
    /// Ignored by 2.4.4 calls. Servers with `stun` give the call its server-reflexive
    /// candidates, servers with `turn` (with the username and password) relayed candidates.
    pub fn set_webrtc_endpoints(
        &self,
        endpoints: Vec<WebrtcEndpoint>,
    ) -> Result<(), ControllerError> {
        if endpoints
            .iter()
            .any(|e| e.ipv4.is_none() && e.ipv6.is_none())
        {
            return Err(ControllerError::InvalidArgument(
                "a WebRTC endpoint has no address",
            ));
        }
        if endpoints.iter().any(|e| e.port == 0) {
            return Err(ControllerError::InvalidArgument(
                "a WebRTC endpoint has port 0",
            ));
        }
        self.setup.lock().webrtc_endpoints = endpoints;
        Ok(())
    }

    /// Sets `phoneCall.p2p_allowed` for a tgcalls call (default: the flag given to
    /// [`set_remote_endpoints`](Self::set_remote_endpoints), else allowed). When false only TURN
    /// relays carry the call: no host or server-reflexive candidates are used or sent.
    pub fn set_p2p_allowed(&self, allowed: bool) {
        self.setup.lock().p2p_allowed = Some(allowed);
    }

    /// Installs the callback that receives outgoing signaling (tgcalls calls): each byte string
    /// must be sent to the peer with `phone.sendSignalingData`. Runs on the callback thread,
    /// never on the audio thread. Set before [`connect`](Self::connect).
    pub fn set_signaling_callback(&self, callback: SignalingCallback) {
        self.setup.lock().on_signaling = Some(callback);
    }

    /// Feeds signaling bytes from the peer (`updatePhoneCallSignalingData.data`) to a tgcalls
    /// call. Works at any time before [`stop`](Self::stop): bytes that arrive before the call
    /// runs are kept (up to 4 MiB) and processed in order when it starts.
    pub fn receive_signaling_data(&self, data: &[u8]) -> Result<(), ControllerError> {
        if data.is_empty() {
            return Err(ControllerError::InvalidArgument("empty signaling data"));
        }
        if let Some(r) = self.running.lock().as_ref() {
            return match &r.commands {
                EngineCommands::Tgcalls(tx) => {
                    let _ = tx.send(TgcallsCommand::Signaling(data.to_vec()));
                    Ok(())
                }
                EngineCommands::Legacy(_) => Err(ControllerError::InvalidState(
                    "signaling data is for tgcalls calls; this call runs 2.4.4",
                )),
            };
        }
        let mut s = self.setup.lock();
        if s.stopped {
            return Err(ControllerError::InvalidState("the call was stopped"));
        }
        s.early_signaling_bytes += data.len();
        s.early_signaling.push(data.to_vec());
        while s.early_signaling_bytes > MAX_EARLY_SIGNALING && !s.early_signaling.is_empty() {
            let old = s.early_signaling.remove(0);
            s.early_signaling_bytes -= old.len();
        }
        Ok(())
    }

    /// The peer's microphone mute flag from its last `MediaState` (tgcalls calls), or `None`
    /// before one arrived.
    pub fn remote_mic_muted(&self) -> Option<bool> {
        let t = &self.tg_shared;
        t.remote_media_state_seen
            .load(Ordering::Acquire)
            .then(|| t.remote_muted.load(Ordering::Acquire))
    }

    /// Milliseconds from `connect` to the media transport being connected (tgcalls calls: ICE
    /// and DTLS), or `None` before that.
    pub fn media_connect_time_ms(&self) -> Option<u64> {
        match self.tg_shared.connect_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(ms),
        }
    }

    /// RTP audio packets sent and received (tgcalls calls).
    pub fn rtp_packet_counts(&self) -> (u64, u64) {
        let t = &self.tg_shared;
        (
            t.packets_sent.load(Ordering::Acquire),
            t.packets_received.load(Ordering::Acquire),
        )
    }

    /// Builds and spawns the tgcalls engine, the audio thread and the callback thread.
    pub(super) fn connect_tgcalls(
        &self,
        s: &mut Setup,
        key: [u8; 256],
        is_outgoing: bool,
    ) -> Result<Running, ControllerError> {
        let sockets = s
            .tg_sockets
            .take()
            .ok_or(ControllerError::InvalidState("sockets already used"))?;
        let server = ServerConfig::current();
        let data_saving = s.config.data_saving.active_on(s.network);
        let limits_server = server.clone();
        let limits = move |net: NetworkType, saving: bool| {
            tgcalls_bitrate_limits(bitrate_limits(net, saving, &limits_server))
        };
        let initial = limits(s.network, data_saving);
        let sender = AudioSender::new(SenderSettings {
            bitrate: initial.initial,
            inband_fec: true,
            expected_loss_perc: 5,
            redundancy_level: 0,
            bandwidth: Bandwidth::Full,
        })
        .map_err(|_| ControllerError::InvalidState("the Opus encoder could not be created"))?;
        let receiver = AudioReceiver::new(1)
            .map_err(|_| ControllerError::InvalidState("the Opus decoder could not be created"))?;
        let now = std::time::Instant::now();
        let mut call = TgcallsCall::new(&key, is_outgoing, now);
        call.set_p2p_allowed(s.p2p_allowed.unwrap_or(true));
        for (_, addr) in &sockets {
            call.add_host_candidate(*addr);
        }
        for e in &s.webrtc_endpoints {
            let ips = e
                .ipv4
                .map(IpAddr::V4)
                .into_iter()
                .chain(e.ipv6.map(IpAddr::V6));
            for ip in ips {
                let addr = std::net::SocketAddr::new(ip, e.port);
                if e.stun {
                    call.add_stun_server(addr);
                }
                if e.turn {
                    call.add_turn_server(addr, &e.username, &e.password);
                }
            }
        }
        // `phoneConnection` relays are Telegram reflectors here (spec 3.1/3.7): server id = 1 +
        // index in the ascending order of their ids; one port per server, IPv4 preferred.
        let mut ids: Vec<i64> = s
            .endpoints
            .iter()
            .filter(|e| e.kind == EndpointType::UdpRelay)
            .map(|e| e.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for e in s
            .endpoints
            .iter()
            .filter(|e| e.kind == EndpointType::UdpRelay)
        {
            let ip = e.ipv4.map(IpAddr::V4).or(e.ipv6.map(IpAddr::V6));
            let server_id = ids.iter().position(|&id| id == e.id).map_or(0, |i| i + 1);
            if let (Some(ip), Ok(server_id)) = (ip, u8::try_from(server_id)) {
                call.add_reflector(server_id, std::net::SocketAddr::new(ip, e.port), e.peer_tag);
            }
        }
        for data in std::mem::take(&mut s.early_signaling) {
            call.handle_signaling(now, &data);
        }
        s.early_signaling_bytes = 0;

        let (cap_tx, cap_rx) = chunk_ring(CAPTURE_RING_CHUNKS);
        let (play_tx, play_rx) = chunk_ring(PLAYBACK_RING_CHUNKS);
        let (cmd_tx, cmd_rx) = unbounded();
        let (notice_tx, notice_rx) = unbounded::<Notice>();
        let (sig_tx, sig_rx) = unbounded::<Vec<u8>>();
        let callbacks = spawn_callbacks(s, notice_rx, sig_rx)?;
        let callback_thread = callbacks.thread().id();
        let engine = TgcallsEngine {
            call,
            sockets,
            capture: cap_rx,
            playback: play_tx,
            playback_capacity: PLAYBACK_RING_CHUNKS,
            sender,
            receiver,
            bitrate: BitrateController::new(initial),
            limits: Box::new(limits),
            network: s.network,
            data_saving,
            commands: cmd_rx,
            notices: notice_tx,
            signaling_out: sig_tx,
            shared: self.shared.clone(),
            tg_shared: self.tg_shared.clone(),
            preprocessed: s.preprocessed.take(),
            mic_muted: s.mic_muted,
            audio_clock: self.audio_shared.clone(),
        };
        let engine = std::thread::Builder::new()
            .name("tgvoip-tgcalls".into())
            .spawn(move || engine.run())?;
        let io = s.audio_io.take().unwrap_or_else(|| Box::new(SilentIo));
        let audio = AudioThread::spawn(io, cap_tx, play_rx, self.audio_shared.clone())?;
        Ok(Running {
            commands: EngineCommands::Tgcalls(cmd_tx),
            engine,
            audio: Some(audio),
            callbacks,
            callback_thread,
        })
    }
}

/// Bitrate limits of a tgcalls call: the 2.4.4 limits, with the ceiling raised to what tgcalls
/// peers send (32 kbit/s) unless data saving or a slow network capped it lower.
fn tgcalls_bitrate_limits(mut l: BitrateLimits) -> BitrateLimits {
    if l.max >= 20000 {
        l.max = 32000;
        l.initial = l.initial.max(24000).min(l.max);
    }
    l
}
