//! `tgvoip-call`: one side of a call from the command line, with the arguments and output of the
//! Telegram VoIP test suite's `tgvoipcall`. It sends a raw PCM file (s16le, 48 kHz, mono) as its
//! microphone, records what it hears, and prints the debug log and timestamps.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tgvoip::audio::{chunk_ring, AudioIo, ChunkConsumer, ChunkProducer, CHUNK_SAMPLES};
use tgvoip::{CallState, Config, Controller, DataSaving, Endpoint, EndpointType, NetworkType};

const USAGE: &str =
    "usage: tgvoip-call HOST:PORT TAGHEX -k KEYHEX -i IN.pcm -o OUT.pcm [-p PRE.pcm]
       [-c SERVER_CONFIG.json] [-r caller|callee] [-t NETTYPE 0..11] [-s never|mobile|always]
       [-n yes|no] [-g yes|no] [--drain SECS] [--init-timeout SECS] [--mute-at SECS:SECS]
       [--relay HOST:PORT]... [--p2p yes|no] [--bind IP] [--tcp yes|no]
       [--proxy [USER:PASS@]HOST:PORT] [--relay-ipv6 IPV6]
       tgvoip-call --protocol 9.0.0|8.0.0 --signaling-fds R,W -k KEYHEX -i IN.pcm -o OUT.pcm [...]

Makes one side of a call through the relay at HOST:PORT using the 16-byte peer tag TAGHEX and the
256-byte key KEYHEX (hex). IN.pcm (s16le, 48 kHz, mono) is sent as the microphone once the call is
established; what is heard goes to OUT.pcm, and the outgoing audio as the peer will hear it to
PRE.pcm. -n / -g: noise suppression / gain control (accepted; no DSP in this build).
--relay adds relays (ids 2, 3, ... after the first one's 1, same tag); --p2p allows a direct
path; --bind binds the call socket to IP (e.g. 127.0.0.1, which also becomes the LAN address).
--tcp yes makes every relay a TCP relay; --proxy goes through a SOCKS5 proxy; --relay-ipv6
gives the first relay (when it is IPv4) this IPv6 address as well, as signalling can.
--protocol 9.0.0 or 8.0.0 makes a tgcalls call (no relay or tag): its signaling is read from file
descriptor R and written to W as frames of `u32 big-endian length || bytes`; media goes P2P
over the host's non-loopback interfaces (or --bind IP). --protocol 2.4.4 is the default.
Exits 0 only if audio was received.";

/// Command-line options.
struct Args {
    relay: SocketAddr,
    tag: [u8; 16],
    key: Vec<u8>,
    input: PathBuf,
    output: PathBuf,
    pre: Option<PathBuf>,
    server_config: Option<PathBuf>,
    caller: bool,
    network: NetworkType,
    data_saving: DataSaving,
    ns: bool,
    agc: bool,
    drain: Duration,
    init_timeout: Duration,
    mute: Option<(Duration, Duration)>,
    /// More relays (ids 2, 3, ...), same tag.
    extra_relays: Vec<SocketAddr>,
    allow_p2p: bool,
    bind: Option<std::net::IpAddr>,
    tcp: bool,
    proxy: Option<tgvoip::net::ProxyConfig>,
    relay_ipv6: Option<std::net::Ipv6Addr>,
    /// Protocol version ("2.4.4" unless --protocol).
    protocol: String,
    /// File descriptors carrying tgcalls signaling in and out.
    signaling_fds: Option<(i32, i32)>,
}

/// Parses `[USER:PASS@]HOST:PORT`.
fn parse_proxy(v: &str) -> Result<tgvoip::net::ProxyConfig, String> {
    let (cred, host) = match v.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, v),
    };
    let (user, pass) = match cred {
        Some(c) => c
            .split_once(':')
            .ok_or("--proxy credentials are USER:PASS")?,
        None => ("", ""),
    };
    let addr = host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("bad proxy address {host:?}"))?;
    Ok(tgvoip::net::ProxyConfig {
        addr,
        user: user.to_owned(),
        pass: pass.to_owned(),
    })
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

fn yes_no(v: &str) -> Result<bool, String> {
    match v {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("expected yes or no, got {v:?}")),
    }
}

