//! Calls through a real SOCKS5 proxy with username/password (Debian's `dante-server`, started
//! by the test on 127.0.0.1 with a config in a temp dir; dante checks the password against a
//! local system user the test creates). A UDP relay goes through UDP ASSOCIATE, a TCP relay
//! through CONNECT; a wrong password fails the call with the proxy error and a readable
//! message. Needs root (for the user) and `danted`: under `CI=true` both are required, else the
//! tests skip with a message.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const USER: &str = "tgvoipsocks";
const PASS: &str = "s0cks-Pass";

fn danted() -> Option<PathBuf> {
    [
        "/usr/sbin/danted",
        "/usr/bin/danted",
        "/usr/local/sbin/danted",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A running `danted` on 127.0.0.1.
struct Dante {
    child: Child,
    port: u16,
}

impl Drop for Dante {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts dante with username auth, or says why it cannot (`None`: skip).
fn start_dante(dir: &Path) -> Option<Dante> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let Some(bin) = danted() else {
        assert!(
            !ci,
            "CI=true but danted is missing (apt-get install dante-server)"
        );
        println!("skipped: danted not installed (apt-get install dante-server)");
        return None;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            !ci,
            "CI=true but not root: the test creates a system user for dante"
        );
        println!("skipped: needs root to create the proxy's system user");
        return None;
    }
    let exists = Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let ok = Command::new("useradd")
            .args(["-M", "-s", "/usr/sbin/nologin", USER])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "useradd {USER}");
    }
    let mut chpasswd = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .spawn()
        .expect("chpasswd");
    {
        use std::io::Write;
        let stdin = chpasswd.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{USER}:{PASS}").expect("write chpasswd");
    }
    assert!(chpasswd.wait().is_ok_and(|s| s.success()), "chpasswd");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let conf = dir.join("danted.conf");
    let log = dir.join("danted.log");
    std::fs::write(
        &conf,
        format!(
            "logoutput: {}\n\
             internal: 127.0.0.1 port = {port}\n\
             external: 127.0.0.1\n\
             clientmethod: none\n\
             socksmethod: username\n\
             user.privileged: root\n\
             user.unprivileged: nobody\n\
             client pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n}}\n\
             socks pass {{\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  command: connect udpassociate\n}}\n\
             socks pass {{\n  from: 0.0.0.0/0 to: 127.0.0.0/8\n  command: udpreply\n}}\n",
            log.display()
        ),
    )
    .expect("write danted.conf");
    let child = Command::new(bin)
        .arg("-f")
        .arg(&conf)
        .args(["-N", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start danted");
    let dante = Dante { child, port };
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "danted did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(dante)
}

fn counter(r: &CallResult, key: &str) -> u64 {
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("transport tcp_connects"))
        .unwrap_or("");
    line.split(&format!("{key} "))
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn proxied_call(name: &str, tcp: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir(name);
    let Some(dante) = start_dante(&dir) else {
        return;
    };
    let (a_in, b_in) = (tone(&dir, 440.0, 6.0), tone(&dir, 660.0, 6.0));
    // With TCP relays the relay drops all UDP, so only the proxy's TCP tunnels reach it; with
    // UDP relays the datagrams counted as proxied went through dante's UDP relay.
    let relay = Reflector::start(if tcp { &["--block-udp", "both"] } else { &[] });
    let proxy = format!("{USER}:{PASS}@127.0.0.1:{}", dante.port);
    let mut extra = vec!["--bind", "127.0.0.1", "--proxy", proxy.as_str()];
    if tcp {
        extra.extend(["--tcp", "yes"]);
    }
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
            "[gap] SOCKS5 {}: {role} heard a {gap:?} gap; established at {:?} s",
            if tcp {
                "CONNECT (TCP relay)"
            } else {
                "UDP ASSOCIATE (UDP relay)"
            },
            r.first("ESTABLISHED")
        );
        assert!(r.success, "{role}: {}", r.stderr);
        assert!(r.first("ESTABLISHED").is_some(), "{role}: {:?}", r.states);
        assert!(gap < Duration::from_millis(500), "{role}: gap {gap:?}");
        if tcp {
            assert!(counter(r, "tcp_packets_in") > 50, "{role}: {}", r.stderr);
            assert_eq!(r.debug_log["tcp_used"], true);
        } else {
            assert!(
                counter(r, "proxied_datagrams_out") > 50,
                "{role}: {}",
                r.stderr
            );
            assert_eq!(r.debug_log["tcp_used"], false);
        }
    }
    if tcp {
        assert_eq!(counts["tcp_connections"].as_u64(), Some(2), "{counts}");
    }
    for d in ["caller_to_callee", "callee_to_caller"] {
        let fwd = counts[d]["forwarded"].as_u64().unwrap_or(0);
        assert!(fwd > 50, "relay forwarded {fwd} {d}: {counts}");
    }
    drop(dante);
}

#[test]
fn udp_relay_through_socks5_udp_associate() {
    proxied_call("socks5-udp", false);
}

#[test]
fn tcp_relay_through_socks5_connect() {
    proxied_call("socks5-tcp", true);
}

#[test]
fn wrong_proxy_password_fails_the_call_with_the_proxy_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("socks5-badpass");
    let Some(dante) = start_dante(&dir) else {
        return;
    };
    let input = tone(&dir, 440.0, 2.0);
    let relay = Reflector::start(&[]);
    let proxy = format!("{USER}:wrong-{PASS}@127.0.0.1:{}", dante.port);
    for tcp in ["no", "yes"] {
        let child = spawn_call(
            &relay.addr,
            "caller",
            &input,
            &dir,
            &["--bind", "127.0.0.1", "--proxy", &proxy, "--tcp", tcp],
        );
        let r = finish_call(child, "caller", &dir);
        println!("wrong password (tcp {tcp}): states {:?}", r.states);
        assert!(!r.success);
        assert_eq!(r.states.last().map(|(_, s)| s.as_str()), Some("FAILED"));
        assert!(
            r.stderr
                .contains("call failed: Proxy (SOCKS5 proxy rejected the username/password)"),
            "{}",
            r.stderr
        );
    }
}
