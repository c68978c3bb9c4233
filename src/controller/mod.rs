//! The call controller: the protocol-agnostic public API that applications (and the C ABI) use.
//! It collects the call setup, then runs three threads per call: the engine (network, session,
//! media), the real-time audio thread, and a callback thread for state, signal-bar and
//! signaling callbacks.
//!
//! Two engines sit behind it, chosen at [`Controller::start`] by the protocol version the server
//! chose ([`Controller::set_protocol_version`]): libtgvoip 2.4.4 (the default; relays from
//! [`Controller::set_remote_endpoints`]) and tgcalls 8.0.0 / 9.0.0 (signaling through the app
//! with [`Controller::set_signaling_callback`] and [`Controller::receive_signaling_data`], media
//! over ICE/DTLS-SRTP).

mod debug;
mod tgcalls;

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};

use crossbeam_channel::{unbounded, Sender};

use crate::api::{
    CallError, CallState, Config, Endpoint, NetworkType, TrafficStats, WebrtcEndpoint,
};
use crate::audio::{chunk_ring, AudioIo, AudioShared, AudioThread};
use crate::media::opus::Bandwidth;
use crate::media::{AudioReceiver, AudioSender, BitrateController, BitrateLimits, SenderSettings};
use crate::net::engine::{Command, Engine, EngineShared, Notice, PreprocessedSink, Snapshot};
use crate::net::tgcalls_engine::{self, TgcallsCommand, TgcallsShared};
use crate::net::{ProxyConfig, Transport, UdpTransport};
use crate::server_config::ServerConfig;
use crate::session::tgcalls::Protocol;
use crate::session::{Session, SessionConfig, SessionTunables};
use crate::sync::Mutex;

pub use debug::json11;

/// libtgvoip version this library is compatible with.
pub const LIBTGVOIP_VERSION: &str = "2.4.4";
/// Chunks of audio the capture ring holds (320 ms).
const CAPTURE_RING_CHUNKS: usize = 16;
/// Chunks of audio the playback ring holds (160 ms).
const PLAYBACK_RING_CHUNKS: usize = 8;

