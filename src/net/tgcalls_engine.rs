//! The engine thread of a tgcalls 8.0.0 / 9.0.0 call: it owns one UDP socket per interface
//! address, the sans-IO [`TgcallsCall`] (signaling + WebRTC transport), and the same media
//! pipeline and audio rings as the 2.4.4 engine ([`super::engine`]).

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::api::{CallError, CallState, NetworkType, TrafficStats};
use crate::audio::{AudioShared, ChunkConsumer, ChunkProducer, CHUNK_SAMPLES};
use crate::media::{AudioReceiver, AudioSender, BitrateController, SendFeedback};
use crate::session::tgcalls::{CallEvent, TgcallsCall};

use super::call_stats::{count_traffic, PlaybackPacer, SignalBars};
use super::engine::{EngineShared, LimitsFn, Notice, PreprocessedSink, Snapshot};
use super::udp::RECV_BUFFER;

/// Longest the engine sleeps, so audio rings are serviced at least this often.
const MAX_SLEEP: Duration = Duration::from_millis(10);
/// Chunks kept queued for the audio thread to play (40 ms).
const PLAYBACK_FILL: usize = 2;
/// How often bitrate decisions are made.
const CONTROL_INTERVAL: Duration = Duration::from_millis(300);
/// How often signal bars and the snapshot are refreshed.
const BARS_INTERVAL: Duration = Duration::from_secs(1);
const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(100);
/// Jitter-buffer minimum delay: tgcalls peers send 20 ms frames; 60 ms keeps one frame of
/// look-ahead for in-band FEC.
const MIN_DELAY_MS: u32 = 60;

/// A request from the controller to a tgcalls engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TgcallsCommand {
    /// Mute or unmute the microphone (the peer is told over the data channel).
    SetMicMute(bool),
    /// New network type and whether data saving is on.
    SetNetwork {
        /// The new network type.
        network: NetworkType,
        /// Whether data saving is on.
        data_saving: bool,
    },
    /// Signaling bytes from the peer (`updatePhoneCallSignalingData`).
    Signaling(Vec<u8>),
    /// End the call (TURN released, WebRTC closed).
    Stop,
}

/// What the controller reads about a tgcalls call beyond the common [`Snapshot`].
#[derive(Debug, Default)]
pub struct TgcallsShared {
    /// The peer's last `MediaState.muted`.
    pub remote_muted: AtomicBool,
    /// Set once a `MediaState` came from the peer.
    pub remote_media_state_seen: AtomicBool,
    /// Milliseconds from start to ICE+DTLS connected (0 until then).
    pub connect_ms: AtomicU64,
    /// RTP audio packets sent.
    pub packets_sent: AtomicU64,
    /// RTP audio packets received (from the negotiated SSRC).
    pub packets_received: AtomicU64,
}

/// Everything the tgcalls engine thread owns.
pub struct TgcallsEngine {
    /// Signaling and WebRTC transport (host candidates already added).
    pub call: TgcallsCall,
    /// Bound UDP sockets and their local addresses (one per host candidate).
    pub sockets: Vec<(UdpSocket, SocketAddr)>,
    /// Microphone chunks from the audio thread.
    pub capture: ChunkConsumer,
    /// Decoded chunks for the audio thread, and the ring's size in chunks.
    pub playback: ChunkProducer,
    pub playback_capacity: usize,
    /// Opus encoder side (60 ms frames, in-band FEC).
    pub sender: AudioSender,
    /// Jitter buffer, decoder and loss concealment.
    pub receiver: AudioReceiver,
    /// Bitrate decisions from RTCP loss and RTT, within `limits`.
    pub bitrate: BitrateController,
    pub limits: LimitsFn,
    /// Network type and data saving (bitrate limits, traffic accounting).
    pub network: NetworkType,
    pub data_saving: bool,
    /// Requests from the controller.
    pub commands: Receiver<TgcallsCommand>,
    /// State and signal-bar changes for the callback thread.
    pub notices: Sender<Notice>,
    /// Outgoing signaling, delivered to the application on the callback thread.
    pub signaling_out: Sender<Vec<u8>>,
    /// What the controller reads: the common snapshot and the tgcalls extras.
    pub shared: Arc<EngineShared>,
    pub tg_shared: Arc<TgcallsShared>,
    /// Receives the outgoing audio as the peer will hear it.
    pub preprocessed: Option<PreprocessedSink>,
    /// The audio thread's tick clock (see `call_stats::PlaybackPacer`).
    pub audio_clock: Arc<AudioShared>,
    /// Start muted.
    pub mic_muted: bool,
}

