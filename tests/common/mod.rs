//! Helpers for end-to-end tests: the local relay, `tgvoip-call` processes, and speech scoring.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// End-to-end calls run one at a time: the machine has two cores.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// The caller's and callee's speech samples (the same pair as the real-capture fixtures).
pub const CALLER_SAMPLE: &str = "sample05_14ae7b1886265e54e7f2c83d67eb802e.pcm";
pub const CALLEE_SAMPLE: &str = "sample05_44823b5704b026f2930ad862576bef3c.pcm";

/// The shared folder (specs, fixtures, samples): `TGVOIP_SHARED_DIR`, else `../shared`.
pub fn shared_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TGVOIP_SHARED_DIR") {
        return PathBuf::from(d);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for rel in ["../shared", "../../shared"] {
        let p = root.join(rel);
        if p.join("samples").is_dir() {
            return p;
        }
    }
    panic!("shared folder not found: set TGVOIP_SHARED_DIR")
}

pub fn sample(name: &str) -> PathBuf {
    shared_dir().join("samples").join(name)
}

/// The Python with numpy, scipy and pesq: `TGVOIP_PYTHON`, else the venv `scripts/pyenv.sh` makes.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TGVOIP_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        p.exists(),
        "no scoring Python: run scripts/pyenv.sh or set TGVOIP_PYTHON"
    );
    p
}

/// A running `tgvoip-reflector`.
pub struct Reflector {
    child: Option<Child>,
    pub addr: String,
}

impl Reflector {
    pub fn start(args: &[&str]) -> Reflector {
        Reflector::start_on("127.0.0.1:0", args)
    }

    /// A relay listening on `listen` (e.g. `[::1]:0`).
    pub fn start_on(listen: &str, args: &[&str]) -> Reflector {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tgvoip-reflector"))
            .args(["--listen", listen])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tgvoip-reflector");
        let stdout = child.stdout.as_mut().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_string();
        Reflector {
            child: Some(child),
            addr,
        }
    }

    /// Stops the relay and returns its final JSON counts.
    pub fn stop(mut self) -> serde_json::Value {
        let child = self.child.take().expect("running");
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let out = child.wait_with_output().expect("reflector exit");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or(serde_json::Value::Null)
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The fixed test key and tags.
pub fn key_hex() -> String {
    (0..256)
        .map(|i| format!("{:02x}", (i * 37 + 11) % 256))
        .collect()
}
pub const CALLER_TAG: &str = "0123456789abcdef0123456789abcd00";
pub const CALLEE_TAG: &str = "0123456789abcdef0123456789abcd01";

/// What one `tgvoip-call` run produced.
#[derive(Debug)]
pub struct CallResult {
    pub success: bool,
    pub debug_log: serde_json::Value,
    /// init, first_read, last_read, first_write, last_write (µs since the epoch).
    pub timestamps: [u64; 5],
    /// Seconds from start to each state, as printed on stderr.
    pub states: Vec<(f64, String)>,
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
    /// From `tgvoip-call`'s stats line: received frames, lost, late, fec, redundant.
    pub recv_stats: Option<[u64; 5]>,
    /// From `tgvoip-call`'s send line: audio frames sent and the packets they went out in.
    pub sent_audio: Option<(u64, u64)>,
    pub stderr: String,
    pub output: PathBuf,
    pub pre: PathBuf,
}

impl CallResult {
    pub fn first(&self, state: &str) -> Option<f64> {
        self.states
            .iter()
            .find(|(_, s)| s == state)
            .map(|(t, _)| *t)
    }
}

/// Which implementation runs one side of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// `tgvoip-call` (this crate).
    Rust,
    /// `tests/interop/peer.py`: the real libtgvoip 2.4.4 through pytgvoip 0.0.7.1.
    Libtgvoip,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Rust => "tgvoip-rs",
            Impl::Libtgvoip => "libtgvoip",
        }
    }
}

/// The Python of the interop venv (pytgvoip 0.0.7.1): `TGVOIP_INTEROP_PYTHON`, which
/// `scripts/test.sh` sets from `tests/interop/setup.sh`. Missing is a test failure, never a skip.
pub fn interop_python() -> PathBuf {
    let p = std::env::var_os("TGVOIP_INTEROP_PYTHON").map(PathBuf::from);
    let Some(p) = p.filter(|p| p.exists()) else {
        panic!(
            "no interop venv: set TGVOIP_INTEROP_PYTHON=$(tests/interop/setup.sh) (scripts/test.sh does)"
        )
    };
    p
}

/// The Python of the ntgcalls venv: `TGVOIP_NTGCALLS_PYTHON`, which `scripts/test.sh` sets from
/// `tests/tgcalls/setup.sh`. `None` (the test is skipped, saying so under `tag`) without it,
/// except under CI, where it is a failure.
pub fn ntgcalls_python(tag: &str) -> Option<PathBuf> {
    match std::env::var_os("TGVOIP_NTGCALLS_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some() => {
            panic!("CI without TGVOIP_NTGCALLS_PYTHON=$(tests/tgcalls/setup.sh)")
        }
        None => {
            println!("[{tag}] skipped: set TGVOIP_NTGCALLS_PYTHON=$(tests/tgcalls/setup.sh)");
            None
        }
    }
}

/// Starts one side; `role` is "caller" or "callee".
pub fn spawn_call(relay: &str, role: &str, input: &Path, dir: &Path, extra: &[&str]) -> Child {
    spawn_side(Impl::Rust, relay, role, input, dir, extra)
}

