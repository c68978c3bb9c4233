//! The controller's tgcalls API end to end, in-process: two `Controller`s with protocol 9.0.0,
//! bound to 127.0.0.1, exchange signaling only through the public callback and
//! `receive_signaling_data` (the callee's first bytes arrive before it starts), connect over
//! ICE/DTLS-SRTP, carry a tone both ways and the mute flag. Plus the protocol choice and argument
//! checks.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tgvoip::audio::AudioIo;
use tgvoip::{CallState, Controller, ControllerError, WebrtcEndpoint};

/// A 440 Hz tone as the microphone; counts loud played chunks.
struct ToneIo {
    phase: f64,
    loud_chunks: Arc<AtomicU64>,
}

impl AudioIo for ToneIo {
    fn capture(&mut self, out: &mut [i16]) {
        for s in out.iter_mut() {
            self.phase += 2.0 * std::f64::consts::PI * 440.0 / 48000.0;
            *s = (self.phase.sin() * 8000.0) as i16;
        }
    }
    fn playback(&mut self, pcm: &[i16]) {
        let energy = pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64;
        if energy.sqrt() > 1000.0 {
            self.loud_chunks.fetch_add(1, Ordering::Relaxed);
        }
    }
}

type Outbox = Arc<Mutex<Vec<Vec<u8>>>>;

struct Side {
    ctl: Arc<Controller>,
    outbox: Outbox,
    loud: Arc<AtomicU64>,
    cb_threads: Arc<Mutex<Vec<String>>>,
}

