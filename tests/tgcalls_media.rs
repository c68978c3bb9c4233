//! tgcalls 9.0.0 media against the real thing: our `tgvoip-call --protocol 9.0.0` in a call with
//! ntgcalls 3.0.5 (PyPI), as caller and as callee, speech both ways over ICE/DTLS-SRTP on a
//! non-loopback interface of a private network namespace (`ntgcalls_capture.py peer --netns
//! --partner`). Each side's recording must score PESQ-WB >= 3.0 against what the other sent, and
//! mute must cross in both directions (our MediaState seen by ntgcalls as its remote microphone
//! going idle; ntgcalls's mute seen by our controller). A reference run of ntgcalls with itself
//! prints the same numbers (set-up time, mouth-to-ear delay, bytes on the wire).
//!
//! Needs `TGVOIP_NTGCALLS_PYTHON` (scripts/test.sh sets it from tests/tgcalls/setup.sh) and root
//! for the namespace; skipped without it, except under CI, where that is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tgcalls/ntgcalls_capture.py")
}

/// The ntgcalls side's JSON event lines from the mixed stderr.
fn events(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

struct Run {
    ours: CallResult,
    /// The ntgcalls peer's events (states, remote_source, muted, done).
    events: Vec<serde_json::Value>,
    ntg_out: PathBuf,
    our_in: PathBuf,
    ntg_in: PathBuf,
}

impl Run {
    fn done(&self) -> &serde_json::Value {
        self.events
            .iter()
            .find(|e| e["event"] == "done")
            .expect("done event")
    }
    fn stamp(&self, k: &str) -> f64 {
        self.done()["stamps"][k].as_f64().unwrap_or(f64::NAN)
    }
}

/// One call: our side in role `role` against ntgcalls in the other; `ours_extra` and
/// `ntg_extra` are appended to each side's options. Err(reason) when ntgcalls did not come up
/// (to be retried).
fn run_once(
    py: &Path,
    role: &str,
    dir: &Path,
    ours_extra: &[&str],
    ntg_extra: &[&str],
) -> Result<Run, String> {
    let (our_in, ntg_in) = if role == "caller" {
        (sample(CALLER_SAMPLE), sample(CALLEE_SAMPLE))
    } else {
        (sample(CALLEE_SAMPLE), sample(CALLER_SAMPLE))
    };
    let ntg_role = if role == "caller" { "callee" } else { "caller" };
    let ntg_out = dir.join(format!("ntgcalls_{ntg_role}.pcm"));
    let key = key_hex();
    let child = Command::new(py)
        .arg(script())
        .args(["peer", "--netns", "--role", ntg_role, "--key", &key])
        .args(["--seconds", "40"])
        .arg("--in")
        .arg(&ntg_in)
        .arg("--out")
        .arg(&ntg_out)
        .args(ntg_extra)
        .arg("--partner")
        .arg(env!("CARGO_BIN_EXE_tgvoip-call"))
        .args(["--protocol", "9.0.0", "-k", &key, "-r", role])
        .arg("-i")
        .arg(&our_in)
        .arg("-o")
        .arg(dir.join(format!("out_{role}.pcm")))
        .arg("-p")
        .arg(dir.join(format!("pre_{role}.pcm")))
        .args(ours_extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start ntgcalls peer: {e}"))?;
    let ours = finish_call(child, role, dir);
    let events = events(&ours.stderr);
    let run = Run {
        ours,
        events,
        ntg_out,
        our_in,
        ntg_in,
    };
    let done = run.events.iter().find(|e| e["event"] == "done");
    match done {
        Some(d) if d["connected"] == true => Ok(run),
        Some(_) if run.ours.first("ESTABLISHED").is_some() => Ok(run),
        _ => Err(format!(
            "ntgcalls did not connect; stderr:\n{}",
            run.ours.stderr
        )),
    }
}

/// `run_once` with up to 3 tries when ntgcalls fails to start.
fn run(py: &Path, role: &str, name: &str, ours_extra: &[&str], ntg_extra: &[&str]) -> Run {
    let mut last = String::new();
    for attempt in 1..=3 {
        let dir = temp_dir(&format!("tgcalls-{name}-{attempt}"));
        match run_once(py, role, &dir, ours_extra, ntg_extra) {
            Ok(r) => return r,
            Err(e) => {
                println!("[tgcalls-media] {name}: attempt {attempt} failed: {e}");
                last = e;
            }
        }
    }
    panic!("{name}: ntgcalls never connected: {last}")
}

/// Bytes per second from the debug log, sent and received.
fn our_rates(r: &CallResult) -> (f64, f64) {
    let secs = r.wall_seconds.max(1e-3);
    let sent = r.debug_log["bytes_sent"].as_f64().unwrap_or(0.0);
    let recvd = r.debug_log["bytes_recvd"].as_f64().unwrap_or(0.0);
    (sent / secs, recvd / secs)
}

/// Quality attempts per role: the ntgcalls side is a Python asyncio process that paces its
/// microphone and collects its speaker by the clock, so a CPU-starved machine (2 cores shared
/// by several builds) can glitch both directions of one call at once. A second call must pass
/// then; every attempt's numbers are printed.
const QUALITY_ATTEMPTS: usize = 2;

fn speech_both_ways(role: &str) {
    let Some(py) = ntgcalls_python("tgcalls-media") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut failure = String::new();
    for attempt in 1..=QUALITY_ATTEMPTS {
        match speech_attempt(&py, role, attempt) {
            Ok(()) => return,
            Err(e) => {
                println!("[tgcalls-media] ours as {role}: attempt {attempt}: {e}");
                failure = e;
            }
        }
    }
    panic!("{failure}");
}

/// One call with speech both ways; Err(why) when either recording scores below PESQ-WB 3.0.
fn speech_attempt(py: &Path, role: &str, attempt: usize) -> Result<(), String> {
    let r = run(py, role, &format!("{role}-q{attempt}"), &[], &[]);
    let ours = &r.ours;
    assert!(ours.success, "our side received no audio:\n{}", ours.stderr);
    let est = ours.first("ESTABLISHED").expect("ESTABLISHED");
    assert!(est < 2.0, "ESTABLISHED after {est} s");
    assert!(ours.first("FAILED").is_none(), "{:?}", ours.states);
    // ntgcalls hears us, we hear ntgcalls.
    let s_ntg = score(&r.our_in, &r.ntg_out);
    let s_ours = score(&r.ntg_in, &ours.output);
    // Mouth-to-ear: when the receiver's recording starts, minus when the sender read its first
    // sample, plus the alignment delay of the recording.
    let m2e_to_ntg = (r.stamp("first_out_us") - ours.timestamps[1] as f64) / 1000.0
        + s_ntg["delay_ms"].as_f64().unwrap_or(f64::NAN);
    let m2e_to_us = (ours.timestamps[3] as f64 - r.stamp("first_feed_us")) / 1000.0
        + s_ours["delay_ms"].as_f64().unwrap_or(f64::NAN);
    let (tx, rx) = our_rates(ours);
    let audio = ours
        .stderr
        .lines()
        .find(|l| l.contains("audio ticks"))
        .unwrap_or("");
    let wire = r.stamp("lo_bytes") / ((r.stamp("end_us") - r.stamp("start_us")) / 1e6);
    println!(
        "[tgcalls-media] ours as {role}: ESTABLISHED {est:.3} s (ntgcalls CONNECTED at {:.3} s after its start); \
         us->ntgcalls PESQ {} m2e {m2e_to_ntg:.0} ms | ntgcalls->us PESQ {} m2e {m2e_to_us:.0} ms; \
         we sent {tx:.0} B/s recvd {rx:.0} B/s (UDP payload); namespace total {wire:.0} B/s (both directions, with headers)",
        (r.stamp("connected_us") - r.stamp("start_us")) / 1e6,
        s_ntg["pesq_wb"],
        s_ours["pesq_wb"],
    );
    for (name, s) in [("ntgcalls hears us", &s_ntg), ("we hear ntgcalls", &s_ours)] {
        let pesq = s["pesq_wb"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: no PESQ: {s}"));
        if pesq < 3.0 {
            return Err(format!("{name}: PESQ-WB {pesq} < 3.0 ({s}); ours: {audio}"));
        }
    }
    Ok(())
}

#[test]
fn live_speech_both_ways_ours_as_caller() {
    speech_both_ways("caller");
}

#[test]
fn live_speech_both_ways_ours_as_callee() {
    speech_both_ways("callee");
}

/// Our mute reaches ntgcalls as MediaState (its remote microphone goes idle, then active), and
/// ntgcalls's mute reaches our controller. Both sides speak 8.0.0 here (the 9.0.0 tests cover
/// the other version string).
#[test]
fn live_mute_crosses_both_ways() {
    let Some(py) = ntgcalls_python("tgcalls-media") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = run(
        &py,
        "caller",
        "mute",
        &["--mute-at", "1.5:3", "--protocol", "8.0.0"],
        &["--mute-at", "3.5:4.5", "--version", "8.0.0"],
    );
    assert!(
        r.ours.stderr.contains("tgcalls 8.0.0: media connected"),
        "{}",
        r.ours.stderr
    );
    // ntgcalls: ACTIVE at connect, IDLING after our mute, ACTIVE again after our unmute.
    let mic: Vec<&str> = r
        .events
        .iter()
        .filter(|e| e["event"] == "remote_source" && e["device"] == "StreamDevice.MICROPHONE")
        .filter_map(|e| e["state"].as_str())
        .collect();
    let idle = mic.iter().position(|s| s.ends_with("IDLING"));
    assert!(idle.is_some(), "ntgcalls never saw our mute: {mic:?}");
    assert!(
        mic[idle.unwrap()..].iter().any(|s| s.ends_with("ACTIVE")),
        "ntgcalls never saw our unmute: {mic:?}"
    );
    // Ours: the peer's mute and unmute, in order.
    let peer: Vec<&str> = r
        .ours
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("tgvoip-call: "))
        .filter(|l| l.contains(" peer mic "))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    let m = peer.iter().position(|s| *s == "muted");
    assert!(m.is_some(), "we never saw ntgcalls's mute: {peer:?}");
    assert!(
        peer[m.unwrap()..].contains(&"unmuted"),
        "we never saw ntgcalls's unmute: {peer:?}"
    );
    println!("[tgcalls-media] mute: ntgcalls saw {mic:?}; we saw {peer:?}");
}

/// Reference: ntgcalls with itself in the same kind of namespace, same samples.
#[test]
fn live_ntgcalls_pair_reference() {
    let Some(py) = ntgcalls_python("tgcalls-media") else {
        return;
    };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = String::new();
    for attempt in 1..=3 {
        let dir = temp_dir(&format!("tgcalls-ref-{attempt}"));
        let json = dir.join("media.json");
        let (a_out, b_out) = (dir.join("ref_caller.pcm"), dir.join("ref_callee.pcm"));
        let out = Command::new(&py)
            .arg(script())
            .arg("media")
            .arg(&json)
            .args(["--netns", "--seconds", "2"])
            .arg("--in-caller")
            .arg(sample(CALLER_SAMPLE))
            .arg("--in-callee")
            .arg(sample(CALLEE_SAMPLE))
            .arg("--out-caller")
            .arg(&a_out)
            .arg("--out-callee")
            .arg(&b_out)
            .output()
            .expect("run ntgcalls media");
        if !out.status.success() {
            last = String::from_utf8_lossy(&out.stderr).to_string();
            println!("[tgcalls-media] reference attempt {attempt} failed: {last}");
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let st = &v["stamps"];
        let s_b = score(&sample(CALLER_SAMPLE), &b_out);
        let s_a = score(&sample(CALLEE_SAMPLE), &a_out);
        let us = |r: &str, k: &str| st[r][k].as_f64().unwrap_or(f64::NAN);
        let m2e_ab = (us("callee", "first_out_us") - us("caller", "first_feed_us")) / 1000.0
            + s_b["delay_ms"].as_f64().unwrap_or(f64::NAN);
        let m2e_ba = (us("caller", "first_out_us") - us("callee", "first_feed_us")) / 1000.0
            + s_a["delay_ms"].as_f64().unwrap_or(f64::NAN);
        let wire = v["lo_bytes"].as_f64().unwrap_or(f64::NAN) / v["wall_s"].as_f64().unwrap_or(1.0);
        println!(
            "[tgcalls-media] ntgcalls<->ntgcalls: CONNECTED {:.3} / {:.3} s; caller->callee PESQ {} m2e {m2e_ab:.0} ms | \
             callee->caller PESQ {} m2e {m2e_ba:.0} ms; namespace total {wire:.0} B/s (both directions, with headers)",
            us("caller", "connected_s"),
            us("callee", "connected_s"),
            s_b["pesq_wb"],
            s_a["pesq_wb"],
        );
        // A sanity check of the harness (the same glitches as `QUALITY_ATTEMPTS` can hit it).
        if [&s_a, &s_b]
            .iter()
            .all(|s| s["pesq_wb"].as_f64().unwrap_or(0.0) >= 3.0)
        {
            return;
        }
        last = format!("low PESQ: {s_a} / {s_b}");
    }
    panic!("ntgcalls pair never ran: {last}");
}