/// Opens one non-blocking UDP socket on an ephemeral port per address.
pub fn open_sockets(ips: &[std::net::IpAddr]) -> Vec<(UdpSocket, SocketAddr)> {
    ips.iter()
        .filter_map(|ip| {
            let s = UdpSocket::bind(SocketAddr::new(*ip, 0)).ok()?;
            s.set_nonblocking(true).ok()?;
            let addr = s.local_addr().ok()?;
            Some((s, addr))
        })
        .collect()
}

struct LoopState {
    traffic: TrafficStats,
    send_errors: u64,
    bars: SignalBars,
    preview: Vec<i16>,
    last_error: Option<CallError>,
}

impl TgcallsEngine {
    /// Runs the call until [`TgcallsCommand::Stop`] (or the controller goes away).
    pub fn run(mut self) {
        let start = Instant::now();
        self.receiver.set_min_delay_ms(MIN_DELAY_MS);
        if self.mic_muted {
            self.call.set_muted(start, true);
        }
        self.call.start(start);
        let mut st = LoopState {
            traffic: TrafficStats::default(),
            send_errors: 0,
            bars: SignalBars::new(),
            preview: vec![0; crate::media::FRAME_SAMPLES * 2],
            last_error: None,
        };
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut chunk = [0i16; CHUNK_SAMPLES];
        let mut next_control = start + CONTROL_INTERVAL;
        let mut next_bars = start + BARS_INTERVAL;
        let mut next_snapshot = start;
        let mut pacer = PlaybackPacer::new(Arc::clone(&self.audio_clock));
        'run: loop {
            loop {
                match self.commands.try_recv() {
                    Ok(TgcallsCommand::Stop)
                    | Err(crossbeam_channel::TryRecvError::Disconnected) => break 'run,
                    Ok(cmd) => self.handle_command(Instant::now(), cmd),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            self.receive(now, &mut buf, &mut st);
            self.call.handle_timeout(now);
            self.pump_capture(now, &mut chunk, &mut st);
            self.drain_events(now, &mut st);
            pacer.top_up(
                &mut self.receiver,
                &mut self.playback,
                self.playback_capacity,
                PLAYBACK_FILL,
                now,
                &mut chunk,
            );
            self.flush(now, &mut st);
            if now >= next_control {
                self.update_bitrate(now);
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
                .call
                .poll_timeout()
                .map_or(MAX_SLEEP, |t| t.saturating_duration_since(now))
                .min(MAX_SLEEP);
            let queued = self.playback_capacity - self.playback.free_chunks();
            let wake = pacer.wake(queued, PLAYBACK_FILL, now, wake);
            self.wait_readable(wake);
        }
        let now = Instant::now();
        self.call.close(now);
        self.flush(now, &mut st);
        self.publish(&st);
        self.shared.finished.store(true, Ordering::Release);
    }

    fn handle_command(&mut self, now: Instant, cmd: TgcallsCommand) {
        match cmd {
            TgcallsCommand::SetMicMute(muted) => {
                self.call.set_muted(now, muted);
                if muted {
                    self.sender.reset_partial();
                }
            }
            TgcallsCommand::SetNetwork {
                network,
                data_saving,
            } => {
                self.network = network;
                self.data_saving = data_saving;
                self.bitrate
                    .set_limits((self.limits)(self.network, self.data_saving));
            }
            TgcallsCommand::Signaling(data) => self.call.handle_signaling(now, &data),
            TgcallsCommand::Stop => {}
        }
    }

    fn receive(&mut self, now: Instant, buf: &mut [u8], st: &mut LoopState) {
        for i in 0..self.sockets.len() {
            loop {
                let (sock, local) = &self.sockets[i];
                let local = *local;
                match sock.recv_from(buf) {
                    Ok((n, from)) => {
                        count_traffic(&mut st.traffic, self.network, 0, n);
                        self.call.handle_datagram(now, from, local, &buf[..n]);
                    }
                    Err(_) => break,
                }
            }
        }
    }

    fn flush(&mut self, now: Instant, st: &mut LoopState) {
        while let Some(t) = self.call.poll_transmit() {
            let sock = self
                .sockets
                .iter()
                .find(|(_, a)| *a == t.source)
                .or_else(|| self.sockets.first());
            match sock.map(|(s, _)| s.send_to(&t.data, t.destination)) {
                Some(Ok(n)) => count_traffic(&mut st.traffic, self.network, n, 0),
                _ => st.send_errors += 1,
            }
        }
        while let Some(data) = self.call.poll_signaling(now) {
            let _ = self.signaling_out.send(data);
        }
    }

    fn wait_readable(&self, timeout: Duration) {
        let mut fds: Vec<libc::pollfd> = self
            .sockets
            .iter()
            .map(|(s, _)| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        if fds.is_empty() || super::udp::poll_fds(&mut fds, timeout).is_err() {
            std::thread::sleep(timeout);
        }
    }

    /// Encodes captured audio; frames are sent only once the call carries audio.
    fn pump_capture(&mut self, now: Instant, chunk: &mut [i16; CHUNK_SAMPLES], st: &mut LoopState) {
        while self.capture.pop_chunk(chunk) {
            if !self.call.can_send_audio() || self.call.is_muted() {
                self.sender.reset_partial();
                continue;
            }
            let frame = match self.sender.push_chunk(chunk) {
                Ok(Some(frame)) => frame,
                Ok(None) | Err(_) => continue,
            };
            if self.call.send_audio(now, &frame.primary) {
                if let Some(sink) = self.preprocessed.as_mut() {
                    if let Ok(n) = self.sender.decode_preview(&frame, &mut st.preview) {
                        sink(&st.preview[..n.min(st.preview.len())]);
                    }
                }
            }
        }
    }

    fn drain_events(&mut self, now: Instant, st: &mut LoopState) {
        while let Some(ev) = self.call.poll_event() {
            match ev {
                CallEvent::State(state) => {
                    self.shared.state.store(state as i32, Ordering::Release);
                    if state == CallState::Failed {
                        st.last_error = Some(CallError::Timeout);
                    }
                    // Readers see the stats of the new state before its callback runs.
                    self.publish(st);
                    let _ = self.notices.send(Notice::State(state));
                }
                CallEvent::AudioFrame { pts_ms, data } => {
                    self.receiver.insert(now, pts_ms, &data, false);
                }
                CallEvent::RemoteMediaState(s) => {
                    self.tg_shared
                        .remote_muted
                        .store(s.muted, Ordering::Release);
                    self.tg_shared
                        .remote_media_state_seen
                        .store(true, Ordering::Release);
                }
                CallEvent::Log(_) => {}
            }
        }
    }

    fn update_bitrate(&mut self, now: Instant) {
        let stats = self.call.stats();
        let feedback = SendFeedback {
            loss_ratio: stats.send_loss,
            rtt: stats.rtt,
            inflight_bytes: 0,
            base_rtt: None,
            recent_rtt: None,
            ack_stall: None,
        };
        let mut settings = self.bitrate.update(now, &feedback);
        // No RED is negotiated with tgcalls peers: in-band FEC only.
        settings.redundancy_level = 0;
        self.sender.apply(settings);
        self.sender.set_frame_ms(60);
    }

    /// Signal bars from state, RTCP loss and receive loss (as the 2.4.4 engine).
    fn update_signal_bars(&mut self, st: &mut LoopState) {
        if self.call.stats().connect_time.is_none() {
            return;
        }
        let reconnecting = self.call.state() == CallState::Reconnecting;
        let reading = SignalBars::reading(
            reconnecting,
            false,
            self.call.stats().send_loss,
            &self.receiver.stats(),
        );
        if let Some(bars) = st.bars.push(reading) {
            let _ = self.notices.send(Notice::SignalBars(bars));
        }
    }

    fn publish(&self, st: &LoopState) {
        let stats = self.call.stats();
        let established = stats.connect_time.is_some();
        if let Some(t) = stats.connect_time {
            self.tg_shared
                .connect_ms
                .store(t.as_millis().max(1) as u64, Ordering::Release);
        }
        self.tg_shared
            .packets_sent
            .store(stats.packets_sent, Ordering::Release);
        self.tg_shared
            .packets_received
            .store(stats.packets_received, Ordering::Release);
        let rtt_ms = stats.rtt.map_or(0, |r| r.as_millis() as u32);
        // The pair in use, as 2.4.4 lists endpoints: a direct pair is P2P ("inet"), a pair
        // through TURN a relay ("none").
        let endpoints = stats
            .selected_pair
            .map(|(_, remote)| {
                let id = if stats.via_relay {
                    0
                } else {
                    crate::session::P2P_INET_ID
                };
                vec![(remote.to_string(), rtt_ms, id, true)]
            })
            .unwrap_or_default();
        let session = crate::session::SessionStats {
            packets_sent: stats.packets_sent,
            packets_recvd: stats.packets_received,
            next_seq: (stats.packets_sent as u32).wrapping_add(1),
            audio_frames_sent: stats.packets_sent,
            audio_packets_sent: stats.packets_sent,
            audio_frames_recvd: stats.packets_received,
            lost_out: (stats.send_loss * stats.packets_sent as f64) as u64,
            ..Default::default()
        };
        let snap = Snapshot {
            session,
            receiver: self.receiver.stats(),
            sender: Some(self.sender.settings()),
            traffic: st.traffic,
            rtt_ms,
            ever_established: established,
            ever_reconnecting: false,
            udp_available: true,
            last_error: st.last_error,
            signal_bars: st.bars.current(),
            send_loss: stats.send_loss,
            send_errors: st.send_errors,
            endpoints,
            ..Snapshot::default()
        };
        *self.shared.snapshot.lock() = snap;
    }
}
