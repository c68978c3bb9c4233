//! Bounded wait-free SPSC rings of 960-sample chunks.

/// Creates a ring holding up to `capacity_chunks` chunks.
pub fn chunk_ring(capacity_chunks: usize) -> (ChunkProducer, ChunkConsumer) {
    unimplemented!()
}

/// Writing end of a chunk ring.
pub struct ChunkProducer {
    _private: (),
}

impl ChunkProducer {
    /// Pushes one chunk (960 samples); false (and nothing written) when the ring is full.
    pub fn push_chunk(&mut self, chunk: &[i16]) -> bool {
        unimplemented!()
    }
    /// Free space, in whole chunks.
    pub fn free_chunks(&self) -> usize {
        unimplemented!()
    }
}

/// Reading end of a chunk ring.
pub struct ChunkConsumer {
    _private: (),
}

impl ChunkConsumer {
    /// Pops one chunk into `out` (960 samples); false (and `out` untouched) when empty.
    pub fn pop_chunk(&mut self, out: &mut [i16]) -> bool {
        unimplemented!()
    }
    /// Chunks ready to read.
    pub fn available_chunks(&self) -> usize {
        unimplemented!()
    }
}