/// Errors from controller calls.
#[derive(Debug)]
pub enum ControllerError {
    /// An argument is invalid (names which and why).
    InvalidArgument(&'static str),
    /// The call is in the wrong phase for this request.
    InvalidState(&'static str),
    /// A socket or thread could not be created.
    Io(std::io::Error),
}

impl core::fmt::Display for ControllerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ControllerError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            ControllerError::InvalidState(what) => write!(f, "invalid state: {what}"),
            ControllerError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for ControllerError {}

impl From<std::io::Error> for ControllerError {
    fn from(e: std::io::Error) -> Self {
        ControllerError::Io(e)
    }
}

/// Called with every state change, on the callback thread.
pub type StateCallback = Box<dyn FnMut(CallState) + Send>;
/// Called when the signal-bar count (0..=4) changes, on the callback thread.
pub type SignalBarsCallback = Box<dyn FnMut(i32) + Send>;
/// Called with each signaling byte string to send to the peer with `phone.sendSignalingData`
/// (tgcalls calls only), on the callback thread.
pub type SignalingCallback = Box<dyn FnMut(&[u8]) + Send>;

/// Call setup collected before [`Controller::connect`].
#[derive(Default)]
struct Setup {
    config: Config,
    key: Option<([u8; 256], bool)>,
    endpoints: Vec<Endpoint>,
    allow_p2p: bool,
    max_layer: i32,
    network: NetworkType,
    mic_muted: bool,
    audio_io: Option<Box<dyn AudioIo>>,
    preprocessed: Option<PreprocessedSink>,
    on_state: Option<StateCallback>,
    on_signal_bars: Option<SignalBarsCallback>,
    bind_ip: Option<IpAddr>,
    proxy: Option<ProxyConfig>,
    transport: Option<Transport>,
    /// The negotiated protocol (2.4.4 unless set).
    protocol: Option<(String, Protocol)>,
    webrtc_endpoints: Vec<WebrtcEndpoint>,
    /// P2P for a tgcalls call: `set_p2p_allowed`, else `set_remote_endpoints`'s flag, else on.
    p2p_allowed: Option<bool>,
    on_signaling: Option<SignalingCallback>,
    /// Signaling received before the engine runs, in order.
    early_signaling: Vec<Vec<u8>>,
    early_signaling_bytes: usize,
    /// The tgcalls engine's sockets, opened at start.
    tg_sockets: Option<Vec<(std::net::UdpSocket, std::net::SocketAddr)>>,
    started: bool,
    stopped: bool,
}

/// The command queue of whichever engine runs the call.
enum EngineCommands {
    Legacy(Sender<Command>),
    Tgcalls(Sender<TgcallsCommand>),
}

impl EngineCommands {
    fn send(&self, cmd: Command) {
        match self {
            EngineCommands::Legacy(s) => {
                let _ = s.send(cmd);
            }
            EngineCommands::Tgcalls(s) => {
                let _ = s.send(match cmd {
                    Command::SetMicMute(m) => TgcallsCommand::SetMicMute(m),
                    Command::SetNetwork {
                        network,
                        data_saving,
                    } => TgcallsCommand::SetNetwork {
                        network,
                        data_saving,
                    },
                    Command::Stop => TgcallsCommand::Stop,
                });
            }
        }
    }
}

/// Threads of a connected call.
struct Running {
    commands: EngineCommands,
    engine: JoinHandle<()>,
    audio: Option<AudioThread>,
    callbacks: JoinHandle<()>,
    callback_thread: ThreadId,
}

/// One call.
pub struct Controller {
    setup: Mutex<Setup>,
    running: Mutex<Option<Running>>,
    shared: Arc<EngineShared>,
    tg_shared: Arc<TgcallsShared>,
    audio_shared: Arc<AudioShared>,
}

impl Default for Controller {
    fn default() -> Self {
        Controller::new()
    }
}

impl Controller {
    /// A controller in WAIT_INIT with default config.
    pub fn new() -> Controller {
        Controller {
            setup: Mutex::new(Setup {
                max_layer: crate::wire::CONNECTION_MAX_LAYER,
                ..Setup::default()
            }),
            running: Mutex::new(None),
            shared: Arc::new(EngineShared::default()),
            tg_shared: Arc::new(TgcallsShared::default()),
            audio_shared: Arc::new(AudioShared::default()),
        }
    }

    /// The libtgvoip version this library is a drop-in for ("2.4.4").
    pub fn version() -> &'static str {
        LIBTGVOIP_VERSION
    }

    /// The connection max layer to advertise in `phoneCallProtocol` (92).
    pub fn connection_max_layer() -> i32 {
        crate::wire::CONNECTION_MAX_LAYER
    }

    /// Sets timeouts, data saving and DSP flags.
    pub fn set_config(&self, config: Config) {
        self.setup.lock().config = config;
    }

    /// Sets the 256-byte call key and whether we are the caller.
    pub fn set_encryption_key(&self, key: &[u8], is_outgoing: bool) -> Result<(), ControllerError> {
        let key: [u8; 256] = key
            .try_into()
            .map_err(|_| ControllerError::InvalidArgument("the key must be exactly 256 bytes"))?;
        self.setup.lock().key = Some((key, is_outgoing));
        Ok(())
    }

    /// Sets the relays from signalling, whether P2P is allowed, and the negotiated max layer.
    /// In a tgcalls call the UDP relays are used as Telegram reflectors (with their peer tags).
    pub fn set_remote_endpoints(
        &self,
        endpoints: Vec<Endpoint>,
        allow_p2p: bool,
        max_layer: i32,
    ) -> Result<(), ControllerError> {
        if endpoints.is_empty() {
            return Err(ControllerError::InvalidArgument("no endpoints"));
        }
        if endpoints
            .iter()
            .all(|e| e.ipv4.is_none() && e.ipv6.is_none())
        {
            return Err(ControllerError::InvalidArgument(
                "no endpoint has an address",
            ));
        }
        let mut s = self.setup.lock();
        s.endpoints = endpoints;
        s.allow_p2p = allow_p2p;
        s.p2p_allowed.get_or_insert(allow_p2p);
        s.max_layer = max_layer;
        Ok(())
    }

    /// Sets the network type (affects bitrate limits, data saving and traffic accounting).
    pub fn set_network_type(&self, network: NetworkType) {
        let data_saving = {
            let mut s = self.setup.lock();
            s.network = network;
            s.config.data_saving.active_on(network)
        };
        self.send(Command::SetNetwork {
            network,
            data_saving,
        });
    }

    /// Mutes or unmutes the microphone. While muted no audio is sent and the peer is told.
    pub fn set_mic_mute(&self, muted: bool) {
        self.setup.lock().mic_muted = muted;
        self.send(Command::SetMicMute(muted));
    }

    /// Installs the application's audio endpoints (called on the real-time audio thread).
    pub fn set_audio_io(&self, io: Box<dyn AudioIo>) {
        self.setup.lock().audio_io = Some(io);
    }

    /// Receives the outgoing audio as the peer will hear it, 60 ms at a time (engine thread).
    pub fn set_preprocessed_callback(&self, sink: PreprocessedSink) {
        self.setup.lock().preprocessed = Some(sink);
    }

    /// Called on every state change (callback thread). Like libtgvoip, the current state is
    /// reported once right away (synchronously, on the caller's thread).
    pub fn set_state_callback(&self, mut callback: StateCallback) {
        callback(self.state());
        self.setup.lock().on_state = Some(callback);
    }

    /// Called when the signal bars change (callback thread).
    pub fn set_signal_bars_callback(&self, callback: SignalBarsCallback) {
        self.setup.lock().on_signal_bars = Some(callback);
    }

    /// Binds the call's socket to a specific local address (default: all interfaces).
    pub fn set_bind_address(&self, ip: IpAddr) {
        self.setup.lock().bind_ip = Some(ip);
    }

    /// Routes the call through a SOCKS5 proxy (UDP ASSOCIATE for UDP relays, CONNECT for TCP
    /// relays), or directly with `None`. Must precede [`start`](Self::start). If the proxy
    /// refuses us, the call fails with [`CallError::Proxy`].
    pub fn set_proxy(&self, proxy: Option<ProxyConfig>) -> Result<(), ControllerError> {
        let mut s = self.setup.lock();
        if s.started {
            return Err(ControllerError::InvalidState(
                "set_proxy must precede start",
            ));
        }
        s.proxy = proxy;
        Ok(())
    }

    /// Opens the socket. Call once, before [`connect`](Self::connect).
    pub fn start(&self) -> Result<(), ControllerError> {
        let mut s = self.setup.lock();
        if s.started {
            return Err(ControllerError::InvalidState("already started"));
        }
        if matches!(s.protocol, Some((_, Protocol::TgcallsV2))) {
            let ips = match s.bind_ip {
                Some(ip) => vec![ip],
                None => crate::net::ifaddr::interface_addrs(),
            };
            let sockets = tgcalls_engine::open_sockets(&ips);
            if sockets.is_empty() {
                drop(s);
                self.fail_without_engine();
                return Err(ControllerError::Io(std::io::Error::new(
                    std::io::ErrorKind::AddrNotAvailable,
                    "no non-loopback interface address to bind a socket to",
                )));
            }
            s.tg_sockets = Some(sockets);
            s.started = true;
            return Ok(());
        }
        match UdpTransport::open(s.bind_ip) {
            Ok(t) => {
                let mut t = Transport::new(t);
                t.set_proxy(s.proxy.clone());
                s.transport = Some(t);
                s.started = true;
                Ok(())
            }
            Err(e) => {
                drop(s);
                self.fail_without_engine();
                Err(ControllerError::Io(e))
            }
        }
    }

    /// Starts the handshake and the audio and network threads.
    pub fn connect(&self) -> Result<(), ControllerError> {
        let mut running = self.running.lock();
        let mut s = self.setup.lock();
        if !s.started || s.stopped {
            return Err(ControllerError::InvalidState(
                "connect needs start() first (and no stop())",
            ));
        }
        if running.is_some() {
            return Err(ControllerError::InvalidState("already connected"));
        }
        let (key, is_outgoing) = s
            .key
            .ok_or(ControllerError::InvalidState("no encryption key set"))?;
        if matches!(s.protocol, Some((_, Protocol::TgcallsV2))) {
            let r = self.connect_tgcalls(&mut s, key, is_outgoing)?;
            *running = Some(r);
            return Ok(());
        }
        if s.endpoints.is_empty() {
            return Err(ControllerError::InvalidState("no remote endpoints set"));
        }
        let server = ServerConfig::current();
        let data_saving = s.config.data_saving.active_on(s.network);
        let mut endpoints = s.endpoints.clone();
        if server.bool("force_tcp", false) {
            for e in &mut endpoints {
                if e.kind == crate::api::EndpointType::UdpRelay {
                    e.kind = crate::api::EndpointType::TcpRelay;
                }
            }
        }
        let session = Session::new(SessionConfig {
            key,
            is_outgoing,
            endpoints,
            allow_p2p: s.allow_p2p,
            max_layer: s.max_layer,
            data_saving,
            enable_call_upgrade: s.config.enable_call_upgrade,
            tunables: tunables(&s.config, &server),
        })
        .map_err(|_| ControllerError::InvalidArgument("no usable endpoint"))?;
        let transport = s
            .transport
            .take()
            .ok_or(ControllerError::InvalidState("socket already used"))?;

        let limits_server = server.clone();
        let limits =
            move |net: NetworkType, saving: bool| bitrate_limits(net, saving, &limits_server);
        let initial = limits(s.network, data_saving);
        let settings = SenderSettings {
            bitrate: initial.initial,
            inband_fec: true,
            expected_loss_perc: 5,
            redundancy_level: 0,
            bandwidth: Bandwidth::Full,
        };
        let sender = AudioSender::new(settings)
            .map_err(|_| ControllerError::InvalidState("the Opus encoder could not be created"))?;
        let receiver = AudioReceiver::new(2)
            .map_err(|_| ControllerError::InvalidState("the Opus decoder could not be created"))?;

        let (cap_tx, cap_rx) = chunk_ring(CAPTURE_RING_CHUNKS);
        let (play_tx, play_rx) = chunk_ring(PLAYBACK_RING_CHUNKS);
        let (cmd_tx, cmd_rx) = unbounded();
        let (notice_tx, notice_rx) = unbounded::<Notice>();

        let (_sig_tx, sig_rx) = unbounded::<Vec<u8>>();
        let callbacks = spawn_callbacks(&mut s, notice_rx, sig_rx)?;
        let callback_thread = callbacks.thread().id();

        let mut session = session;
        if s.allow_p2p {
            if let Ok(local) = transport.local_addr() {
                session.set_lan_address(crate::session::lan_address(
                    local,
                    crate::net::ifaddr::lan_ipv4(),
                ));
            }
        }
        if let Ok(local) = transport.local_addr() {
            session.set_local_ipv6(local_ipv6(local, s.bind_ip));
        }
        if s.mic_muted {
            session.set_mic_mute(std::time::Instant::now(), true);
        }
        let engine = Engine {
            session,
            transport,
            capture: cap_rx,
            playback: play_tx,
            playback_capacity: PLAYBACK_RING_CHUNKS,
            sender,
            receiver,
            bitrate: BitrateController::new(initial),
            limits: Box::new(limits),
            network: s.network,
            local_data_saving: data_saving,
            commands: cmd_rx,
            notices: notice_tx,
            shared: self.shared.clone(),
            preprocessed: s.preprocessed.take(),
            audio_clock: self.audio_shared.clone(),
        };
        let engine = std::thread::Builder::new()
            .name("tgvoip-engine".into())
            .spawn(move || engine.run())?;
        let io = s.audio_io.take().unwrap_or_else(|| Box::new(SilentIo));
        let audio = AudioThread::spawn(io, cap_tx, play_rx, self.audio_shared.clone())?;
        *running = Some(Running {
            commands: EngineCommands::Legacy(cmd_tx),
            engine,
            audio: Some(audio),
            callbacks,
            callback_thread,
        });
        Ok(())
    }

    /// Ends the call: stops the threads; no callback runs after this returns. Idempotent.
    /// Returns an error when called from a state or signal-bars callback (it would deadlock).
    pub fn stop(&self) -> Result<(), ControllerError> {
        let running = {
            let mut running = self.running.lock();
            if let Some(r) = running.as_ref() {
                if std::thread::current().id() == r.callback_thread {
                    return Err(ControllerError::InvalidState(
                        "stop() called from a callback",
                    ));
                }
            }
            running.take()
        };
        self.setup.lock().stopped = true;
        if let Some(mut r) = running {
            if let Some(audio) = r.audio.take() {
                audio.stop();
            }
            r.commands.send(Command::Stop);
            let _ = r.engine.join();
            drop(r.commands);
            let _ = r.callbacks.join();
        }
        Ok(())
    }

    /// The connection state.
    pub fn state(&self) -> CallState {
        match self.shared.state.load(Ordering::Acquire) {
            2 => CallState::WaitInitAck,
            3 => CallState::Established,
            4 => CallState::Failed,
            5 => CallState::Reconnecting,
            _ => CallState::WaitInit,
        }
    }

    /// Why the call failed (UNKNOWN until an error happens).
    pub fn last_error(&self) -> CallError {
        self.shared.snapshot.lock().last_error.unwrap_or_default()
    }

    /// A readable reason for the failure, when there is one (e.g. the SOCKS5 proxy's refusal).
    pub fn last_error_message(&self) -> Option<String> {
        self.shared.snapshot.lock().last_error_message.clone()
    }

    /// Bytes sent and received, by network kind.
    pub fn traffic_stats(&self) -> TrafficStats {
        self.shared.snapshot.lock().traffic
    }

    /// A copy of everything measured so far.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot.lock().clone()
    }

