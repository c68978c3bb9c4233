//! A bounds-checked little-endian reader over untrusted bytes: every read past the end is a
//! `WireError::Truncated` naming the field, never a panic.

use crate::wire::WireError;

/// Reads fields front to back from a byte slice.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Everything not yet consumed, without consuming it.
    pub(crate) fn peek_rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    /// Everything not yet consumed; the reader ends up at the end.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        self.pos = self.data.len();
        rest
    }

    /// The next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated(what))?;
        let out = self
            .data
            .get(self.pos..end)
            .ok_or(WireError::Truncated(what))?;
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, what)?);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A little-endian u16.
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A little-endian u24, widened.
    pub(crate) fn u24(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b: [u8; 3] = self.array(what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }

    /// A little-endian u32.
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian i32.
    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, WireError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian u64.
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A TL length prefix: one byte up to 253, else `FE` and a u24. Returns (length, prefix size).
    pub(crate) fn tl_len(&mut self, what: &'static str) -> Result<(usize, usize), WireError> {
        match self.u8(what)? {
            n @ 0..=253 => Ok((n as usize, 1)),
            _ => Ok((self.u24(what)? as usize, 4)),
        }
    }

    /// A TL string (length prefix, data, alignment to 4): returns the data.
    pub(crate) fn tl_string(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let (len, prefix) = self.tl_len(what)?;
        let data = self.bytes(len, what)?;
        let pad = (4 - (prefix + len) % 4) % 4;
        self.bytes(pad, what)?;
        Ok(data)
    }
}

/// Appends a TL length prefix (one byte up to 253, else `FE` and a u24).
pub(crate) fn write_tl_len(len: usize, out: &mut Vec<u8>) {
    if len <= 253 {
        out.push(len as u8);
    } else {
        out.push(0xFE);
        out.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
    }
}
