//! Sockets and the per-call engine thread that feeds datagrams, the clock and audio to the
//! session and the media pipeline.

pub mod call_stats;
pub mod engine;
pub mod ifaddr;
pub mod proxy;
pub mod socks5;
pub mod tcp_relay;
pub mod tgcalls_engine;
pub mod transport;
pub mod udp;

pub use proxy::ProxyConfig;
pub use transport::{Incoming, Transport};
pub use udp::UdpTransport;
