//! Hostile-input test: random and mutated bytes fed to every `wire` decoder must give an error
//! or a value, never a panic. Seeded, so any failure reproduces.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tgvoip::wire::extra;
use tgvoip::wire::tcp::TcpObfuscation;
use tgvoip::wire::{
    Header, Init, Packet, PacketCrypto, PacketFormat, PacketType, Payload, StreamFrame,
};

const ITERATIONS: usize = 4000;
const FORMATS: [PacketFormat; 3] = [
    PacketFormat::Short,
    PacketFormat::Long,
    PacketFormat::Legacy,
];

/// Valid bodies and payloads to mutate, so decoders get past their first checks.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let header = Header {
        ptype: PacketType::STREAM_DATA,
        ack_id: 7,
        seq: 8,
        ack_mask: 0xFFFF_0000,
        extras: vec![tgvoip::wire::Extra::StreamFlags {
            stream_id: 1,
            flags: 5,
        }],
        recv_ts: Some(99),
    };
    let data = [0x7Bu8; 300];
    let frame = StreamFrame {
        stream_id: 1,
        pts: 600,
        keyframe: false,
        fragment: None,
        data: &data[..120],
        fec: vec![&data[..20], &data[..30]],
    };
    let mut payload = Vec::new();
    Payload::StreamData(vec![frame]).write(9, &mut payload);
    seeds.push(payload.clone());
    let mut body = Vec::new();
    Packet::write_short(&header, &payload, &mut body);
    seeds.push(body);
    for handshake in [true, false] {
        let mut tl = Vec::new();
        Packet::write_tl(&header, &payload, handshake, true, &[1; 16], &mut tl);
        seeds.push(tl);
    }
    let mut init = Vec::new();
    Payload::Init(Init::audio_only(0)).write(9, &mut init);
    seeds.push(init);
    let mut block = Vec::new();
    extra::write_block(&header.extras, &mut block);
    seeds.push(block);
    seeds
}

fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.gen_range(0..4) {
        if v.is_empty() {
            break;
        }
        let i = rng.gen_range(0..v.len());
        v[i] = rng.gen();
    }
    let cut = rng.gen_range(0..=v.len());
    v.truncate(cut);
    v
}

#[test]
fn decoders_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x7467_766f_6970);
    let key: [u8; 256] = core::array::from_fn(|i| (i * 7) as u8);
    let cryptos = [
        PacketCrypto::new(&key, true),
        PacketCrypto::new(&key, false),
    ];
    let seeds = seeds();
    let mut encrypted = Vec::new();
    for f in FORMATS {
        for s in &seeds {
            let mut out = Vec::new();
            cryptos[0].encrypt(f, s, &mut out);
            encrypted.push(out);
        }
    }
    let (_, header) = TcpObfuscation::new_random();
    let mut tcp_relay = TcpObfuscation::relay_side_from_header(&header).unwrap();
    let (mut tcp_client, _) = TcpObfuscation::new_random();

    let mut decrypted_ok = 0;
    for i in 0..ITERATIONS {
        let bytes = match i % 3 {
            0 => {
                let len = rng.gen_range(0..400);
                (0..len).map(|_| rng.gen()).collect::<Vec<u8>>()
            }
            1 => {
                let k = rng.gen_range(0..seeds.len());
                mutate(&mut rng, &seeds[k])
            }
            _ => {
                let k = rng.gen_range(0..encrypted.len());
                mutate(&mut rng, &encrypted[k])
            }
        };
        for c in &cryptos {
            for f in FORMATS {
                if c.decrypt(f, &bytes).is_ok() {
                    decrypted_ok += 1;
                }
            }
        }
        let _ = Packet::parse_short(&bytes);
        for has_extras in [false, true] {
            let _ = Packet::parse_tl(&bytes, has_extras, &[1; 16]);
        }
        for t in 0..=20u8 {
            for v in [0, 1, 4, 9] {
                let _ = Payload::parse(PacketType(t), &bytes, v);
            }
        }
        let _ = extra::parse_block(&bytes);
        let _ = tcp_client.decode(&bytes);
        let _ = tcp_relay.decode(&bytes);
        if let Ok(h) = <[u8; 64]>::try_from(&bytes[..bytes.len().min(64)]) {
            let _ = TcpObfuscation::relay_side_from_header(&h);
        }
    }
    // Unmutated, untruncated ciphertexts do occur among the mutations and must decrypt.
    assert!(decrypted_ok > 0);
}
