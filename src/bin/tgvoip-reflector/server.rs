//! The single-threaded event loop: one UDP socket, an optional TCP listener and its
//! connections, a heap of pending releases, `poll(2)` timeouts up to the next release.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::{self, ErrorKind};
use std::net::{TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::relay::{Action, Peer, Pending, Switchboard};
use crate::stats::Report;
use crate::tcp;
use crate::trace::Trace;

/// Longest recv wait, so stop requests are noticed promptly.
const POLL: Duration = Duration::from_millis(50);
/// Receive buffer, larger than any datagram a client sends.
const BUF_LEN: usize = 65536;

/// A pending release ordered by time, then by arrival (FIFO among equal times).
struct Queued {
    seq: u64,
    p: Pending,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.p.at, self.seq).cmp(&(o.p.at, o.seq))
    }
}

/// Runs the relay on `socket` (and on `listener` for TCP clients, if given) until `stop()` is
/// true or `deadline` (since start) passes; returns the counters and the per-interval trace.
pub fn run(
    socket: &UdpSocket,
    listener: Option<&TcpListener>,
    mut board: Switchboard,
    deadline: Option<Duration>,
    stop: impl Fn() -> bool,
) -> io::Result<(Report, Trace)> {
    let start = Instant::now();
    let mut heap: BinaryHeap<Reverse<Queued>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut buf = vec![0u8; BUF_LEN];
    let mut conns: Vec<tcp::Conn> = Vec::new();
    let mut next_id = 0u64;
    let mut tcp_stats = (0u64, 0u64);
    socket.set_nonblocking(true)?;
    if let Some(l) = listener {
        l.set_nonblocking(true)?;
    }
    loop {
        let now = start.elapsed();
        if stop() || deadline.is_some_and(|d| now >= d) {
            break;
        }
        while let Some(Reverse(q)) = heap.peek() {
            if q.p.at > now {
                break;
            }
            let Some(Reverse(q)) = heap.pop() else { break };
            if let Some(to) = board.destination(&q.p) {
                if deliver(socket, &mut conns, &q.p.data, to) {
                    board.record_forwarded(q.p.dir);
                }
            }
        }
        let mut wait = POLL;
        if let Some(Reverse(q)) = heap.peek() {
            wait = wait.min(q.p.at.saturating_sub(now));
        }
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_sub(now));
        }
        poll_all(
            socket,
            listener,
            &conns,
            wait.max(Duration::from_micros(100)),
        )?;
        if let Some(l) = listener {
            tcp_stats.1 += tcp::accept_all(l, &mut next_id, &mut conns) as u64;
        }
        let mut inbound: Vec<(Peer, Vec<u8>)> = Vec::new();
        loop {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => inbound.push((Peer::Udp(from), buf[..n].to_vec())),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // ICMP errors from earlier sends and the like: not fatal for a relay.
                Err(e) => {
                    eprintln!("tgvoip-reflector: recv: {e}");
                    break;
                }
            }
        }
        conns.retain_mut(|c| {
            let flushed = c.flush();
            match c.read() {
                Ok(packets) if flushed.is_ok() => {
                    tcp_stats.0 += packets.len() as u64;
                    inbound.extend(packets.into_iter().map(|p| (Peer::Tcp(c.id, c.addr), p)));
                    true
                }
                _ => false,
            }
        });
        for (peer, data) in inbound {
            let now = start.elapsed();
            for action in board.on_packet(&data, peer, now, unix_time()) {
                match action {
                    Action::Reply { to, data } => {
                        send(socket, &data, to);
                    }
                    Action::Forward(p) => {
                        heap.push(Reverse(Queued { seq, p }));
                        seq += 1;
                    }
                }
            }
        }
    }
    let mut report = board.report();
    report.tcp_packets_in = tcp_stats.0;
    report.tcp_connections = tcp_stats.1;
    Ok((report, board.trace().clone()))
}

/// Waits until any socket is readable (or a TCP connection writable with bytes queued).
fn poll_all(
    socket: &UdpSocket,
    listener: Option<&TcpListener>,
    conns: &[tcp::Conn],
    wait: Duration,
) -> io::Result<()> {
    let mut fds = vec![libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    if let Some(l) = listener {
        fds.push(libc::pollfd {
            fd: l.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
    }
    for c in conns {
        let out = if c.wants_write() { libc::POLLOUT } else { 0 };
        fds.push(libc::pollfd {
            fd: c.fd(),
            events: libc::POLLIN | out,
            revents: 0,
        });
    }
    let ms = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: `fds` is a valid array of pollfd structs for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

/// Sends a forwarded packet to a UDP address or down a TCP connection; true if sent.
fn deliver(socket: &UdpSocket, conns: &mut [tcp::Conn], data: &[u8], to: Peer) -> bool {
    match to {
        Peer::Udp(addr) => send(socket, data, addr),
        Peer::Tcp(id, _) => conns
            .iter_mut()
            .find(|c| c.id == id)
            .is_some_and(|c| c.send(data).unwrap_or(false)),
    }
}

/// Sends one datagram, logging failures; true if it was sent.
fn send(socket: &UdpSocket, data: &[u8], to: std::net::SocketAddr) -> bool {
    match socket.send_to(data, to) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("tgvoip-reflector: send to {to}: {e}");
            false
        }
    }
}

/// Seconds since the Unix epoch, as the i32 of the self-info response.
fn unix_time() -> i32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i32)
}
