//! Calls between tgvoip-rs (`tgvoip-call`) and the real libtgvoip 2.4.4 (pytgvoip 0.0.7.1 driven by
//! `tests/interop/peer.py`) through `tgvoip-reflector`, in both role assignments, each scenario
//! also run libtgvoip <-> libtgvoip for comparison. Needs `TGVOIP_INTEROP_PYTHON` (the venv from
//! `tests/interop/setup.sh`; `scripts/test.sh` sets it): without it every test fails.
//!
//! Prints one `[interop]` line per call: PESQ-WB both ways, speech fractions, establishment times.

mod common;

use std::path::{Path, PathBuf};

use common::*;

use Impl::{Libtgvoip as Lib, Rust};

/// The three pairings of every scenario: (caller, callee).
const PAIRINGS: [(Impl, Impl); 3] = [(Rust, Lib), (Lib, Rust), (Lib, Lib)];

/// One finished call with both recordings scored against what the other side sent.
struct Call {
    pair: (Impl, Impl),
    caller: CallResult,
    callee: CallResult,
    /// The callee's recording scored against the caller's input (caller -> callee).
    to_callee: serde_json::Value,
    /// The caller's recording scored against the callee's input (callee -> caller).
    to_caller: serde_json::Value,
    caller_in: PathBuf,
    callee_in: PathBuf,
    relay: serde_json::Value,
}

impl Call {
    fn sides(&self) -> [(Impl, &CallResult); 2] {
        [(self.pair.0, &self.caller), (self.pair.1, &self.callee)]
    }

    /// The side run by `imp` with what it heard scored against what the other sent (the first
    /// such side if both are `imp`).
    fn side(&self, imp: Impl) -> (&CallResult, &serde_json::Value) {
        if self.pair.0 == imp {
            (&self.caller, &self.to_caller)
        } else {
            (&self.callee, &self.to_callee)
        }
    }

    fn other(&self, imp: Impl) -> (&CallResult, &serde_json::Value) {
        if self.pair.0 == imp {
            (&self.callee, &self.to_callee)
        } else {
            (&self.caller, &self.to_caller)
        }
    }

    fn is_interop(&self) -> bool {
        self.pair.0 != self.pair.1
    }

    fn label(&self) -> String {
        format!("{} -> {}", self.pair.0.name(), self.pair.1.name())
    }
}

fn pesq(s: &serde_json::Value) -> f64 {
    s["pesq_wb"].as_f64().unwrap_or(f64::NAN)
}

fn fmt_pesq(s: &serde_json::Value) -> String {
    let p = pesq(s);
    if p.is_nan() {
        "-".into()
    } else {
        format!("{p:.2}")
    }
}

/// Runs one call of `scenario`; `args(imp, role)` gives each side's extra arguments.
fn run(
    scenario: &str,
    pair: (Impl, Impl),
    relay_args: &[&str],
    inputs: (&str, &str),
    args: &dyn Fn(Impl, &str) -> Vec<String>,
) -> Call {
    let dir = temp_dir(&format!(
        "interop-{scenario}-{}-{}",
        pair.0.name(),
        pair.1.name()
    ));
    let relay = Reflector::start(relay_args);
    // libtgvoip counts jitter-buffer misses as `lost_in`, including those after its peer hung up:
    // in interop calls our side stays 2 s longer, so libtgvoip's counters cover only the call.
    let side_args = |imp: Impl, role: &str| {
        let mut a = args(imp, role);
        if imp == Rust && pair.0 != pair.1 {
            a.extend(words("--drain 5"));
        }
        a
    };
    let caller_args = side_args(pair.0, "caller");
    let callee_args = side_args(pair.1, "callee");
    let caller_in = sample(inputs.0);
    let callee_in = sample(inputs.1);
    let (caller, callee) = run_pair_with(
        pair,
        &relay.addr,
        &dir,
        (&caller_in, &callee_in),
        &strs(&caller_args),
        &strs(&callee_args),
    );
    let relay = relay.stop();
    let to_callee = score(&caller_in, &callee.output);
    let to_caller = score(&callee_in, &caller.output);
    let call = Call {
        pair,
        caller,
        callee,
        to_callee,
        to_caller,
        caller_in,
        callee_in,
        relay,
    };
    println!(
        "[interop] {scenario:<12} {:<24} caller->callee PESQ {:>5} speech {:.2} | callee->caller PESQ {:>5} speech {:.2} | established {:?} / {:?} s",
        call.label(),
        fmt_pesq(&call.to_callee),
        call.to_callee["speech_fraction"].as_f64().unwrap_or(f64::NAN),
        fmt_pesq(&call.to_caller),
        call.to_caller["speech_fraction"].as_f64().unwrap_or(f64::NAN),
        call.caller.first("ESTABLISHED"),
        call.callee.first("ESTABLISHED"),
    );
    for (imp, r) in call.sides() {
        let log = &r.debug_log;
        println!(
            "[interop] {scenario:<12} {:<24}   {:>9}: packet_stats {} protocol {} bytes sent {} recvd {} recv_stats {:?}",
            call.label(),
            imp.name(),
            log["packet_stats"],
            log["protocol_version"],
            log["bytes_sent"],
            log["bytes_recvd"],
            r.recv_stats
        );
    }
    call
}

