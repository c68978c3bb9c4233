//! Vectors of wire.md 3.6 plus round trips and rejection cases.

use super::*;
use crate::wire::test_hex::hex;

fn spec_key() -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    k
}

/// The short-format INIT of wire.md 3.6.
fn spec_body() -> Vec<u8> {
    hex("01 00000000 01000000 00000000 00 09000000 03000000 00000000 01 5355504f 00 00")
}

fn aa(pad: &mut [u8]) {
    pad.fill(0xAA);
}

fn encrypt_aa(c: &PacketCrypto, format: PacketFormat, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    c.encrypt_with_padding(format, body, &mut aa, &mut out);
    out
}

const TAG: &str = "11111111111111111111111111111111";

#[test]
fn derived_constants() {
    let k = CallKey::new(&spec_key());
    assert_eq!(k.fingerprint().to_vec(), hex("32d1586ea457dfc8"));
    assert_eq!(
        k.call_id().to_vec(),
        hex("7158785fbd1da870e7110266bf944880")
    );
    assert_eq!(k.bytes()[..], spec_key()[..]);
}

#[test]
fn kdf2_vectors() {
    let k = CallKey::new(&spec_key());
    let mk: [u8; 16] = hex("58b4b4d0c5bee170105b42890b88d520").try_into().unwrap();
    let (key, iv) = kdf2(&k, &mk, 0);
    assert_eq!(
        key.to_vec(),
        hex("cb366dea0f0c9be328fcb9f41d1eb21c6e82dd6c7cc7921cc8fccdcd2ebe0398")
    );
    assert_eq!(
        iv.to_vec(),
        hex("4eb21df363fa996d82b32e3f6f6349416461bd2ec98920effc3836a134aeac2b")
    );
    let mk: [u8; 16] = hex("54e4d148993d9935511a6eafadd08ff8").try_into().unwrap();
    let (key, iv) = kdf2(&k, &mk, 8);
    assert_eq!(
        key.to_vec(),
        hex("ec706cbdacbf086a96d9f5505a0546f05364e7f10dfe491ba231e82ca75e6305")
    );
    assert_eq!(
        iv.to_vec(),
        hex("53b40d4f002066e796885c6fa461808afcfcba55c6803df8d52647b92aac71a7")
    );
}

#[test]
fn short_caller_vector() {
    let caller = PacketCrypto::new(&spec_key(), true);
    let out = encrypt_aa(&caller, PacketFormat::Short, &spec_body());
    let expected = hex(&format!(
        "{TAG} 58b4b4d0c5bee170105b42890b88d520
        75031d0061c13f3b3d74672a1459846c6eaf883bad6df5f61330557c959b07a0
        b47380bd0058d3fc86d1b38e99e3452d5467ad18c1143ff88502290ad664ce2a"
    ));
    assert_eq!(out, expected[16..]);
    let callee = PacketCrypto::new(&spec_key(), false);
    assert_eq!(
        callee
            .decrypt(PacketFormat::Short, &expected[16..])
            .unwrap(),
        spec_body()
    );
}

#[test]
fn short_callee_vector() {
    let callee = PacketCrypto::new(&spec_key(), false);
    let out = encrypt_aa(&callee, PacketFormat::Short, &spec_body());
    let expected = hex(&format!(
        "{TAG} 54e4d148993d9935511a6eafadd08ff8
        9a576cf0d88f4b940112137897174550a7dd1dac266ff472a26849df2ae1e1be
        e7afd993dfafbcedc8dd1f2bdd95901719621041932fa605a10db2870ec88a6e"
    ));
    assert_eq!(out, expected[16..]);
    let caller = PacketCrypto::new(&spec_key(), true);
    assert_eq!(
        caller
            .decrypt(PacketFormat::Short, &expected[16..])
            .unwrap(),
        spec_body()
    );
}

