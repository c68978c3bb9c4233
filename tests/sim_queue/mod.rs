//! A datagram in flight in a simulated network, ordered by delivery time (then by send order), for
//! the `BinaryHeap<Reverse<InFlight>>` queues of the simulated-time tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Instant;

/// One datagram on its way.
pub struct InFlight {
    /// Delivery time.
    pub at: Instant,
    /// Tie-breaker: datagrams due at the same instant keep their send order.
    pub order: u64,
    pub to: SocketAddr,
    pub from: SocketAddr,
    pub data: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}

impl Eq for InFlight {}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for InFlight {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(o.at, o.order))
    }
}
