//! Seeded fuzz-style test of the tgcalls decoders: random bytes and mutations of real ntgcalls
//! packets (the recorded fixture) go through decryption, packet parsing, body decoding and a
//! whole `SignalingSession`; nothing may panic, and a mutated packet must never decrypt.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tgvoip::session::tgcalls::{LocalParams, SignalingSession};
use tgvoip::wire::tgcalls::{decode_body, Entry, SignalingCrypto, SignalingPacket};

fn fixture() -> ([u8; 256], Vec<(bool, Vec<u8>)>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tgcalls/capture_9.0.0.json"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    };
    let key: [u8; 256] = hex(v["key"].as_str().unwrap()).try_into().unwrap();
    let packets = v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["from"] == "caller", hex(p["hex"].as_str().unwrap())))
        .collect();
    (key, packets)
}

fn mutate(rng: &mut ChaCha8Rng, data: &mut Vec<u8>) {
    match rng.gen_range(0..4) {
        0 => {
            let i = rng.gen_range(0..data.len());
            data[i] ^= 1 << rng.gen_range(0..8);
        }
        1 => data.truncate(rng.gen_range(0..data.len())),
        2 => {
            let n = rng.gen_range(1..64);
            data.extend((0..n).map(|_| rng.gen::<u8>()));
        }
        _ => {
            let i = rng.gen_range(0..data.len());
            data.insert(i, rng.gen());
        }
    }
}

#[test]
fn decoders_never_panic() {
    let (key, packets) = fixture();
    let mut rng = ChaCha8Rng::seed_from_u64(0x7 << 40);
    let rx = [
        SignalingCrypto::new(&key, true),
        SignalingCrypto::new(&key, false),
    ];
    let mut plains = Vec::new();
    for (from_caller, p) in &packets {
        let plain = rx[usize::from(*from_caller)].decrypt(p).unwrap();
        plains.push(plain);
    }
    for round in 0..20_000 {
        // Random bytes everywhere.
        let n = rng.gen_range(0..300);
        let junk: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
        let _ = rx[round % 2].decrypt(&junk);
        let _ = SignalingPacket::parse(&junk);
        let _ = decode_body(&junk);
        // Mutated real packets never decrypt (msg_key covers every byte) ...
        let (from_caller, p) = &packets[rng.gen_range(0..packets.len())];
        let mut m = p.clone();
        mutate(&mut rng, &mut m);
        if m != *p {
            assert!(rx[usize::from(*from_caller)].decrypt(&m).is_err());
        }
        // ... and mutated plaintexts and bodies are parsed without panicking.
        let mut plain = plains[rng.gen_range(0..plains.len())].clone();
        mutate(&mut rng, &mut plain);
        if let Ok(pkt) = SignalingPacket::parse(&plain) {
            for e in pkt.entries {
                if let Entry::Message { mut body, .. } = e {
                    let _ = decode_body(&body);
                    if !body.is_empty() {
                        mutate(&mut rng, &mut body);
                        let _ = decode_body(&body);
                    }
                }
            }
        }
    }
}

#[test]
fn session_survives_garbage_and_valid_mutations() {
    let (key, packets) = fixture();
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let local = LocalParams {
        ufrag: "abcd".into(),
        pwd: "0123456789012345678901".into(),
        fingerprint: "00:11".into(),
        audio_ssrc: 5,
    };
    let t = Instant::now();
    for seed in 0..50 {
        let mut s = SignalingSession::new(&key, seed % 2 == 0, local.clone());
        s.start(t);
        let tx = SignalingCrypto::new(&key, seed % 2 != 0);
        let rx = SignalingCrypto::new(&key, seed % 2 == 0);
        for _ in 0..200 {
            let (_, p) = &packets[rng.gen_range(0..packets.len())];
            // Valid encryption of a mutated plaintext from the peer's direction.
            if let Ok(mut plain) = rx.decrypt(p).or_else(|_| tx.decrypt(p)) {
                mutate(&mut rng, &mut plain);
                s.handle_input(t, &tx.encrypt(&plain));
            }
            s.handle_input(t, p);
            while s.poll_event().is_some() {}
            while s.poll_transmit(t).is_some() {}
        }
    }
}

/// STUN, TURN and reflector decoders (server responses and relayed data reach us from the network)
/// and a TURN client fed mutated server messages: no panic; a Binding response survives only
/// if it still parses to some address.
#[test]
fn stun_and_turn_decoders_never_panic() {
    use tgvoip::session::tgcalls::turn::TurnClient;
    use tgvoip::wire::{stun, turn};
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let txid = [5u8; 12];
    let peer: std::net::SocketAddr = "[2001:db8::1]:9".parse().unwrap();
    let seeds = [
        stun::binding_response(&txid, "203.0.113.1:5".parse().unwrap()),
        turn::success(turn::ALLOCATE, &txid, Some(peer), Some(peer), Some(600)),
        turn::error(turn::ALLOCATE, &txid, 401, "realm", "nonce"),
        turn::data_indication(&txid, peer, b"payload"),
    ];
    let now = Instant::now();
    let server: std::net::SocketAddr = "192.0.2.9:3478".parse().unwrap();
    let mut client = TurnClient::new("192.0.2.1:4000".parse().unwrap(), server, "u", "p", now);
    for round in 0..20_000 {
        let mut data = if round % 3 == 0 {
            (0..rng.gen_range(0..120)).map(|_| rng.gen()).collect()
        } else {
            seeds[rng.gen_range(0..seeds.len())].clone()
        };
        if !data.is_empty() {
            for _ in 0..rng.gen_range(1..4) {
                if data.is_empty() {
                    break;
                }
                mutate(&mut rng, &mut data);
            }
        }
        let _ = stun::parse_binding_response(&data);
        let _ = stun::parse_binding_request(&data);
        if let Some(m) = turn::parse(&data) {
            let _ = m.verify(&data, b"key");
        }
        let tag = [0x11u8; 16];
        let _ = tgvoip::wire::tgcalls::reflector::parse(&tag, &data);
        let _ = tgvoip::wire::tgcalls::reflector::parse_hello(&data);
        let _ = tgvoip::wire::tgcalls::reflector::parse_hostname(&String::from_utf8_lossy(&data));
        let _ = client.handle_input(now, &data);
        let _ = client.handle_timeout(now);
        while client.poll_transmit().is_some() {}
    }
}
