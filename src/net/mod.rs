//! Sockets and the per-call engine thread that feeds datagrams, the clock and audio to the
//! session and the media pipeline.

pub mod call_stats;
pub mod engine;
pub mod ifaddr;
pub mod tgcalls_engine;
pub mod udp;

pub use udp::UdpTransport;