#[test]
fn long_vector() {
    let caller = PacketCrypto::new(&spec_key(), true);
    let out = encrypt_aa(&caller, PacketFormat::Long, &spec_body());
    let expected = hex(&format!(
        "{TAG} 32d1586ea457dfc8 4735b5628018cfe023e9ea0440efd8ed
        6cdaa8f46970e9e5ed12820b4c24a79b0a0333e2207c778b41de6e691464d3c8
        aaec9f92b782bb6cc55cee54a883dcd1240cf936ac27278cb5a45f586e92dab1"
    ));
    assert_eq!(out, expected[16..]);
    let callee = PacketCrypto::new(&spec_key(), false);
    assert_eq!(
        callee.decrypt(PacketFormat::Long, &expected[16..]).unwrap(),
        spec_body()
    );
}

#[test]
fn legacy_vector() {
    let caller = PacketCrypto::new(&spec_key(), true);
    let out = encrypt_aa(&caller, PacketFormat::Legacy, &spec_body());
    let expected = hex(&format!(
        "{TAG} 32d1586ea457dfc8 76d1c565458e0bda5ef58159649bf321
        170d7743902b91a2934b889a19040131be1beac6fbcb83068a7e1df5c198205f
        be80d4bb8546778d40068aa6050f2e53"
    ));
    assert_eq!(out, expected[16..]);
    let callee = PacketCrypto::new(&spec_key(), false);
    assert_eq!(
        callee
            .decrypt(PacketFormat::Legacy, &expected[16..])
            .unwrap(),
        spec_body()
    );
}

const FORMATS: [PacketFormat; 3] = [
    PacketFormat::Short,
    PacketFormat::Long,
    PacketFormat::Legacy,
];

#[test]
fn round_trips_all_lengths_and_directions() {
    let key = spec_key();
    let caller = PacketCrypto::new(&key, true);
    let callee = PacketCrypto::new(&key, false);
    for format in FORMATS {
        for len in 0..100usize {
            let body: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            for (tx, rx) in [(&caller, &callee), (&callee, &caller)] {
                let mut out = Vec::new();
                tx.encrypt(format, &body, &mut out);
                assert_eq!(
                    rx.decrypt(format, &out).unwrap(),
                    body,
                    "{format:?} len {len}"
                );
            }
        }
    }
}

#[test]
fn mtproto2_padding_is_16_to_31() {
    let caller = PacketCrypto::new(&spec_key(), true);
    for len in 0..64usize {
        let mut out = Vec::new();
        caller.encrypt(PacketFormat::Short, &vec![0u8; len], &mut out);
        let pad = out.len() - 16 - 2 - len;
        assert!((16..32).contains(&pad), "len {len} pad {pad}");
        assert_eq!((out.len() - 16) % 16, 0);
    }
}

#[test]
fn wrong_direction_fails() {
    let caller = PacketCrypto::new(&spec_key(), true);
    for format in FORMATS {
        let mut out = Vec::new();
        caller.encrypt(format, &spec_body(), &mut out);
        // The caller cannot read its own packets: they use x = 0, it decrypts with x = 8.
        assert_eq!(
            caller.decrypt(format, &out),
            Err(WireError::BadMsgKey),
            "{format:?}"
        );
    }
}

#[test]
fn tampered_byte_is_bad_msg_key() {
    let caller = PacketCrypto::new(&spec_key(), true);
    let callee = PacketCrypto::new(&spec_key(), false);
    for format in FORMATS {
        let mut out = Vec::new();
        caller.encrypt(format, &spec_body(), &mut out);
        let start = if format == PacketFormat::Short { 0 } else { 8 };
        for i in start..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                callee.decrypt(format, &bad),
                Err(WireError::BadMsgKey),
                "{format:?} {i}"
            );
        }
    }
}

