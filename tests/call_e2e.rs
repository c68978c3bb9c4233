//! Two `tgvoip-call` processes talk through `tgvoip-reflector` with real speech; each side's
//! recording is aligned to what the other sent and scored (PESQ-WB, speech presence).

mod common;

use common::*;

fn bytes_per_second(r: &CallResult) -> (f64, f64) {
    let secs = r.wall_seconds.max(1e-3);
    let sent = r.debug_log["bytes_sent"].as_f64().unwrap_or(0.0);
    let recvd = r.debug_log["bytes_recvd"].as_f64().unwrap_or(0.0);
    (sent / secs, recvd / secs)
}

fn report(
    profile: &str,
    a: &CallResult,
    b: &CallResult,
    sa: &serde_json::Value,
    sb: &serde_json::Value,
) {
    // Mouth-to-ear: when the callee played a sample minus when the caller read it.
    let m2e_ab = (b.timestamps[3] as f64 - a.timestamps[1] as f64) / 1000.0
        + sb["delay_ms"].as_f64().unwrap_or(f64::NAN);
    let m2e_ba = (a.timestamps[3] as f64 - b.timestamps[1] as f64) / 1000.0
        + sa["delay_ms"].as_f64().unwrap_or(f64::NAN);
    let (a_tx, a_rx) = bytes_per_second(a);
    let (b_tx, b_rx) = bytes_per_second(b);
    println!(
        "[{profile}] caller->callee: PESQ {} mouth-to-ear {m2e_ab:.0} ms speech {} | callee->caller: PESQ {} mouth-to-ear {m2e_ba:.0} ms speech {}",
        sb["pesq_wb"], sb["speech_fraction"], sa["pesq_wb"], sa["speech_fraction"]
    );
    println!(
        "[{profile}] caller sent {a_tx:.0} B/s recvd {a_rx:.0} B/s, callee sent {b_tx:.0} B/s recvd {b_rx:.0} B/s; \
         CPU per call-minute: caller {:.2} s, callee {:.2} s; established at {:?} / {:?}",
        a.cpu_seconds * 60.0 / a.wall_seconds.max(1e-3),
        b.cpu_seconds * 60.0 / b.wall_seconds.max(1e-3),
        a.first("ESTABLISHED"),
        b.first("ESTABLISHED")
    );
}

#[test]
fn wifi_call_has_good_speech_both_ways() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("wifi");
    let relay = Reflector::start(&["--profile", "wifi", "--seed", "1"]);
    let (a, b) = run_pair(&relay.addr, &dir, &[], &[]);
    let counts = relay.stop();
    assert!(a.success, "caller failed: {}", a.stderr);
    assert!(b.success, "callee failed: {}", b.stderr);
    let sa = score(&sample(CALLEE_SAMPLE), &a.output);
    let sb = score(&sample(CALLER_SAMPLE), &b.output);
    report("wifi", &a, &b, &sa, &sb);
    println!("[wifi] reflector: {counts}");
    for r in [&a, &b] {
        let t = r.first("ESTABLISHED").expect("established");
        assert!(t < 1.0, "ESTABLISHED after {t} s");
        assert!(
            r.first("RECONNECTING").is_none() && r.first("FAILED").is_none(),
            "{:?}",
            r.states
        );
        assert_eq!(r.debug_log["protocol_version"], 9);
        assert_eq!(r.debug_log["libtgvoip_version"], "2.4.4");
    }
    for (name, s) in [("callee hears caller", &sb), ("caller hears callee", &sa)] {
        let pesq = s["pesq_wb"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: no PESQ: {s}"));
        assert!(pesq >= 3.0, "{name}: PESQ-WB {pesq} < 3.0 ({s})");
    }
    // What we encoded (PRE) is what the peer heard.
    let pre = score(&sample(CALLER_SAMPLE), &a.pre);
    assert!(
        pre["pesq_wb"].as_f64().unwrap_or(0.0) >= 3.0,
        "preprocessed audio: {pre}"
    );
}

#[test]
fn call_on_3g2_stays_established_with_speech_both_ways() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("3g2");
    let relay = Reflector::start(&["--profile", "3g2", "--seed", "7"]);
    let (a, b) = run_pair(&relay.addr, &dir, &["-t", "3"], &["-t", "3"]);
    let counts = relay.stop();
    assert!(a.success, "caller failed: {}", a.stderr);
    assert!(b.success, "callee failed: {}", b.stderr);
    let sa = score(&sample(CALLEE_SAMPLE), &a.output);
    let sb = score(&sample(CALLER_SAMPLE), &b.output);
    report("3g2", &a, &b, &sa, &sb);
    println!("[3g2] reflector: {counts}");
    for r in [&a, &b] {
        assert!(r.first("ESTABLISHED").is_some(), "{:?}", r.states);
        assert!(r.first("FAILED").is_none(), "{:?}", r.states);
        // Stays established to the end: any RECONNECTING must have recovered.
        assert_eq!(
            r.states.last().map(|s| s.1.as_str()),
            Some("ESTABLISHED"),
            "{:?}",
            r.states
        );
    }
    for (name, s) in [("callee hears caller", &sb), ("caller hears callee", &sa)] {
        let speech = s["speech_fraction"].as_f64().unwrap_or(0.0);
        let reference = s["ref_speech_fraction"].as_f64().unwrap_or(1.0);
        assert!(
            speech >= 0.5 * reference,
            "{name}: speech fraction {speech} vs sent {reference} ({s})"
        );
        // Delay adaptation warps time on a lossy link, so a single global alignment (`corr`)
        // is no measure here; the level of the recorded speech is.
        assert!(
            s["rms_dbfs"].as_f64().unwrap_or(-100.0) > -40.0,
            "{name}: recording too quiet for speech ({s})"
        );
    }
}