/// Runs all three pairings of a scenario.
fn run_all(
    scenario: &str,
    relay_args: &dyn Fn((Impl, Impl)) -> Vec<String>,
    inputs: (&str, &str),
    args: &dyn Fn(Impl, &str) -> Vec<String>,
) -> Vec<Call> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let calls: Vec<Call> = PAIRINGS
        .iter()
        .map(|&pair| {
            let relay = relay_args(pair);
            let relay: Vec<&str> = relay.iter().map(String::as_str).collect();
            run(scenario, pair, &relay, inputs, args)
        })
        .collect();
    for c in &calls {
        println!(
            "[interop-table] {scenario} | {} | caller->callee {} | callee->caller {}",
            c.label(),
            fmt_pesq(&c.to_callee),
            fmt_pesq(&c.to_caller)
        );
    }
    calls
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// Every side ran, reached ESTABLISHED, never FAILED, and speaks protocol version 9.
fn assert_connected(c: &Call) {
    for (imp, r) in c.sides() {
        let who = format!("{} ({})", imp.name(), c.label());
        assert!(
            r.first("ESTABLISHED").is_some(),
            "{who}: never established: {:?}\n{}",
            r.states,
            r.stderr
        );
        assert!(
            r.first("FAILED").is_none(),
            "{who}: failed: {:?}\n{}",
            r.states,
            r.stderr
        );
        assert_eq!(
            r.debug_log["protocol_version"], 9,
            "{who}: debug log {}",
            r.debug_log
        );
        assert_eq!(r.debug_log["libtgvoip_version"], "2.4.4", "{who}");
    }
}

/// PESQ-WB at which a recording certainly carries the speech sent (noise or another speech
/// scores 1.06-1.13 against the sample speech: tests/quality/score.py on pairs of samples).
const PESQ_FOLLOWS: f64 = 1.7;

/// Both recordings of an interop call contain the speech the other side sent and follow its
/// waveform (normalised correlation above `min_corr`: low at 8 kbps, where Opus keeps the
/// spectrum rather than the waveform) or score PESQ-WB >= [`PESQ_FOLLOWS`]. How good it sounds is the quality benchmark's
/// business, not this test's.
fn assert_speech(c: &Call, min_corr: f64) {
    for (name, s) in [
        ("callee hears caller", &c.to_callee),
        ("caller hears callee", &c.to_caller),
    ] {
        let speech = s["speech_fraction"].as_f64().unwrap_or(0.0);
        let reference = s["ref_speech_fraction"].as_f64().unwrap_or(1.0);
        assert!(
            speech >= 0.5 * reference,
            "{} {name}: speech fraction {speech} vs sent {reference} ({s})",
            c.label()
        );
        // Waveform correlation drops when a lossy link makes either side's concealment or time
        // stretching shift the waveform; PESQ-WB, built for that, then shows the speech is there.
        let follows = s["corr"].as_f64().unwrap_or(0.0) > min_corr
            || s["pesq_wb"].as_f64().unwrap_or(0.0) >= PESQ_FOLLOWS;
        assert!(
            follows,
            "{} {name}: recording does not follow the speech ({s})",
            c.label()
        );
    }
}

/// The states `r` went through while both sides were running: our side outlives libtgvoip by
/// 2 s and may legitimately go RECONNECTING after the peer hung up.
fn states_during_call<'a>(c: &Call, r: &'a CallResult) -> Vec<&'a (f64, String)> {
    let end_us = c
        .sides()
        .iter()
        .map(|(_, x)| x.timestamps[0] as f64 + x.wall_seconds * 1e6)
        .fold(f64::INFINITY, f64::min);
    r.states
        .iter()
        .filter(|(t, _)| r.timestamps[0] as f64 + t * 1e6 < end_us)
        .collect()
}

