//! The engine thread of one call: it owns the socket, the session and the media pipeline, and
//! exchanges audio with the real-time thread through the chunk rings.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::api::{CallError, CallState, NetworkType, TrafficStats};
use crate::audio::{AudioShared, ChunkConsumer, ChunkProducer, CHUNK_SAMPLES};
use crate::media::bitrate::MAX_FRAMES_PER_PACKET;
use crate::media::opus::packet_samples;
use crate::media::{
    AudioReceiver, AudioSender, BitrateController, BitrateLimits, EncodedFrame, ReceiverStats,
    SendFeedback, SenderSettings,
};
use crate::session::{Event, Session, SessionStats};
use crate::sync::Mutex;

use super::call_stats::{self, PlaybackPacer, SignalBars};
use super::transport::{Incoming, Transport};
use super::udp::RECV_BUFFER;

/// Longest the engine sleeps, so audio rings are serviced at least this often.
const MAX_SLEEP: Duration = Duration::from_millis(10);
/// Chunks kept queued for the audio thread to play (40 ms); 20 ms on a clean link whose jitter
/// minimum is at most one 60 ms frame. The last of them is decoded only shortly before the
/// tick that plays it (`call_stats::PlaybackPacer`).
const PLAYBACK_FILL: usize = 2;
const PLAYBACK_FILL_LOW: usize = 1;
/// How often bitrate decisions are made (every 100 ms caught more short RTT spikes and cut EDGE
/// links for nothing; an outage shows through the ack stall within a tick or two anyway).
const CONTROL_INTERVAL: Duration = Duration::from_millis(300);
/// How often the signal bars are recomputed.
const BARS_INTERVAL: Duration = Duration::from_secs(1);
/// How often the shared snapshot is refreshed.
const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(100);
/// Jitter-buffer minimum delay (frames) on a clean link, when frames go missing (the next
/// frame's in-band FEC needs one frame of look-ahead), and when the peer sends redundancy (its
/// copies of a lost frame arrive up to two frames later). 2.4.4 uses 2 and 4.
/// On a clean link the minimum is one of the peer's frames (20 ms with a tgvoip-rs peer that
/// sends 20 ms frames), at most [`MIN_DELAY_CLEAN`] frames of 60 ms.
const MIN_DELAY_CLEAN: u32 = 1;
const MIN_DELAY: u32 = 2;
const MIN_DELAY_PEER_EC: u32 = 3;
/// Receive loss (smoothed fraction of frames missing at playout) above which the minimum delay
/// leaves [`MIN_DELAY_CLEAN`], and below which it returns to it.
const RX_LOSS_HIGH: f64 = 0.01;
const RX_LOSS_LOW: f64 = 0.002;
/// Smoothing gain of the receive loss per control tick (~3 s time constant).
const RX_LOSS_GAIN: f64 = 0.1;

/// Whether 20/40 ms frames are used toward a tgvoip-rs peer that accepts them (on a clean link
/// with the budget for their headers: mouth-to-ear ~50 ms instead of ~190 ms on Wi-Fi).
const SHORT_FRAMES_ENABLED: bool = true;

/// Whether several 60 ms frames go in one packet toward a peer that parses them (a tgvoip-rs that
/// announced it, or 2.4.4), on lossy or slow links (see `BitrateController::frames_per_packet`).
const MULTI_FRAME_ENABLED: bool = true;

/// IPv4 + UDP header bytes per datagram (not in the session's byte counts).
const IP_UDP_HEADER_BYTES: u64 = 28;
/// Smoothing gain of the incoming rate per control tick (~1 s time constant).
const PEER_RATE_GAIN: f64 = 0.3;
/// Share of the peer's (loss-corrected) incoming rate a congestion cut never goes under.
const PEER_RATE_FLOOR: f64 = 0.85;
/// Largest loss the incoming rate is scaled back up by (more is congestion, not random loss).
const MAX_RANDOM_LOSS: f64 = 0.35;
/// Jitter minimum (ms) for the first seconds of a call on a mobile network.
const MIN_DELAY_MOBILE_START: u32 = 240;
/// How long the send loss is backed by the receive loss after audio starts.
const SEND_LOSS_WARMUP: Duration = Duration::from_secs(8);
/// Loss assumed on a mobile network until [`LOSS_EVIDENCE_FRAMES`] frames were received.
const MOBILE_LOSS_PRIOR: f64 = 0.06;
/// Received (or missed) frames after which the measured loss replaces the prior (~2 s).
const LOSS_EVIDENCE_FRAMES: u64 = 30;

