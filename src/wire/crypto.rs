//! Packet encryption with the 256-byte call key: MTProto 2.0 (short and long formats) and the
//! legacy MTProto 1.0 scheme, AES-256-IGE, and the key-derived call constants.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes256;
use ring::digest;

use super::{WireError, MAX_DATAGRAM};

/// Length of the call's shared secret.
pub const KEY_LEN: usize = 256;

/// Length of the msg_key field.
const MSG_KEY_LEN: usize = 16;
/// Length of the key fingerprint field.
const FINGERPRINT_LEN: usize = 8;
/// AES block size.
const BLOCK: usize = 16;
/// Smallest encrypted packet (after the prefix) a receiver looks at (wire.md 3.3 step 1).
const MIN_ENCRYPTED_LEN: usize = 40;

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
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, key);
        let sha256 = digest::digest(&digest::SHA256, key);
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&sha1.as_ref()[12..20]);
        let mut call_id = [0u8; 16];
        call_id.copy_from_slice(&sha256.as_ref()[16..32]);
        CallKey {
            key: *key,
            fingerprint,
            call_id,
        }
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

    /// `K[start..start+len]`. Callers only use offsets below 136, so the range always fits.
    fn part(&self, start: usize, len: usize) -> &[u8] {
        self.key.get(start..start + len).unwrap_or(&[])
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
        PacketCrypto {
            key: CallKey::new(key),
            is_outgoing,
        }
    }

    /// The call key this instance encrypts with.
    pub fn key(&self) -> &CallKey {
        &self.key
    }

    /// Key offset used when encrypting (wire.md 1.2).
    fn x_send(&self) -> usize {
        if self.is_outgoing {
            0
        } else {
            8
        }
    }

    /// Key offset used when decrypting (wire.md 1.2).
    fn x_recv(&self) -> usize {
        8 - self.x_send()
    }

    /// Appends `[fingerprint] || msg_key || ciphertext` of `body` to `out` (no relay tag).
    /// Padding bytes (16..31 for MTProto 2.0, 0..15 for legacy) are filled with random bytes.
    pub fn encrypt(&self, format: PacketFormat, body: &[u8], out: &mut Vec<u8>) {
        let mut fill = |pad: &mut [u8]| rand::Rng::fill(&mut rand::thread_rng(), pad);
        self.encrypt_with_padding(format, body, &mut fill, out);
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
        let x = self.x_send();
        match format {
            PacketFormat::Short | PacketFormat::Long => {
                let mut inner = Vec::with_capacity(body.len() + 4 + 2 * BLOCK);
                if format == PacketFormat::Short {
                    // Bodies never exceed a datagram; the u16 field cannot hold more anyway.
                    inner.extend_from_slice(&(body.len() as u16).to_le_bytes());
                } else {
                    inner.extend_from_slice(&(body.len() as u32).to_le_bytes());
                    out.extend_from_slice(&self.key.fingerprint);
                }
                inner.extend_from_slice(body);
                let mut pad = BLOCK - inner.len() % BLOCK;
                if pad < BLOCK {
                    pad += BLOCK;
                }
                let start = inner.len();
                inner.resize(start + pad, 0);
                fill_padding(&mut inner[start..]);
                let hashed = if format == PacketFormat::Short {
                    &inner[..]
                } else {
                    &inner[4..]
                };
                let msg_key = self.msg_key_v2(x, hashed);
                let (aes_key, aes_iv) = kdf2(&self.key, &msg_key, x);
                aes_ige_encrypt(&aes_key, &aes_iv, &mut inner);
                out.extend_from_slice(&msg_key);
                out.extend_from_slice(&inner);
            }
            PacketFormat::Legacy => {
                let mut inner = Vec::with_capacity(body.len() + 4 + BLOCK);
                inner.extend_from_slice(&(body.len() as u32).to_le_bytes());
                inner.extend_from_slice(body);
                let msg_key = msg_key_v1(&inner);
                let pad = (BLOCK - inner.len() % BLOCK) % BLOCK;
                let start = inner.len();
                inner.resize(start + pad, 0);
                fill_padding(&mut inner[start..]);
                let (aes_key, aes_iv) = kdf1(&self.key, &msg_key, x);
                aes_ige_encrypt(&aes_key, &aes_iv, &mut inner);
                out.extend_from_slice(&self.key.fingerprint);
                out.extend_from_slice(&msg_key);
                out.extend_from_slice(&inner);
            }
        }
    }

    /// Decrypts `data` (everything after the relay tag / P2P prefix) and returns the body.
    /// Any bytes are accepted; failures are reported, never panicked on.
    ///
    /// Legacy packets return `plaintext[4..4+len]` with `len` clamped to the plaintext; their
    /// fingerprint is ignored, as 2.4.4 does (wire.md 3.4).
    pub fn decrypt(&self, format: PacketFormat, data: &[u8]) -> Result<Vec<u8>, WireError> {
        if data.len() < MIN_ENCRYPTED_LEN {
            return Err(WireError::TooShort);
        }
        let x = self.x_recv();
        let rest = match format {
            PacketFormat::Short => data,
            PacketFormat::Long => {
                let (fp, rest) = split(data, FINGERPRINT_LEN)?;
                if fp != self.key.fingerprint {
                    return Err(WireError::BadFingerprint);
                }
                rest
            }
            PacketFormat::Legacy => split(data, FINGERPRINT_LEN)?.1,
        };
        let (msg_key_bytes, ct) = split(rest, MSG_KEY_LEN)?;
        let mut msg_key = [0u8; MSG_KEY_LEN];
        msg_key.copy_from_slice(msg_key_bytes);
        if ct.len() > MAX_DATAGRAM {
            return Err(WireError::TooLong);
        }
        if ct.is_empty() || ct.len() % BLOCK != 0 {
            return Err(WireError::NotBlockAligned);
        }
        let mut plain = ct.to_vec();
        match format {
            PacketFormat::Short | PacketFormat::Long => {
                let (aes_key, aes_iv) = kdf2(&self.key, &msg_key, x);
                aes_ige_decrypt(&aes_key, &aes_iv, &mut plain);
                let short = format == PacketFormat::Short;
                let hashed = if short { &plain[..] } else { &plain[4..] };
                if self.msg_key_v2(x, hashed) != msg_key {
                    return Err(WireError::BadMsgKey);
                }
                let (len_size, min_pad) = if short { (2, 16) } else { (4, 12) };
                let len = if short {
                    let raw = i16::from_le_bytes([plain[0], plain[1]]);
                    usize::try_from(raw).map_err(|_| WireError::BadLength)?
                } else {
                    u32::from_le_bytes([plain[0], plain[1], plain[2], plain[3]]) as usize
                };
                let limit = if short { plain.len() } else { plain.len() - 4 };
                if len > limit || plain.len() - len < min_pad {
                    return Err(WireError::BadLength);
                }
                Ok(plain[len_size..len_size + len].to_vec())
            }
            PacketFormat::Legacy => {
                let (aes_key, aes_iv) = kdf1(&self.key, &msg_key, x);
                aes_ige_decrypt(&aes_key, &aes_iv, &mut plain);
                let raw = u32::from_le_bytes([plain[0], plain[1], plain[2], plain[3]]) as usize;
                let len = raw.min(plain.len() - 4);
                if msg_key_v1(&plain[..4 + len]) != msg_key {
                    return Err(WireError::BadMsgKey);
                }
                Ok(plain[4..4 + len].to_vec())
            }
        }
    }

    /// `SHA256(K[88+x..120+x] || hashed)[8..24]` (wire.md 3.3).
    fn msg_key_v2(&self, x: usize, hashed: &[u8]) -> [u8; MSG_KEY_LEN] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(self.key.part(88 + x, 32));
        ctx.update(hashed);
        let mut out = [0u8; MSG_KEY_LEN];
        out.copy_from_slice(&ctx.finish().as_ref()[8..24]);
        out
    }
}

