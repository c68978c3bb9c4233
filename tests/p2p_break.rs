//! A P2P path that breaks mid-call, over real sockets: the two sides and the relay run in three
//! network namespaces the test creates (veth pairs; the relay's namespace routes between the
//! sides). The call goes direct, then the relay's namespace stops forwarding between the sides
//! (`net.ipv4.ip_forward=0`), so only the relay path is left; both sides must fall back to the
//! relay and keep the audio flowing. Needs root and `ip`; under `CI=true` both are required,
//! else the test skips with a message. The namespaces are removed at the end.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Runs `ip ARGS`, panicking on failure.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Three namespaces: side A (10.91.1.2), side B (10.91.2.2) and the relay's R (10.91.1.1 and
/// 10.91.2.1), which routes between them. Removed on drop.
struct Topology {
    a: String,
    b: String,
    r: String,
}

impl Topology {
    fn create() -> Topology {
        let id = std::process::id() % 100_000;
        let t = Topology {
            a: format!("tgvp{id}a"),
            b: format!("tgvp{id}b"),
            r: format!("tgvp{id}r"),
        };
        for ns in [&t.a, &t.b, &t.r] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        for (side, net) in [(&t.a, 1), (&t.b, 2)] {
            let (outer, inner) = (format!("tgs{id}{net}"), format!("tgr{id}{net}"));
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ]);
            ip(&["link", "set", &outer, "netns", side]);
            ip(&["link", "set", &inner, "netns", &t.r]);
            let side_addr = format!("10.91.{net}.2/24");
            let relay_addr = format!("10.91.{net}.1/24");
            let gw = format!("10.91.{net}.1");
            ip(&["-n", side, "addr", "add", &side_addr, "dev", &outer]);
            ip(&["-n", side, "link", "set", &outer, "up"]);
            ip(&["-n", side, "route", "add", "default", "via", &gw]);
            ip(&["-n", &t.r, "addr", "add", &relay_addr, "dev", &inner]);
            ip(&["-n", &t.r, "link", "set", &inner, "up"]);
        }
        t.set_forwarding(true);
        t
    }

    /// Turns routing between the sides on or off in the relay's namespace.
    fn set_forwarding(&self, on: bool) {
        let v = format!("net.ipv4.ip_forward={}", u8::from(on));
        let ok = Command::new("ip")
            .args(["netns", "exec", &self.r, "sysctl", "-q", "-w", &v])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "sysctl {v} in {}", self.r);
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b, &self.r] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Whether the test can run here (root and `ip`), else why not; a failure under CI.
fn can_run() -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let have_ip = Command::new("ip").arg("-V").output().is_ok();
    if root && have_ip {
        return true;
    }
    assert!(!ci, "CI=true but root={root}, ip={have_ip}");
    println!("skipped: needs root and iproute2 to create network namespaces");
    false
}

/// `tgvoip-call` for `role` inside namespace `ns`.
fn spawn_in(ns: &str, relay: &str, role: &str, input: &Path, dir: &Path, bind: &str) -> Child {
    let tag = if role == "caller" {
        CALLER_TAG
    } else {
        CALLEE_TAG
    };
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env!("CARGO_BIN_EXE_tgvoip-call"))
        .arg(relay)
        .arg(tag)
        .args(["-k", &key_hex(), "-r", role])
        .arg("-i")
        .arg(input)
        .arg("-o")
        .arg(dir.join(format!("out_{role}.pcm")))
        .arg("-p")
        .arg(dir.join(format!("pre_{role}.pcm")))
        .args(["--p2p", "yes", "--bind", bind])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tgvoip-call in a namespace")
}

/// Bytes the relay forwarded (both directions) per 500 ms bin, from its trace file.
fn relay_bytes_per_bin(trace: &Path) -> Vec<(f64, u64)> {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let t = v["t"].as_f64().unwrap_or(0.0);
            let b = ["caller_to_callee", "callee_to_caller"]
                .iter()
                .map(|d| v[d]["offered"].as_u64().unwrap_or(0))
                .sum();
            (t, b)
        })
        .collect()
}

#[test]
fn p2p_breaks_mid_call_and_the_call_falls_back_to_the_relay() {
    if !can_run() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("p2p-break");
    let (a_in, b_in) = (tone(&dir, 440.0, 14.0), tone(&dir, 660.0, 14.0));
    let topo = Topology::create();
    let trace = dir.join("relay-trace.jsonl");
    let mut relay = Command::new("ip")
        .args(["netns", "exec", &topo.r])
        .arg(env!("CARGO_BIN_EXE_tgvoip-reflector"))
        .args(["--listen", "0.0.0.0:0", "--delay", "20", "--trace"])
        .arg(&trace)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start tgvoip-reflector");
    let mut line = String::new();
    BufReader::new(relay.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let port = line.trim().rsplit(':').next().unwrap_or("").to_string();
    let t0 = Instant::now();
    let a = spawn_in(
        &topo.a,
        &format!("10.91.1.1:{port}"),
        "caller",
        &a_in,
        &dir,
        "10.91.1.2",
    );
    std::thread::sleep(Duration::from_millis(50));
    let b = spawn_in(
        &topo.b,
        &format!("10.91.2.1:{port}"),
        "callee",
        &b_in,
        &dir,
        "10.91.2.2",
    );
    // The call goes direct within a few seconds; break the direct path at 7 s.
    let break_at = Duration::from_secs(7);
    std::thread::sleep(break_at.saturating_sub(t0.elapsed()));
    topo.set_forwarding(false);
    let a = finish_call(a, "caller", &dir);
    let b = finish_call(b, "callee", &dir);
    // SAFETY: plain kill(2) on our own child ("ip netns exec" execs the relay in place).
    unsafe {
        libc::kill(relay.id() as i32, libc::SIGTERM);
    }
    let _ = relay.wait();
    drop(topo);
    let bins = relay_bytes_per_bin(&trace);
    let sum = |from: f64, to: f64| -> u64 {
        bins.iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, b)| *b)
            .sum()
    };
    // Per second: while direct (4..6.5 s) the relay carries next to nothing; after the break
    // (from 10 s on) it carries the whole call.
    let direct_rate = sum(4.0, 6.5) as f64 / 2.5;
    let after_rate = sum(10.0, 13.0) as f64 / 3.0;
    for (role, r) in [("caller", &a), ("callee", &b)] {
        let gap = longest_gap(&r.output);
        println!(
            "[gap] P2P breaks mid-call, tgvoip-rs <-> tgvoip-rs: {role} heard a {gap:?} gap; \
             states {:?}; relay {direct_rate:.0} B/s while direct, {after_rate:.0} B/s after",
            r.states
        );
        assert!(r.success, "{role}: {}", r.stderr);
        assert!(gap < Duration::from_millis(3500), "{role}: gap {gap:?}");
        assert!(!r.states.iter().any(|(_, s)| s == "FAILED"), "{role}");
        assert_eq!(r.debug_log["p2p_type"], "none", "{role}: back on the relay");
    }
    assert!(
        direct_rate * 5.0 < after_rate && after_rate > 3000.0,
        "relay bytes/s: {direct_rate} while direct, {after_rate} after the break: {bins:?}"
    );
}