/// A request from the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    SetMicMute(bool),
    /// New network type and whether local data saving is now on.
    SetNetwork {
        network: NetworkType,
        data_saving: bool,
    },
    Stop,
}

/// Something for the application's callbacks (delivered on the callback thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    State(CallState),
    SignalBars(i32),
}

/// What the controller can read about a running call.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub session: SessionStats,
    pub receiver: ReceiverStats,
    pub sender: Option<SenderSettings>,
    pub traffic: TrafficStats,
    pub peer_version: i32,
    pub peer_capabilities: u32,
    pub preferred_relay_id: i64,
    pub rtt_ms: u32,
    pub relay_rtt_ms: u32,
    pub ever_reconnecting: bool,
    pub ever_established: bool,
    pub extra_ec_used: bool,
    pub udp_available: bool,
    pub last_error: Option<CallError>,
    /// A readable reason for the failure, when there is one (e.g. the proxy's refusal).
    pub last_error_message: Option<String>,
    /// TCP relays are in use.
    pub tcp_used: bool,
    /// Transport counters (TCP connections, proxied datagrams).
    pub transport: crate::net::transport::TransportStats,
    pub signal_bars: i32,
    pub send_loss: f64,
    pub mtproto2: bool,
    pub seqs: (u32, u32, u32),
    /// Socket errors on send.
    pub send_errors: u64,
    /// Endpoint lines for the debug string: (address, rtt ms, id, in use).
    pub endpoints: Vec<(String, u32, i64, bool)>,
}

/// State shared between the engine and the controller.
pub struct EngineShared {
    pub snapshot: Mutex<Snapshot>,
    pub state: AtomicI32,
    /// Set once the engine thread has finished.
    pub finished: AtomicBool,
}

impl Default for EngineShared {
    fn default() -> Self {
        EngineShared {
            snapshot: Mutex::new(Snapshot::default()),
            state: AtomicI32::new(CallState::WaitInit as i32),
            finished: AtomicBool::new(false),
        }
    }
}

/// Receives the outgoing audio as the peer will hear it (the "preprocessed" callback).
pub type PreprocessedSink = Box<dyn FnMut(&[i16]) + Send>;

/// Computes bitrate limits from the network and data-saving mode.
pub type LimitsFn = Box<dyn Fn(NetworkType, bool) -> BitrateLimits + Send>;

/// Everything the engine thread owns.
pub struct Engine {
    pub session: Session,
    pub transport: Transport,
    pub capture: ChunkConsumer,
    pub playback: ChunkProducer,
    pub playback_capacity: usize,
    pub sender: AudioSender,
    pub receiver: AudioReceiver,
    pub bitrate: BitrateController,
    pub limits: LimitsFn,
    pub network: NetworkType,
    pub local_data_saving: bool,
    pub commands: Receiver<Command>,
    pub notices: Sender<Notice>,
    pub shared: Arc<EngineShared>,
    pub preprocessed: Option<PreprocessedSink>,
    /// The audio thread's tick clock: the loop wakes just after each capture and tops playback
    /// up just before each tick.
    pub audio_clock: Arc<AudioShared>,
}

