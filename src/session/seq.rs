//! Incoming sequence bookkeeping: the 32-packet duplicate/late window and the ack mask we send.

use crate::wire::seq_gt;

/// What to do with an incoming packet according to its seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// New packet: process it.
    Accept,
    /// Already received within the window.
    Duplicate,
    /// Older than the 32-packet window.
    TooOld,
}

/// The receive window: highest seq seen and which of the 32 seqs below it arrived.
#[derive(Debug, Clone, Default)]
pub struct RecvWindow {
    /// Highest seq received (0 before anything arrived).
    last: u32,
    /// Bit k set = seq `last - k` received (bit 0 = `last` itself).
    history: u64,
}

impl RecvWindow {
    /// Records `seq` and says whether the packet is new.
    pub fn record(&mut self, seq: u32) -> SeqVerdict {
        if self.last == 0 && self.history == 0 || seq_gt(seq, self.last) {
            let shift = seq.wrapping_sub(self.last);
            self.history = if shift >= 64 {
                0
            } else {
                self.history << shift
            };
            self.history |= 1;
            self.last = seq;
            return SeqVerdict::Accept;
        }
        let back = self.last.wrapping_sub(seq);
        if back >= 32 {
            return SeqVerdict::TooOld;
        }
        let bit = 1u64 << back;
        if self.history & bit != 0 {
            SeqVerdict::Duplicate
        } else {
            self.history |= bit;
            SeqVerdict::Accept
        }
    }

    /// The `ack_id` to send: highest seq received.
    pub fn ack_id(&self) -> u32 {
        self.last
    }

    /// The ack mask to send, in the convention 2.4.4 receivers read:
    /// bit `31 - k` set = seq `ack_id - 1 - k` received.
    pub fn ack_mask(&self) -> u32 {
        ((self.history >> 1) as u32).reverse_bits()
    }
}

/// How the peer writes its ack mask (wire.md 4.6); both claim protocol version 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaskConvention {
    /// libtgvoip 2.4.4: bit `31 - k` = seq `ack_id - k` (bit 31 always set).
    #[default]
    IncludesAckId,
    /// libtgvoip 2.5 and us: bit `31 - k` = seq `ack_id - 1 - k`.
    BelowAckId,
}

impl MaskConvention {
    /// Refines the guess from one received mask: a clear bit 31 is impossible for a 2.4.4 writer.
    pub fn observe(self, ack_id: u32, mask: u32) -> MaskConvention {
        if ack_id > 1 && mask & 0x8000_0000 == 0 {
            MaskConvention::BelowAckId
        } else {
            self
        }
    }

    /// The seqs the mask says were received (not including `ack_id` itself unless implied).
    pub fn acked_seqs(self, ack_id: u32, mask: u32) -> impl Iterator<Item = u32> {
        let offset = match self {
            MaskConvention::IncludesAckId => 0,
            MaskConvention::BelowAckId => 1,
        };
        (0..32u32)
            .filter(move |k| mask & (1 << (31 - k)) != 0)
            .map(move |k| ack_id.wrapping_sub(k + offset))
            .filter(move |&s| s != 0 && s != ack_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_late_packets_are_detected() {
        let mut w = RecvWindow::default();
        assert_eq!(w.record(1), SeqVerdict::Accept);
        assert_eq!(w.record(1), SeqVerdict::Duplicate);
        assert_eq!(w.record(3), SeqVerdict::Accept);
        assert_eq!(w.record(2), SeqVerdict::Accept);
        assert_eq!(w.record(2), SeqVerdict::Duplicate);
        assert_eq!(w.record(40), SeqVerdict::Accept);
        assert_eq!(w.record(8), SeqVerdict::TooOld);
        assert_eq!(w.record(9), SeqVerdict::Accept);
        // A jump keeps the jumped-to packet marked (2.4.4 forgets it).
        assert_eq!(w.record(200), SeqVerdict::Accept);
        assert_eq!(w.record(200), SeqVerdict::Duplicate);
    }

    #[test]
    fn mask_matches_what_2_4_4_reads() {
        // After receiving only seq 1, 2.4.4 itself would write 0x80000000; we write 0.
        let mut w = RecvWindow::default();
        w.record(1);
        assert_eq!((w.ack_id(), w.ack_mask()), (1, 0));
        w.record(2);
        assert_eq!((w.ack_id(), w.ack_mask()), (2, 0x8000_0000));
        w.record(4);
        // 4 received; 3 missing (bit 31), 2 received (bit 30), 1 received (bit 29).
        assert_eq!((w.ack_id(), w.ack_mask()), (4, 0x6000_0000));
        let acked: Vec<u32> = MaskConvention::BelowAckId
            .acked_seqs(4, w.ack_mask())
            .collect();
        assert_eq!(acked, vec![2, 1]);
    }

    #[test]
    fn convention_is_learned_from_a_clear_top_bit() {
        let c = MaskConvention::default();
        assert_eq!(c.observe(10, 0xFFFF_FFFF), MaskConvention::IncludesAckId);
        assert_eq!(c.observe(10, 0x7FFF_FFFF), MaskConvention::BelowAckId);
        let acked: Vec<u32> = MaskConvention::IncludesAckId
            .acked_seqs(10, 0xA000_0000)
            .collect();
        assert_eq!(acked, vec![8]);
    }
}
