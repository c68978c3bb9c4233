//! The EncryptedConnection "Signaling" encryption (spec/tgcalls.md 2.2): MTProto-2-like msg_key
//! and KDF over the call's 256-byte key, AES-256-CTR, no padding.

use ctr::cipher::{KeyIvInit, StreamCipher};
use ring::digest;

use super::TgcallsWireError;

/// AES-256-CTR with a 128-bit big-endian counter (OpenSSL `CRYPTO_ctr128_encrypt`).
type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// Largest packet we emit, msg_key included (tgcalls `kMaxSignalingPacketSize`).
pub const MAX_SIGNALING_PACKET: usize = 16 * 1024;
/// Largest incoming packet accepted.
pub const MAX_INCOMING_PACKET: usize = 128 * 1024;
/// Smallest incoming packet accepted: msg_key, a seq and an entry type byte.
pub const MIN_PACKET: usize = 16 + 4 + 1;
/// The offset of the "Signaling" connection type inside the key.
const SIGNALING_OFFSET: usize = 128;

/// Encrypts and decrypts signaling packets for one side of a call.
#[derive(Clone)]
pub struct SignalingCrypto {
    key: [u8; 256],
    is_caller: bool,
}

impl core::fmt::Debug for SignalingCrypto {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignalingCrypto")
            .field("is_caller", &self.is_caller)
            .finish_non_exhaustive()
    }
}

impl SignalingCrypto {
    /// `key` is the call's 256-byte auth key; `is_caller` is true on the outgoing side.
    pub fn new(key: &[u8; 256], is_caller: bool) -> SignalingCrypto {
        SignalingCrypto {
            key: *key,
            is_caller,
        }
    }

    /// True on the caller.
    pub fn is_caller(&self) -> bool {
        self.is_caller
    }

    /// `x` of the packets we send: 128 on the caller, 136 on the callee.
    fn send_x(&self) -> usize {
        SIGNALING_OFFSET + if self.is_caller { 0 } else { 8 }
    }

    /// `x` of the packets the peer sends.
    fn recv_x(&self) -> usize {
        SIGNALING_OFFSET + if self.is_caller { 8 } else { 0 }
    }

    /// `msg_key ‖ AES-CTR(plaintext)`.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let x = self.send_x();
        let msg_key = msg_key(&self.key, x, plaintext);
        let mut out = Vec::with_capacity(16 + plaintext.len());
        out.extend_from_slice(&msg_key);
        out.extend_from_slice(plaintext);
        let mut cipher = cipher(&self.key, x, &msg_key);
        cipher.apply_keystream(&mut out[16..]);
        out
    }

    /// Decrypts a packet from the peer and checks its msg_key.
    pub fn decrypt(&self, packet: &[u8]) -> Result<Vec<u8>, TgcallsWireError> {
        if packet.len() < MIN_PACKET {
            return Err(TgcallsWireError::TooShort);
        }
        if packet.len() > MAX_INCOMING_PACKET {
            return Err(TgcallsWireError::TooLong);
        }
        let x = self.recv_x();
        let mut got_key = [0u8; 16];
        got_key.copy_from_slice(&packet[..16]);
        let mut plain = packet[16..].to_vec();
        cipher(&self.key, x, &got_key).apply_keystream(&mut plain);
        let want = msg_key(&self.key, x, &plain);
        let diff = want
            .iter()
            .zip(got_key.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(TgcallsWireError::BadMsgKey);
        }
        Ok(plain)
    }
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `SHA-256(key[88+x .. 88+x+32) ‖ plaintext)[8..24)`.
fn msg_key(key: &[u8; 256], x: usize, plaintext: &[u8]) -> [u8; 16] {
    let h = sha256(&[&key[88 + x..88 + x + 32], plaintext]);
    let mut k = [0u8; 16];
    k.copy_from_slice(&h[8..24]);
    k
}

fn cipher(key: &[u8; 256], x: usize, msg_key: &[u8; 16]) -> Aes256Ctr {
    let a = sha256(&[msg_key, &key[x..x + 36]]);
    let b = sha256(&[&key[40 + x..40 + x + 36], msg_key]);
    let mut aes_key = [0u8; 32];
    aes_key[..8].copy_from_slice(&a[..8]);
    aes_key[8..24].copy_from_slice(&b[8..24]);
    aes_key[24..].copy_from_slice(&a[24..32]);
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&b[..4]);
    iv[4..12].copy_from_slice(&a[8..16]);
    iv[12..].copy_from_slice(&b[24..28]);
    Aes256Ctr::new(&aes_key.into(), &iv.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> [u8; 256] {
        let mut k = [0u8; 256];
        for (i, b) in k.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7).wrapping_add(3);
        }
        k
    }

    #[test]
    fn roundtrip_between_roles() {
        let caller = SignalingCrypto::new(&key(), true);
        let callee = SignalingCrypto::new(&key(), false);
        let pt = b"\x40\x00\x00\x01\x7f\x00\x00\x00\x02{}".to_vec();
        let c = caller.encrypt(&pt);
        assert_eq!(c.len(), pt.len() + 16);
        assert_eq!(callee.decrypt(&c).unwrap(), pt);
        // The caller cannot decrypt its own packet (the peer's x differs).
        assert_eq!(caller.decrypt(&c), Err(TgcallsWireError::BadMsgKey));
        let c2 = callee.encrypt(&pt);
        assert_ne!(c, c2);
        assert_eq!(caller.decrypt(&c2).unwrap(), pt);
    }

    #[test]
    fn tampering_and_sizes() {
        let caller = SignalingCrypto::new(&key(), true);
        let callee = SignalingCrypto::new(&key(), false);
        let mut c = caller.encrypt(b"0123456789abcdef0123");
        c[20] ^= 1;
        assert_eq!(callee.decrypt(&c), Err(TgcallsWireError::BadMsgKey));
        assert_eq!(callee.decrypt(&[0; 20]), Err(TgcallsWireError::TooShort));
        assert_eq!(
            callee.decrypt(&vec![0; MAX_INCOMING_PACKET + 1]),
            Err(TgcallsWireError::TooLong)
        );
    }
}
