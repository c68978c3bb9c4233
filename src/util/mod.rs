//! Call-setup helpers an application needs around the library: Diffie-Hellman parameter and
//! `g_a`/`g_b` checks, the `g_a` hash, the key fingerprint and the key-verification emoji.

mod emoji_table;

use num_bigint::BigUint;
use num_traits::{One, Zero};
use ring::digest;

pub use emoji_table::EMOJI;

/// Telegram's well-known 2048-bit safe prime (`common_prime`), big-endian.
pub const TELEGRAM_PRIME: [u8; 256] = hex256(concat!(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37",
    "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F642477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4",
    "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4",
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B",
));

const fn hex256(s: &str) -> [u8; 256] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not hex"),
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 512);
    let mut out = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = nib(b[2 * i]) << 4 | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// Why DH parameters or a public value were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhError {
    /// g is outside 2..=7.
    GeneratorOutOfRange,
    /// p is not exactly 2048 bits.
    PrimeSize,
    /// p does not satisfy the residue rule for g (g would not generate the subgroup).
    BadResidue,
    /// p is not prime.
    NotPrime,
    /// (p-1)/2 is not prime.
    NotSafePrime,
    /// Not 1 < g_x < p-1.
    GxOutOfRange,
    /// Not 2^1984 < g_x < p - 2^1984.
    GxNotSafe,
}

impl core::fmt::Display for DhError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DhError::GeneratorOutOfRange => "g must be in 2..=7",
            DhError::PrimeSize => "p must be a 2048-bit number",
            DhError::BadResidue => "p does not satisfy the residue rule for g",
            DhError::NotPrime => "p is not prime",
            DhError::NotSafePrime => "(p-1)/2 is not prime: p is not a safe prime",
            DhError::GxOutOfRange => "g_x is invalid (1 < g_x < p - 1 is false)",
            DhError::GxNotSafe => "g_x is invalid (2^1984 < g_x < p - 2^1984 is false)",
        })
    }
}

impl std::error::Error for DhError {}

/// Checks `messages.getDhConfig` parameters: 2 <= g <= 7, p a 2048-bit number satisfying g's
/// residue rule and, when `test_primality`, a safe prime (Miller-Rabin on p and (p-1)/2, skipped
/// for Telegram's known prime).
pub fn check_dh_config(g: i32, p: &[u8], test_primality: bool) -> Result<(), DhError> {
    if !(2..=7).contains(&g) {
        return Err(DhError::GeneratorOutOfRange);
    }
    let pn = BigUint::from_bytes_be(p);
    if pn.bits() != 2048 {
        return Err(DhError::PrimeSize);
    }
    let m = |k: u32| (&pn % k).try_into().unwrap_or(u32::MAX);
    let ok = match g {
        2 => m(8) == 7,
        3 => m(3) == 2,
        4 => true,
        5 => matches!(m(5), 1 | 4),
        6 => matches!(m(24), 19 | 23),
        _ => matches!(m(7), 3 | 5 | 6),
    };
    if !ok {
        return Err(DhError::BadResidue);
    }
    if !test_primality || pn == BigUint::from_bytes_be(&TELEGRAM_PRIME) {
        return Ok(());
    }
    if !is_probable_prime(&pn, 32) {
        return Err(DhError::NotPrime);
    }
    let q: BigUint = (&pn - 1u32) >> 1;
    if !is_probable_prime(&q, 32) {
        return Err(DhError::NotSafePrime);
    }
    Ok(())
}

/// Checks a peer's (or our own) public value: 1 < g_x < p-1 and 2^1984 < g_x < p - 2^1984.
pub fn check_g_x(g_x: &[u8], p: &[u8]) -> Result<(), DhError> {
    let x = BigUint::from_bytes_be(g_x);
    let pn = BigUint::from_bytes_be(p);
    let one = BigUint::one();
    if pn <= one || x <= one || x >= &pn - 1u32 {
        return Err(DhError::GxOutOfRange);
    }
    let bound = BigUint::one() << 1984u32;
    if x <= bound || pn <= bound || x >= &pn - &bound {
        return Err(DhError::GxNotSafe);
    }
    Ok(())
}