fn secs(v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("bad number of seconds {v:?}"))
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut opts: Vec<(String, String)> = Vec::new();
    while let Some(a) = argv.next() {
        if a.starts_with('-') && a.len() > 1 {
            let v = argv.next().ok_or_else(|| format!("{a} needs a value"))?;
            opts.push((a, v));
        } else {
            positional.push(a);
        }
    }
    let tgcalls = opts
        .iter()
        .any(|(k, v)| k == "--protocol" && v.as_str() != "2.4.4");
    let fallback = ["0.0.0.0:0".to_owned(), "00".repeat(16)];
    let [host, tag] = (if tgcalls && positional.is_empty() {
        &fallback[..]
    } else {
        positional.as_slice()
    }) else {
        return Err("expected HOST:PORT and TAGHEX".into());
    };
    let relay = host
        .to_socket_addrs()
        .map_err(|e| format!("bad relay address {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("relay address {host:?} did not resolve"))?;
    let tag: [u8; 16] = parse_hex(tag)
        .and_then(|t| t.try_into().ok())
        .ok_or("TAGHEX must be 32 hex digits")?;
    let mut args = Args {
        relay,
        tag,
        key: Vec::new(),
        input: PathBuf::new(),
        output: PathBuf::new(),
        pre: None,
        server_config: None,
        caller: true,
        network: NetworkType::Wifi,
        data_saving: DataSaving::Never,
        ns: false,
        agc: false,
        drain: Duration::from_secs(3),
        init_timeout: Duration::from_secs(10),
        mute: None,
        extra_relays: Vec::new(),
        allow_p2p: false,
        bind: None,
        tcp: false,
        proxy: None,
        relay_ipv6: None,
        protocol: "2.4.4".into(),
        signaling_fds: None,
    };
    for (k, v) in opts {
        match k.as_str() {
            "-k" => args.key = parse_hex(&v).ok_or("KEYHEX is not hex")?,
            "-i" => args.input = v.into(),
            "-o" => args.output = v.into(),
            "-p" => args.pre = Some(v.into()),
            "-c" => args.server_config = Some(v.into()),
            "-r" => {
                args.caller = match v.as_str() {
                    "caller" => true,
                    "callee" => false,
                    _ => return Err(format!("-r takes caller or callee, not {v:?}")),
                }
            }
            "-t" => {
                args.network = v
                    .parse()
                    .ok()
                    .and_then(NetworkType::from_i32)
                    .ok_or_else(|| format!("-t takes a network type 0..11, not {v:?}"))?
            }
            "-s" => {
                args.data_saving = match v.as_str() {
                    "never" => DataSaving::Never,
                    "mobile" => DataSaving::Mobile,
                    "always" => DataSaving::Always,
                    _ => return Err(format!("-s takes never, mobile or always, not {v:?}")),
                }
            }
            "-n" => args.ns = yes_no(&v)?,
            "-g" => args.agc = yes_no(&v)?,
            "--drain" => args.drain = secs(&v)?,
            "--init-timeout" => args.init_timeout = secs(&v)?,
            "--mute-at" => {
                let (a, b) = v.split_once(':').ok_or("--mute-at takes FROM:TO seconds")?;
                args.mute = Some((secs(a)?, secs(b)?));
            }
            "--relay" => args.extra_relays.push(
                v.to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| format!("bad relay address {v:?}"))?,
            ),
            "--p2p" => args.allow_p2p = yes_no(&v)?,
            "--tcp" => args.tcp = yes_no(&v)?,
            "--proxy" => args.proxy = Some(parse_proxy(&v)?),
            "--relay-ipv6" => {
                args.relay_ipv6 = Some(v.parse().map_err(|_| format!("bad IPv6 address {v:?}"))?)
            }
            "--protocol" => {
                if tgvoip::session::tgcalls::Protocol::from_version(&v).is_none() {
                    return Err(format!("unsupported --protocol {v:?}"));
                }
                args.protocol = v
            }
            "--signaling-fds" => {
                let (r, w) = v
                    .split_once(',')
                    .and_then(|(r, w)| Some((r.parse().ok()?, w.parse().ok()?)))
                    .filter(|&(r, w): &(i32, i32)| r > 2 && w > 2)
                    .ok_or("--signaling-fds takes R,W (file descriptors above 2)")?;
                args.signaling_fds = Some((r, w))
            }
            "--bind" => args.bind = Some(v.parse().map_err(|_| format!("bad bind address {v:?}"))?),
            _ => return Err(format!("unknown option {k}")),
        }
    }
    if args.key.len() != 256 {
        return Err(format!(
            "-k must be a 256-byte key (512 hex digits), got {} bytes",
            args.key.len()
        ));
    }
    if args.input.as_os_str().is_empty() || args.output.as_os_str().is_empty() {
        return Err("-i and -o are required".into());
    }
    if tgcalls && args.signaling_fds.is_none() {
        return Err("--protocol 9.0.0/8.0.0 needs --signaling-fds R,W".into());
    }
    Ok(args)
}

