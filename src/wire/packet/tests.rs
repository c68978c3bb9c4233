//! Spec bodies (wire.md Appendix B, 3.6, 4.4, 6.1, 6.2), round trips and truncation.

use super::*;
use crate::wire::test_hex::hex;

fn header(ptype: PacketType, ack_id: u32, seq: u32, ack_mask: u32) -> Header {
    Header {
        ptype,
        ack_id,
        seq,
        ack_mask,
        extras: Vec::new(),
        recv_ts: None,
    }
}

/// Writes a short body from a header and payload.
fn short_body(h: &Header, p: &Payload<'_>) -> Vec<u8> {
    let mut payload = Vec::new();
    p.write(9, &mut payload);
    let mut out = Vec::new();
    Packet::write_short(h, &payload, &mut out);
    out
}

#[test]
fn init_body_of_section_3_6() {
    let body = hex("01 00000000 01000000 00000000 00 09000000 03000000 00000000 01 5355504f 00 00");
    let pkt = Packet::parse_short(&body).unwrap();
    assert_eq!(pkt.header, header(PacketType::INIT, 0, 1, 0));
    let init = Payload::parse(pkt.header.ptype, pkt.payload, 0).unwrap();
    assert_eq!(init, Payload::Init(Init::audio_only(0)));
    assert_eq!(short_body(&pkt.header, &init), body);
}

#[test]
fn appendix_b_init_ack() {
    let body = hex("02 01000000 02000000 00000080 00 09000000 03000000 01 01 01 5355504f 3c00 01");
    let pkt = Packet::parse_short(&body).unwrap();
    assert_eq!(pkt.header, header(PacketType::INIT_ACK, 1, 2, 0x8000_0000));
    let ack = Payload::parse(pkt.header.ptype, pkt.payload, 9).unwrap();
    let expected = InitAck {
        protocol_version: 9,
        min_protocol_version: 3,
        streams: vec![StreamDesc {
            id: 1,
            stream_type: 1,
            codec: CODEC_OPUS,
            frame_duration_ms: 60,
            enabled: true,
        }],
    };
    assert_eq!(ack, Payload::InitAck(expected));
    assert_eq!(short_body(&pkt.header, &ack), body);
}

#[test]
fn appendix_b_stream_data() {
    let mut body = hex("04 02000000 03000000 000000c0 00 01 a6 00000000");
    let opus: Vec<u8> = [0x7b, 0x83]
        .into_iter()
        .chain((0..164).map(|i| i as u8))
        .collect();
    body.extend_from_slice(&opus);
    let pkt = Packet::parse_short(&body).unwrap();
    assert_eq!(
        pkt.header,
        header(PacketType::STREAM_DATA, 2, 3, 0xC000_0000)
    );
    let p = Payload::parse(pkt.header.ptype, pkt.payload, 9).unwrap();
    let Payload::StreamData(frames) = &p else {
        panic!("{p:?}")
    };
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].stream_id, frames[0].pts), (1, 0));
    assert_eq!(frames[0].data, &opus[..]);
    assert!(frames[0].fec.is_empty());
    assert_eq!(short_body(&pkt.header, &p), body);
}

#[test]
fn appendix_b_stream_data_with_mute_extra() {
    let mut body = hex("04 31000000 32000000 ffffffff 01 01 06 01 01 00000000 01 80 9c090000");
    body.extend_from_slice(&[0x7b; 128]);
    let pkt = Packet::parse_short(&body).unwrap();
    assert_eq!(pkt.header.seq, 0x32);
    assert_eq!(
        pkt.header.extras,
        vec![Extra::StreamFlags {
            stream_id: 1,
            flags: 0
        }]
    );
    let p = Payload::parse(pkt.header.ptype, pkt.payload, 9).unwrap();
    let Payload::StreamData(frames) = &p else {
        panic!("{p:?}")
    };
    assert_eq!((frames[0].pts, frames[0].data.len()), (2460, 128));
    assert_eq!(short_body(&pkt.header, &p), body);
}

