//! A network type change during a call (set_network_type): the call goes on, traffic is
//! counted as wifi before and mobile after, the bitrate follows the new limits, and the peer
//! (told by NETWORK_CHANGED, data-saving bit set) lowers its bitrate too.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Reflector;
use tgvoip::audio::AudioIo;
use tgvoip::{CallState, Config, Controller, DataSaving, Endpoint, EndpointType, NetworkType};

struct Tone {
    n: u64,
    freq: f64,
    heard: Arc<AtomicU64>,
}

impl AudioIo for Tone {
    fn capture(&mut self, out: &mut [i16]) {
        for s in out.iter_mut() {
            let t = self.n as f64 / 48_000.0;
            *s = ((t * self.freq * std::f64::consts::TAU).sin() * 8000.0) as i16;
            self.n += 1;
        }
    }
    fn playback(&mut self, pcm: &[i16]) {
        if pcm.iter().any(|&s| s.unsigned_abs() > 1000) {
            self.heard.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn side(relay: SocketAddr, caller: bool, heard: Arc<AtomicU64>) -> Controller {
    let ctl = Controller::new();
    ctl.set_config(Config {
        data_saving: DataSaving::Mobile,
        ..Config::default()
    });
    ctl.set_network_type(NetworkType::Wifi);
    let key: Vec<u8> = (0..256).map(|i| (i * 29 + 7) as u8).collect();
    ctl.set_encryption_key(&key, caller).unwrap();
    let mut tag = [0x6Cu8; 16];
    tag[15] = 0x20 | u8::from(!caller);
    let SocketAddr::V4(v4) = relay else {
        panic!("IPv4 relay")
    };
    ctl.set_remote_endpoints(
        vec![Endpoint {
            id: 1,
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
    ctl.set_bind_address(std::net::Ipv4Addr::LOCALHOST.into());
    ctl.set_audio_io(Box::new(Tone {
        n: 0,
        freq: if caller { 440.0 } else { 660.0 },
        heard,
    }));
    ctl.start().unwrap();
    ctl
}

fn bitrate(c: &Controller) -> i32 {
    c.snapshot().sender.map_or(0, |s| s.bitrate)
}

#[test]
fn network_type_change_mid_call() {
    let relay = Reflector::start(&[]);
    let addr: SocketAddr = relay.addr.parse().unwrap();
    let heard = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let a = side(addr, true, heard[0].clone());
    let b = side(addr, false, heard[1].clone());
    a.connect().unwrap();
    b.connect().unwrap();
    let t0 = Instant::now();
    while [a.state(), b.state()] != [CallState::Established; 2] {
        assert!(t0.elapsed() < Duration::from_secs(5), "not established");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(2));
    let before = a.traffic_stats();
    assert!(before.bytes_sent_wifi > 0 && before.bytes_recvd_wifi > 0);
    assert_eq!(before.bytes_sent_mobile + before.bytes_recvd_mobile, 0);
    let (rate_a, rate_b) = (bitrate(&a), bitrate(&b));
    assert!(rate_a > 8000 && rate_b > 8000, "{rate_a} {rate_b}");

    // Wi-Fi -> LTE: data saving ("on mobile") turns on for A, and A tells B.
    a.set_network_type(NetworkType::Lte);
    std::thread::sleep(Duration::from_millis(200));
    let switched = a.traffic_stats();
    let heard_before = heard.each_ref().map(|h| h.load(Ordering::Relaxed));
    std::thread::sleep(Duration::from_secs(3));
    let after = a.traffic_stats();
    let heard_after = heard.each_ref().map(|h| h.load(Ordering::Relaxed));
    println!("traffic before {before:?}, at switch {switched:?}, after {after:?}");
    println!("bitrate A {} B {}", bitrate(&a), bitrate(&b));
    assert_eq!(a.state(), CallState::Established);
    assert_eq!(b.state(), CallState::Established);
    assert!(!a.snapshot().ever_reconnecting && !b.snapshot().ever_reconnecting);
    // Traffic after the change is counted as mobile only.
    assert_eq!(after.bytes_sent_wifi, switched.bytes_sent_wifi);
    assert_eq!(after.bytes_recvd_wifi, switched.bytes_recvd_wifi);
    assert!(after.bytes_sent_mobile > 5000 && after.bytes_recvd_mobile > 5000);
    // Both sides are at the data-saving limit now.
    assert!(bitrate(&a) <= 8000, "A {}", bitrate(&a));
    assert!(bitrate(&b) <= 8000, "B {}", bitrate(&b));
    // Audio kept flowing both ways (about 150 chunks in 3 s).
    for i in 0..2 {
        assert!(heard_after[i] - heard_before[i] > 100, "side {i}");
    }
    // B learned it through NETWORK_CHANGED, which also made it forget its RTTs: still fine.
    a.stop().unwrap();
    b.stop().unwrap();
}
