//! Bounded wait-free SPSC rings of 960-sample chunks.
//!
//! A thin layer over [`rtrb`] that only ever moves whole chunks: a push either writes all 960
//! samples or nothing, and a pop either reads all 960 or nothing. Neither end allocates, locks
//! or makes a syscall, so both are safe to call from the real-time audio thread.

use rtrb::{Consumer, Producer, RingBuffer};

use super::CHUNK_SAMPLES;

/// Creates a ring holding up to `capacity_chunks` chunks.
///
/// The storage is allocated here, once; pushing and popping never allocate.
pub fn chunk_ring(capacity_chunks: usize) -> (ChunkProducer, ChunkConsumer) {
    let (tx, rx) = RingBuffer::<i16>::new(capacity_chunks.saturating_mul(CHUNK_SAMPLES));
    (ChunkProducer { tx }, ChunkConsumer { rx })
}

/// Writing end of a chunk ring.
pub struct ChunkProducer {
    tx: Producer<i16>,
}

impl ChunkProducer {
    /// Pushes one chunk (960 samples); false (and nothing written) when the ring is full.
    ///
    /// A slice whose length is not exactly 960 is rejected the same way (false, nothing written)
    /// so that the ring always stays aligned on chunk boundaries.
    pub fn push_chunk(&mut self, chunk: &[i16]) -> bool {
        if chunk.len() != CHUNK_SAMPLES {
            return false;
        }
        let Ok(mut slot) = self.tx.write_chunk(CHUNK_SAMPLES) else {
            return false;
        };
        let (first, second) = slot.as_mut_slices();
        let (head, tail) = chunk.split_at(first.len());
        first.copy_from_slice(head);
        second.copy_from_slice(tail);
        slot.commit_all();
        true
    }

    /// Free space, in whole chunks.
    pub fn free_chunks(&self) -> usize {
        self.tx.slots() / CHUNK_SAMPLES
    }

    /// Whether the consumer has been dropped (nothing pushed will ever be read).
    pub fn is_abandoned(&self) -> bool {
        self.tx.is_abandoned()
    }
}

/// Reading end of a chunk ring.
pub struct ChunkConsumer {
    rx: Consumer<i16>,
}

impl ChunkConsumer {
    /// Pops one chunk into `out` (960 samples); false (and `out` untouched) when empty.
    ///
    /// An `out` whose length is not exactly 960 is rejected the same way (false, nothing read).
    pub fn pop_chunk(&mut self, out: &mut [i16]) -> bool {
        if out.len() != CHUNK_SAMPLES {
            return false;
        }
        let Ok(slot) = self.rx.read_chunk(CHUNK_SAMPLES) else {
            return false;
        };
        let (first, second) = slot.as_slices();
        let (head, tail) = out.split_at_mut(first.len());
        head.copy_from_slice(first);
        tail.copy_from_slice(second);
        slot.commit_all();
        true
    }

    /// Chunks ready to read.
    pub fn available_chunks(&self) -> usize {
        self.rx.slots() / CHUNK_SAMPLES
    }

    /// Whether the producer has been dropped (no more chunks will arrive after the ones queued).
    pub fn is_abandoned(&self) -> bool {
        self.rx.is_abandoned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seed: i16) -> Vec<i16> {
        (0..CHUNK_SAMPLES)
            .map(|i| seed.wrapping_mul(1000).wrapping_add(i as i16))
            .collect()
    }

    #[test]
    fn push_then_pop_returns_same_samples() {
        let (mut tx, mut rx) = chunk_ring(2);
        assert!(tx.push_chunk(&chunk(1)));
        let mut out = vec![0i16; CHUNK_SAMPLES];
        assert!(rx.pop_chunk(&mut out));
        assert_eq!(out, chunk(1));
    }

    #[test]
    fn full_ring_rejects_push_without_writing() {
        let (mut tx, mut rx) = chunk_ring(2);
        assert_eq!(tx.free_chunks(), 2);
        assert!(tx.push_chunk(&chunk(1)));
        assert!(tx.push_chunk(&chunk(2)));
        assert_eq!(tx.free_chunks(), 0);
        assert!(!tx.push_chunk(&chunk(3)));
        assert_eq!(rx.available_chunks(), 2);
        let mut out = vec![0i16; CHUNK_SAMPLES];
        assert!(rx.pop_chunk(&mut out));
        assert_eq!(out, chunk(1));
        assert!(rx.pop_chunk(&mut out));
        assert_eq!(out, chunk(2));
        assert!(
            !rx.pop_chunk(&mut out),
            "rejected chunk 3 must not have been written"
        );
    }

    #[test]
    fn empty_ring_leaves_output_untouched() {
        let (_tx, mut rx) = chunk_ring(1);
        let mut out = vec![7i16; CHUNK_SAMPLES];
        assert_eq!(rx.available_chunks(), 0);
        assert!(!rx.pop_chunk(&mut out));
        assert!(out.iter().all(|&s| s == 7));
    }

    #[test]
    fn wrong_lengths_are_all_or_nothing() {
        let (mut tx, mut rx) = chunk_ring(3);
        assert!(!tx.push_chunk(&[1i16; CHUNK_SAMPLES - 1]));
        assert!(!tx.push_chunk(&[1i16; CHUNK_SAMPLES + 1]));
        assert_eq!(rx.available_chunks(), 0);
        assert_eq!(tx.free_chunks(), 3);
        assert!(tx.push_chunk(&chunk(4)));
        let mut short = vec![9i16; CHUNK_SAMPLES - 1];
        assert!(!rx.pop_chunk(&mut short));
        assert!(short.iter().all(|&s| s == 9));
        assert_eq!(rx.available_chunks(), 1, "a rejected pop must not consume");
    }

    #[test]
    fn wraparound_keeps_chunks_intact_and_ordered() {
        // Irregular push/pop pattern against a model queue: the positions cross the end of the
        // storage many times, in every phase.
        let (mut tx, mut rx) = chunk_ring(3);
        let mut model = std::collections::VecDeque::new();
        let mut out = vec![0i16; CHUNK_SAMPLES];
        let mut seed: i16 = 0;
        for step in 0..200u32 {
            let pushes = step % 4;
            for _ in 0..pushes {
                let accepted = tx.push_chunk(&chunk(seed));
                assert_eq!(accepted, model.len() < 3);
                if accepted {
                    model.push_back(seed);
                }
                seed = seed.wrapping_add(1);
            }
            let pops = (step * 7) % 3;
            for _ in 0..pops {
                let got = rx.pop_chunk(&mut out);
                match model.pop_front() {
                    Some(expected) => {
                        assert!(got);
                        assert_eq!(out, chunk(expected));
                    }
                    None => assert!(!got),
                }
            }
            assert_eq!(rx.available_chunks(), model.len());
            assert_eq!(tx.free_chunks(), 3 - model.len());
        }
        assert!(
            seed > 250,
            "the pattern must push enough to wrap many times"
        );
    }

    #[test]
    fn zero_capacity_ring_is_always_full_and_empty() {
        let (mut tx, mut rx) = chunk_ring(0);
        assert_eq!(tx.free_chunks(), 0);
        assert!(!tx.push_chunk(&chunk(1)));
        let mut out = vec![0i16; CHUNK_SAMPLES];
        assert!(!rx.pop_chunk(&mut out));
    }

    #[test]
    fn abandonment_is_reported() {
        let (tx, rx) = chunk_ring(1);
        assert!(!tx.is_abandoned());
        drop(rx);
        assert!(tx.is_abandoned());
    }
}