#[test]
fn appendix_b_ping_pong_nop() {
    let ping = hex("06 25000000 26000000 ffffffff 00");
    let pkt = Packet::parse_short(&ping).unwrap();
    assert_eq!(pkt.header, header(PacketType::PING, 0x25, 0x26, u32::MAX));
    assert_eq!(
        Payload::parse(pkt.header.ptype, pkt.payload, 9).unwrap(),
        Payload::Ping
    );

    let pong = hex("07 26000000 26000000 ffffffff 00 26000000");
    let pkt = Packet::parse_short(&pong).unwrap();
    let p = Payload::parse(pkt.header.ptype, pkt.payload, 9).unwrap();
    assert_eq!(p, Payload::Pong { ping_seq: 38 });
    assert_eq!(short_body(&pkt.header, &p), pong);

    let nop = hex("0e 35000000 36000000 ffffffff 00");
    let pkt = Packet::parse_short(&nop).unwrap();
    assert_eq!(
        Payload::parse(pkt.header.ptype, pkt.payload, 9).unwrap(),
        Payload::Nop
    );
    assert_eq!(pkt.header.ptype.name(), "nop");
}

#[test]
fn extra_fec_capture_example() {
    // wire.md 4.4: `41 7e20 50190000` = stream 1, LEN16, length 126, EXTRA_FEC, pts 6480.
    let mut payload = hex("41 7e20 50190000");
    payload.extend_from_slice(&[0x7b; 126]);
    payload.extend_from_slice(&hex("02 03 aabbcc 02 ddee"));
    let p = Payload::parse(PacketType::STREAM_DATA, &payload, 9).unwrap();
    let Payload::StreamData(frames) = &p else {
        panic!("{p:?}")
    };
    let f = &frames[0];
    assert_eq!((f.stream_id, f.pts, f.data.len()), (1, 6480, 126));
    assert_eq!(f.fec, vec![&hex("aabbcc")[..], &hex("ddee")[..]]);
    assert!(!f.keyframe && f.fragment.is_none());
    let mut out = Vec::new();
    p.write(9, &mut out);
    assert_eq!(out, payload);
}

#[test]
fn init_one_byte_codecs_for_old_peers() {
    // The L < 74 compatibility INIT of wire.md 6.1, read by a v4 peer and a v9 peer.
    let mut payload = hex("04000000 03000000 00000000");
    payload.extend_from_slice(&hex("02 01 00 00 00 53 55 50 4F 00 00"));
    let Payload::Init(old) = Payload::parse(PacketType::INIT, &payload, 4).unwrap() else {
        panic!()
    };
    assert_eq!(old.audio_codecs, vec![1, 0]);
    let Payload::Init(new) = Payload::parse(PacketType::INIT, &payload, 9).unwrap() else {
        panic!()
    };
    assert_eq!(new.audio_codecs, vec![1, CODEC_OPUS]);
    assert!(new.video_decoders.is_empty());
    // Unknown peer version: the INIT's own version (4) selects one-byte ids.
    let Payload::Init(unk) = Payload::parse(PacketType::INIT, &payload, 0).unwrap() else {
        panic!()
    };
    assert_eq!(unk.audio_codecs, vec![1, 0]);
}

#[test]
fn init_with_video_round_trip() {
    let init = Init {
        protocol_version: 9,
        min_protocol_version: 3,
        flags: 0xC,
        audio_codecs: vec![CODEC_OPUS],
        video_decoders: vec![0x5650_3830, 0x4156_4320],
        max_video_resolution: 4,
    };
    let mut out = Vec::new();
    Payload::Init(init.clone()).write(9, &mut out);
    assert_eq!(out.len(), 4 + 4 + 4 + 1 + 4 + 1 + 8 + 1);
    assert_eq!(
        Payload::parse(PacketType::INIT, &out, 9).unwrap(),
        Payload::Init(init)
    );
}

