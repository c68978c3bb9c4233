//! The relay's TCP side (wire.md 2.6): accepted connections, each reading the client's
//! obfuscated2 header and abridged frames, and writing frames back. Non-blocking.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use tgvoip::wire::tcp::{TcpObfuscation, HEADER_LEN};

/// Bytes queued toward one client beyond which frames are dropped.
const MAX_QUEUED: usize = 1 << 20;

/// One client connection.
pub struct Conn {
    pub id: u64,
    pub addr: SocketAddr,
    stream: TcpStream,
    header: Vec<u8>,
    obf: Option<TcpObfuscation>,
    out: Vec<u8>,
}

impl Conn {
    /// The socket, for `poll(2)`.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Whether bytes wait to be written.
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Reads what is there; returns complete packets, or an error when the connection is
    /// finished (closed, bad header, stream out of sync).
    pub fn read(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let mut packets = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match self.stream.read(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(packets),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut data = &buf[..n];
            if self.obf.is_none() {
                let take = (HEADER_LEN - self.header.len()).min(data.len());
                self.header.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.header.len() < HEADER_LEN {
                    continue;
                }
                let mut h = [0u8; HEADER_LEN];
                h.copy_from_slice(&self.header);
                let obf = TcpObfuscation::relay_side_from_header(&h)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad header"))?;
                self.obf = Some(obf);
            }
            if let Some(obf) = self.obf.as_mut() {
                let got = obf
                    .decode(data)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad frame"))?;
                packets.extend(got);
            }
        }
    }

    /// Queues one packet as a frame and writes what the socket takes.
    pub fn send(&mut self, packet: &[u8]) -> io::Result<bool> {
        let Some(obf) = self.obf.as_mut() else {
            return Ok(false);
        };
        if self.out.len() > MAX_QUEUED {
            return Ok(false);
        }
        obf.encode_frame(packet, &mut self.out);
        self.flush()?;
        Ok(true)
    }

    /// Writes queued bytes.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Accepts every waiting connection.
pub fn accept_all(listener: &TcpListener, next_id: &mut u64, conns: &mut Vec<Conn>) -> usize {
    let mut n = 0;
    loop {
        match listener.accept() {
            Ok((stream, addr)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                *next_id += 1;
                conns.push(Conn {
                    id: *next_id,
                    addr,
                    stream,
                    header: Vec::with_capacity(HEADER_LEN),
                    obf: None,
                    out: Vec::new(),
                });
                n += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return n,
        }
    }
}
