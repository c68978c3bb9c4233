//! TCP relays over real loopback sockets: the relay drops all UDP of one side, which then finds
//! UDP unavailable (no self-info answers, wire.md 7.3), moves to the TCP copy of the relay
//! (obfuscated2 + abridged framing, 2.6) and completes the call with audio both ways, against
//! `tgvoip-call` and against the real libtgvoip 2.4.4 on the UDP side. Also a call where both
//! sides were given TCP relays from the start.
//!
//! Both sides send a continuous tone; every test prints the longest silent stretch each side
//! heard as `[gap] ...`.

mod common;

use std::time::Duration;

use common::*;

/// Id of the TCP copy of relay 1 (wire.md 7.1: id XOR FOURCC('T','C','P',0) << 32).
const TCP_COPY_OF_1: i64 = 1 ^ (0x5443_5000_i64 << 32);

fn tcp_counters(r: &CallResult) -> (u64, u64) {
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("transport tcp_connects"))
        .unwrap_or("");
    let num = |key: &str| -> u64 {
        line.split(key)
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (num("tcp_packets_in"), num("tcp_packets_out"))
}

/// A call through one relay that blocks the callee's UDP; the callee is tgvoip-rs.
fn udp_blocked_for_callee(caller: Impl, name: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir(name);
    let (a_in, b_in) = (tone(&dir, 440.0, 8.0), tone(&dir, 660.0, 8.0));
    let relay = Reflector::start(&["--block-udp", "callee"]);
    let extra = ["--bind", "127.0.0.1"];
    let (a, b) = run_pair_with(
        (caller, Impl::Rust),
        &relay.addr,
        &dir,
        (&a_in, &b_in),
        &extra,
        &extra,
    );
    let counts = relay.stop();
    for (role, r) in [("caller", &a), ("callee", &b)] {
        let gap = longest_gap(&r.output);
        println!(
            "[gap] UDP blocked for the callee, {} <-> tgvoip-rs: {role} heard a {gap:?} gap; \
             established at {:?} s; pref_relay {}; tcp_used {}",
            caller.name(),
            r.first("ESTABLISHED"),
            r.debug_log["pref_relay"],
            r.debug_log["tcp_used"]
        );
        assert!(r.success, "{role}: {}", r.stderr);
        assert!(r.first("ESTABLISHED").is_some(), "{role}: {:?}", r.states);
        assert!(gap < Duration::from_millis(500), "{role}: gap {gap:?}");
    }
    // The callee went TCP (synthetic id of the TCP copy), the caller stayed on UDP.
    assert_eq!(b.debug_log["tcp_used"], true, "{}", b.debug_log);
    assert_eq!(b.debug_log["udp_avail"], false, "{}", b.debug_log);
    assert_eq!(
        b.debug_log["pref_relay"],
        TCP_COPY_OF_1.to_string(),
        "{}",
        b.debug_log
    );
    if caller == Impl::Rust {
        assert_eq!(a.debug_log["tcp_used"], false, "{}", a.debug_log);
        assert_eq!(a.debug_log["pref_relay"], "1");
    }
    let (tcp_in, tcp_out) = tcp_counters(&b);
    assert!(tcp_in > 50 && tcp_out > 50, "callee TCP {tcp_in}/{tcp_out}");
    // The relay saw the callee's UDP (and dropped it) and carried the call over TCP.
    assert!(counts["blocked_udp"].as_u64().unwrap_or(0) > 0, "{counts}");
    assert!(
        counts["tcp_packets_in"].as_u64().unwrap_or(0) > 50,
        "{counts}"
    );
    assert_eq!(counts["tcp_connections"].as_u64(), Some(1), "{counts}");
    for d in ["caller_to_callee", "callee_to_caller"] {
        let fwd = counts[d]["forwarded"].as_u64().unwrap_or(0);
        assert!(fwd > 50, "relay forwarded {fwd} {d}: {counts}");
    }
}

#[test]
fn udp_blocked_for_one_side_the_call_completes_over_tcp() {
    udp_blocked_for_callee(Impl::Rust, "tcp-fallback");
}

#[test]
fn libtgvoip_on_udp_tgvoip_rs_on_tcp() {
    udp_blocked_for_callee(Impl::Libtgvoip, "tcp-fallback-lib");
}

/// Both sides get TCP relays from signalling (`--tcp yes`, like the C ABI's `tcp` flag or
/// `force_tcp`): no UDP at all reaches the relay.
#[test]
fn tcp_relays_from_signalling() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("tcp-only");
    let (a_in, b_in) = (tone(&dir, 440.0, 6.0), tone(&dir, 660.0, 6.0));
    let relay = Reflector::start(&["--block-udp", "both"]);
    let extra = ["--bind", "127.0.0.1", "--tcp", "yes"];
    let (a, b) = run_pair_with(
        (Impl::Rust, Impl::Rust),
        &relay.addr,
        &dir,
        (&a_in, &b_in),
        &extra,
        &extra,
    );
    let counts = relay.stop();
    for (role, r) in [("caller", &a), ("callee", &b)] {
        let gap = longest_gap(&r.output);
        println!(
            "[gap] TCP relays only: {role} heard a {gap:?} gap; established at {:?} s",
            r.first("ESTABLISHED")
        );
        assert!(r.success, "{role}: {}", r.stderr);
        assert_eq!(r.debug_log["tcp_used"], true, "{role}");
        assert_eq!(r.debug_log["pref_relay"], "1", "{role}");
        // 2.4.4 shows at most 3 signal bars on a TCP relay.
        let bars: Vec<i32> = r
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("tgvoip-call: "))
            .filter_map(|l| {
                l.split_once(" bars ")
                    .and_then(|(_, n)| n.trim().parse().ok())
            })
            .collect();
        assert!(
            !bars.is_empty() && bars.iter().all(|&b| (1..=3).contains(&b)),
            "{role}: signal bars on TCP {bars:?}"
        );
        assert!(gap < Duration::from_millis(500), "{role}: gap {gap:?}");
        // No UDP test delay: TCP relays are used from the first INIT.
        assert!(r.first("ESTABLISHED").is_some_and(|t| t < 2.5), "{role}");
    }
    assert_eq!(counts["tcp_connections"].as_u64(), Some(2), "{counts}");
}
