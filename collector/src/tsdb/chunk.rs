//! The head chunk codec: delta-of-delta timestamps and XOR floats (Gorilla), bit-exact for every
//! value including NaN payloads, infinities and the staleness marker.
//!
//! Layout: `count: u16 LE`, then a bit stream: the first sample as 64-bit timestamp and 64-bit
//! value; each later sample as a delta-of-delta timestamp bucket and an XOR value. Pure and
//! allocation-light, so it can be fuzzed and benchmarked on its own.

use super::codec::bitstream::{BitReader, BitWriter};
use super::codec::xor::{XorDecoder, XorEncoder};
use super::interface::Sample;

/// Why a chunk could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt chunk: {0}")]
pub struct CorruptChunk(pub &'static str);

/// Appends samples to a growing chunk.
#[derive(Debug, Clone, Default)]
pub struct ChunkEncoder {
    bits: BitWriter,
    values: XorEncoder,
    count: u16,
    prev_t: i64,
    prev_delta: i64,
}

impl ChunkEncoder {
    /// The most samples one chunk holds.
    pub const MAX_SAMPLES: u16 = u16::MAX;

    /// An empty chunk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of samples appended.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether no sample was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the chunk takes once finished.
    pub fn encoded_len(&self) -> usize {
        2 + self.bits.byte_len()
    }

    /// Appends one sample; the caller keeps timestamps increasing and `len() < MAX_SAMPLES`.
    pub fn push(&mut self, t: i64, v: f64) {
        if self.count == 0 {
            self.bits.write(t as u64, 64);
        } else {
            let delta = t.wrapping_sub(self.prev_t);
            self.write_dod(delta.wrapping_sub(self.prev_delta));
            self.prev_delta = delta;
        }
        self.values.push(&mut self.bits, v.to_bits());
        self.prev_t = t;
        self.count += 1;
    }

    fn write_dod(&mut self, dod: i64) {
        let bits = &mut self.bits;
        match dod {
            0 => bits.write(0, 1),
            -63..=64 => bits.write((0b10 << 7) | (dod as u64 & 0x7f), 9),
            -255..=256 => bits.write((0b110 << 9) | (dod as u64 & 0x1ff), 12),
            -2047..=2048 => bits.write((0b1110 << 12) | (dod as u64 & 0xfff), 16),
            _ => {
                bits.write(0b1111, 4);
                bits.write(dod as u64, 64);
            }
        }
    }

    /// The encoded chunk so far; the encoder can keep appending afterwards.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.count.to_le_bytes());
        self.bits.append_to(&mut out);
        out
    }
}

/// Encodes samples (increasing timestamps, at most [`ChunkEncoder::MAX_SAMPLES`]) as one chunk.
pub fn encode(samples: &[Sample]) -> Vec<u8> {
    let mut encoder = ChunkEncoder::new();
    for s in samples {
        encoder.push(s.t, s.v);
    }
    encoder.bytes()
}

/// Decodes a whole chunk, appending its samples to `out`.
pub fn decode_into(chunk: &[u8], out: &mut Vec<Sample>) -> Result<(), CorruptChunk> {
    let header: [u8; 2] = chunk
        .get(..2)
        .and_then(|h| h.try_into().ok())
        .ok_or(CorruptChunk("missing header"))?;
    let count = u16::from_le_bytes(header);
    if count == 0 {
        return Ok(());
    }
    let mut bits = BitReader::new(&chunk[2..]);
    let mut values = XorDecoder::default();
    let mut t = bits.read(64)? as i64;
    out.reserve(usize::from(count));
    out.push(Sample {
        t,
        v: f64::from_bits(values.next(&mut bits)?),
    });
    let mut delta = 0i64;
    for _ in 1..count {
        delta = delta.wrapping_add(read_dod(&mut bits)?);
        t = t.wrapping_add(delta);
        out.push(Sample {
            t,
            v: f64::from_bits(values.next(&mut bits)?),
        });
    }
    Ok(())
}

/// Decodes a whole chunk.
pub fn decode(chunk: &[u8]) -> Result<Vec<Sample>, CorruptChunk> {
    let mut out = Vec::new();
    decode_into(chunk, &mut out)?;
    Ok(out)
}

fn read_dod(bits: &mut BitReader<'_>) -> Result<i64, CorruptChunk> {
    // Up to four prefix bits choose the bucket; sign-extend the payload.
    let (payload_bits, prefix_len) = match bits.peek(4) {
        0b0000..=0b0111 => (0, 1),
        0b1000..=0b1011 => (7, 2),
        0b1100..=0b1101 => (9, 3),
        0b1110 => (12, 4),
        _ => (64, 4),
    };
    bits.skip(prefix_len);
    if payload_bits == 0 {
        return Ok(0);
    }
    let raw = bits.read(payload_bits)?;
    Ok(match payload_bits {
        64 => raw as i64,
        // Values were written as two's complement in `payload_bits`; the buckets are skewed by
        // one (e.g. -63..=64), so the top positive value reads as its negative twin.
        n => {
            let shift = 64 - n;
            let signed = ((raw << shift) as i64) >> shift;
            if signed == -(1 << (n - 1)) {
                1 << (n - 1)
            } else {
                signed
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::interface::STALE_NAN_BITS;

    fn same(a: &[Sample], b: &[Sample]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.t == y.t && x.v.to_bits() == y.v.to_bits())
    }

    #[test]
    fn special_values_and_jittered_timestamps_round_trip_bit_exact() {
        let values = [
            1.0,
            f64::NAN,
            f64::from_bits(STALE_NAN_BITS),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            12345.67,
        ];
        let samples: Vec<Sample> = (0..1000)
            .map(|i| Sample {
                t: 1_700_000_000_000 + i * 15_000 + (i * 7919) % 5 - 2,
                v: values[(i as usize * 31) % values.len()],
            })
            .collect();
        assert!(same(&decode(&encode(&samples)).unwrap(), &samples));
    }

    #[test]
    fn extreme_timestamp_steps_round_trip() {
        let samples = [i64::MIN, -1, 0, 64, 65, 321, 4000, i64::MAX - 1, i64::MAX]
            .iter()
            .map(|&t| Sample { t, v: 0.5 })
            .collect::<Vec<_>>();
        assert!(same(&decode(&encode(&samples)).unwrap(), &samples));
    }

    #[test]
    fn encoder_keeps_appending_after_taking_bytes() {
        let mut encoder = ChunkEncoder::new();
        let mut expected = Vec::new();
        for i in 0..50 {
            encoder.push(i * 1000, i as f64 * 1.5);
            expected.push(Sample {
                t: i * 1000,
                v: i as f64 * 1.5,
            });
            assert!(same(&decode(&encoder.bytes()).unwrap(), &expected));
            assert_eq!(encoder.bytes().len(), encoder.encoded_len());
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[5, 0, 1, 2]).is_err());
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 97 + 13) as u8).collect();
            let _ = decode(&junk);
        }
    }
}