fn assert_pesq(c: &Call, min: f64) {
    for (name, s) in [
        ("callee hears caller", &c.to_callee),
        ("caller hears callee", &c.to_caller),
    ] {
        let p = pesq(s);
        assert!(p >= min, "{} {name}: PESQ-WB {p} < {min} ({s})", c.label());
    }
}

/// The wifi assertions of issue 3: fast establishment, PESQ >= 3 both ways, version 9, and
/// libtgvoip's own packet stats without lost_in.
fn assert_clean_wifi(c: &Call) {
    assert_connected(c);
    for (imp, r) in c.sides() {
        let t = r.first("ESTABLISHED").unwrap_or(f64::INFINITY);
        assert!(
            t < 2.0,
            "{} ({}): ESTABLISHED after {t} s",
            imp.name(),
            c.label()
        );
        assert!(
            states_during_call(c, r)
                .iter()
                .all(|(_, s)| s != "RECONNECTING"),
            "{} ({}): {:?}",
            imp.name(),
            c.label(),
            r.states
        );
        if imp == Lib {
            assert_eq!(
                r.debug_log["packet_stats"]["lost_in"],
                0,
                "libtgvoip ({}) lost packets on a clean path: {}",
                c.label(),
                r.debug_log
            );
        }
        assert!(r.success, "{} ({}) heard nothing", imp.name(), c.label());
    }
    assert_pesq(c, 3.0);
    assert_speech(c, 0.3);
}

fn same_args(net: &'static str) -> impl Fn(Impl, &str) -> Vec<String> {
    move |_, _| words(&format!("-t {net}"))
}

fn profile(name: &'static str, seed: u32) -> impl Fn((Impl, Impl)) -> Vec<String> {
    move |_| words(&format!("--profile {name} --seed {seed}"))
}

const INPUTS: (&str, &str) = (CALLER_SAMPLE, CALLEE_SAMPLE);

#[test]
fn interop_wifi() {
    let calls = run_all("wifi", &profile("wifi", 1), INPUTS, &same_args("6"));
    for c in &calls {
        if c.is_interop() {
            assert_clean_wifi(c);
        }
    }
}

#[test]
fn interop_wifi_network_gprs() {
    let calls = run_all("wifi-gprs", &profile("wifi", 2), INPUTS, &same_args("1"));
    for c in calls.iter().filter(|c| c.is_interop()) {
        assert_connected(c);
        assert_speech(c, 0.1);
        for (imp, r) in c.sides() {
            let t = r.first("ESTABLISHED").unwrap_or(f64::INFINITY);
            assert!(
                t < 2.0,
                "{} ({}): ESTABLISHED after {t} s",
                imp.name(),
                c.label()
            );
        }
    }
}

#[test]
fn interop_3g1_hspa() {
    let calls = run_all("3g1-hspa", &profile("3g1", 7), INPUTS, &same_args("4"));
    for c in calls.iter().filter(|c| c.is_interop()) {
        assert_connected(c);
        assert_speech(c, 0.3);
        for (imp, r) in c.sides() {
            assert!(r.success, "{} ({}) heard nothing", imp.name(), c.label());
        }
    }
}

#[test]
fn interop_data_saving_on_libtgvoip_side() {
    // Data saving `always` on every libtgvoip side (both in the comparison call).
    let args = |imp: Impl, _role: &str| match imp {
        Lib => words("-t 6 -s always"),
        Rust => words("-t 6"),
    };
    let calls = run_all("saving", &profile("wifi", 3), INPUTS, &args);
    for c in calls.iter().filter(|c| c.is_interop()) {
        assert_connected(c);
        assert_speech(c, 0.1);
        // The peer's data-saving bit reaches us (INIT flag / NETWORK_CHANGED): we send at most the
        // 8 kbps saving bitrate, i.e. well under the ~20 kbps of a normal wifi call.
        let (ours, _) = c.side(Rust);
        let secs = ours.wall_seconds.max(1e-3);
        let rate = ours.debug_log["bytes_sent"].as_f64().unwrap_or(f64::NAN) / secs;
        println!(
            "[interop] saving {}: tgvoip-rs sent {rate:.0} B/s",
            c.label()
        );
        assert!(
            rate < 2000.0,
            "{}: tgvoip-rs ignored the peer's data saving: {rate:.0} B/s",
            c.label()
        );
    }
}