fn side(key: &[u8; 256], caller: bool) -> Side {
    let ctl = Arc::new(Controller::new());
    ctl.set_encryption_key(key, caller).unwrap();
    ctl.set_protocol_version("9.0.0").unwrap();
    ctl.set_webrtc_endpoints(Vec::new()).unwrap();
    ctl.set_bind_address(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let outbox: Outbox = Arc::default();
    let cb_threads: Arc<Mutex<Vec<String>>> = Arc::default();
    let (o, t) = (outbox.clone(), cb_threads.clone());
    ctl.set_signaling_callback(Box::new(move |data| {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        let mut names = t.lock().unwrap();
        if !names.contains(&name) {
            names.push(name);
        }
        o.lock().unwrap().push(data.to_vec());
    }));
    let loud = Arc::new(AtomicU64::new(0));
    ctl.set_audio_io(Box::new(ToneIo {
        phase: 0.0,
        loud_chunks: loud.clone(),
    }));
    Side {
        ctl,
        outbox,
        loud,
        cb_threads,
    }
}

/// Moves queued signaling from `from` to `to`; returns how many byte strings moved.
fn shuttle(from: &Side, to: &Side) -> usize {
    let msgs: Vec<Vec<u8>> = std::mem::take(&mut *from.outbox.lock().unwrap());
    for m in &msgs {
        to.ctl.receive_signaling_data(m).unwrap();
    }
    msgs.len()
}

fn wait_for(secs: u64, a: &Side, b: &Side, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        shuttle(a, b);
        shuttle(b, a);
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn two_controllers_call_over_tgcalls() {
    let key: [u8; 256] = std::array::from_fn(|i| (i * 7 + 3) as u8);
    let a = side(&key, true);
    let b = side(&key, false);
    a.ctl.start().unwrap();
    a.ctl.connect().unwrap();
    // The caller's first signaling reaches the callee before the callee starts: it is kept.
    let t = Instant::now();
    while a.outbox.lock().unwrap().is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let early = shuttle(&a, &b);
    assert!(early > 0, "the caller sent nothing");
    std::thread::sleep(Duration::from_millis(100));
    b.ctl.start().unwrap();
    b.ctl.connect().unwrap();
    let t0 = Instant::now();
    assert!(
        wait_for(10, &a, &b, || a.ctl.state() == CallState::Established
            && b.ctl.state() == CallState::Established),
        "states {:?} / {:?}",
        a.ctl.state(),
        b.ctl.state()
    );
    println!(
        "[tgcalls-controller] both ESTABLISHED {} ms after the callee started; media connect {:?} / {:?} ms",
        t0.elapsed().as_millis(),
        a.ctl.media_connect_time_ms(),
        b.ctl.media_connect_time_ms()
    );
    // A tone both ways.
    assert!(
        wait_for(10, &a, &b, || a.loud.load(Ordering::Relaxed) > 50
            && b.loud.load(Ordering::Relaxed) > 50),
        "loud chunks {} / {}",
        a.loud.load(Ordering::Relaxed),
        b.loud.load(Ordering::Relaxed)
    );
    let (sent, recvd) = a.ctl.rtp_packet_counts();
    assert!(sent > 10 && recvd > 10, "rtp {sent}/{recvd}");
    // The callee mutes: the caller is told over the data channel, then unmutes.
    assert!(wait_for(5, &a, &b, || a.ctl.remote_mic_muted() == Some(false)));
    b.ctl.set_mic_mute(true);
    assert!(wait_for(5, &a, &b, || a.ctl.remote_mic_muted() == Some(true)));
    b.ctl.set_mic_mute(false);
    assert!(wait_for(5, &a, &b, || a.ctl.remote_mic_muted() == Some(false)));
    // Stats and the debug log are filled as for 2.4.4 calls.
    let snap = a.ctl.snapshot();
    assert!(snap.ever_established);
    assert!(snap.receiver.frames_decoded > 10);
    assert!(snap.traffic.bytes_sent_wifi + snap.traffic.bytes_sent_mobile > 1000);
    let log: serde_json::Value = serde_json::from_str(&a.ctl.debug_log()).unwrap();
    assert!(
        log["packet_stats"]["in"].as_u64().unwrap_or(0) > 10,
        "{log}"
    );
    assert!(
        log["packet_stats"]["out"].as_u64().unwrap_or(0) > 10,
        "{log}"
    );
    assert_eq!(log["p2p_type"], "inet", "{log}");
    assert!(wait_for(3, &a, &b, || a.ctl.signal_bars() > 0));
    // Signaling callbacks ran on the callback thread only.
    for s in [&a, &b] {
        assert_eq!(*s.cb_threads.lock().unwrap(), vec!["tgvoip-callbacks"]);
    }
    a.ctl.stop().unwrap();
    b.ctl.stop().unwrap();
    assert!(matches!(
        a.ctl.receive_signaling_data(b"x"),
        Err(ControllerError::InvalidState(_))
    ));
}

#[test]
fn protocol_choice_and_argument_checks() {
    assert_eq!(
        Controller::supported_versions(),
        ["9.0.0", "8.0.0", "2.4.4"]
    );
    let c = Controller::new();
    assert_eq!(c.protocol_version(), "2.4.4");
    assert!(matches!(
        c.set_protocol_version("7.0.0"),
        Err(ControllerError::InvalidArgument(_))
    ));
    c.set_protocol_version("8.0.0").unwrap();
    assert_eq!(c.protocol_version(), "8.0.0");
    assert!(matches!(
        c.receive_signaling_data(&[]),
        Err(ControllerError::InvalidArgument(_))
    ));
    // Kept before start.
    c.receive_signaling_data(&[1, 2, 3]).unwrap();
    let no_addr = WebrtcEndpoint {
        id: 1,
        port: 3478,
        stun: true,
        ..WebrtcEndpoint::default()
    };
    assert!(c.set_webrtc_endpoints(vec![no_addr]).is_err());
    let turn = WebrtcEndpoint {
        id: 2,
        ipv4: Some(Ipv4Addr::new(192, 0, 2, 7)),
        port: 3478,
        turn: true,
        stun: true,
        username: "u".into(),
        password: "p".into(),
        ..WebrtcEndpoint::default()
    };
    c.set_webrtc_endpoints(vec![turn]).unwrap();
    assert_eq!(c.remote_mic_muted(), None);
    assert_eq!(c.media_connect_time_ms(), None);

    // A 2.4.4 call refuses signaling once it runs, and the protocol cannot change after start.
    let legacy = Controller::new();
    legacy.set_protocol_version("2.4.4").unwrap();
    legacy.set_bind_address(IpAddr::V4(Ipv4Addr::LOCALHOST));
    legacy.start().unwrap();
    assert!(matches!(
        legacy.set_protocol_version("9.0.0"),
        Err(ControllerError::InvalidState(_))
    ));
}

/// `phoneConnectionWebrtc` servers with the `stun` flag are asked for our address (a STUN server
/// on loopback answers), and the call still connects.
#[test]
fn stun_endpoints_are_queried() {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let asked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (asked2, stop2) = (asked.clone(), stop.clone());
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while !stop2.load(Ordering::Relaxed) {
            if let Ok((n, from)) = server.recv_from(&mut buf) {
                if let Some(txid) = tgvoip::wire::stun::parse_binding_request(&buf[..n]) {
                    asked2.fetch_add(1, Ordering::Relaxed);
                    let resp = tgvoip::wire::stun::binding_response(&txid, from);
                    let _ = server.send_to(&resp, from);
                }
            }
        }
    });
    let key: [u8; 256] = std::array::from_fn(|i| (i * 11 + 1) as u8);
    let stun = WebrtcEndpoint {
        id: 5,
        ipv4: Some(Ipv4Addr::LOCALHOST),
        port,
        stun: true,
        ..WebrtcEndpoint::default()
    };
    let a = side(&key, true);
    let b = side(&key, false);
    for s in [&a, &b] {
        s.ctl.set_webrtc_endpoints(vec![stun.clone()]).unwrap();
        s.ctl.start().unwrap();
        s.ctl.connect().unwrap();
    }
    assert!(wait_for(10, &a, &b, || a.ctl.state()
        == CallState::Established
        && b.ctl.state() == CallState::Established));
    a.ctl.stop().unwrap();
    b.ctl.stop().unwrap();
    stop.store(true, Ordering::Relaxed);
    responder.join().unwrap();
    // One request per side, answered at once.
    assert_eq!(asked.load(Ordering::Relaxed), 2);
}

