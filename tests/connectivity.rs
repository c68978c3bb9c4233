//! Connectivity over real loopback sockets: two relays where the preferred one dies mid-call,
//! and P2P calls, between two `tgvoip-call` processes and against the real libtgvoip 2.4.4
//! (`tests/interop/peer.py`; needs `TGVOIP_INTEROP_PYTHON`, which `scripts/test.sh` sets).
//!
//! Both sides send a continuous tone, so the longest silent stretch of what each side heard
//! is the audio gap of the scenario; every test prints it as `[gap] ...`.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Tone length: long enough for a kill mid-call and the recovery after it.
const TONE_SECS: f64 = 14.0;

fn states(r: &CallResult) -> Vec<&str> {
    r.states.iter().map(|(_, s)| s.as_str()).collect()
}

/// ESTABLISHED, then RECONNECTING, then ESTABLISHED again (and never FAILED).
fn recovered(r: &CallResult) -> bool {
    let s = states(r);
    let Some(rec) = s.iter().position(|x| *x == "RECONNECTING") else {
        return false;
    };
    s[..rec].contains(&"ESTABLISHED") && s[rec..].contains(&"ESTABLISHED") && !s.contains(&"FAILED")
}

/// A call with two relays (the second slower, so the first is preferred) in which the first
/// relay is killed `kill_after` into the call.
fn relay_death(pair: (Impl, Impl), name: &str) {
    let dir = temp_dir(name);
    let (a_in, b_in) = (tone(&dir, 440.0, TONE_SECS), tone(&dir, 660.0, TONE_SECS));
    let r1 = Reflector::start(&[]);
    let r2 = Reflector::start(&["--delay", "15"]);
    let extra = ["--relay", r2.addr.as_str(), "--bind", "127.0.0.1"];
    let t0 = Instant::now();
    let a = spawn_side(pair.0, &r1.addr, "caller", &a_in, &dir, &extra);
    std::thread::sleep(Duration::from_millis(50));
    let b = spawn_side(pair.1, &r1.addr, "callee", &b_in, &dir, &extra);
    std::thread::sleep(Duration::from_secs(6).saturating_sub(t0.elapsed()));
    drop(r1); // SIGKILL: the relay is gone
    let a = finish_call(a, "caller", &dir);
    let b = finish_call(b, "callee", &dir);
    let relay2 = r2.stop();
    for (role, imp, r) in [("caller", pair.0, &a), ("callee", pair.1, &b)] {
        let gap = longest_gap(&r.output);
        println!(
            "[gap] relay death, {} <-> {}: {role} ({}) heard a {gap:?} gap; states {:?}; pref_relay {}",
            pair.0.name(),
            pair.1.name(),
            imp.name(),
            r.states,
            r.debug_log["pref_relay"]
        );
        assert!(r.success, "{role}: {}", r.stderr);
        assert!(gap < Duration::from_millis(3500), "{role}: gap {gap:?}");
        if imp == Impl::Rust {
            assert!(recovered(r), "{role}: states {:?}", r.states);
            assert_eq!(r.debug_log["pref_relay"], "2", "{role}");
        }
    }
    // Both directions went through the second relay.
    for d in ["caller_to_callee", "callee_to_caller"] {
        let fwd = relay2[d]["forwarded"].as_u64().unwrap_or(0);
        assert!(fwd > 50, "relay 2 forwarded {fwd} {d}: {relay2}");
    }
}

#[test]
fn two_relays_the_preferred_one_dies_mid_call() {
    relay_death((Impl::Rust, Impl::Rust), "relay-death");
}

#[test]
fn libtgvoip_two_relays_the_preferred_one_dies_mid_call() {
    relay_death((Impl::Rust, Impl::Libtgvoip), "relay-death-lib-callee");
    relay_death((Impl::Libtgvoip, Impl::Rust), "relay-death-lib-caller");
}

/// A call through a slow relay with P2P allowed per side: returns both results and the relay
/// counters.
fn p2p_call(
    pair: (Impl, Impl),
    allow: (&str, &str),
    name: &str,
) -> (CallResult, CallResult, serde_json::Value) {
    let dir = temp_dir(name);
    let (a_in, b_in) = (tone(&dir, 440.0, 8.0), tone(&dir, 660.0, 8.0));
    let relay = Reflector::start(&["--delay", "30"]);
    let a = spawn_side(
        pair.0,
        &relay.addr,
        "caller",
        &a_in,
        &dir,
        &["--p2p", allow.0, "--bind", "127.0.0.1"],
    );
    std::thread::sleep(Duration::from_millis(50));
    let b = spawn_side(
        pair.1,
        &relay.addr,
        "callee",
        &b_in,
        &dir,
        &["--p2p", allow.1, "--bind", "127.0.0.1"],
    );
    let a = finish_call(a, "caller", &dir);
    let b = finish_call(b, "callee", &dir);
    (a, b, relay.stop())
}

fn relayed(relay: &serde_json::Value) -> u64 {
    ["caller_to_callee", "callee_to_caller"]
        .iter()
        .map(|d| relay[d]["forwarded"].as_u64().unwrap_or(0))
        .sum()
}

fn sent(r: &CallResult) -> u64 {
    r.debug_log["packet_stats"]["out"].as_u64().unwrap_or(0)
}

fn check_p2p(pair: (Impl, Impl), name: &str) {
    let (a, b, relay) = p2p_call(pair, ("yes", "yes"), name);
    for (role, r) in [("caller", &a), ("callee", &b)] {
        let gap = longest_gap(&r.output);
        println!(
            "[gap] P2P, {} <-> {}: {role} heard a {gap:?} gap; p2p_type {}; relay forwarded {} of {} packets sent",
            pair.0.name(),
            pair.1.name(),
            r.debug_log["p2p_type"],
            relayed(&relay),
            sent(&a) + sent(&b)
        );
        assert!(r.success, "{role}: {}", r.stderr);
        // "inet", or "lan" when the peer took our (loopback) LAN announcement.
        let p2p = r.debug_log["p2p_type"].as_str().unwrap_or("");
        assert!(p2p == "inet" || p2p == "lan", "{role}: {}", r.debug_log);
        assert!(gap < Duration::from_millis(500), "{role}: gap {gap:?}");
    }
    // Most of the call went direct.
    assert!(
        relayed(&relay) * 3 < sent(&a) + sent(&b),
        "relay forwarded {} of {}",
        relayed(&relay),
        sent(&a) + sent(&b)
    );
}

#[test]
fn p2p_call_goes_direct() {
    check_p2p((Impl::Rust, Impl::Rust), "p2p");
}

#[test]
fn libtgvoip_p2p_call_goes_direct() {
    check_p2p((Impl::Rust, Impl::Libtgvoip), "p2p-lib-callee");
    check_p2p((Impl::Libtgvoip, Impl::Rust), "p2p-lib-caller");
}

#[test]
fn never_p2p_without_allow_p2p() {
    for (allow, pair) in [
        (("yes", "no"), (Impl::Rust, Impl::Rust)),
        (("no", "yes"), (Impl::Rust, Impl::Libtgvoip)),
    ] {
        let (a, b, relay) = p2p_call(pair, allow, "no-p2p");
        for (role, r) in [("caller", &a), ("callee", &b)] {
            assert!(r.success, "{role}: {}", r.stderr);
            assert_eq!(r.debug_log["p2p_type"], "none", "{allow:?} {role}");
        }
        // Everything went through the relay.
        assert!(
            relayed(&relay) * 10 > (sent(&a) + sent(&b)) * 9,
            "relay forwarded {} of {}",
            relayed(&relay),
            sent(&a) + sent(&b)
        );
    }
}