/// Per-run bookkeeping of the loop.
struct LoopState {
    peer_data_saving: bool,
    traffic: TrafficStats,
    send_errors: u64,
    extra_ec_used: bool,
    bars: SignalBars,
    preview: Vec<i16>,
    /// Peer announced redundancy (extra EC).
    peer_ec: bool,
    /// Smoothed receive loss and the counters it was last computed from.
    rx_loss: f64,
    rx_counts: (u64, u64),
    /// Fraction of the peer's frames whose primary did not arrive in time (before any
    /// recovery), over the call so far: a prior for the send loss while that is still unknown.
    rx_raw_loss: f64,
    /// When audio was first sent (start of the send-loss measurement).
    audio_since: Option<Instant>,
    /// Wire bytes (IP + UDP headers included) received from the peer at the last control
    /// tick, when that was, and the smoothed incoming rate in bits per second.
    rx_wire: Option<(u64, Instant)>,
    rx_rate: Option<f64>,
    /// Jitter-buffer minimum delay now, ms.
    min_delay: u32,
    /// Chunks kept queued for the audio thread.
    playback_fill: usize,
    /// Frames of one duration waiting to go out together (multi-frame packets).
    pending_frames: Vec<EncodedFrame>,
    /// Duration of the pending frames, ms.
    pending_ms: u32,
    /// Frames per packet now (1 unless the bitrate controller packs).
    frames_per_packet: usize,
    /// Times decoding and wake-ups to the audio thread's ticks.
    pacer: PlaybackPacer,
}

impl Engine {
    /// Runs the call until [`Command::Stop`] (or the controller goes away).
    pub fn run(mut self) {
        // The proxy's UDP association comes first (wire.md 7.3: the UDP test starts after it).
        if let Err(e) = self.transport.setup() {
            self.session
                .fail_transport(crate::api::CallError::Proxy, e.to_string());
        }
        self.session.set_udp_via_proxy(self.transport.udp_proxied());
        let start = Instant::now();
        self.session.connect(start);
        let mut st = LoopState {
            peer_data_saving: false,
            traffic: TrafficStats::default(),
            send_errors: 0,
            extra_ec_used: false,
            bars: SignalBars::new(),
            preview: vec![0; crate::media::FRAME_SAMPLES * 2],
            peer_ec: false,
            rx_loss: 0.0,
            rx_counts: (0, 0),
            rx_raw_loss: 0.0,
            audio_since: None,
            rx_wire: None,
            rx_rate: None,
            min_delay: 0,
            playback_fill: PLAYBACK_FILL,
            pending_frames: Vec::with_capacity(MAX_FRAMES_PER_PACKET as usize),
            pending_ms: 60,
            frames_per_packet: 1,
            pacer: PlaybackPacer::new(Arc::clone(&self.audio_clock)),
        };
        self.update_min_delay(&mut st);
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut chunk = [0i16; CHUNK_SAMPLES];
        let mut next_control = start + CONTROL_INTERVAL;
        let mut next_bars = start + BARS_INTERVAL;
        let mut next_snapshot = start;
        let mut transport_failed = false;
        'run: loop {
            loop {
                match self.commands.try_recv() {
                    Ok(Command::Stop) | Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        break 'run
                    }
                    Ok(cmd) => self.handle_command(Instant::now(), cmd, &mut st),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            if !transport_failed {
                loop {
                    match self.transport.try_recv(now, &mut buf) {
                        Ok(Some(Incoming::Datagram { len, from })) => {
                            self.count_traffic(&mut st, 0, len);
                            self.session.handle_datagram(now, from, &buf[..len]);
                        }
                        Ok(Some(Incoming::Tcp { from, packet })) => {
                            self.count_traffic(&mut st, 0, packet.len());
                            self.session.handle_tcp_packet(now, from, &packet);
                        }
                        Ok(None) => break,
                        Err(_) => {
                            transport_failed = true;
                            break;
                        }
                    }
                }
            }
            self.session.handle_timeout(now);
            self.pump_capture(now, &mut chunk, &mut st);
            self.drain_events(now, &mut st);
            self.pump_playback(now, &mut chunk, &mut st);
            self.flush_transmits(&mut st);
            if now >= next_control {
                self.update_bitrate(now, &mut st);
                next_control = now + CONTROL_INTERVAL;
            }
            if now >= next_bars {
                self.update_signal_bars(&mut st);
                next_bars = now + BARS_INTERVAL;
            }
            if now >= next_snapshot {
                self.publish(&st);
                next_snapshot = now + SNAPSHOT_INTERVAL;
            }
            let now = Instant::now();
            let wake = self
                .session
                .poll_timeout()
                .map_or(MAX_SLEEP, |t| t.saturating_duration_since(now))
                .min(MAX_SLEEP);
            let queued = self.playback_capacity - self.playback.free_chunks();
            let wake = st.pacer.wake(queued, st.playback_fill, now, wake);
            if let Some(msg) = self.transport.take_proxy_failure() {
                self.session
                    .fail_transport(crate::api::CallError::Proxy, msg);
            }
            if self.session.take_proxy_udp_drop() {
                self.transport.drop_udp_proxy();
            }
            if !self.session.tcp_in_use() && self.transport.tcp_connections() > 0 {
                self.transport.close_tcp();
            }
            if transport_failed || self.transport.wait(wake).is_err() {
                std::thread::sleep(wake);
            }
        }
        self.publish(&st);
        self.shared.finished.store(true, Ordering::Release);
    }