/// `phoneConnectionWebrtc` servers with the `turn` flag get an authenticated Allocate with the
/// endpoint's username and password (a TURN server on loopback checks MESSAGE-INTEGRITY).
#[test]
fn turn_endpoints_allocate_with_their_credentials() {
    use tgvoip::wire::turn;
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let key = turn::Credentials::new("tg-user", "tg-pass", "loop", "nonce1").key;
    let authed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (authed2, stop2) = (authed.clone(), stop.clone());
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let mut relay_port = 40000;
        while !stop2.load(Ordering::Relaxed) {
            let Ok((n, from)) = server.recv_from(&mut buf) else {
                continue;
            };
            let Some(m) = turn::parse(&buf[..n]) else {
                continue;
            };
            if m.method() != turn::ALLOCATE {
                continue;
            }
            let reply = if m.username.is_none() || !m.verify(&buf[..n], &key) {
                turn::error(turn::ALLOCATE, &m.txid, 401, "loop", "nonce1")
            } else {
                assert_eq!(m.username.as_deref(), Some("tg-user"));
                authed2.fetch_add(1, Ordering::Relaxed);
                relay_port += 1;
                let relayed = std::net::SocketAddr::from(([127, 0, 0, 1], relay_port));
                turn::success(
                    turn::ALLOCATE,
                    &m.txid,
                    Some(relayed),
                    Some(from),
                    Some(600),
                )
            };
            let _ = server.send_to(&reply, from);
        }
    });
    let call_key: [u8; 256] = std::array::from_fn(|i| (i * 13 + 5) as u8);
    let relay = WebrtcEndpoint {
        id: 6,
        ipv4: Some(Ipv4Addr::LOCALHOST),
        port,
        turn: true,
        username: "tg-user".into(),
        password: "tg-pass".into(),
        ..WebrtcEndpoint::default()
    };
    let a = side(&call_key, true);
    let b = side(&call_key, false);
    for s in [&a, &b] {
        s.ctl.set_webrtc_endpoints(vec![relay.clone()]).unwrap();
        s.ctl.start().unwrap();
        s.ctl.connect().unwrap();
    }
    // The direct loopback pair still wins; the allocation happens alongside.
    assert!(wait_for(10, &a, &b, || a.ctl.state()
        == CallState::Established
        && b.ctl.state() == CallState::Established
        && authed.load(Ordering::Relaxed) >= 2));
    a.ctl.stop().unwrap();
    b.ctl.stop().unwrap();
    stop.store(true, Ordering::Relaxed);
    responder.join().unwrap();
    assert_eq!(authed.load(Ordering::Relaxed), 2);
}

