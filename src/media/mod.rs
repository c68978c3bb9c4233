//! Media pipeline, protocol-agnostic: Opus encode/decode, the outgoing frame builder with
//! redundancy, the jitter buffer with loss concealment, and bitrate control.

pub mod bitrate;
pub mod jitter;
pub mod opus;
pub mod receiver;
pub mod sender;
#[cfg(test)]
pub(crate) mod testutil;
pub mod tsm;

pub use bitrate::{BitrateController, BitrateLimits, SendFeedback};
pub use jitter::{JitterBuffer, JitterStats};
pub use receiver::{AudioReceiver, ReceiverStats};
pub use sender::{AudioSender, EncodedFrame, SenderSettings};

/// Sample rate everywhere at the API and inside the pipeline.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms chunk, the unit exchanged with the audio thread.
pub const CHUNK_SAMPLES: usize = 960;
/// Duration of one Opus frame on the wire, in milliseconds (fixed by libtgvoip 2.4.4).
pub const FRAME_MS: u32 = 60;
/// Samples in one 60 ms Opus frame.
pub const FRAME_SAMPLES: usize = 2880;
/// Largest frame a jitter slot holds (a 2.4.4 receiver drops larger frames).
pub const MAX_FRAME_BYTES: usize = 1024;

/// Errors from the codec layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaError {
    /// libopus returned this negative error code.
    Opus(i32),
    /// A buffer had the wrong size for the operation.
    BadBufferSize,
}

impl core::fmt::Display for MediaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MediaError::Opus(code) => write!(f, "opus error {code}"),
            MediaError::BadBufferSize => f.write_str("bad buffer size"),
        }
    }
}

impl std::error::Error for MediaError {}