    fn handle_command(&mut self, now: Instant, cmd: Command, st: &mut LoopState) {
        match cmd {
            Command::SetMicMute(muted) => {
                self.session.set_mic_mute(now, muted);
                if muted {
                    self.sender.reset_partial();
                }
            }
            Command::SetNetwork {
                network,
                data_saving,
            } => {
                self.network = network;
                self.local_data_saving = data_saving;
                // connectivity: a new network type is a local network change (wire.md 7.7).
                self.session.network_changed(now, data_saving);
                self.apply_limits(st);
            }
            Command::Stop => {}
        }
    }

    fn apply_limits(&mut self, st: &LoopState) {
        let limits = (self.limits)(self.network, self.local_data_saving || st.peer_data_saving);
        self.bitrate.set_limits(limits);
    }

    /// Encodes captured audio; frames are sent only once the session accepts audio. Toward a
    /// peer that takes them, 60 ms (or, to a tgvoip-rs, 120 ms) frames are gathered into
    /// packets of `frames_per_packet`, all of one duration.
    fn pump_capture(&mut self, now: Instant, chunk: &mut [i16; CHUNK_SAMPLES], st: &mut LoopState) {
        while self.capture.pop_chunk(chunk) {
            if !self.session.can_send_audio() {
                self.sender.reset_partial();
                st.pending_frames.clear();
                continue;
            }
            let frame = match self.sender.push_chunk(chunk) {
                Ok(Some(frame)) => frame,
                Ok(None) | Err(_) => continue,
            };
            let duration_ms = packet_samples(&frame.primary).map_or(60, |n| {
                (n / (crate::media::SAMPLE_RATE as usize / 1000)) as u32
            });
            if matches!(duration_ms, 60 | 120) && st.frames_per_packet > 1 {
                if duration_ms != st.pending_ms {
                    self.flush_pending_frames(now, st);
                    st.pending_ms = duration_ms;
                }
                st.pending_frames.push(frame);
                if st.pending_frames.len() >= st.frames_per_packet {
                    self.flush_pending_frames(now, st);
                }
                continue;
            }
            self.flush_pending_frames(now, st);
            if self
                .session
                .send_audio_frame(now, &frame.primary, &frame.redundancy, duration_ms)
            {
                self.preview(&frame, st);
            }
        }
    }

    /// Sends the gathered frames in one packet (one frame alone as a plain packet).
    fn flush_pending_frames(&mut self, now: Instant, st: &mut LoopState) {
        if st.pending_frames.is_empty() {
            return;
        }
        // A stack array, not a Vec: this runs once per packet.
        let mut frames: [(&[u8], &[Vec<u8>]); MAX_FRAMES_PER_PACKET as usize] =
            [(&[], &[]); MAX_FRAMES_PER_PACKET as usize];
        let n = st.pending_frames.len().min(frames.len());
        for (slot, f) in frames.iter_mut().zip(&st.pending_frames) {
            *slot = (f.primary.as_slice(), f.redundancy.as_slice());
        }
        let sent = self
            .session
            .send_audio_frames(now, &frames[..n], st.pending_ms);
        let pending = std::mem::take(&mut st.pending_frames);
        if sent {
            for frame in &pending {
                self.preview(frame, st);
            }
        }
        st.pending_frames = pending;
        st.pending_frames.clear();
    }

    /// Hands a sent frame, decoded, to the "preprocessed" sink.
    fn preview(&mut self, frame: &EncodedFrame, st: &mut LoopState) {
        if let Some(sink) = self.preprocessed.as_mut() {
            if let Ok(n) = self.sender.decode_preview(frame, &mut st.preview) {
                sink(&st.preview[..n.min(st.preview.len())]);
            }
        }
    }

