//! XOR (Gorilla) value coding: the first value as 64 bits, then each value's XOR with the
//! previous one: `'0'` if zero, `'10'` + the meaningful bits when they fit the previous
//! leading/trailing-zero window, else `'11'` + 5 bits leading zeros (at most 31) + 6 bits
//! meaningful length (0 means 64) + the bits.

use super::super::chunk::CorruptChunk;
use super::bitstream::{BitReader, BitWriter};

/// Writes values one after another into a bit stream.
#[derive(Debug, Clone)]
pub struct XorEncoder {
    prev: Option<u64>,
    leading: u32,
    trailing: u32,
}

impl Default for XorEncoder {
    fn default() -> Self {
        XorEncoder {
            prev: None,
            leading: u32::MAX,
            trailing: 0,
        }
    }
}

impl XorEncoder {
    /// Writes the value with bits `v`.
    pub fn push(&mut self, bits: &mut BitWriter, v: u64) {
        let Some(prev) = self.prev.replace(v) else {
            bits.write(v, 64);
            return;
        };
        let xor = v ^ prev;
        if xor == 0 {
            bits.write(0, 1);
            return;
        }
        let leading = xor.leading_zeros().min(31);
        let trailing = xor.trailing_zeros();
        if self.leading != u32::MAX && leading >= self.leading && trailing >= self.trailing {
            let meaningful = 64 - self.leading - self.trailing;
            bits.write(0b10, 2);
            bits.write(xor >> self.trailing, meaningful);
            return;
        }
        let meaningful = 64 - leading - trailing;
        bits.write(0b11, 2);
        bits.write(u64::from(leading), 5);
        // 64 meaningful bits do not fit in 6 bits; 0 stands for 64 (0 itself never occurs).
        bits.write(u64::from(meaningful & 63), 6);
        bits.write(xor >> trailing, meaningful);
        self.leading = leading;
        self.trailing = trailing;
    }
}

/// Reads back what an [`XorEncoder`] wrote.
#[derive(Debug, Default)]
pub struct XorDecoder {
    prev: Option<u64>,
    leading: u32,
    trailing: u32,
}

impl XorDecoder {
    /// The bits of the next value.
    #[inline]
    pub fn next(&mut self, bits: &mut BitReader<'_>) -> Result<u64, CorruptChunk> {
        let Some(mut v) = self.prev else {
            let v = bits.read(64)?;
            self.prev = Some(v);
            return Ok(v);
        };
        if bits.read(1)? == 1 {
            if bits.read(1)? == 1 {
                self.leading = bits.read(5)? as u32;
                let meaningful = match bits.read(6)? as u32 {
                    0 => 64,
                    n => n,
                };
                self.trailing = 64u32
                    .checked_sub(self.leading + meaningful)
                    .ok_or(CorruptChunk("bad xor window"))?;
            }
            v ^= bits.read(64 - self.leading - self.trailing)? << self.trailing;
            self.prev = Some(v);
        }
        Ok(v)
    }
}