/// Starts one side with the given implementation; both take `tgvoip-call`'s arguments.
pub fn spawn_side(
    imp: Impl,
    relay: &str,
    role: &str,
    input: &Path,
    dir: &Path,
    extra: &[&str],
) -> Child {
    let tag = if role == "caller" {
        CALLER_TAG
    } else {
        CALLEE_TAG
    };
    let mut cmd = match imp {
        Impl::Rust => Command::new(env!("CARGO_BIN_EXE_tgvoip-call")),
        Impl::Libtgvoip => {
            let mut c = Command::new(interop_python());
            c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/peer.py"));
            c
        }
    };
    cmd.arg(relay)
        .arg(tag)
        .args(["-k", &key_hex(), "-r", role])
        .arg("-i")
        .arg(input)
        .arg("-o")
        .arg(dir.join(format!("out_{role}.pcm")))
        .arg("-p")
        .arg(dir.join(format!("pre_{role}.pcm")))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {} side: {e}", imp.name()))
}

pub fn finish_call(child: Child, role: &str, dir: &Path) -> CallResult {
    let out = child.wait_with_output().expect("tgvoip-call exit");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let debug_log = stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    let mut timestamps = [0u64; 5];
    if let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("TIMESTAMPS: ")) {
        for (slot, v) in timestamps.iter_mut().zip(line.split(',')) {
            *slot = v.trim().parse().unwrap_or(0);
        }
    }
    let mut states = Vec::new();
    let mut recv_stats = None;
    let mut sent_audio = None;
    let mut cpu_seconds = 0.0;
    let mut wall_seconds = 0.0;
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("tgvoip-call: ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() == 3 && words[1] == "state" {
            if let Ok(t) = words[0].parse() {
                states.push((t, words[2].to_string()));
            }
        }
        if let Some(i) = rest.find("received ") {
            let nums: Vec<u64> = rest[i..]
                .split(|c: char| !c.is_ascii_digit())
                .filter(|w| !w.is_empty())
                .take(5)
                .filter_map(|w| w.parse().ok())
                .collect();
            recv_stats = nums.try_into().ok();
        }
        if let ["sent", frames, "audio", "frames", "in", packets, "packets"] = words[..] {
            sent_audio = frames.parse().ok().zip(packets.parse().ok());
        }
        if words.len() == 6 && words[0] == "cpu" {
            cpu_seconds = words[1].parse().unwrap_or(0.0);
            wall_seconds = words[4].parse().unwrap_or(0.0);
        }
    }
    CallResult {
        success: out.status.success(),
        debug_log,
        timestamps,
        states,
        recv_stats,
        sent_audio,
        cpu_seconds,
        wall_seconds,
        stderr,
        output: dir.join(format!("out_{role}.pcm")),
        pre: dir.join(format!("pre_{role}.pcm")),
    }
}

/// Runs a caller and a callee through `relay` and waits for both.
pub fn run_pair(
    relay: &str,
    dir: &Path,
    caller_extra: &[&str],
    callee_extra: &[&str],
) -> (CallResult, CallResult) {
    run_pair_with(
        (Impl::Rust, Impl::Rust),
        relay,
        dir,
        (&sample(CALLER_SAMPLE), &sample(CALLEE_SAMPLE)),
        caller_extra,
        callee_extra,
    )
}

/// Runs a caller and a callee of the given implementations, sending the given inputs.
pub fn run_pair_with(
    (caller, callee): (Impl, Impl),
    relay: &str,
    dir: &Path,
    (caller_in, callee_in): (&Path, &Path),
    caller_extra: &[&str],
    callee_extra: &[&str],
) -> (CallResult, CallResult) {
    let a = spawn_side(caller, relay, "caller", caller_in, dir, caller_extra);
    std::thread::sleep(Duration::from_millis(50));
    let b = spawn_side(callee, relay, "callee", callee_in, dir, callee_extra);
    let a = finish_call(a, "caller", dir);
    let b = finish_call(b, "callee", dir);
    (a, b)
}

/// Scores a recording against what was sent (see tests/quality/score.py).
pub fn score(reference: &Path, degraded: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quality/score.py");
    let out = Command::new(python())
        .arg(script)
        .arg("--ref")
        .arg(reference)
        .arg("--deg")
        .arg(degraded)
        .arg("--json")
        .output()
        .expect("run score.py");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "score.py output {text:?} ({e}); stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A fresh temporary directory under target/.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-calls")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// Writes a tone (s16le, 48 kHz, mono) of `secs` at `freq` Hz.
pub fn tone(dir: &Path, freq: f64, secs: f64) -> PathBuf {
    let n = (secs * 48_000.0) as usize;
    let mut bytes = Vec::with_capacity(n * 2);
    for i in 0..n {
        let t = i as f64 / 48_000.0;
        let s = ((t * freq * std::f64::consts::TAU).sin() * 8000.0) as i16;
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    let path = dir.join(format!("tone_{freq}.pcm"));
    std::fs::write(&path, bytes).expect("write tone");
    path
}

/// Longest run of silent 20 ms windows between the first and the last audible one.
pub fn longest_gap(pcm: &Path) -> Duration {
    let bytes = std::fs::read(pcm).unwrap_or_default();
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let loud: Vec<bool> = samples
        .chunks(960)
        .map(|w| {
            let e: f64 = w.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            (e / w.len() as f64).sqrt() > 1000.0
        })
        .collect();
    let (Some(first), Some(last)) = (loud.iter().position(|l| *l), loud.iter().rposition(|l| *l))
    else {
        return Duration::MAX;
    };
    let mut run = 0u32;
    let mut longest = 0u32;
    for l in &loud[first..=last] {
        run = if *l { 0 } else { run + 1 };
        longest = longest.max(run);
    }
    Duration::from_millis(u64::from(longest) * 20)
}