    /// Keeps a small backlog of decoded chunks ready for the audio thread.
    fn pump_playback(
        &mut self,
        now: Instant,
        chunk: &mut [i16; CHUNK_SAMPLES],
        st: &mut LoopState,
    ) {
        st.pacer.top_up(
            &mut self.receiver,
            &mut self.playback,
            self.playback_capacity,
            st.playback_fill,
            now,
            chunk,
        );
    }

    fn drain_events(&mut self, now: Instant, st: &mut LoopState) {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::StateChanged(state) => {
                    self.shared.state.store(state as i32, Ordering::Release);
                    let _ = self.notices.send(Notice::State(state));
                    if state == CallState::Failed {
                        self.publish(st);
                    }
                }
                Event::AudioFrame {
                    pts,
                    data,
                    redundant,
                } => {
                    self.receiver.insert(now, pts, &data, redundant);
                }
                Event::PeerStream { extra_ec, .. } => {
                    st.peer_ec = extra_ec;
                    self.update_min_delay(st);
                }
                Event::PeerDataSaving(on) => {
                    st.peer_data_saving = on;
                    self.apply_limits(st);
                }
            }
        }
    }

    fn flush_transmits(&mut self, st: &mut LoopState) {
        let now = Instant::now();
        while let Some(t) = self.session.poll_transmit() {
            match self.transport.send(now, t.via, t.to, &t.data) {
                Ok(n) => self.count_traffic(st, n, 0),
                Err(_) => st.send_errors += 1,
            }
        }
    }

    fn count_traffic(&self, st: &mut LoopState, sent: usize, recvd: usize) {
        call_stats::count_traffic(&mut st.traffic, self.network, sent, recvd);
    }

    fn update_bitrate(&mut self, now: Instant, st: &mut LoopState) {
        let report = self.session.send_report(now);
        if st.audio_since.is_none() && self.session.can_send_audio() {
            st.audio_since = Some(now);
        }
        let young = st
            .audio_since
            .is_none_or(|t| now.saturating_duration_since(t) < SEND_LOSS_WARMUP);
        let (lost, decoded) = st.rx_counts;
        let loss_ratio = control_loss(
            report.loss_ratio,
            st.rx_raw_loss,
            young,
            self.network.is_mobile() && lost + decoded < LOSS_EVIDENCE_FRAMES,
        );
        self.update_peer_rate(now, st, loss_ratio);
        let feedback = SendFeedback {
            loss_ratio,
            rtt: report.rtt,
            inflight_bytes: report.inflight_bytes,
            base_rtt: report.base_rtt,
            recent_rtt: report.recent_rtt,
            ack_stall: report.ack_stall,
        };
        self.update_min_delay(st);
        // 20/40 ms frames only toward a tgvoip-rs peer that announced it (never toward 2.4.4).
        let short_ok = SHORT_FRAMES_ENABLED && self.session.peer_accepts_variable_frames();
        let clean_network = matches!(self.network, NetworkType::Wifi | NetworkType::Ethernet);
        self.bitrate.set_short_frames(short_ok, clean_network);
        // Several 60 ms frames per packet toward a peer that parses them (tgvoip-rs or 2.4.4).
        self.bitrate.set_multi_frame(
            MULTI_FRAME_ENABLED && self.session.peer_accepts_multi_frame(),
            self.network == NetworkType::Gprs,
        );
        // A peer that packs k frames of d ms acks every k·d ms: on average (k·d − 60)/2 ms later
        // than one sending a packet every 60 ms, which is not a queue.
        let peer_fpp = self.session.peer_frames_per_packet().max(1);
        let peer_packet_ms = peer_fpp * self.receiver.stats().frame_ms.max(20);
        self.bitrate.set_ack_delay(Duration::from_millis(u64::from(
            peer_packet_ms.saturating_sub(60) / 2,
        )));
        let settings = self.bitrate.update(now, &feedback);
        let fpp = self.bitrate.frames_per_packet().max(1) as usize;
        if fpp < st.pending_frames.len() {
            self.flush_pending_frames(now, st);
        }
        st.frames_per_packet = fpp;
        self.sender.apply(settings);
        self.sender
            .set_constant_bitrate(self.bitrate.constant_bitrate());
        self.sender.set_frame_ms(if short_ok {
            self.bitrate.frame_ms()
        } else {
            60
        });
        let ec = settings.redundancy_level > 0;
        st.extra_ec_used |= ec;
        self.session.set_extra_ec(ec);
    }

    /// Smoothed wire rate arriving from the peer and, from it, the congestion controller's
    /// floor for cuts: what the peer gets through the same (symmetric) link, scaled back up by
    /// the random loss. A queue seen in the RTT that is the peer's, not ours, then does not
    /// push our budget far under the peer's, and two senders over the link both cut to it.
    fn update_peer_rate(&mut self, now: Instant, st: &mut LoopState, loss: f64) {
        let stats = self.session.stats();
        let wire = stats.bytes_recvd + stats.datagrams_recvd * IP_UDP_HEADER_BYTES;
        if let Some((prev, at)) = st.rx_wire {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            if dt > 0.05 {
                let bps = wire.saturating_sub(prev) as f64 * 8.0 / dt;
                st.rx_rate = Some(st.rx_rate.map_or(bps, |r| r + (bps - r) * PEER_RATE_GAIN));
                st.rx_wire = Some((wire, now));
            }
        } else {
            st.rx_wire = Some((wire, now));
        }
        let floor = st
            .rx_rate
            .filter(|_| st.audio_since.is_some())
            .map(|r| r * PEER_RATE_FLOOR / (1.0 - loss.clamp(0.0, MAX_RANDOM_LOSS)));
        self.bitrate.set_cut_floor(floor);
    }

    /// Jitter-buffer minimum delay from the peer's redundancy flag and the receive loss: as low
    /// as a clean link allows, deeper when concealment needs look-ahead.
    fn update_min_delay(&mut self, st: &mut LoopState) {
        let rx = self.receiver.stats();
        let (lost, decoded) = (rx.frames_lost, rx.frames_decoded);
        let d_lost = lost.saturating_sub(st.rx_counts.0) as f64;
        let d_all = d_lost + decoded.saturating_sub(st.rx_counts.1) as f64;
        st.rx_counts = (lost, decoded);
        if d_all > 0.0 {
            st.rx_loss += (d_lost / d_all - st.rx_loss) * RX_LOSS_GAIN;
        }
        let all = (lost + decoded) as f64;
        if all >= 10.0 {
            let missing = lost + rx.recovered_redundant + rx.recovered_fec;
            st.rx_raw_loss = (missing as f64 / all).min(1.0);
        }
        let lossy = if st.min_delay > MIN_DELAY_CLEAN {
            st.rx_loss > RX_LOSS_LOW
        } else {
            st.rx_loss > RX_LOSS_HIGH
        };
        let frame_ms = rx.frame_ms.clamp(20, 60);
        // Frames the peer packs together arrive at once, and the copies of a lost packet's
        // frames come with the next packet: one more packet of delay per extra frame.
        let packed = self.session.peer_frames_per_packet().saturating_sub(1) * 60;
        let ms = if st.peer_ec {
            MIN_DELAY_PEER_EC * 60 + packed
        } else if lossy {
            MIN_DELAY * 60 + packed
        } else if packed > 0 {
            60 + packed
        } else {
            (MIN_DELAY_CLEAN * 60).min(frame_ms)
        };
        // On a mobile network the jitter of a lossy, rate-limited link shows only after a few
        // seconds, and growing the delay then means holds in the middle of speech: start
        // deep and let compression take the excess back if the link turns out clean.
        let young = st
            .audio_since
            .is_none_or(|t| Instant::now().saturating_duration_since(t) < SEND_LOSS_WARMUP);
        let ms = if young && self.network.is_mobile() {
            ms.max(MIN_DELAY_MOBILE_START)
        } else {
            ms
        };
        if ms != st.min_delay {
            st.min_delay = ms;
            self.receiver.set_min_delay_ms(ms);
        }
        st.playback_fill = if !lossy && !st.peer_ec && st.min_delay <= 60 {
            PLAYBACK_FILL_LOW
        } else {
            PLAYBACK_FILL
        };
    }

    /// Signal bars from state, send loss and receive lateness, averaged over 4 s.
    fn update_signal_bars(&mut self, st: &mut LoopState) {
        let state = self.session.state();
        if !self.session.ever_established() {
            return;
        }
        let loss = self.session.send_report(Instant::now()).loss_ratio;
        let reading = SignalBars::reading(
            state == CallState::Reconnecting,
            self.session.on_tcp_relay(),
            loss,
            &self.receiver.stats(),
        );
        if let Some(avg) = st.bars.push(reading) {
            let _ = self.notices.send(Notice::SignalBars(avg));
        }
    }

    fn publish(&self, st: &LoopState) {
        let s = &self.session;
        let eps = s.endpoints();
        let endpoints = eps
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let rtt = e.rtt().map_or(0, |r| r.as_millis() as u32);
                (e.addr.to_string(), rtt, e.id, i == eps.current())
            })
            .collect();
        let snap = Snapshot {
            session: s.stats(),
            receiver: self.receiver.stats(),
            sender: Some(self.sender.settings()),
            traffic: st.traffic,
            peer_version: s.peer_version(),
            peer_capabilities: s.peer_capabilities(),
            preferred_relay_id: s.preferred_relay_id(),
            rtt_ms: s.current_rtt().map_or(0, |r| r.as_millis() as u32),
            relay_rtt_ms: s.preferred_relay_rtt().map_or(0, |r| r.as_millis() as u32),
            ever_reconnecting: s.ever_reconnecting(),
            ever_established: s.ever_established(),
            extra_ec_used: st.extra_ec_used,
            udp_available: s.udp_available(),
            last_error: s.last_error(),
            last_error_message: s.last_error_message().map(str::to_owned),
            tcp_used: s.tcp_in_use(),
            transport: self.transport.stats(),
            signal_bars: st.bars.current(),
            send_loss: s.send_report(Instant::now()).loss_ratio,
            mtproto2: s.uses_mtproto2(),
            seqs: s.seq_summary(),
            send_errors: st.send_errors,
            endpoints,
        };
        *self.shared.snapshot.lock() = snap;
    }
}

