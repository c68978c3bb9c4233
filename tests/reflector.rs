//! Starts the `tgvoip-reflector` binary on 127.0.0.1 and talks to it over UDP.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use tgvoip::wire::relay::{self, RelayMessage};

/// The running relay; killed on drop if a test fails before stopping it.
struct Reflector {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl Reflector {
    fn start(extra: &[&str]) -> Reflector {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tgvoip-reflector"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn reflector");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Reflector {
            child,
            stdout,
            addr,
        }
    }

    /// Sends SIGTERM and returns the JSON report.
    fn stop(mut self) -> serde_json::Value {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "{status:?}");
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).expect("read rest");
        let json = rest
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no report in {rest:?}"));
        serde_json::from_str(json).expect("report is JSON")
    }
}

impl Drop for Reflector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tag(side: u8) -> [u8; 16] {
    let mut t = *b"reflector-test-\x00";
    t[15] = 0x70 | side;
    t
}

fn client(relay: SocketAddr) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.connect(relay).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    s
}

fn packet(side: u8, n: u16) -> Vec<u8> {
    let mut d = tag(side).to_vec();
    d.extend_from_slice(&n.to_le_bytes());
    d.extend_from_slice(&[0x5A; 62]);
    d
}

fn recv(s: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2048];
    let n = s.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// Registers both sides with self-info pings, checking the answers.
fn register(a: &UdpSocket, b: &UdpSocket) {
    for (side, s) in [(0, a), (1, b)] {
        let mut req = Vec::new();
        relay::write_self_info_request(&tag(side), [side; 8], &mut req);
        s.send(&req).expect("send");
        let resp = recv(s).expect("self-info response");
        assert_eq!(resp.len(), 64);
        let (t, msg) = relay::parse(&resp).expect("parse");
        assert_eq!(t, tag(side));
        let RelayMessage::SelfInfoResponse {
            query_id,
            my_ip,
            my_port,
            date,
        } = msg
        else {
            panic!("{msg:?}")
        };
        assert_eq!(query_id, [side; 8]);
        assert_eq!(my_port, u32::from(s.local_addr().expect("addr").port()));
        assert_eq!(
            my_ip,
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 1]
        );
        assert!(date > 1_600_000_000);
    }
}

#[test]
fn answers_self_info_forwards_with_flipped_bit_and_reports_on_sigterm() {
    let port_file =
        std::env::temp_dir().join(format!("tgvoip-reflector-{}.port", std::process::id()));
    let r = Reflector::start(&["--port-file", port_file.to_str().expect("utf-8 path")]);
    let written = std::fs::read_to_string(&port_file).expect("port file");
    let _ = std::fs::remove_file(&port_file);
    assert_eq!(written.trim().parse::<u16>().expect("port"), r.addr.port());
    let (a, b) = (client(r.addr), client(r.addr));
    register(&a, &b);

    a.send(&packet(0, 1)).expect("send");
    assert_eq!(recv(&b), Some(packet(1, 1)));
    b.send(&packet(1, 2)).expect("send");
    assert_eq!(recv(&a), Some(packet(0, 2)));
    // Short datagrams are ignored.
    a.send(&packet(0, 3)[..31]).expect("send");
    a.send(&packet(0, 4)).expect("send");
    assert_eq!(recv(&b), Some(packet(1, 4)));

    let v = r.stop();
    assert_eq!(v["caller_to_callee"]["received"], 2);
    assert_eq!(v["caller_to_callee"]["forwarded"], 2);
    assert_eq!(v["callee_to_caller"]["forwarded"], 1);
    assert_eq!(v["self_info_requests"], 2);
    assert_eq!(v["ignored_short"], 1);
}

#[test]
fn loss_profile_drops_about_half() {
    let r = Reflector::start(&["--loss", "50", "--seed", "1"]);
    let (a, b) = (client(r.addr), client(r.addr));
    register(&a, &b);
    b.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let n = 400;
    let mut got = 0u64;
    for i in 0..n {
        a.send(&packet(0, i)).expect("send");
        if i % 20 == 19 {
            while let Some(d) = recv(&b) {
                assert_eq!(d[..16], tag(1));
                got += 1;
            }
        }
    }
    assert!((140..260).contains(&got), "{got} of {n} arrived");
    let v = r.stop();
    let c2e = &v["caller_to_callee"];
    assert_eq!(c2e["received"], u64::from(n));
    assert_eq!(c2e["forwarded"], got);
    assert_eq!(c2e["dropped_loss"], u64::from(n) - got);
}

#[test]
fn delay_holds_packets_back_in_one_direction_only() {
    let r = Reflector::start(&[
        "--dir",
        "callee_to_caller",
        "--delay",
        "150",
        "--duration",
        "30",
    ]);
    let (a, b) = (client(r.addr), client(r.addr));
    register(&a, &b);
    let t = Instant::now();
    a.send(&packet(0, 1)).expect("send");
    assert_eq!(recv(&b), Some(packet(1, 1)));
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    b.send(&packet(1, 2)).expect("send");
    assert_eq!(recv(&a), Some(packet(0, 2)));
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    let v = r.stop();
    assert_eq!(v["callee_to_caller"]["delayed"], 1);
    assert_eq!(v["caller_to_callee"]["delayed"], 0);
}

#[test]
fn duration_ends_the_run_and_list_profiles_works() {
    let mut r = Reflector::start(&["--duration", "0.3", "--profile", "gprs3"]);
    let t = Instant::now();
    assert!(r.child.wait().expect("wait").success());
    assert!(t.elapsed() < Duration::from_secs(5));
    let mut rest = String::new();
    r.stdout.read_to_string(&mut rest).expect("read");
    let v: serde_json::Value = serde_json::from_str(rest.trim()).expect("json");
    assert_eq!(v["caller_to_callee"]["received"], 0);

    let out = Command::new(env!("CARGO_BIN_EXE_tgvoip-reflector"))
        .arg("--list-profiles")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for name in ["wifi", "3g1", "3goutage", "edge2", "gprs3"] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing in {text}"
        );
    }
}
