//! TCP relay transport: the obfuscated2 header and abridged framing (wire.md 2.6). Sans-IO.

use super::WireError;

/// Client-side obfuscated2 stream state for one TCP connection.
pub struct TcpObfuscation {
    _private: (),
}

impl TcpObfuscation {
    /// Builds the cipher state from a 64-byte nonce (which must satisfy the rules of wire.md 2.6)
    /// and returns it with the 64-byte connection header to send first.
    pub fn from_nonce(nonce: [u8; 64]) -> (TcpObfuscation, [u8; 64]) {
        unimplemented!()
    }

    /// Draws a valid random nonce and calls [`from_nonce`](Self::from_nonce).
    pub fn new_random() -> (TcpObfuscation, [u8; 64]) {
        unimplemented!()
    }

    /// Appends one encrypted abridged frame carrying `packet` (its length must be a multiple of 4).
    pub fn encode_frame(&mut self, packet: &[u8], out: &mut Vec<u8>) {
        unimplemented!()
    }

    /// Decrypts received stream bytes and returns every complete packet they finish.
    /// A frame announcing more than 1500 bytes is an error (the stream is then unusable).
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, WireError> {
        unimplemented!()
    }
}