/// User plus system CPU time of this process, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zero-initialised struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return 0.0;
        }
        u
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Microseconds since the Unix epoch.
fn epoch_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// When audio was first and last read from IN and written to OUT (µs since the epoch; 0 = never).
#[derive(Default)]
struct Timestamps {
    first_read: AtomicU64,
    last_read: AtomicU64,
    first_write: AtomicU64,
    last_write: AtomicU64,
}

fn stamp(first: &AtomicU64, last: &AtomicU64) {
    let now = epoch_us();
    let _ = first.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    last.store(now, Ordering::Relaxed);
}

/// File-backed audio: plays IN as the microphone and hands what is heard to the main thread
/// through a chunk ring, so the real-time thread neither allocates nor does file I/O.
struct FileIo {
    input: Vec<i16>,
    pos: usize,
    /// Set once the call is established: reading IN starts then.
    sending: Arc<AtomicBool>,
    /// Set when IN is exhausted.
    input_done: Arc<AtomicBool>,
    output: ChunkProducer,
    stamps: Arc<Timestamps>,
}

impl AudioIo for FileIo {
    fn capture(&mut self, out: &mut [i16]) {
        if !self.sending.load(Ordering::Acquire) || self.pos >= self.input.len() {
            return;
        }
        let n = out.len().min(self.input.len() - self.pos);
        out[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        stamp(&self.stamps.first_read, &self.stamps.last_read);
        if self.pos >= self.input.len() {
            self.input_done.store(true, Ordering::Release);
        }
    }

    fn playback(&mut self, pcm: &[i16]) {
        if self.output.push_chunk(pcm) {
            stamp(&self.stamps.first_write, &self.stamps.last_write);
        }
    }
}

/// Moves every chunk the audio thread has played into `heard`.
fn drain(rx: &mut ChunkConsumer, heard: &mut Vec<i16>) {
    let mut chunk = [0i16; CHUNK_SAMPLES];
    while rx.pop_chunk(&mut chunk) {
        heard.extend_from_slice(&chunk);
    }
}

fn read_pcm(path: &PathBuf) -> Result<Vec<i16>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect())
}

