//! The real-time audio side: a thread that exchanges 20 ms chunks with the application every
//! 20 ms and talks to the rest of the library only through bounded SPSC rings and atomics.

pub mod file_io;
pub mod ring;
pub mod rt;
pub mod schedule;
pub mod thread;

pub use ring::{chunk_ring, ChunkConsumer, ChunkProducer};
pub use thread::{AudioShared, AudioThread};

/// Samples per chunk exchanged with the application (20 ms at 48 kHz).
pub const CHUNK_SAMPLES: usize = 960;

/// The application's audio endpoints, called on the audio thread every 20 ms. Implementations
/// must not block; they run under the same real-time rules as the thread itself.
pub trait AudioIo: Send + 'static {
    /// Fills `out` (960 samples, pre-zeroed) with microphone audio.
    fn capture(&mut self, out: &mut [i16]);
    /// Receives 960 samples of far-end audio to play.
    fn playback(&mut self, pcm: &[i16]);
}
