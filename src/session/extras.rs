//! Extras in flight (sent on every packet until acknowledged) and the receive-side filter.

use crate::wire::{seq_gt, Extra};

/// One pending outgoing extra.
#[derive(Debug, Clone)]
struct Pending {
    extra: Extra,
    /// Seq of the first packet that carried it (0 = not sent yet).
    first_seq: u32,
}

/// Outgoing extras: at most one per type, carried by every packet until an ack covers them.
#[derive(Debug, Default)]
pub struct PendingExtras {
    pending: Vec<Pending>,
}

impl PendingExtras {
    /// Queues `extra`, replacing a pending one of the same type.
    pub fn queue(&mut self, extra: Extra) {
        let ty = extra.extra_type();
        self.pending.retain(|p| p.extra.extra_type() != ty);
        self.pending.push(Pending {
            extra,
            first_seq: 0,
        });
    }

    /// The extras to put on the packet with `seq`, recording it as their first carrier.
    pub fn take_for_packet(&mut self, seq: u32) -> Vec<Extra> {
        self.pending
            .iter_mut()
            .map(|p| {
                if p.first_seq == 0 {
                    p.first_seq = seq;
                }
                p.extra.clone()
            })
            .collect()
    }

    /// Drops every extra whose first carrier is acknowledged by `ack_id`.
    pub fn acknowledge(&mut self, ack_id: u32) {
        self.pending.retain(|p| {
            p.first_seq == 0 || !(p.first_seq == ack_id || seq_gt(ack_id, p.first_seq))
        });
    }
}

/// Receive-side duplicate filter: the last hash seen per extra type.
#[derive(Debug, Default)]
pub struct ExtraFilter {
    last: Vec<(u8, [u8; 8])>,
}

impl ExtraFilter {
    /// True if `extra` differs from the last one of its type (and remembers it).
    pub fn is_new(&mut self, extra: &Extra) -> bool {
        let ty = extra.extra_type();
        let hash = extra.dedup_hash();
        match self.last.iter_mut().find(|(t, _)| *t == ty) {
            Some((_, h)) if *h == hash => false,
            Some((_, h)) => {
                *h = hash;
                true
            }
            None => {
                self.last.push((ty, hash));
                true
            }
        }
    }
}
