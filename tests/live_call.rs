//! A real call between two in-process controllers over loopback UDP, through a relay that attacks
//! the caller with random, truncated, tampered and replayed datagrams. The call must go on, the
//! drops must be counted, and the real-time audio threads must never allocate or lock.

mod rt_counting;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rt_counting::{counters, CountingAlloc};
use tgvoip::audio::AudioIo;
use tgvoip::{CallState, Controller, Endpoint, EndpointType};

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// What the attacking relay injected towards the caller.
#[derive(Default)]
struct Injected {
    random: AtomicU64,
    truncated: AtomicU64,
    tampered: AtomicU64,
    replayed: AtomicU64,
    foreign: AtomicU64,
}

/// A relay on 127.0.0.1 that pairs tags differing in bit 0 of byte 15 and, when `attack` is set,
/// sends the caller (bit 0 clear) hostile datagrams next to every genuine one.
struct HostileRelay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    injected: Arc<Injected>,
    handle: Option<JoinHandle<()>>,
}

impl HostileRelay {
    fn start(attack: bool) -> HostileRelay {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let foreign = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let injected = Arc::new(Injected::default());
        let (stop2, inj) = (stop.clone(), injected.clone());
        let handle = std::thread::spawn(move || {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            let mut sides: [Option<SocketAddr>; 2] = [None, None];
            let mut last_to_caller: Vec<u8> = Vec::new();
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if n < 32 {
                    continue;
                }
                let data = &buf[..n];
                let side = usize::from(data[15] & 1);
                sides[side] = Some(from);
                if let Ok((tag, tgvoip::wire::RelayMessage::SelfInfoRequest { query_id })) =
                    tgvoip::wire::relay::parse(data)
                {
                    let mut out = Vec::new();
                    tgvoip::wire::relay::write_self_info_response(
                        &tag, 0, query_id, [0; 16], 0, &mut out,
                    );
                    let _ = socket.send_to(&out, from);
                    continue;
                }
                let Some(dest) = sides[1 - side] else {
                    continue;
                };
                let mut fwd = data.to_vec();
                fwd[15] ^= 1;
                let _ = socket.send_to(&fwd, dest);
                if !attack || side != 1 {
                    continue;
                }
                // Towards the caller: hostile traffic around every genuine datagram.
                let tag = &fwd[..16];
                let mut junk: Vec<u8> = (0..rng.gen_range(0..1600)).map(|_| rng.gen()).collect();
                if junk.len() >= 16 {
                    junk[..16].copy_from_slice(tag);
                }
                let _ = socket.send_to(&junk, dest);
                inj.random.fetch_add(1, Ordering::Relaxed);
                let cut = rng.gen_range(0..fwd.len());
                let _ = socket.send_to(&fwd[..cut], dest);
                inj.truncated.fetch_add(1, Ordering::Relaxed);
                let mut tampered = fwd.clone();
                let i = rng.gen_range(16..tampered.len());
                tampered[i] ^= 1 << rng.gen_range(0..8);
                let _ = socket.send_to(&tampered, dest);
                inj.tampered.fetch_add(1, Ordering::Relaxed);
                if !last_to_caller.is_empty() {
                    let _ = socket.send_to(&last_to_caller, dest);
                    let _ = socket.send_to(&fwd, dest);
                    inj.replayed.fetch_add(2, Ordering::Relaxed);
                }
                let _ = foreign.send_to(&fwd, dest);
                inj.foreign.fetch_add(1, Ordering::Relaxed);
                last_to_caller = fwd;
            }
        });
        HostileRelay {
            addr,
            stop,
            injected,
            handle: Some(handle),
        }
    }
}

impl Drop for HostileRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Audio I/O that sends a tone and measures the energy it hears, allocation-free.
struct ToneIo {
    freq: f64,
    n: u64,
    heard_energy: Arc<AtomicU64>,
    heard_chunks: Arc<AtomicU64>,
}

impl AudioIo for ToneIo {
    fn capture(&mut self, out: &mut [i16]) {
        for s in out.iter_mut() {
            let t = self.n as f64 / 48_000.0;
            *s = ((t * self.freq * std::f64::consts::TAU).sin() * 8000.0) as i16;
            self.n += 1;
        }
    }
    fn playback(&mut self, pcm: &[i16]) {
        let e: u64 = pcm
            .iter()
            .map(|&x| (i64::from(x) * i64::from(x)) as u64)
            .sum();
        self.heard_energy
            .fetch_add(e / pcm.len() as u64, Ordering::Relaxed);
        self.heard_chunks.fetch_add(1, Ordering::Relaxed);
    }
}

