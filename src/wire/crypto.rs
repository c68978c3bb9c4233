//! Packet encryption with the 256-byte call key: MTProto 2.0 (short and long formats) and the
//! legacy MTProto 1.0 scheme, AES-256-IGE, and the key-derived call constants.

use super::WireError;

/// Length of the call's shared secret.
pub const KEY_LEN: usize = 256;

/// The call key and the constants derived from it.
#[derive(Clone)]
pub struct CallKey {
    key: [u8; KEY_LEN],
    fingerprint: [u8; 8],
    call_id: [u8; 16],
}

impl CallKey {
    /// Derives the fingerprint (`SHA1(K)[12..20]`) and call id (`SHA256(K)[16..32]`).
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        unimplemented!()
    }
    /// The raw key bytes.
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }
    /// `SHA1(K)[12..20]`, the 8-byte key fingerprint of long and legacy packets.
    pub fn fingerprint(&self) -> [u8; 8] {
        self.fingerprint
    }
    /// `SHA256(K)[16..32]`, the P2P prefix for peers below version 9.
    pub fn call_id(&self) -> [u8; 16] {
        self.call_id
    }
}

/// Which of the three encrypted layouts a packet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketFormat {
    /// MTProto 2.0, u16 inner length, no fingerprint (layer >= 92 or peer >= v8).
    Short,
    /// MTProto 2.0, u32 inner length, fingerprint first.
    Long,
    /// MTProto 1.0 (SHA-1 KDF), fingerprint first.
    Legacy,
}

/// Encrypts outgoing and decrypts incoming packet bodies for one side of a call.
/// Outgoing uses key offset x = 0 on the caller and 8 on the callee; incoming the opposite.
#[derive(Clone)]
pub struct PacketCrypto {
    key: CallKey,
    is_outgoing: bool,
}

impl PacketCrypto {
    /// `is_outgoing` is true on the caller.
    pub fn new(key: &[u8; KEY_LEN], is_outgoing: bool) -> Self {
        PacketCrypto { key: CallKey::new(key), is_outgoing }
    }

    /// The call key this instance encrypts with.
    pub fn key(&self) -> &CallKey {
        &self.key
    }

    /// Appends `[fingerprint] || msg_key || ciphertext` of `body` to `out` (no relay tag).
    /// Padding bytes (16..31 for MTProto 2.0, 0..15 for legacy) are filled with random bytes.
    pub fn encrypt(&self, format: PacketFormat, body: &[u8], out: &mut Vec<u8>) {
        unimplemented!()
    }

    /// As [`encrypt`](Self::encrypt) but with padding bytes supplied by `fill_padding`
    /// (test vectors use a fixed 0xAA).
    pub fn encrypt_with_padding(
        &self,
        format: PacketFormat,
        body: &[u8],
        fill_padding: &mut dyn FnMut(&mut [u8]),
        out: &mut Vec<u8>,
    ) {
        unimplemented!()
    }

    /// Decrypts `data` (everything after the relay tag / P2P prefix) and returns the body.
    /// Any bytes are accepted; failures are reported, never panicked on.
    pub fn decrypt(&self, format: PacketFormat, data: &[u8]) -> Result<Vec<u8>, WireError> {
        unimplemented!()
    }
}

/// AES-256-IGE encryption in place; `data.len()` must be a multiple of 16.
pub fn aes_ige_encrypt(key: &[u8; 32], iv: &[u8; 32], data: &mut [u8]) {
    unimplemented!()
}

/// AES-256-IGE decryption in place; `data.len()` must be a multiple of 16.
pub fn aes_ige_decrypt(key: &[u8; 32], iv: &[u8; 32], data: &mut [u8]) {
    unimplemented!()
}