/// Splits `data` at `at`, reporting a too-short input instead of panicking.
fn split(data: &[u8], at: usize) -> Result<(&[u8], &[u8]), WireError> {
    if data.len() < at {
        return Err(WireError::TooShort);
    }
    Ok(data.split_at(at))
}

/// `SHA1(inner)[4..20]`, the legacy msg_key over the length field and body (wire.md 3.4).
fn msg_key_v1(inner: &[u8]) -> [u8; MSG_KEY_LEN] {
    let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, inner);
    let mut out = [0u8; MSG_KEY_LEN];
    out.copy_from_slice(&hash.as_ref()[4..20]);
    out
}

/// Hashes the concatenation of `parts` with `alg`.
fn hash_parts(alg: &'static digest::Algorithm, parts: &[&[u8]]) -> digest::Digest {
    let mut ctx = digest::Context::new(alg);
    for part in parts {
        ctx.update(part);
    }
    ctx.finish()
}

/// Copies the given byte ranges of the hashes, in order, into a 32-byte array.
fn assemble(pieces: &[(&[u8], usize, usize)]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut at = 0;
    for &(src, from, to) in pieces {
        let n = to - from;
        out[at..at + n].copy_from_slice(&src[from..to]);
        at += n;
    }
    out
}

/// KDF2 (MTProto 2.0): AES key and IV from `msg_key` and key offset `x` (wire.md 3.2).
fn kdf2(key: &CallKey, msg_key: &[u8; MSG_KEY_LEN], x: usize) -> ([u8; 32], [u8; 32]) {
    let a = hash_parts(&digest::SHA256, &[msg_key, key.part(x, 36)]);
    let b = hash_parts(&digest::SHA256, &[key.part(40 + x, 36), msg_key]);
    let (a, b) = (a.as_ref(), b.as_ref());
    let aes_key = assemble(&[(a, 0, 8), (b, 8, 24), (a, 24, 32)]);
    let aes_iv = assemble(&[(b, 0, 8), (a, 8, 24), (b, 24, 32)]);
    (aes_key, aes_iv)
}

