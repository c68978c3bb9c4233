//! The single-threaded event loop: one UDP socket, a heap of pending releases, recv timeouts up
//! to the next release.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::{self, ErrorKind};
use std::net::UdpSocket;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::relay::{Action, Pending, Switchboard};
use crate::stats::Report;
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

/// Runs the relay on `socket` until `stop()` is true or `deadline` (since start) passes;
/// returns the counters and the per-interval trace.
pub fn run(
    socket: &UdpSocket,
    mut board: Switchboard,
    deadline: Option<Duration>,
    stop: impl Fn() -> bool,
) -> io::Result<(Report, Trace)> {
    let start = Instant::now();
    let mut heap: BinaryHeap<Reverse<Queued>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut buf = vec![0u8; BUF_LEN];
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
                if send(socket, &q.p.data, to) {
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
        socket.set_read_timeout(Some(wait.max(Duration::from_micros(100))))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let now = start.elapsed();
                for action in board.on_datagram(&buf[..n], from, now, unix_time()) {
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
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            // ICMP errors from earlier sends and the like: not fatal for a relay.
            Err(e) => eprintln!("tgvoip-reflector: recv: {e}"),
        }
    }
    Ok((board.report(), board.trace().clone()))
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