/// RMS (full scale 1.0) of `pcm` between the two sample offsets.
fn rms(pcm: &[i16], from: usize, to: usize) -> f64 {
    let to = to.min(pcm.len());
    if from >= to {
        return 0.0;
    }
    let sum: f64 = pcm[from..to]
        .iter()
        .map(|&s| (s as f64 / 32768.0).powi(2))
        .sum();
    (sum / (to - from) as f64).sqrt()
}

fn read_pcm(path: &Path) -> Vec<i16> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

const MUTE_FROM: f64 = 4.0;
const MUTE_TO: f64 = 8.0;

#[test]
fn interop_mic_mute_on_our_side() {
    // Long inputs so that speech comes before, during and after the muted stretch. The muted
    // window counts from ESTABLISHED, when sending IN starts.
    let inputs = (
        "sample14_1610bcfe3d4a5409ca90463ea8c0ef8f.pcm",
        "sample15_03c54b861f72cce82609dd3acbaa85fb.pcm",
    );
    let mute = format!("-t 6 --mute-at {MUTE_FROM}:{MUTE_TO}");
    // In the comparison call the libtgvoip caller is asked to mute too, which 2.4.4 ignores in
    // callback-audio builds (media.md 9.3).
    let args = |imp: Impl, role: &str| {
        if (imp == Rust || role == "caller") && !(imp == Lib && role == "callee") {
            words(&mute)
        } else {
            words("-t 6")
        }
    };
    let calls = run_all("mute", &profile("wifi", 4), inputs, &args);
    for c in &calls {
        let (muted_side, muted_input) = if c.pair.0 == Rust || !c.is_interop() {
            (&c.caller, &c.caller_in)
        } else {
            (&c.callee, &c.callee_in)
        };
        let (listener, heard) = if std::ptr::eq(muted_side, &c.caller) {
            (&c.callee, &c.to_callee)
        } else {
            (&c.caller, &c.to_caller)
        };
        let delay = heard["delay_ms"].as_f64().unwrap_or(0.0);
        let at = |secs: f64| ((delay / 1000.0 + secs) * 48_000.0).max(0.0) as usize;
        let sent = read_pcm(muted_input);
        let rec = read_pcm(&listener.output);
        let off = |secs: f64| (secs * 48_000.0) as usize;
        // Muted window minus 0.4 s at each edge (frames in flight, jitter buffer, PLC tail).
        let (m0, m1) = (MUTE_FROM + 0.4, MUTE_TO - 0.4);
        let sent_muted = rms(&sent, off(m0), off(m1));
        let heard_muted = rms(&rec, at(m0), at(m1));
        let sent_before = rms(&sent, off(0.5), off(MUTE_FROM - 0.3));
        let heard_before = rms(&rec, at(0.5), at(MUTE_FROM - 0.3));
        let (a0, a1) = (MUTE_TO + 0.5, MUTE_TO + 4.0);
        let sent_after = rms(&sent, off(a0), off(a1));
        let heard_after = rms(&rec, at(a0), at(a1));
        println!(
            "[interop] mute {}: RMS sent/heard before {sent_before:.4}/{heard_before:.4}, muted {sent_muted:.4}/{heard_muted:.4}, after {sent_after:.4}/{heard_after:.4} (delay {delay:.0} ms)",
            c.label()
        );
        if !c.is_interop() {
            continue;
        }
        assert_connected(c);
        for (imp, r) in c.sides() {
            assert_eq!(
                states_during_call(c, r).last().map(|s| s.1.as_str()),
                Some("ESTABLISHED"),
                "{} ({}): call did not stay up: {:?}",
                imp.name(),
                c.label(),
                r.states
            );
        }
        assert!(sent_muted > 0.01, "input has no speech in the muted window");
        assert!(
            heard_muted < 0.1 * heard_before.max(1e-4) && heard_muted < 0.003,
            "{}: libtgvoip heard {heard_muted:.4} RMS while we were muted (before {heard_before:.4})",
            c.label()
        );
        assert!(
            heard_after > 0.3 * sent_after,
            "{}: audio did not resume after unmute: heard {heard_after:.4} RMS, sent {sent_after:.4}",
            c.label()
        );
        assert!(
            heard_before > 0.3 * sent_before,
            "{}: no audio before mute: heard {heard_before:.4} RMS, sent {sent_before:.4}",
            c.label()
        );
    }
}

