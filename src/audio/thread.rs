//! The audio thread: an absolute 20 ms schedule; per tick it asks the application for one chunk
//! to send and hands it one received chunk. No locks, no allocation, no logging inside the loop.

use std::sync::Arc;

use super::{AudioIo, ChunkConsumer, ChunkProducer};

/// State shared (through atomics only) between the audio thread and the rest of the call.
#[derive(Default)]
pub struct AudioShared {
    _private: (),
}

impl AudioShared {
    /// Chunks dropped because the capture ring was full.
    pub fn capture_overruns(&self) -> u64 {
        unimplemented!()
    }
    /// Ticks that had no received chunk ready (silence was played).
    pub fn playback_underruns(&self) -> u64 {
        unimplemented!()
    }
    /// Ticks run so far.
    pub fn ticks(&self) -> u64 {
        unimplemented!()
    }
}

/// A running audio thread.
pub struct AudioThread {
    _private: (),
}

impl AudioThread {
    /// Starts the thread. Captured chunks go into `capture`; played chunks come from `playback`.
    pub fn spawn(
        io: Box<dyn AudioIo>,
        capture: ChunkProducer,
        playback: ChunkConsumer,
        shared: Arc<AudioShared>,
    ) -> std::io::Result<AudioThread> {
        unimplemented!()
    }
    /// Stops and joins the thread; no callback runs after this returns. Returns the I/O object.
    pub fn stop(self) -> Option<Box<dyn AudioIo>> {
        unimplemented!()
    }
}