/// With P2P not allowed and no TURN server there is no path: the sides never connect (and the
/// 2.4.4 `set_remote_endpoints` flag is what sets it when the app uses only that call).
#[test]
fn p2p_not_allowed_without_relays_does_not_connect() {
    let key: [u8; 256] = std::array::from_fn(|i| (i * 17 + 9) as u8);
    let a = side(&key, true);
    let b = side(&key, false);
    a.ctl.set_p2p_allowed(false);
    let relay = tgvoip::Endpoint {
        id: 1,
        ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ipv6: None,
        port: 1,
        kind: tgvoip::EndpointType::UdpRelay,
        peer_tag: [0; 16],
    };
    b.ctl
        .set_remote_endpoints(vec![relay], false, Controller::connection_max_layer())
        .unwrap();
    for s in [&a, &b] {
        s.ctl.start().unwrap();
        s.ctl.connect().unwrap();
    }
    let connected = wait_for(2, &a, &b, || {
        a.ctl.state() == CallState::Established || b.ctl.state() == CallState::Established
    });
    assert!(!connected);
    assert_eq!(a.ctl.state(), CallState::WaitInitAck);
    a.ctl.stop().unwrap();
    b.ctl.stop().unwrap();
}

/// With P2P off, a `phoneConnection` relay from `set_remote_endpoints` carries the call as a
/// Telegram reflector (spec 3.7 framing; a minimal reflector on loopback forwards by tag).
#[test]
fn reflector_endpoint_carries_the_call_when_p2p_is_off() {
    use tgvoip::wire::tgcalls::reflector;
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let forwarded = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (fwd2, stop2) = (forwarded.clone(), stop.clone());
    let relay_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut registered: Vec<([u8; 16], std::net::SocketAddr)> = Vec::new();
        while !stop2.load(Ordering::Relaxed) {
            let Ok((n, from)) = server.recv_from(&mut buf) else {
                continue;
            };
            let data = &buf[..n];
            if let Some(tag) = reflector::parse_hello(data) {
                registered.retain(|r| r.0 != tag);
                registered.push((tag, from));
                let _ = server.send_to(data, from);
            } else if let Some(r) = registered
                .iter()
                .find(|r| data.len() >= 16 && r.0 == data[..16])
            {
                fwd2.fetch_add(1, Ordering::Relaxed);
                let _ = server.send_to(data, r.1);
            }
        }
    });
    let key: [u8; 256] = std::array::from_fn(|i| (i * 19 + 2) as u8);
    let a = side(&key, true);
    let b = side(&key, false);
    for (s, last) in [(&a, 1u8), (&b, 2u8)] {
        let mut peer_tag = [0x5Au8; 16];
        peer_tag[15] = last;
        let relay = tgvoip::Endpoint {
            id: 4242,
            ipv4: Some(Ipv4Addr::LOCALHOST),
            ipv6: None,
            port,
            kind: tgvoip::EndpointType::UdpRelay,
            peer_tag,
        };
        s.ctl
            .set_remote_endpoints(vec![relay], false, Controller::connection_max_layer())
            .unwrap();
        s.ctl.start().unwrap();
        s.ctl.connect().unwrap();
    }
    assert!(
        wait_for(10, &a, &b, || a.ctl.state() == CallState::Established
            && b.ctl.state() == CallState::Established
            && a.loud.load(Ordering::Relaxed) > 20
            && b.loud.load(Ordering::Relaxed) > 20),
        "states {:?} / {:?}, loud {} / {}",
        a.ctl.state(),
        b.ctl.state(),
        a.loud.load(Ordering::Relaxed),
        b.loud.load(Ordering::Relaxed)
    );
    let log: serde_json::Value = serde_json::from_str(&a.ctl.debug_log()).unwrap();
    let rtp_sent = a.ctl.rtp_packet_counts().0 + b.ctl.rtp_packet_counts().0;
    a.ctl.stop().unwrap();
    b.ctl.stop().unwrap();
    stop.store(true, Ordering::Relaxed);
    relay_thread.join().unwrap();
    // Everything went through the reflector (P2P is off, no TURN): at least every RTP packet
    // both sides sent, plus ICE, DTLS and SCTP.
    let forwarded_n = forwarded.load(Ordering::Relaxed);
    assert!(rtp_sent > 10, "{rtp_sent}");
    assert!(forwarded_n > rtp_sent, "{forwarded_n} <= {rtp_sent}");
    println!(
        "[tgcalls-controller] via reflector: {} datagrams forwarded; log {log}",
        forwarded.load(Ordering::Relaxed)
    );
}
