//! tgvoip: a Rust reimplementation of Telegram's VoIP library libtgvoip 2.4.4.
//!
//! Layers: [`wire`] (bytes), [`session`] (sans-IO call state machine), [`media`] (Opus, jitter
//! buffer, bitrate), [`audio`] (the real-time thread), [`net`] (sockets and the driver thread),
//! [`ffi`] (the C ABI). [`Controller`] ties them together.

pub mod api;
pub mod audio;
pub mod controller;
pub mod ffi;
#[cfg(feature = "jni")]
pub mod jni;
pub mod media;
pub mod net;
pub mod server_config;
pub mod session;
pub mod sync;
pub mod util;
pub mod wire;

pub use api::{
    CallError, CallState, Config, DataSaving, Endpoint, EndpointType, NetworkType, TrafficStats,
    WebrtcEndpoint,
};
pub use controller::{Controller, ControllerError};
