//! TCP relay transport: the obfuscated2 header and abridged framing (wire.md 2.6). Sans-IO.
//!
//! One [`TcpObfuscation`] holds the two AES-256-CTR streams of a connection and the partly
//! received frame. The same type serves the relay end (see [`TcpObfuscation::relay_side_from_header`])
//! so a test relay can read client frames and answer them.

use ctr::cipher::{KeyIvInit, StreamCipher};

use super::{WireError, MAX_DATAGRAM};

/// AES-256-CTR with a 128-bit big-endian counter (OpenSSL `CRYPTO_ctr128` semantics).
type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// Length of the connection header.
pub const HEADER_LEN: usize = 64;
/// Protocol tag "abridged", placed at nonce offset 56.
const ABRIDGED_TAG: [u8; 4] = [0xEF; 4];
/// First length byte value that announces a 3-byte length.
const LONG_LENGTH: u8 = 0x7F;

/// Client-side obfuscated2 stream state for one TCP connection.
pub struct TcpObfuscation {
    /// Encrypts what this end sends.
    send: Aes256Ctr,
    /// Decrypts what this end receives.
    recv: Aes256Ctr,
    /// Decrypted bytes not yet forming a complete frame.
    pending: Vec<u8>,
    /// Set once a frame announced more than 1500 bytes; the stream is out of sync for good.
    broken: bool,
}

/// Builds the CTR cipher from a 32-byte key and 16-byte initial counter block.
fn ctr_from(key: &[u8], iv: &[u8]) -> Aes256Ctr {
    let mut k = [0u8; 32];
    let mut v = [0u8; 16];
    k.copy_from_slice(&key[..32]);
    v.copy_from_slice(&iv[..16]);
    Aes256Ctr::new(&k.into(), &v.into())
}

/// The client->relay and relay->client ciphers of a nonce, both at keystream offset 0.
fn ciphers(nonce: &[u8; HEADER_LEN]) -> (Aes256Ctr, Aes256Ctr) {
    let to_relay = ctr_from(&nonce[8..40], &nonce[40..56]);
    let mut reversed = [0u8; 48];
    reversed.copy_from_slice(&nonce[8..56]);
    reversed.reverse();
    let to_client = ctr_from(&reversed[..32], &reversed[32..48]);
    (to_relay, to_client)
}

/// Whether a nonce passes the rejection rules of wire.md 2.6 (step 1).
pub fn is_valid_nonce(nonce: &[u8; HEADER_LEN]) -> bool {
    let first = u32::from_le_bytes([nonce[0], nonce[1], nonce[2], nonce[3]]);
    const FORBIDDEN: [u32; 4] = [0x4441_4548, 0x5453_4F50, 0x2054_4547, 0xEEEE_EEEE];
    !FORBIDDEN.contains(&first) && nonce[4..8] != [0; 4] && nonce[0] != 0xEF
}

impl TcpObfuscation {
    /// Builds the cipher state from a 64-byte nonce (which must satisfy the rules of wire.md 2.6)
    /// and returns it with the 64-byte connection header to send first.
    pub fn from_nonce(nonce: [u8; 64]) -> (TcpObfuscation, [u8; 64]) {
        let (mut send, recv) = ciphers(&nonce);
        let mut tagged = nonce;
        tagged[56..60].copy_from_slice(&ABRIDGED_TAG);
        let mut encrypted = tagged;
        send.apply_keystream(&mut encrypted);
        let mut header = tagged;
        header[56..].copy_from_slice(&encrypted[56..]);
        let state = TcpObfuscation {
            send,
            recv,
            pending: Vec::new(),
            broken: false,
        };
        (state, header)
    }

    /// Draws a valid random nonce and calls [`from_nonce`](Self::from_nonce).
    pub fn new_random() -> (TcpObfuscation, [u8; 64]) {
        let mut nonce = [0u8; HEADER_LEN];
        loop {
            rand::Rng::fill(&mut rand::thread_rng(), &mut nonce[..]);
            if is_valid_nonce(&nonce) {
                return Self::from_nonce(nonce);
            }
        }
    }