#[test]
fn init_ack_one_byte_and_v1_forms() {
    let ack = InitAck {
        protocol_version: 4,
        min_protocol_version: 3,
        streams: vec![StreamDesc {
            id: 1,
            stream_type: 1,
            codec: 1,
            frame_duration_ms: 60,
            enabled: false,
        }],
    };
    let mut out = Vec::new();
    Payload::InitAck(ack.clone()).write(4, &mut out);
    assert_eq!(out, hex("04000000 03000000 01 01 01 01 3c00 00"));
    assert_eq!(
        Payload::parse(PacketType::INIT_ACK, &out, 9).unwrap(),
        Payload::InitAck(ack)
    );

    // Version-1 form: stream list only (7 bytes <= 10).
    let v1 = hex("01 01 01 01 3c00 01");
    let Payload::InitAck(parsed) = Payload::parse(PacketType::INIT_ACK, &v1, 0).unwrap() else {
        panic!()
    };
    assert_eq!(parsed.protocol_version, 1);
    assert_eq!(parsed.streams.len(), 1);
    assert_eq!(
        (parsed.streams[0].codec, parsed.streams[0].enabled),
        (1, true)
    );
    let mut out = Vec::new();
    Payload::InitAck(parsed).write(9, &mut out);
    assert_eq!(out, v1);
    // Opus FOURCC written to an old peer becomes the one-byte id 1.
    let modern = InitAck {
        protocol_version: 9,
        min_protocol_version: 3,
        streams: vec![StreamDesc {
            id: 1,
            stream_type: 1,
            codec: CODEC_OPUS,
            frame_duration_ms: 60,
            enabled: true,
        }],
    };
    let mut out = Vec::new();
    Payload::InitAck(modern).write(4, &mut out);
    assert_eq!(out, hex("09000000 03000000 01 01 01 01 3c00 01"));
}

fn frame<'a>(data: &'a [u8], pts: u32, fec: Vec<&'a [u8]>) -> StreamFrame<'a> {
    StreamFrame {
        stream_id: 1,
        pts,
        keyframe: false,
        fragment: None,
        data,
        fec,
    }
}

/// One payload of every kind; the returned peer version is what they round-trip with.
fn every_payload<'a>(big: &'a [u8], small: &'a [u8]) -> Vec<Payload<'a>> {
    vec![
        Payload::Init(Init::audio_only(1)),
        Payload::InitAck(InitAck {
            protocol_version: 9,
            min_protocol_version: 3,
            streams: vec![
                StreamDesc {
                    id: 1,
                    stream_type: 1,
                    codec: CODEC_OPUS,
                    frame_duration_ms: 60,
                    enabled: true,
                },
                StreamDesc {
                    id: 2,
                    stream_type: 2,
                    codec: 0x5650_3830,
                    frame_duration_ms: 0,
                    enabled: false,
                },
            ],
        }),
        Payload::StreamState {
            stream_id: 1,
            enabled: true,
        },
        Payload::StreamState {
            stream_id: 1,
            enabled: false,
        },
        Payload::StreamData(vec![frame(small, 60, Vec::new())]),
        Payload::StreamData(vec![frame(big, 120, Vec::new())]),
        Payload::StreamData(vec![frame(small, 180, vec![small, &small[..3]])]),
        Payload::StreamData(vec![StreamFrame {
            stream_id: 2,
            pts: 7,
            keyframe: true,
            fragment: Some((1, 3)),
            data: small,
            fec: Vec::new(),
        }]),
        Payload::StreamData(vec![
            frame(small, 0, Vec::new()),
            frame(big, 60, Vec::new()),
        ]),
        Payload::StreamData(vec![
            frame(small, 0, Vec::new()),
            frame(small, 60, Vec::new()),
            frame(big, 120, Vec::new()),
        ]),
        Payload::Ping,
        Payload::Pong {
            ping_seq: 0xDEAD_BEEF,
        },
        Payload::LanEndpoint {
            addr: [192, 0, 2, 2],
            port: 29401,
        },
        Payload::NetworkChanged { flags: 1 },
        Payload::Nop,
        Payload::StreamEc(StreamEc {
            stream_id: 1,
            pts: 600,
            frames: vec![small, &big[..255]],
        }),
        Payload::Ignored(PacketType::UPDATE_STREAMS),
        Payload::Ignored(PacketType(99)),
    ]
}

