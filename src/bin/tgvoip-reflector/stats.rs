//! Counters printed as one JSON line when the relay stops.

use serde::Serialize;

/// Counters for one forwarding direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DirStats {
    /// Datagrams to forward that arrived from this direction's sender.
    pub received: u64,
    /// Datagrams (copies included) actually sent to the other side.
    pub forwarded: u64,
    /// Dropped by the loss stage.
    pub dropped_loss: u64,
    /// Dropped because the rate limiter's queue was full.
    pub dropped_queue: u64,
    /// Dropped because the other side's address was not known yet.
    pub dropped_no_peer: u64,
    /// Datagrams that got a duplicate copy.
    pub duplicated: u64,
    /// Copies sent early by the reorder stage.
    pub reordered: u64,
    /// Copies that got a non-zero delay.
    pub delayed: u64,
}

/// Everything the relay counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Datagrams from the side with bit 0 of tag byte 15 clear.
    pub caller_to_callee: DirStats,
    /// Datagrams from the side with bit 0 of tag byte 15 set.
    pub callee_to_caller: DirStats,
    /// Self-info requests answered.
    pub self_info_requests: u64,
    /// Peer-info requests received.
    pub peer_info_requests: u64,
    /// Peer-info responses sent (both sides known, IPv4).
    pub peer_info_answered: u64,
    /// Datagrams shorter than 32 bytes.
    pub ignored_short: u64,
    /// Distinct tag pairs seen.
    pub pairs: u64,
    /// UDP datagrams dropped because their side's UDP is blocked (`--block-udp`).
    pub blocked_udp: u64,
    /// Packets received over TCP.
    pub tcp_packets_in: u64,
    /// TCP connections accepted.
    pub tcp_connections: u64,
}

impl Report {
    /// The report as one JSON line (no trailing newline).
    pub fn to_json(self) -> String {
        // Serialising plain integer fields cannot fail; fall back to an empty object regardless.
        serde_json::to_string(&self).unwrap_or_else(|_| String::from("{}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_both_directions_and_all_counters() {
        let mut r = Report::default();
        r.caller_to_callee.received = 5;
        r.callee_to_caller.dropped_queue = 2;
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["caller_to_callee"]["received"], 5);
        assert_eq!(v["callee_to_caller"]["dropped_queue"], 2);
        for key in [
            "forwarded",
            "dropped_loss",
            "duplicated",
            "reordered",
            "delayed",
        ] {
            assert_eq!(v["caller_to_callee"][key], 0, "{key}");
        }
    }
}