    /// The relay end of a connection, from the 64-byte header the client sent: it decodes the
    /// client's frames and encodes replies the client can decode. Fails with
    /// `Invalid("protocol tag")` unless the header decrypts to the abridged tag.
    pub fn relay_side_from_header(header: &[u8; 64]) -> Result<TcpObfuscation, WireError> {
        let (mut from_client, to_client) = ciphers(header);
        let mut plain = *header;
        from_client.apply_keystream(&mut plain);
        if plain[56..60] != ABRIDGED_TAG {
            return Err(WireError::Invalid("protocol tag"));
        }
        Ok(TcpObfuscation {
            send: to_client,
            recv: from_client,
            pending: Vec::new(),
            broken: false,
        })
    }

    /// Appends one encrypted abridged frame carrying `packet` (its length must be a multiple of 4).
    /// A packet whose length is not a multiple of 4 is zero-padded up to one, so the stream stays
    /// in sync.
    pub fn encode_frame(&mut self, packet: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let words = packet.len().div_ceil(4);
        if words < usize::from(LONG_LENGTH) {
            out.push(words as u8);
        } else {
            out.push(LONG_LENGTH);
            out.extend_from_slice(&(words as u32).to_le_bytes()[..3]);
        }
        out.extend_from_slice(packet);
        out.resize(out.len() + (words * 4 - packet.len()), 0);
        self.send.apply_keystream(&mut out[start..]);
    }