/// Miller-Rabin with `rounds` random bases (plus trial division by small primes).
pub fn is_probable_prime(n: &BigUint, rounds: u32) -> bool {
    let two = BigUint::from(2u32);
    if *n < two {
        return false;
    }
    for sp in [2u32, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47] {
        if *n == BigUint::from(sp) {
            return true;
        }
        if (n % sp).is_zero() {
            return false;
        }
    }
    let n1 = n - 1u32;
    let s = n1.trailing_zeros().unwrap_or(0);
    let d = &n1 >> s;
    let bytes = n.bits().div_ceil(8) as usize;
    let mut buf = vec![0u8; bytes];
    for _ in 0..rounds {
        rand::Rng::fill(&mut rand::thread_rng(), buf.as_mut_slice());
        // a in [2, n-2]
        let a = BigUint::from_bytes_be(&buf) % (n - 3u32) + 2u32;
        let mut x = a.modpow(&d, n);
        if x.is_one() || x == n1 {
            continue;
        }
        let mut composite = true;
        for _ in 1..s {
            x = x.modpow(&two, n);
            if x == n1 {
                composite = false;
                break;
            }
        }
        if composite {
            return false;
        }
    }
    true
}

/// SHA-256 of `g_a` (sent in `phone.requestCall` as `g_a_hash`).
pub fn g_a_hash(g_a: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, g_a).as_ref());
    out
}

/// The TL `key_fingerprint`: the last 8 bytes of SHA-1(key) read as a little-endian int64.
pub fn key_fingerprint(key: &[u8]) -> i64 {
    let h = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, key);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_ref()[12..20]);
    i64::from_le_bytes(b)
}

/// Indices (0..333) into [`EMOJI`] for the key-verification emoji of a call: SHA-256(key ‖ g_a),
/// four 8-byte big-endian words with the top bit cleared, each mod 333.
pub fn emoji_indices(key: &[u8], g_a: &[u8]) -> [u16; 4] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(key);
    ctx.update(g_a);
    let h = ctx.finish();
    let h = h.as_ref();
    let mut out = [0u16; 4];
    for (i, o) in out.iter_mut().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&h[i * 8..i * 8 + 8]);
        let n = u64::from_be_bytes(w) & 0x7fff_ffff_ffff_ffff;
        *o = (n % EMOJI.len() as u64) as u16;
    }
    out
}

/// The official emoji strings for a call (what Telegram apps show).
pub fn emoji(key: &[u8], g_a: &[u8]) -> [&'static str; 4] {
    emoji_indices(key, g_a).map(|i| EMOJI[i as usize].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_vector() {
        let key: Vec<u8> = (0..=255u8).collect();
        assert_eq!(key_fingerprint(&key), -3972359982579920590);
    }

    #[test]
    fn emoji_vector() {
        let key: Vec<u8> = (0..=255u8).collect();
        let g_a: Vec<u8> = (0..=255u8).map(|i| 255 - i).collect();
        assert_eq!(emoji_indices(&key, &g_a), [122, 225, 65, 23]);
        assert_eq!(EMOJI[122].2, "CACTUS");
        assert_eq!(EMOJI[57].0, "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F466}");
    }

    #[test]
    fn telegram_prime_is_a_safe_prime() {
        assert_eq!(check_dh_config(3, &TELEGRAM_PRIME, true), Ok(()));
        assert_eq!(
            check_dh_config(2, &TELEGRAM_PRIME, true),
            Err(DhError::BadResidue)
        );
        let p = BigUint::from_bytes_be(&TELEGRAM_PRIME);
        assert!(is_probable_prime(&p, 8));
        assert!(is_probable_prime(&((&p - 1u32) >> 1), 8));
        // p + 2 is even-ish composite; p + 4 passes residue rule for g=4 but is not prime.
        let q = (&p + 4u32).to_bytes_be();
        assert_eq!(check_dh_config(4, &q, true), Err(DhError::NotPrime));
        assert_eq!(check_dh_config(4, &q, false), Ok(()));
        assert_eq!(
            check_dh_config(8, &TELEGRAM_PRIME, true),
            Err(DhError::GeneratorOutOfRange)
        );
        assert_eq!(
            check_dh_config(3, &TELEGRAM_PRIME[1..], true),
            Err(DhError::PrimeSize)
        );
    }

    #[test]
    fn miller_rabin_small_numbers() {
        for p in [2u32, 3, 7919, 104_729, 2_147_483_647] {
            assert!(is_probable_prime(&BigUint::from(p), 16), "{p}");
        }
        // 561 and 41041 are Carmichael numbers (Fermat liars for every coprime base).
        for c in [1u32, 4, 561, 41_041, 7917, 2_147_483_649] {
            assert!(!is_probable_prime(&BigUint::from(c), 16), "{c}");
        }
    }

    #[test]
    fn g_x_ranges() {
        let p = &TELEGRAM_PRIME;
        assert_eq!(check_g_x(&[1], p), Err(DhError::GxOutOfRange));
        assert_eq!(check_g_x(&[2], p), Err(DhError::GxNotSafe));
        let mut mid = [0x55u8; 256];
        mid[0] = 0x40;
        assert_eq!(check_g_x(&mid, p), Ok(()));
        assert_eq!(check_g_x(p, p), Err(DhError::GxOutOfRange));
    }
}
