//! `tgvoip-reflector`: a local UDP relay with netem-like impairment, for tests and benchmarks.
//!
//! Prints `listening on ADDR` first, then, on SIGINT/SIGTERM or after `--duration`, one JSON line
//! of per-direction counters. See [`args::USAGE`] for the flags.

mod args;
mod impair;
mod profiles;
mod relay;
mod server;
mod signals;
mod stats;
mod tcp;
mod trace;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::ExitCode;

use args::{Command, Config};

fn main() -> ExitCode {
    let cmd = match args::parse(std::env::args().skip(1)) {
        Ok(cmd) => cmd,
        Err(e) => {
            eprintln!("tgvoip-reflector: {e}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    match cmd {
        Command::Help => print!("{}", args::USAGE),
        Command::ListProfiles => print!("{}", profiles::listing()),
        Command::Run(cfg) => {
            if let Err(e) = run(cfg) {
                eprintln!("tgvoip-reflector: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn run(cfg: Config) -> std::io::Result<()> {
    signals::install()?;
    let (socket, listener) = bind(cfg.listen, cfg.tcp)?;
    let local = socket.local_addr()?;
    if let Some(path) = &cfg.port_file {
        // Write then rename, so a reader never sees a partial file.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", local.port()))?;
        std::fs::rename(&tmp, path)?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {local}")?;
    out.flush()?;
    let mut board = relay::Switchboard::new(cfg.schedules, cfg.seed);
    board.set_block_udp(cfg.block_udp);
    let (report, trace) = server::run(
        &socket,
        listener.as_ref(),
        board,
        cfg.duration,
        signals::stop_requested,
    )?;
    if let Some(path) = &cfg.trace {
        trace.write(path)?;
    }
    writeln!(out, "{}", report.to_json())?;
    out.flush()
}

/// Binds the UDP socket and, with `tcp`, a TCP listener on the same port (a few tries when the
/// port was picked by the OS and is taken for TCP).
fn bind(listen: SocketAddr, tcp: bool) -> std::io::Result<(UdpSocket, Option<TcpListener>)> {
    let mut tries = 0;
    loop {
        let socket = UdpSocket::bind(listen)?;
        if !tcp {
            return Ok((socket, None));
        }
        match TcpListener::bind(socket.local_addr()?) {
            Ok(l) => return Ok((socket, Some(l))),
            Err(e) if listen.port() != 0 || tries >= 10 => return Err(e),
            Err(_) => tries += 1,
        }
    }
}