    /// Id of the preferred relay (for `phone.discardCall`).
    pub fn preferred_relay_id(&self) -> i64 {
        let id = self.shared.snapshot.lock().preferred_relay_id;
        if id != 0 {
            return id;
        }
        self.setup.lock().endpoints.first().map_or(0, |e| e.id)
    }

    /// Capability bits the peer announced (TGVOIP_PEER_CAP_*).
    pub fn peer_capabilities(&self) -> u32 {
        self.shared.snapshot.lock().peer_capabilities
    }

    /// Current signal bars, 0 before the first measurement.
    pub fn signal_bars(&self) -> i32 {
        self.shared.snapshot.lock().signal_bars
    }

    /// Audio thread counters: (ticks, capture overruns, playback underruns).
    pub fn audio_counters(&self) -> (u64, u64, u64) {
        let a = &self.audio_shared;
        (a.ticks(), a.capture_overruns(), a.playback_underruns())
    }

    /// The debug log JSON (2.4.4's `GetDebugLog`).
    pub fn debug_log(&self) -> String {
        let network = self.setup.lock().network;
        debug::debug_log(&self.snapshot(), network, self.state())
    }

    /// The multi-line human-readable debug string (2.4.4's `GetDebugString`).
    pub fn debug_string(&self) -> String {
        debug::debug_string(&self.snapshot())
    }