/// The loss the bitrate controller works from: the send loss; early in a call, at least the
/// receive loss (the send loss is measured from acks with a 2 s timeout over a 5 s window, so it
/// stays near zero for the first seconds; the profiles and most radio links lose both ways
/// alike); and on a mobile network before either says anything, at least [`MOBILE_LOSS_PRIOR`],
/// so that the first seconds are protected instead of played unprotected until the loss shows.
/// The receive loss stands in only up to [`MAX_RANDOM_LOSS`]: it sizes the protection, and
/// from a handful of early frames (holds at the start count) it can read 60 %, which as a send
/// loss would mean congestion and halve the budget.
fn control_loss(send_loss: f64, rx_loss: f64, young: bool, no_evidence_on_mobile: bool) -> f64 {
    let loss = if young {
        send_loss.max(rx_loss.min(MAX_RANDOM_LOSS))
    } else {
        send_loss
    };
    if young && no_evidence_on_mobile {
        loss.max(MOBILE_LOSS_PRIOR)
    } else {
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_loss_is_backed_by_the_receive_loss_and_on_mobile_by_a_prior() {
        // Late in a call only the send loss counts.
        assert_eq!(control_loss(0.01, 0.2, false, true), 0.01);
        // Early, the receive loss stands in for a send loss not measured yet.
        assert_eq!(control_loss(0.0, 0.2, true, false), 0.2);
        // Early on a mobile network with nothing measured, the prior.
        assert_eq!(control_loss(0.0, 0.0, true, true), MOBILE_LOSS_PRIOR);
        assert_eq!(control_loss(0.0, 0.0, true, false), 0.0);
        assert_eq!(control_loss(0.3, 0.0, true, true), 0.3);
        // A receive loss high enough to read as congestion stands in only as random loss; a
        // send loss that high is congestion.
        assert_eq!(control_loss(0.0, 0.6, true, false), MAX_RANDOM_LOSS);
        assert_eq!(control_loss(0.6, 0.0, true, false), 0.6);
    }
}