    /// Decrypts received stream bytes and returns every complete packet they finish.
    /// A frame announcing more than 1500 bytes is an error (the stream is then unusable).
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, WireError> {
        if self.broken {
            return Err(WireError::TooLong);
        }
        let start = self.pending.len();
        self.pending.extend_from_slice(bytes);
        self.recv.apply_keystream(&mut self.pending[start..]);
        let mut packets = Vec::new();
        let mut pos = 0;
        loop {
            let rest = &self.pending[pos..];
            let Some((&first, after)) = rest.split_first() else {
                break;
            };
            let (words, prefix) = if first < LONG_LENGTH {
                (usize::from(first), 1)
            } else {
                match after.get(..3) {
                    Some(b) => (u32::from_le_bytes([b[0], b[1], b[2], 0]) as usize, 4),
                    None => break,
                }
            };
            let len = words * 4;
            if len > MAX_DATAGRAM {
                self.broken = true;
                self.pending.clear();
                return Err(WireError::TooLong);
            }
            match rest.get(prefix..prefix + len) {
                Some(packet) => packets.push(packet.to_vec()),
                None => break,
            }
            pos += prefix + len;
        }
        self.pending.drain(..pos);
        Ok(packets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_hex::hex;

    fn spec_nonce() -> [u8; 64] {
        core::array::from_fn(|i| 0x40 + i as u8)
    }

    const SPEC_FRAME: &str =
        "4a096c29952e9be71ddace7bca22909599c7d1e1a2eeea79d591af1e683b34ef5a0f7537992daeacb0
        6aaa3064ab7e30f07675750cd5d48910bcba7564e1126ebb6117728af0b0d7c460ba4836baa82817d4
        6344cad961e91b28594deed8b6d797";

    #[test]
    fn spec_vector_header_and_frame() {
        let nonce = spec_nonce();
        assert!(is_valid_nonce(&nonce));
        let (mut client, header) = TcpObfuscation::from_nonce(nonce);
        assert_eq!(header[..56], nonce[..56]);
        assert_eq!(header[56..].to_vec(), hex("bef39da02d2709f6"));
        let packet: Vec<u8> = (0..96).collect();
        let mut out = Vec::new();
        client.encode_frame(&packet, &mut out);
        assert_eq!(out, hex(SPEC_FRAME));

        // The relay side reads it back.
        let mut relay = TcpObfuscation::relay_side_from_header(&header).unwrap();
        assert_eq!(relay.decode(&out).unwrap(), vec![packet]);
    }

    #[test]
    fn spec_vector_relay_to_client_key() {
        // wire.md 3.6: relay->client key R[0..32] = 77 76 .. 58, counter block 57 56 .. 48.
        let key: Vec<u8> = (0x58..=0x77u8).rev().collect();
        let iv: Vec<u8> = (0x48..=0x57u8).rev().collect();
        assert_eq!(key[..4], hex("77767574")[..]);
        assert_eq!(iv, hex("57565554535251504f4e4d4c4b4a4948"));
        let mut reference = ctr_from(&key, &iv);
        let packet: Vec<u8> = (0..64).map(|i| 255 - i as u8).collect();
        let mut expected = vec![16u8];
        expected.extend_from_slice(&packet);
        reference.apply_keystream(&mut expected);

        let (mut client, header) = TcpObfuscation::from_nonce(spec_nonce());
        let mut relay = TcpObfuscation::relay_side_from_header(&header).unwrap();
        let mut reply = Vec::new();
        relay.encode_frame(&packet, &mut reply);
        assert_eq!(reply, expected);
        assert_eq!(client.decode(&reply).unwrap(), vec![packet]);
    }

    #[test]
    fn round_trip_both_directions_byte_by_byte() {
        let (mut client, header) = TcpObfuscation::new_random();
        let mut relay = TcpObfuscation::relay_side_from_header(&header).unwrap();
        let sizes = [0usize, 4, 64, 96, 500, 504, 508, 1024, 1500];
        let packets: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&n| (0..n).map(|i| (i * 31 + n) as u8).collect())
            .collect();
        let mut stream = Vec::new();
        for p in &packets {
            client.encode_frame(p, &mut stream);
        }
        // Long form for 508 bytes and more (127 words).
        let mut got = Vec::new();
        for b in &stream {
            got.extend(relay.decode(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(got, packets);
        let mut back = Vec::new();
        for p in &packets {
            relay.encode_frame(p, &mut back);
        }
        let (a, b) = back.split_at(back.len() / 3);
        let mut got = client.decode(a).unwrap();
        got.extend(client.decode(b).unwrap());
        assert_eq!(got, packets);
    }

    #[test]
    fn long_length_prefix_form() {
        let (mut client, header) = TcpObfuscation::from_nonce(spec_nonce());
        let mut relay = TcpObfuscation::relay_side_from_header(&header).unwrap();
        let mut out = Vec::new();
        client.encode_frame(&[0u8; 508], &mut out);
        assert_eq!(out.len(), 4 + 508);
        // Decrypt the prefix by hand with a fresh relay cipher.
        let (mut from_client, _) = ciphers(&header);
        let mut skip = [0u8; 64];
        from_client.apply_keystream(&mut skip);
        let mut prefix = out[..4].to_vec();
        from_client.apply_keystream(&mut prefix);
        assert_eq!(prefix, vec![0x7F, 127, 0, 0]);
        assert_eq!(relay.decode(&out).unwrap(), vec![vec![0u8; 508]]);
    }

    #[test]
    fn oversized_frame_breaks_stream() {
        let (mut client, header) = TcpObfuscation::from_nonce(spec_nonce());
        let mut relay = TcpObfuscation::relay_side_from_header(&header).unwrap();
        let mut out = Vec::new();
        client.encode_frame(&[1u8; 1504], &mut out);
        assert_eq!(relay.decode(&out[..4]), Err(WireError::TooLong));
        let mut more = Vec::new();
        client.encode_frame(&[1u8; 8], &mut more);
        assert_eq!(relay.decode(&more), Err(WireError::TooLong));
    }

    #[test]
    fn nonce_rules() {
        let mut n = spec_nonce();
        assert!(is_valid_nonce(&n));
        for bad in [*b"HEAD", *b"POST", *b"GET ", [0xEE; 4]] {
            n[..4].copy_from_slice(&bad);
            assert!(!is_valid_nonce(&n), "{bad:?}");
        }
        n = spec_nonce();
        n[0] = 0xEF;
        assert!(!is_valid_nonce(&n));
        n = spec_nonce();
        n[4..8].fill(0);
        assert!(!is_valid_nonce(&n));
        let (_, header) = TcpObfuscation::new_random();
        assert!(TcpObfuscation::relay_side_from_header(&header).is_ok());
    }

    #[test]
    fn relay_rejects_wrong_tag() {
        let (_, mut header) = TcpObfuscation::from_nonce(spec_nonce());
        header[57] ^= 1;
        assert!(matches!(
            TcpObfuscation::relay_side_from_header(&header),
            Err(WireError::Invalid("protocol tag"))
        ));
    }
}