#[test]
fn fingerprint_checked_in_long_ignored_in_legacy() {
    let caller = PacketCrypto::new(&spec_key(), true);
    let callee = PacketCrypto::new(&spec_key(), false);
    let mut long = Vec::new();
    caller.encrypt(PacketFormat::Long, &spec_body(), &mut long);
    long[0] ^= 0xFF;
    assert_eq!(
        callee.decrypt(PacketFormat::Long, &long),
        Err(WireError::BadFingerprint)
    );
    let mut legacy = Vec::new();
    caller.encrypt(PacketFormat::Legacy, &spec_body(), &mut legacy);
    legacy[0] ^= 0xFF;
    assert_eq!(
        callee.decrypt(PacketFormat::Legacy, &legacy).unwrap(),
        spec_body()
    );
}

#[test]
fn truncated_and_odd_lengths_are_errors() {
    let caller = PacketCrypto::new(&spec_key(), true);
    let callee = PacketCrypto::new(&spec_key(), false);
    for format in FORMATS {
        let mut out = Vec::new();
        caller.encrypt(format, &spec_body(), &mut out);
        for cut in 0..out.len() {
            let r = callee.decrypt(format, &out[..cut]);
            assert!(r.is_err(), "{format:?} cut {cut}");
            if cut < 40 {
                assert_eq!(r, Err(WireError::TooShort));
            }
        }
        let mut longer = out.clone();
        longer.push(0);
        assert_eq!(
            callee.decrypt(format, &longer),
            Err(WireError::NotBlockAligned)
        );
    }
    // Ciphertext above 1500 bytes is refused before decrypting.
    let big = vec![0u8; 16 + 1504];
    assert_eq!(
        callee.decrypt(PacketFormat::Short, &big),
        Err(WireError::TooLong)
    );
}

/// Builds a short-format packet whose plaintext (length field included) is chosen freely, so the
/// length checks of wire.md 3.3 steps 6-7 can be exercised with a valid msg_key.
fn forge_short(sender: &PacketCrypto, plain: &[u8]) -> Vec<u8> {
    let x = sender.x_send();
    let msg_key = sender.msg_key_v2(x, plain);
    let (k, iv) = kdf2(&sender.key, &msg_key, x);
    let mut ct = plain.to_vec();
    aes_ige_encrypt(&k, &iv, &mut ct);
    let mut out = msg_key.to_vec();
    out.extend_from_slice(&ct);
    out
}

#[test]
fn short_length_checks() {
    let caller = PacketCrypto::new(&spec_key(), true);
    let callee = PacketCrypto::new(&spec_key(), false);
    let with_len = |len: u16| {
        let mut plain = vec![0x55u8; 48];
        plain[..2].copy_from_slice(&len.to_le_bytes());
        forge_short(&caller, &plain)
    };
    // 48 - 32 = 16 bytes of padding: the loosest accepted.
    assert_eq!(
        callee.decrypt(PacketFormat::Short, &with_len(32)).unwrap(),
        vec![0x55; 32]
    );
    assert_eq!(
        callee.decrypt(PacketFormat::Short, &with_len(33)),
        Err(WireError::BadLength)
    );
    assert_eq!(
        callee.decrypt(PacketFormat::Short, &with_len(49)),
        Err(WireError::BadLength)
    );
    assert_eq!(
        callee.decrypt(PacketFormat::Short, &with_len(0x8000)),
        Err(WireError::BadLength)
    );
}

#[test]
fn ige_round_trip_and_chaining() {
    let key = [7u8; 32];
    let iv: [u8; 32] = core::array::from_fn(|i| i as u8);
    let plain: Vec<u8> = (0..64u8).collect();
    let mut data = plain.clone();
    aes_ige_encrypt(&key, &iv, &mut data);
    assert_ne!(data, plain);
    // Changing the second block changes every later ciphertext block (IGE propagates).
    let mut other = plain.clone();
    other[16] ^= 1;
    aes_ige_encrypt(&key, &iv, &mut other);
    assert_eq!(data[..16], other[..16]);
    assert_ne!(data[32..48], other[32..48]);
    aes_ige_decrypt(&key, &iv, &mut data);
    assert_eq!(data, plain);
}