struct Side {
    ctl: Controller,
    energy: Arc<AtomicU64>,
    chunks: Arc<AtomicU64>,
}

impl Side {
    /// Mean power of what was heard since the last call.
    fn take_rms(&self) -> f64 {
        let e = self.energy.swap(0, Ordering::Relaxed) as f64;
        let n = self.chunks.swap(0, Ordering::Relaxed).max(1) as f64;
        (e / n).sqrt()
    }
}

fn side(relay: SocketAddr, caller: bool, freq: f64) -> Side {
    let ctl = Controller::new();
    let key: Vec<u8> = (0..256).map(|i| (i * 13 + 5) as u8).collect();
    ctl.set_encryption_key(&key, caller).unwrap();
    let mut tag = [0x42u8; 16];
    tag[15] = 0x40 | u8::from(!caller);
    let SocketAddr::V4(v4) = relay else {
        panic!("IPv4 relay")
    };
    ctl.set_remote_endpoints(
        vec![Endpoint {
            id: 7,
            ipv4: Some(*v4.ip()),
            ipv6: None,
            port: v4.port(),
            kind: EndpointType::UdpRelay,
            peer_tag: tag,
        }],
        false,
        92,
    )
    .unwrap();
    ctl.set_bind_address(Ipv4Addr::LOCALHOST.into());
    let energy = Arc::new(AtomicU64::new(0));
    let chunks = Arc::new(AtomicU64::new(0));
    ctl.set_audio_io(Box::new(ToneIo {
        freq,
        n: 0,
        heard_energy: energy.clone(),
        heard_chunks: chunks.clone(),
    }));
    ctl.start().unwrap();
    Side {
        ctl,
        energy,
        chunks,
    }
}

fn wait_established(sides: &[&Side], within: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if sides
            .iter()
            .all(|s| s.ctl.state() == CallState::Established)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "not established: {:?}",
        sides.iter().map(|s| s.ctl.state()).collect::<Vec<_>>()
    );
}

#[test]
fn hostile_datagrams_do_not_disturb_a_live_call_and_audio_threads_stay_real_time() {
    let before = counters();
    let relay = HostileRelay::start(true);
    let a = side(relay.addr, true, 440.0);
    let b = side(relay.addr, false, 660.0);
    a.ctl.connect().unwrap();
    b.ctl.connect().unwrap();
    wait_established(&[&a, &b], Duration::from_secs(3));
    std::thread::sleep(Duration::from_millis(500));
    let _ = (a.take_rms(), b.take_rms());
    std::thread::sleep(Duration::from_secs(3));
    let (rms_a, rms_b) = (a.take_rms(), b.take_rms());
    let snap = a.ctl.snapshot();
    a.ctl.stop().unwrap();
    b.ctl.stop().unwrap();
    let after = counters();

    let inj = &relay.injected;
    let drops = snap.session.drops;
    println!(
        "injected: random {} truncated {} tampered {} replayed {} foreign {}; caller drops {drops:?}",
        inj.random.load(Ordering::Relaxed),
        inj.truncated.load(Ordering::Relaxed),
        inj.tampered.load(Ordering::Relaxed),
        inj.replayed.load(Ordering::Relaxed),
        inj.foreign.load(Ordering::Relaxed),
    );
    println!(
        "heard RMS: caller {rms_a:.0}, callee {rms_b:.0}; RT counters {before:?} -> {after:?}"
    );
    // The call went on undisturbed, with audio both ways.
    assert!(!snap.ever_reconnecting);
    assert_eq!(snap.last_error, None);
    assert!(
        rms_a > 2000.0 && rms_b > 2000.0,
        "tone not heard: {rms_a} {rms_b}"
    );
    // Every kind of bad datagram was dropped and counted.
    let tampered = inj.tampered.load(Ordering::Relaxed);
    assert!(drops.decrypt >= tampered, "{drops:?}");
    assert!(
        drops.duplicate + drops.too_old >= inj.replayed.load(Ordering::Relaxed) / 2,
        "{drops:?}"
    );
    assert!(
        drops.unknown_source >= inj.foreign.load(Ordering::Relaxed) / 2,
        "{drops:?}"
    );
    assert!(drops.bad_size > 0, "{drops:?}");
    // No heap operation and no library lock on the real-time audio threads, for the whole call.
    assert_eq!(after, before, "real-time threads allocated or locked");
}