fn test_data() -> (Vec<u8>, Vec<u8>) {
    let big: Vec<u8> = (0..700).map(|i| (i * 13) as u8).collect();
    let small: Vec<u8> = (0..40).map(|i| (i * 3) as u8).collect();
    (big, small)
}

#[test]
fn every_payload_round_trips() {
    let (big, small) = test_data();
    for p in every_payload(&big, &small) {
        let mut out = Vec::new();
        p.write(9, &mut out);
        let parsed = Payload::parse(p.packet_type(), &out, 9).unwrap();
        assert_eq!(parsed, p);
    }
}

#[test]
fn len16_used_only_when_needed() {
    let (big, small) = test_data();
    let mut out = Vec::new();
    frame(&small, 0, Vec::new()).write(&mut out);
    assert_eq!(out[..2], [0x01, 40]);
    out.clear();
    frame(&big, 0, Vec::new()).write(&mut out);
    assert_eq!(out[..3], [0x41, 0xBC, 0x02]); // 700 = 0x2BC
    out.clear();
    frame(&small, 0, vec![&small[..1]]).write(&mut out);
    assert_eq!(out[..3], [0x41, 40, 0x20]);
}

#[test]
fn network_changed_from_v1_peer_is_not_read() {
    let p = Payload::parse(PacketType::NETWORK_CHANGED, &[], 1).unwrap();
    assert_eq!(p, Payload::NetworkChanged { flags: 0 });
    let p = Payload::parse(PacketType::NETWORK_CHANGED, &[1, 0, 0, 0], 2).unwrap();
    assert_eq!(p, Payload::NetworkChanged { flags: 1 });
}

#[test]
fn packet_type_names() {
    assert_eq!(PacketType::INIT.name(), "init");
    assert_eq!(PacketType::INIT_ACK.name(), "init_ack");
    assert_eq!(PacketType::STREAM_DATA.name(), "stream_data");
    assert_eq!(PacketType::STREAM_EC.name(), "stream_ec");
    assert_eq!(PacketType(200).name(), "unknown");
    let names: std::collections::HashSet<_> = (1..=17).map(|t| PacketType(t).name()).collect();
    assert_eq!(names.len(), 16); // 15 and 16 share "retired"
}

#[test]
fn truncated_payloads_are_errors() {
    let (big, small) = test_data();
    for p in every_payload(&big, &small) {
        let mut out = Vec::new();
        p.write(9, &mut out);
        // INIT's video tail is optional: cutting exactly before it still parses.
        let optional_tail = if matches!(p, Payload::Init(_)) {
            Some(17)
        } else {
            None
        };
        for cut in 0..out.len() {
            let r = Payload::parse(p.packet_type(), &out[..cut], 9);
            if Some(cut) == optional_tail {
                assert!(r.is_ok());
            } else if !matches!(p, Payload::InitAck(_)) || cut > 10 {
                // (INIT_ACK cuts of <= 10 bytes fall into the version-1 form and may parse.)
                assert!(r.is_err(), "{:?} cut {cut}", p.packet_type());
            }
        }
    }
}

#[test]
fn truncated_short_headers_are_errors() {
    let mut h = header(PacketType::NOP, 5, 6, 7);
    h.extras = vec![Extra::NetworkChanged { flags: 1 }];
    h.recv_ts = Some(1234);
    let mut out = Vec::new();
    Packet::write_short(&h, &[], &mut out);
    assert_eq!(out[13], XFLAG_HAS_EXTRA | XFLAG_HAS_RECV_TS);
    assert_eq!(Packet::parse_short(&out).unwrap().header, h);
    for cut in 0..out.len() {
        assert!(Packet::parse_short(&out[..cut]).is_err(), "cut {cut}");
    }
}

const CID: [u8; 16] = [0x71; 16];