fn write_pcm(path: &PathBuf, samples: &[i16]) -> Result<(), String> {
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Wires tgcalls signaling to two inherited file descriptors: frames read from `r` go to the
/// controller (a reader thread), frames the controller emits are written to `w`.
fn signaling_pipe(ctl: &Arc<Controller>, r: i32, w: i32) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    // SAFETY: the descriptors were passed to us for this purpose (--signaling-fds) and are owned
    // by these two File values from here on.
    let (mut input, mut output) =
        unsafe { (std::fs::File::from_raw_fd(r), std::fs::File::from_raw_fd(w)) };
    ctl.set_signaling_callback(Box::new(move |data| {
        let mut frame = (data.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(data);
        let _ = output.write_all(&frame).and_then(|_| output.flush());
    }));
    let weak = Arc::downgrade(ctl);
    std::thread::Builder::new()
        .name("signaling-in".into())
        .spawn(move || {
            let mut head = [0u8; 4];
            while input.read_exact(&mut head).is_ok() {
                let n = u32::from_be_bytes(head) as usize;
                if n == 0 || n > 1 << 20 {
                    break;
                }
                let mut data = vec![0u8; n];
                if input.read_exact(&mut data).is_err() {
                    break;
                }
                let Some(ctl) = weak.upgrade() else { break };
                if let Err(e) = ctl.receive_signaling_data(&data) {
                    eprintln!("tgvoip-call: signaling input refused: {e}");
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tgvoip-call: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tgvoip-call: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<bool, String> {
    let init_us = epoch_us();
    if let Some(path) = &args.server_config {
        let json = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        tgvoip::server_config::update(&json).map_err(|e| e.to_string())?;
    }
    let input = read_pcm(&args.input)?;
    let sending = Arc::new(AtomicBool::new(false));
    let input_done = Arc::new(AtomicBool::new(false));
    let stamps = Arc::new(Timestamps::default());
    // Ten seconds of slack between the audio thread and the main loop that drains it.
    let (out_tx, mut out_rx) = chunk_ring(500);
    let mut heard: Vec<i16> = Vec::new();
    let io = FileIo {
        input,
        pos: 0,
        sending: sending.clone(),
        input_done: input_done.clone(),
        output: out_tx,
        stamps: stamps.clone(),
    };

    let pre = Arc::new(tgvoip::sync::Mutex::new(Vec::<i16>::new()));
    let ctl = Arc::new(Controller::new());
    ctl.set_config(Config {
        init_timeout: args.init_timeout,
        recv_timeout: Duration::from_secs(10),
        data_saving: args.data_saving,
        enable_ns: args.ns,
        enable_agc: args.agc,
        ..Config::default()
    });
    ctl.set_network_type(args.network);
    ctl.set_encryption_key(&args.key, args.caller)
        .map_err(|e| e.to_string())?;
    ctl.set_protocol_version(&args.protocol)
        .map_err(|e| e.to_string())?;
    if let Some((r, w)) = args.signaling_fds {
        signaling_pipe(&ctl, r, w)?;
    }
    let relays = std::iter::once(args.relay).chain(args.extra_relays.iter().copied());
    let endpoints = relays
        .enumerate()
        .map(|(i, relay)| {
            let (ipv4, ipv6) = match relay.ip() {
                std::net::IpAddr::V4(v4) if i == 0 => (Some(v4), args.relay_ipv6),
                std::net::IpAddr::V4(v4) => (Some(v4), None),
                std::net::IpAddr::V6(v6) => (None, Some(v6)),
            };
            Endpoint {
                id: i as i64 + 1,
                ipv4,
                ipv6,
                port: relay.port(),
                kind: if args.tcp {
                    EndpointType::TcpRelay
                } else {
                    EndpointType::UdpRelay
                },
                peer_tag: args.tag,
            }
        })
        .collect();
    if args.signaling_fds.is_none() {
        ctl.set_remote_endpoints(
            endpoints,
            args.allow_p2p,
            Controller::connection_max_layer(),
        )
        .map_err(|e| e.to_string())?;
    }
    if let Some(ip) = args.bind {
        ctl.set_bind_address(ip);
    }
    ctl.set_proxy(args.proxy.clone())
        .map_err(|e| e.to_string())?;
    ctl.set_audio_io(Box::new(io));
    let pre_sink = pre.clone();
    ctl.set_preprocessed_callback(Box::new(move |pcm| pre_sink.lock().extend_from_slice(pcm)));
    let t0 = Instant::now();
    let sending_cb = sending.clone();
    ctl.set_state_callback(Box::new(move |state| {
        eprintln!(
            "tgvoip-call: {:.3} state {}",
            t0.elapsed().as_secs_f64(),
            state.name()
        );
        if state == CallState::Established {
            sending_cb.store(true, Ordering::Release);
        }
    }));
    ctl.set_signal_bars_callback(Box::new(move |bars| {
        eprintln!("tgvoip-call: {:.3} bars {bars}", t0.elapsed().as_secs_f64());
    }));
    ctl.start().map_err(|e| e.to_string())?;
    ctl.connect().map_err(|e| e.to_string())?;

    let mut muted = false;
    let mut peer_muted = None;
    let mut established_at: Option<Instant> = None;
    let mut done_at: Option<Instant> = None;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        drain(&mut out_rx, &mut heard);
        let state = ctl.state();
        if state == CallState::Failed {
            eprintln!(
                "tgvoip-call: {:.3} call failed: {:?}{}",
                t0.elapsed().as_secs_f64(),
                ctl.last_error(),
                ctl.last_error_message()
                    .map_or(String::new(), |m| format!(" ({m})"))
            );
            break;
        }
        if state == CallState::Established && established_at.is_none() {
            established_at = Some(Instant::now());
        }
        if let (Some((from, to)), Some(est)) = (args.mute, established_at) {
            let since = est.elapsed();
            let want = since >= from && since < to;
            if want != muted {
                muted = want;
                ctl.set_mic_mute(muted);
                eprintln!(
                    "tgvoip-call: {:.3} mic {}",
                    t0.elapsed().as_secs_f64(),
                    if muted { "muted" } else { "unmuted" }
                );
            }
        }
        let now_peer_muted = ctl.remote_mic_muted();
        if now_peer_muted != peer_muted {
            peer_muted = now_peer_muted;
            if let Some(m) = peer_muted {
                eprintln!(
                    "tgvoip-call: {:.3} peer mic {}",
                    t0.elapsed().as_secs_f64(),
                    if m { "muted" } else { "unmuted" }
                );
            }
        }
        if input_done.load(Ordering::Acquire) && done_at.is_none() {
            done_at = Some(Instant::now());
        }
        if done_at.is_some_and(|d| d.elapsed() >= args.drain) {
            break;
        }
        if established_at.is_none() && t0.elapsed() > args.init_timeout + Duration::from_secs(1) {
            eprintln!("tgvoip-call: not established within the init timeout");
            break;
        }
    }
    if args.signaling_fds.is_some() {
        let (sent, recvd) = ctl.rtp_packet_counts();
        eprintln!(
            "tgvoip-call: tgcalls {}: media connected after {:?} ms, rtp sent {sent} received {recvd}, peer muted {:?}",
            ctl.protocol_version(),
            ctl.media_connect_time_ms(),
            ctl.remote_mic_muted()
        );
    }
    let snapshot = ctl.snapshot();
    let mut log: serde_json::Value =
        serde_json::from_str(&ctl.debug_log()).map_err(|e| e.to_string())?;
    let traffic = snapshot.traffic;
    log["bytes_sent"] = (traffic.bytes_sent_wifi + traffic.bytes_sent_mobile).into();
    log["bytes_recvd"] = (traffic.bytes_recvd_wifi + traffic.bytes_recvd_mobile).into();
    let t = snapshot.transport;
    eprintln!(
        "tgvoip-call: transport tcp_connects {}, tcp_packets_in {}, tcp_packets_out {}, proxied_datagrams_out {}",
        t.tcp_connects, t.tcp_packets_in, t.tcp_packets_out, t.proxied_datagrams_out
    );
    let (ticks, overruns, underruns) = ctl.audio_counters();
    eprintln!(
        "tgvoip-call: audio ticks {ticks}, capture overruns {overruns}, playback underruns {underruns}; \
         received {} frames, lost {}, late {}, fec {}, redundant {}; drops {:?}",
        snapshot.receiver.frames_decoded,
        snapshot.receiver.frames_lost,
        snapshot.receiver.frames_late,
        snapshot.receiver.recovered_fec,
        snapshot.receiver.recovered_redundant,
        snapshot.session.drops
    );
    eprintln!(
        "tgvoip-call: sent {} audio frames in {} packets",
        snapshot.session.audio_frames_sent, snapshot.session.audio_packets_sent
    );
    eprintln!(
        "tgvoip-call: jitter target {} ms, buffered {} ms, jitter {:.1} ms, peer frames {} ms, \
         compressed {} ms, held {} ms",
        snapshot.receiver.target_delay_ms,
        snapshot.receiver.buffered_ms,
        snapshot.receiver.jitter_ms,
        snapshot.receiver.frame_ms,
        snapshot.receiver.compressed_ms,
        snapshot.receiver.held_ms
    );
    ctl.stop().map_err(|e| e.to_string())?;
    eprintln!(
        "tgvoip-call: cpu {:.3} s over {:.3} s",
        cpu_seconds(),
        t0.elapsed().as_secs_f64()
    );
    drain(&mut out_rx, &mut heard);
    write_pcm(&args.output, &heard)?;
    if let Some(path) = &args.pre {
        write_pcm(path, &pre.lock())?;
    }
    println!("{}", tgvoip::controller::json11(&log));
    println!(
        "TIMESTAMPS: {},{},{},{},{}",
        init_us,
        stamps.first_read.load(Ordering::Relaxed),
        stamps.last_read.load(Ordering::Relaxed),
        stamps.first_write.load(Ordering::Relaxed),
        stamps.last_write.load(Ordering::Relaxed)
    );
    Ok(snapshot.receiver.frames_decoded > 0)
}