#[test]
fn interop_libtgvoip_sends_redundancy_under_bursty_loss() {
    // Correlated (bursty) loss only on the path libtgvoip -> tgvoip-rs: 2.4.4's send-loss
    // counter sees bursts (media.md 5.7), so it enters extra-EC and sends redundant frames.
    // Clean for the first 3 s: the model starts in its loss state (v = 0) and would drop the
    // first handful of packets, i.e. the handshake.
    let relay = impaired_from(
        Lib,
        format!("--seed 5 --phase 3 --loss {LOSS} --loss-corr {LOSS_CORR}"),
    );
    let inputs = (
        "sample14_1610bcfe3d4a5409ca90463ea8c0ef8f.pcm",
        "sample15_03c54b861f72cce82609dd3acbaa85fb.pcm",
    );
    let calls = run_all("redundancy", &relay, inputs, &same_args("6"));
    for c in calls.iter().filter(|c| c.is_interop()) {
        assert_connected(c);
        let (ours, heard) = c.side(Rust);
        let (theirs, _) = c.other(Rust);
        let stats = ours
            .recv_stats
            .unwrap_or_else(|| panic!("no stats line from tgvoip-rs:\n{}", ours.stderr));
        println!(
            "[interop] redundancy {}: tgvoip-rs received {} frames, lost {}, late {}, fec {}, redundant {}; libtgvoip problems {}; relay {}",
            c.label(),
            stats[0],
            stats[1],
            stats[2],
            stats[3],
            stats[4],
            theirs.debug_log["problems"],
            c.relay
        );
        assert!(
            stats[4] > 0,
            "{}: tgvoip-rs recovered no frame from libtgvoip's redundancy (stats {stats:?}, libtgvoip log {})",
            c.label(),
            theirs.debug_log
        );
        let speech = heard["speech_fraction"].as_f64().unwrap_or(0.0);
        assert!(speech > 0.3, "{}: {heard}", c.label());
    }
}

#[test]
fn interop_tgvoip_rs_packs_frames_toward_libtgvoip_on_a_lossy_link() {
    // 12 % random loss on the path tgvoip-rs -> libtgvoip only (clean for the handshake): our
    // sender protects with copies and, above 5 % loss, packs two or three 60 ms frames per
    // packet with the copies in the last frame, the one multi-frame layout 2.4.4 parses right.
    let relay = impaired_from(Rust, "--seed 3 --phase 3 --loss 12".into());
    let inputs = (
        "sample14_1610bcfe3d4a5409ca90463ea8c0ef8f.pcm",
        "sample15_03c54b861f72cce82609dd3acbaa85fb.pcm",
    );
    let calls = run_all("packing", &relay, inputs, &same_args("3"));
    for c in calls.iter().filter(|c| c.is_interop()) {
        assert_connected(c);
        assert_speech(c, 0.3);
        let (ours, _) = c.side(Rust);
        let (theirs, heard) = c.other(Rust);
        let (frames, packets) = ours
            .sent_audio
            .unwrap_or_else(|| panic!("no send line from tgvoip-rs:\n{}", ours.stderr));
        println!(
            "[interop] packing {}: tgvoip-rs sent {frames} frames in {packets} packets; libtgvoip heard PESQ-WB {:.2}, packet stats {}",
            c.label(),
            pesq(heard),
            theirs.debug_log["packet_stats"]
        );
        // Most of the call packed (the first seconds are clean and go frame by frame).
        assert!(
            packets * 4 < frames * 3,
            "{}: {frames} frames in {packets} packets",
            c.label()
        );
    }
}

/// Relay flags that impair only the path from `sender`'s side (the caller's side when both are
/// the same implementation): `flags` go after a `--dir` for that direction.
fn impaired_from(sender: Impl, flags: String) -> impl Fn((Impl, Impl)) -> Vec<String> {
    move |(caller, _callee)| {
        let dir = if caller == sender {
            "caller_to_callee"
        } else {
            "callee_to_caller"
        };
        words(&format!("--dir {dir} {flags}"))
    }
}

/// netem's correlated model at 40 % / 80 % loses about 16 % of packets in bursts of 2.4 on
/// average (a plain `--loss 20 --loss-corr 70` loses almost nothing: see the reflector's impair.rs).
const LOSS: &str = "40";
const LOSS_CORR: &str = "80";
