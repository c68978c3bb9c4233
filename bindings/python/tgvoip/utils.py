"""Call-setup helpers with pytgvoip's names (see README for where they differ: official emoji,
256-byte keys from ints, a real primality test in check_dhc)."""

import ctypes
import hashlib
import time
from typing import List, Tuple, Union

from ._lib import lib

__all__ = ["i2b", "b2i", "check_dhc", "check_g", "calc_fingerprint", "generate_visualization",
           "get_real_elapsed_time", "emojis", "common_prime", "twoe1984"]

twoe1984 = 1 << 1984

common_prime = bytes.fromhex(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
    "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F642477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
    "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B")

# The official table (Telegram's EncryptionKeyEmojifier), read from the library: 333 entries.
emojis = tuple((lib.tgvoip_util_emoji(i, 0).decode("utf-8"), lib.tgvoip_util_emoji_name(i).decode())
               for i in range(333))


def i2b(value: int) -> bytes:
    """Unsigned big-endian bytes of minimal length (``i2b(0) == b''``). For call keys and g_a
    use ``value.to_bytes(256, 'big')``: a key whose top byte is 0 loses it here."""
    return int.to_bytes(value, length=(value.bit_length() + 7) // 8, byteorder="big", signed=False)


def b2i(value: bytes) -> int:
    """Unsigned big-endian integer."""
    return int.from_bytes(value, "big")


def _key_bytes(v: Union[bytes, int]) -> bytes:
    if isinstance(v, int):
        if v < 0:
            raise OverflowError("can't convert negative int to unsigned")
        return v.to_bytes(max(256, (v.bit_length() + 7) // 8), "big")
    return bytes(v)


def check_dhc(g: int, p: int) -> None:
    """Checks ``messages.getDhConfig`` parameters; raises ValueError unless 2 <= g <= 7, p has
    2048 bits, satisfies g's residue rule, and p and (p-1)/2 are prime (Miller-Rabin in the
    library; instant for Telegram's known prime)."""
    if not 2 <= g <= 7:
        raise ValueError()
    if p < 0 or p.bit_length() != 2048:
        raise ValueError()
    if (g == 2 and p % 8 != 7 or g == 3 and p % 3 != 2 or g == 5 and p % 5 not in (1, 4)
            or g == 6 and p % 24 not in (19, 23) or g == 7 and p % 7 not in (3, 5, 6)):
        raise ValueError()
    pb = p.to_bytes(256, "big")
    if lib.tgvoip_util_check_dh_config(g, pb, 256, True) != 0:
        msg = lib.tgvoip_last_error_message()
        raise ValueError(msg.decode() if msg else "bad DH config")


def check_g(g_x: int, p: int) -> None:
    """Checks g_a / g_b: 1 < g_x < p - 1 and 2^1984 < g_x < p - 2^1984."""
    if not (1 < g_x < p - 1):
        raise ValueError("g_x is invalid (1 < g_x < p - 1 is false)")
    if not (twoe1984 < g_x < p - twoe1984):
        raise ValueError("g_x is invalid (2^1984 < g_x < p - 2^1984 is false)")


def calc_fingerprint(key: Union[bytes, int]) -> int:
    """The TL ``key_fingerprint``: the last 8 bytes of SHA-1(key) as a signed little-endian
    int64. An int key is taken as 256 big-endian bytes (zero-padded)."""
    key = _key_bytes(key)
    if len(key) == 256:
        out = ctypes.c_int64()
        if lib.tgvoip_util_key_fingerprint(key, 256, ctypes.byref(out)) == 0:
            return out.value
    return int.from_bytes(hashlib.sha1(key).digest()[-8:], "little", signed=True)


def _emoji_indices(key: bytes, part2: bytes) -> List[int]:
    if len(key) == 256 and len(part2) == 256:
        out = (ctypes.c_uint16 * 4)()
        if lib.tgvoip_util_emoji_indices(key, 256, part2, 256, out) == 0:
            return list(out)
    h = hashlib.sha256(key + part2).digest()
    return [(int.from_bytes(h[i:i + 8], "big") & ((1 << 63) - 1)) % len(emojis)
            for i in range(0, 32, 8)]


def generate_visualization(key: Union[bytes, int],
                           part2: Union[bytes, int]) -> Tuple[List[str], List[str]]:
    """The four key-verification emoji and their names for a call key and the caller's g_a,
    as Telegram apps show them. Ints are taken as 256 big-endian bytes (zero-padded)."""
    idx = _emoji_indices(_key_bytes(key), _key_bytes(part2))
    return [emojis[i][0] for i in idx], [emojis[i][1] for i in idx]


def get_real_elapsed_time() -> float:
    """A monotonic clock in seconds (``time.perf_counter``), used for call durations."""
    return time.perf_counter()
