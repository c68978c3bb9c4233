//! Leaving an endpoint that went silent: the next relay (or, from a direct path, the preferred
//! relay), and following a peer that moved to another relay.
//!
//! 2.4.4 never leaves a relay whose pings once answered, even when it dies mid-call; it only
//! follows a peer that moved ("peer moved", wire.md 7.5) when its own current relay has no RTT.
//! A NETWORK_CHANGED extra makes a 2.4.4 peer clear every RTT (wire.md 5.3), so announcing one
//! with each switch lets a 2.4.4 peer follow us within one packet.

use std::time::Instant;

use crate::api::CallState;
use crate::wire::{seq_gt, Extra};

use super::Session;

/// Unacknowledged packets after which a peer arriving through another relay is followed.
const PEER_MOVED_UNACKED: u32 = 32;

/// Failover bookkeeping.
#[derive(Debug, Default)]
pub(super) struct Failover {
    /// When the last switch away from a silent endpoint happened.
    last_switch: Option<Instant>,
    /// Switches so far (varies the NETWORK_CHANGED payload, see [`Session::announce_switch`]).
    switches: u32,
}

impl Session {
    /// How many times the call left a silent endpoint for another path.
    pub fn path_switches(&self) -> u32 {
        self.failover.switches
    }

    /// Called while no valid packet has arrived for `reconnecting_timeout`: leaves the current
    /// endpoint once per timeout period.
    pub(super) fn on_silence(&mut self, now: Instant, last_recv: Instant) {
        let period = self.cfg.tunables.reconnecting_timeout;
        let since = self
            .failover
            .last_switch
            .map_or(last_recv, |t| t.max(last_recv));
        if now.saturating_duration_since(since) < period {
            return;
        }
        self.failover.last_switch = Some(now);
        let cur = self.endpoints.current();
        let Some(ep) = self.endpoints.get_mut(cur) else {
            return;
        };
        ep.clear_rtt();
        if !ep.is_relay() {
            // A direct path broke: back to the preferred relay, and look for the peer again.
            let preferred = self.endpoints.preferred();
            self.endpoints.set_current_only(preferred);
            self.request_peer_info(now);
        } else {
            let usable = self.udp_test.usable_fn();
            let Some(next) = self.endpoints.best_other_relay(cur, usable) else {
                return;
            };
            if let Some(ep) = self.endpoints.get_mut(cur) {
                ep.dead = true;
            }
            self.endpoints.set_current(next);
        }
        self.announce_switch();
        self.restart_udp_test(now);
    }

    /// Tells the peer that our path changed (NETWORK_CHANGED, as after a local network change).
    /// The receiver drops an extra identical to the previous one of its type (wire.md 5.3), so
    /// bits 8..15, which 2.4.4 does not read, count the switches.
    fn announce_switch(&mut self) {
        self.failover.switches = self.failover.switches.wrapping_add(1);
        let flags = u32::from(self.cfg.data_saving) | ((self.failover.switches & 0xFF) << 8);
        self.extras_out.queue(Extra::NetworkChanged { flags });
    }

    /// A packet decrypted from endpoint `idx`: it is alive; if it is a relay other than the
    /// current one while we are silent (RECONNECTING), on a direct path, or with many packets
    /// unacknowledged, the peer moved there: follow it.
    pub(super) fn on_valid_from(&mut self, now: Instant, idx: usize, was_reconnecting: bool) {
        let cur = self.endpoints.current();
        let Some(ep) = self.endpoints.get_mut(idx) else {
            return;
        };
        ep.dead = false;
        let usable = self.udp_test.usable(ep.kind);
        if idx == cur || !ep.is_relay() || !usable || self.in_handshake() {
            return;
        }
        let cur_ep = self.endpoints.get(cur);
        let current_weak = cur_ep.is_none_or(|c| !c.is_relay() || c.rtt().is_none() || c.dead);
        let last_sent = self.next_seq.wrapping_sub(1);
        let unacked = seq_gt(
            last_sent.wrapping_sub(PEER_MOVED_UNACKED),
            self.last_remote_ack,
        );
        if was_reconnecting || (current_weak && unacked) {
            if let Some(c) = self.endpoints.get_mut(cur) {
                if c.is_relay() {
                    c.dead = true;
                }
                c.clear_rtt();
            }
            self.endpoints.set_current(idx);
            self.failover.last_switch = Some(now);
            if self.state != CallState::Failed {
                self.request_peer_info(now);
            }
        }
    }

    /// Restarts the self-info rounds (UDP availability test, wire.md 7.3).
    pub(super) fn restart_udp_test(&mut self, now: Instant) {
        for ep in self.endpoints.iter_mut() {
            ep.self_info_answers = 0;
        }
        self.self_info_rounds = 0;
        self.next_self_info = Some(now);
        self.udp_test.cancel_eval();
    }
}

impl Session {
    /// The local network changed (the app reported another network type; wire.md 7.7): back to
    /// the preferred relay from a direct path, forget the LAN endpoint and every RTT, look for
    /// the peer's public address again, restart the UDP test, and tell the peer
    /// (NETWORK_CHANGED, with our data-saving flag). Before the call was first established
    /// only the data-saving flag is recorded, as 2.4.4 ignores that first report.
    pub fn network_changed(&mut self, now: Instant, data_saving: bool) {
        self.cfg.data_saving = data_saving;
        if !self.ever_established || self.state == CallState::Failed {
            return;
        }
        if self.on_direct_path() {
            let preferred = self.endpoints.preferred();
            self.endpoints.set_current_only(preferred);
        }
        self.tcp_off_after_network_change();
        self.ipv6_network_changed();
        self.endpoints.remove(super::endpoints::LAN_ID);
        for ep in self.endpoints.iter_mut() {
            ep.clear_rtt();
        }
        self.request_peer_info(now);
        self.announce_switch();
        self.restart_udp_test(now);
    }
}
