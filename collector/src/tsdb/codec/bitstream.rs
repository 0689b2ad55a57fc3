//! Bit streams written and read most significant bit first, as the XOR codecs use them.

use super::super::chunk::CorruptChunk;

/// Writes bits most-significant first into 64-bit words.
#[derive(Debug, Clone)]
pub struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    free: u32,
}

impl Default for BitWriter {
    fn default() -> Self {
        BitWriter {
            bytes: Vec::new(),
            acc: 0,
            free: 64,
        }
    }
}

impl BitWriter {
    /// Appends the low `n` bits of `value` (`n` at most 64).
    pub fn write(&mut self, value: u64, n: u32) {
        if n == 0 {
            return;
        }
        let value = if n == 64 {
            value
        } else {
            value & ((1 << n) - 1)
        };
        if n < self.free {
            self.free -= n;
            self.acc |= value << self.free;
        } else {
            let rest = n - self.free;
            self.acc |= value >> rest;
            self.bytes.extend_from_slice(&self.acc.to_be_bytes());
            self.free = 64 - rest;
            self.acc = if rest == 0 { 0 } else { value << self.free };
        }
    }

    /// Bytes written so far, the last one zero-padded.
    pub fn byte_len(&self) -> usize {
        self.bytes.len() + (64 - self.free).div_ceil(8) as usize
    }

    /// Appends the bytes written so far to `out`; writing can go on afterwards.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bytes);
        if self.free < 64 {
            let used = (64 - self.free).div_ceil(8) as usize;
            out.extend_from_slice(&self.acc.to_be_bytes()[..used]);
        }
    }
}

/// Reads bits most-significant first, refilling a 64-bit window.
pub struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    window: u64,
    have: u32,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader {
            bytes,
            pos: 0,
            window: 0,
            have: 0,
        }
    }

    /// Tops the window up to at least 57 bits while input remains.
    fn refill(&mut self) {
        if let Some(next) = self.bytes.get(self.pos..self.pos + 8) {
            let word = u64::from_be_bytes(next.try_into().expect("8 bytes"));
            let take = (64 - self.have) / 8;
            if take > 0 {
                let fresh = if take == 8 {
                    word
                } else {
                    word >> (64 - 8 * take)
                };
                self.window = if self.have == 0 {
                    fresh
                } else {
                    (self.window << (8 * take)) | fresh
                };
                self.have += 8 * take;
                self.pos += take as usize;
            }
            return;
        }
        while self.have <= 56 && self.pos < self.bytes.len() {
            self.window = (self.window << 8) | u64::from(self.bytes[self.pos]);
            self.have += 8;
            self.pos += 1;
        }
    }

    /// The next `n` bits (at most 56) without consuming them; zeros past the end.
    pub fn peek(&mut self, n: u32) -> u64 {
        if self.have < n {
            self.refill();
        }
        let window = if self.have >= n {
            self.window >> (self.have - n)
        } else {
            self.window << (n - self.have)
        };
        window & mask(n)
    }

    /// Consumes `n` bits already seen by [`BitReader::peek`].
    pub fn skip(&mut self, n: u32) {
        self.have = self.have.saturating_sub(n);
    }

    /// Consumes and returns the next `n` bits (at most 64).
    pub fn read(&mut self, n: u32) -> Result<u64, CorruptChunk> {
        if n > 56 {
            let high = self.read(n - 32)?;
            let low = self.read(32)?;
            return Ok((high << 32) | low);
        }
        if self.have < n {
            self.refill();
            if self.have < n {
                return Err(CorruptChunk("truncated"));
            }
        }
        self.have -= n;
        Ok((self.window >> self.have) & mask(n))
    }
}

fn mask(n: u32) -> u64 {
    if n >= 64 { u64::MAX } else { (1 << n) - 1 }
}