    fn send(&self, cmd: Command) {
        if let Some(r) = self.running.lock().as_ref() {
            r.commands.send(cmd);
        }
    }

    /// FAILED without ever running the engine (socket could not be opened). The state callback
    /// is told, unlike in 2.4.4.
    fn fail_without_engine(&self) {
        self.shared
            .state
            .store(CallState::Failed as i32, Ordering::Release);
        let callback = self.setup.lock().on_state.take();
        if let Some(mut cb) = callback {
            cb(CallState::Failed);
            self.setup.lock().on_state = Some(cb);
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Spawns the callback thread: state and signal-bar notices from the engine, and outgoing
/// signaling, until both queues are closed by the engine's exit.
fn spawn_callbacks(
    s: &mut Setup,
    notice_rx: crossbeam_channel::Receiver<Notice>,
    sig_rx: crossbeam_channel::Receiver<Vec<u8>>,
) -> std::io::Result<JoinHandle<()>> {
    let mut on_state = s.on_state.take();
    let mut on_bars = s.on_signal_bars.take();
    let mut on_signaling = s.on_signaling.take();
    std::thread::Builder::new()
        .name("tgvoip-callbacks".into())
        .spawn(move || {
            let mut notices = Some(notice_rx);
            let mut signaling = Some(sig_rx);
            let never_n = crossbeam_channel::never::<Notice>();
            let never_s = crossbeam_channel::never::<Vec<u8>>();
            while notices.is_some() || signaling.is_some() {
                crossbeam_channel::select! {
                    recv(notices.as_ref().unwrap_or(&never_n)) -> m => match m {
                        Ok(Notice::State(state)) => {
                            if let Some(cb) = on_state.as_mut() {
                                cb(state);
                            }
                        }
                        Ok(Notice::SignalBars(bars)) => {
                            if let Some(cb) = on_bars.as_mut() {
                                cb(bars);
                            }
                        }
                        Err(_) => notices = None,
                    },
                    recv(signaling.as_ref().unwrap_or(&never_s)) -> m => match m {
                        Ok(data) => {
                            if let Some(cb) = on_signaling.as_mut() {
                                cb(&data);
                            }
                        }
                        Err(_) => signaling = None,
                    },
                }
            }
        })
}

/// Audio I/O used when the application installed none: silence in, output discarded.
struct SilentIo;

impl AudioIo for SilentIo {
    fn capture(&mut self, _out: &mut [i16]) {}
    fn playback(&mut self, _pcm: &[i16]) {}
}

/// This device's IPv6 endpoint for wire.md 7.6: the bound address when the socket is bound to
/// a specific IPv6 address (tests bind to `::1`), else a global interface address when the
/// socket is dual-stack.
fn local_ipv6(
    local: std::net::SocketAddr,
    bind_ip: Option<IpAddr>,
) -> Option<std::net::SocketAddrV6> {
    let ip = match bind_ip {
        Some(IpAddr::V6(v6)) if !v6.is_unspecified() => v6,
        Some(IpAddr::V4(_)) => return None,
        _ if local.is_ipv6() => crate::net::ifaddr::global_ipv6()?,
        _ => return None,
    };
    Some(std::net::SocketAddrV6::new(ip, local.port(), 0, 0))
}

fn secs(v: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(if v.is_finite() && v > 0.0 { v } else { 0.0 })
}

fn tunables(config: &Config, server: &ServerConfig) -> SessionTunables {
    SessionTunables {
        init_timeout: config.init_timeout,
        recv_timeout: config.recv_timeout,
        reconnecting_timeout: secs(server.f64("reconnecting_state_timeout", 2.0)),
        established_delay: secs(server.f64("established_delay_if_no_stream_data", 1.5)),
        relay_switch_threshold: server.f64("relay_switch_threshold", 0.8),
        use_tcp: server.bool("use_tcp", true),
    }
}

/// Bitrate limits by network type and data saving, with the server-config overrides of 2.4.4.
pub fn bitrate_limits(net: NetworkType, data_saving: bool, server: &ServerConfig) -> BitrateLimits {
    let get = |key: &str, default: i64| server.i64(key, default) as i32;
    let (max, initial) = if data_saving {
        (
            get("audio_max_bitrate_saving", 8000),
            get("audio_init_bitrate_saving", 8000),
        )
    } else if net == NetworkType::Gprs {
        (
            get("audio_max_bitrate_gprs", 8000),
            get("audio_init_bitrate_gprs", 8000),
        )
    } else if net == NetworkType::Edge {
        (
            get("audio_max_bitrate_edge", 16000),
            get("audio_init_bitrate_edge", 8000),
        )
    } else {
        (
            get("audio_max_bitrate", 20000),
            get("audio_init_bitrate", 16000),
        )
    };
    let min = get("audio_min_bitrate", 8000).min(max);
    BitrateLimits {
        min,
        max,
        initial: initial.clamp(min, max),
        step_incr: get("audio_bitrate_step_incr", 1000).max(1),
        step_decr: get("audio_bitrate_step_decr", 1000).max(1),
        allow_redundancy: !matches!(net, NetworkType::Gprs | NetworkType::Edge),
    }
}
