//! IPv6 on the loopback `::1`: a relay reachable only over IPv6 (UDP, and TCP), a relay with
//! both an IPv4 and an IPv6 address where an IPv6 side uses the relay's IPv6-only copy (wire.md
//! 7.6) while an IPv4 side keeps IPv4, and P2P over IPv6 after both sides announce their IPv6
//! endpoint (IPV6_ENDPOINT). Skips with a message only when the host has no `::1`, never
//! under `CI=true`.

mod common;

use std::time::Duration;

use common::*;

/// Id of the IPv6-only copy of relay 1 (wire.md 7.1: id XOR FOURCC('I','P','v','6') << 32).
const IPV6_COPY_OF_1: i64 = 1 ^ (0x4950_7636_i64 << 32);

/// False (after saying why) when the host has no IPv6 loopback; a failure under CI.
fn have_ipv6_loopback() -> bool {
    if std::net::UdpSocket::bind("[::1]:0").is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but this host has no ::1"
    );
    println!("skipped: this host has no IPv6 loopback (::1)");
    false
}

fn check_audio(name: &str, results: [(&str, &CallResult); 2]) {
    for (role, r) in results {
        let gap = longest_gap(&r.output);
        println!(
            "[gap] {name}: {role} heard a {gap:?} gap; established at {:?} s; pref_relay {}; p2p_type {}",
            r.first("ESTABLISHED"),
            r.debug_log["pref_relay"],
            r.debug_log["p2p_type"]
        );
        assert!(r.success, "{role}: {}", r.stderr);
        assert!(r.first("ESTABLISHED").is_some(), "{role}: {:?}", r.states);
        assert!(gap < Duration::from_millis(500), "{role}: gap {gap:?}");
    }
}

fn forwarded(counts: &serde_json::Value) -> u64 {
    ["caller_to_callee", "callee_to_caller"]
        .iter()
        .map(|d| counts[d]["forwarded"].as_u64().unwrap_or(0))
        .sum()
}

fn sent(r: &CallResult) -> u64 {
    r.debug_log["packet_stats"]["out"].as_u64().unwrap_or(0)
}

#[test]
fn udp_and_tcp_relays_on_ipv6_loopback() {
    if !have_ipv6_loopback() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (label, relay_args, extra) in [
        ("UDP relay on [::1]", &[][..], &[][..]),
        (
            "TCP relay on [::1]",
            &["--block-udp", "both"][..],
            &["--tcp", "yes"][..],
        ),
    ] {
        let dir = temp_dir(&format!("ipv6-{}", extra.len()));
        let (a_in, b_in) = (tone(&dir, 440.0, 5.0), tone(&dir, 660.0, 5.0));
        let relay = Reflector::start_on("[::1]:0", relay_args);
        assert!(relay.addr.starts_with("[::1]:"), "{}", relay.addr);
        let (a, b) = run_pair_with(
            (Impl::Rust, Impl::Rust),
            &relay.addr,
            &dir,
            (&a_in, &b_in),
            extra,
            extra,
        );
        let counts = relay.stop();
        check_audio(label, [("caller", &a), ("callee", &b)]);
        for r in [&a, &b] {
            assert_eq!(r.debug_log["pref_relay"], "1");
            assert_eq!(r.debug_log["tcp_used"], !extra.is_empty());
        }
        assert!(forwarded(&counts) > 100, "{counts}");
    }
}

/// One relay with both 127.0.0.1 and ::1, listening on both (`[::]`).
fn dual_address_call(
    name: &str,
    caller_bind: &str,
    callee_bind: &str,
    p2p: &str,
) -> (CallResult, CallResult, serde_json::Value) {
    let dir = temp_dir(name);
    let (a_in, b_in) = (tone(&dir, 440.0, 6.0), tone(&dir, 660.0, 6.0));
    let relay = Reflector::start_on("[::]:0", &["--delay", "30"]);
    let port = relay.addr.rsplit(':').next().unwrap_or("").to_string();
    let v4 = format!("127.0.0.1:{port}");
    let args = |bind: &'static str| {
        vec![
            "--bind",
            bind,
            "--relay-ipv6",
            "::1",
            "--p2p",
            if p2p == "yes" { "yes" } else { "no" },
        ]
    };
    let caller_bind: &'static str = if caller_bind == "::1" {
        "::1"
    } else {
        "127.0.0.1"
    };
    let callee_bind: &'static str = if callee_bind == "::1" {
        "::1"
    } else {
        "127.0.0.1"
    };
    let (a, b) = run_pair_with(
        (Impl::Rust, Impl::Rust),
        &v4,
        &dir,
        (&a_in, &b_in),
        &args(caller_bind),
        &args(callee_bind),
    );
    (a, b, relay.stop())
}

#[test]
fn dual_address_relay_ipv6_side_uses_the_ipv6_copy_ipv4_side_stays_ipv4() {
    if !have_ipv6_loopback() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (a, b, counts) = dual_address_call("ipv6-choice", "::1", "127.0.0.1", "no");
    check_audio(
        "dual-address relay, caller on ::1, callee on 127.0.0.1",
        [("caller", &a), ("callee", &b)],
    );
    // The caller (IPv6 only) reaches the relay through its IPv6-only copy; the callee (IPv4)
    // has no IPv6 and uses the relay as signalled.
    assert_eq!(a.debug_log["pref_relay"], IPV6_COPY_OF_1.to_string());
    assert_eq!(b.debug_log["pref_relay"], "1");
    assert!(forwarded(&counts) > 100, "{counts}");
}

#[test]
fn p2p_over_ipv6_after_ipv6_endpoint_announcements() {
    if !have_ipv6_loopback() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (a, b, counts) = dual_address_call("ipv6-p2p", "::1", "::1", "yes");
    check_audio("P2P over IPv6", [("caller", &a), ("callee", &b)]);
    for r in [&a, &b] {
        assert_eq!(r.debug_log["p2p_type"], "inet", "{}", r.debug_log);
        assert_eq!(r.debug_log["pref_relay"], IPV6_COPY_OF_1.to_string());
    }
    // Nearly everything went direct: the relay carried only the handshake.
    let total = sent(&a) + sent(&b);
    println!(
        "[gap] P2P over IPv6: relay forwarded {} of {total} packets sent",
        forwarded(&counts)
    );
    assert!(forwarded(&counts) * 5 < total, "{counts}");
}