/// KDF1 (MTProto 1.0): AES key and IV from `msg_key` and key offset `x` (wire.md 3.2).
fn kdf1(key: &CallKey, msg_key: &[u8; MSG_KEY_LEN], x: usize) -> ([u8; 32], [u8; 32]) {
    let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
    let sa = hash_parts(sha1, &[msg_key, key.part(x, 32)]);
    let sb = hash_parts(sha1, &[key.part(32 + x, 16), msg_key, key.part(48 + x, 16)]);
    let sc = hash_parts(sha1, &[key.part(64 + x, 32), msg_key]);
    let sd = hash_parts(sha1, &[msg_key, key.part(96 + x, 32)]);
    let (sa, sb, sc, sd) = (sa.as_ref(), sb.as_ref(), sc.as_ref(), sd.as_ref());
    let aes_key = assemble(&[(sa, 0, 8), (sb, 8, 20), (sc, 4, 16)]);
    let aes_iv = assemble(&[(sa, 8, 20), (sb, 0, 8), (sc, 16, 20), (sd, 0, 8)]);
    (aes_key, aes_iv)
}

/// XORs `b` into `a` block-wise.
fn xor_into(a: &mut [u8; BLOCK], b: &[u8]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// AES-256-IGE encryption in place; `data.len()` must be a multiple of 16.
/// A trailing partial block is left untouched.
pub fn aes_ige_encrypt(key: &[u8; 32], iv: &[u8; 32], data: &mut [u8]) {
    let cipher = Aes256::new(GenericArray::from_slice(key));
    ige(iv, false, data, |b| cipher.encrypt_block(b));
}

/// AES-256-IGE decryption in place; `data.len()` must be a multiple of 16.
/// A trailing partial block is left untouched.
pub fn aes_ige_decrypt(key: &[u8; 32], iv: &[u8; 32], data: &mut [u8]) {
    let cipher = Aes256::new(GenericArray::from_slice(key));
    ige(iv, true, data, |b| cipher.decrypt_block(b));
}

/// One AES block as the cipher API takes it.
type Block = GenericArray<u8, aes::cipher::consts::U16>;

/// The IGE chaining, the same both ways: `out = f(in ^ a) ^ b`, then `a = out`, `b = in`, where
/// (a, b) start as the IV halves (c_prev, p_prev) when encrypting and swapped when decrypting.
fn ige(iv: &[u8; 32], decrypt: bool, data: &mut [u8], mut f: impl FnMut(&mut Block)) {
    let (first, second) = iv.split_at(BLOCK);
    let (mut a, mut b) = ([0u8; BLOCK], [0u8; BLOCK]);
    a.copy_from_slice(if decrypt { second } else { first });
    b.copy_from_slice(if decrypt { first } else { second });
    for chunk in data.chunks_exact_mut(BLOCK) {
        let mut input = [0u8; BLOCK];
        input.copy_from_slice(chunk);
        let mut block = input;
        xor_into(&mut block, &a);
        let mut ga = Block::from(block);
        f(&mut ga);
        let mut out: [u8; BLOCK] = ga.into();
        xor_into(&mut out, &b);
        chunk.copy_from_slice(&out);
        a = out;
        b = input;
    }
}

#[cfg(test)]
mod tests;