#[test]
fn tl_decrypted_audio_block_round_trip() {
    let h = header(PacketType::INIT, 0, 1, 0);
    let mut payload = Vec::new();
    Payload::Init(Init::audio_only(0)).write(9, &mut payload);
    let mut out = Vec::new();
    Packet::write_tl(&h, &payload, true, true, &CID, &mut out);
    assert_eq!(out[..4], hex("c148f9db")[..]);
    assert_eq!(out[12], 7);
    // Flags observed in captures: 0x3D with the type in the top byte.
    assert_eq!(out[20..24], [0x3D, 0, 0, 1]);
    assert_eq!(out[24..40], CID);
    let pkt = Packet::parse_tl(&out, true, &CID).unwrap();
    assert_eq!(pkt.header, h);
    assert_eq!(pkt.payload, &payload[..]);
    for cut in 0..out.len() {
        assert!(
            Packet::parse_tl(&out[..cut], true, &CID).is_err(),
            "cut {cut}"
        );
    }
    // Wrong call id, wrong protocol name, missing seq flags.
    assert_eq!(
        Packet::parse_tl(&out, true, &[0; 16]),
        Err(WireError::Invalid("call_id"))
    );
    let mut bad = out.clone();
    bad[52] ^= 1;
    assert_eq!(
        Packet::parse_tl(&bad, true, &CID),
        Err(WireError::Invalid("protocol"))
    );
    let mut bad = out.clone();
    bad[20] &= !0x10;
    assert_eq!(
        Packet::parse_tl(&bad, true, &CID),
        Err(WireError::MissingHeaderFields)
    );
    let mut bad = out.clone();
    bad[0] ^= 1;
    assert!(matches!(
        Packet::parse_tl(&bad, true, &CID),
        Err(WireError::UnknownConstructor(_))
    ));
    // Empty payload: no DATA flag, no length.
    let mut out = Vec::new();
    Packet::write_tl(
        &header(PacketType::PING, 3, 4, 5),
        &[],
        true,
        true,
        &CID,
        &mut out,
    );
    assert_eq!(out[20], 0x3C);
    assert_eq!(out.len(), 4 + 8 + 8 + 4 + 16 + 12 + 4);
    assert!(Packet::parse_tl(&out, true, &CID)
        .unwrap()
        .payload
        .is_empty());
}

#[test]
fn tl_simple_audio_block_round_trip() {
    let mut h = header(PacketType::STREAM_DATA, 10, 11, 0xF000_0000);
    let (big, _) = test_data();
    let mut payload = Vec::new();
    Payload::StreamData(vec![frame(&big[..300], 60, Vec::new())]).write(9, &mut payload);
    for with_extras in [false, true] {
        h.extras = if with_extras {
            vec![Extra::StreamFlags {
                stream_id: 1,
                flags: 1,
            }]
        } else {
            vec![]
        };
        let mut out = Vec::new();
        Packet::write_tl(&h, &payload, false, with_extras, &CID, &mut out);
        assert_eq!(out[..4], hex("760e0dcc")[..]);
        // TL length = payload + 13, in the long (FE + u24) form since it exceeds 253.
        assert_eq!(out[20], 0xFE);
        let tl_len = u32::from_le_bytes([out[21], out[22], out[23], 0]) as usize;
        assert_eq!(tl_len, payload.len() + 13);
        let pkt = Packet::parse_tl(&out, with_extras, &CID).unwrap();
        assert_eq!(pkt.header, h);
        assert_eq!(pkt.payload, &payload[..]);
        for cut in 0..out.len() {
            assert!(
                Packet::parse_tl(&out[..cut], with_extras, &CID).is_err(),
                "cut {cut}"
            );
        }
    }
    // Without extras and a short payload: one-byte TL length; no xflags byte for old peers.
    let mut out = Vec::new();
    Packet::write_tl(
        &header(PacketType::NOP, 1, 2, 3),
        &[],
        false,
        false,
        &CID,
        &mut out,
    );
    assert_eq!(out.len(), 4 + 8 + 8 + 1 + 13);
    assert_eq!(out[20], 13);
}
