//! Float columns in blocks of [`BLOCK`]: a block whose every value is a decimal with at most
//! [`MAX_SCALE`] fraction digits (`value * 10^k` integral, and that integer divided by `10^k`
//! gives the value back bit for bit) is stored as those integers ([`ints`] block); any other
//! block (NaN, infinities, staleness markers, -0.0, true floats) as XOR values.
//!
//! Layout: `count` varint, then per block a mode byte: `0` for XOR (byte length varint and the
//! bit stream), `1 + k` for an integer block scaled by `10^k`.

use super::super::block::{BlockError, get_varint, put_varint};
use super::BLOCK;
use super::bitstream::{BitReader, BitWriter};
use super::ints;
use super::xor::{XorDecoder, XorEncoder};

/// The most fraction digits a decimal block keeps (`10^15` is still exact in an `f64`).
pub const MAX_SCALE: usize = 15;

const POW10: [f64; MAX_SCALE + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

const MODE_XOR: u8 = 0;

/// Appends `values` as a float column.
pub fn encode(values: &[f64], out: &mut Vec<u8>) {
    put_varint(out, values.len() as u64);
    for block in values.chunks(BLOCK) {
        match decimal(block) {
            Some((scale, scaled)) => {
                out.push(1 + scale as u8);
                ints::encode_block(&scaled, out);
            }
            None => {
                out.push(MODE_XOR);
                let mut bits = BitWriter::default();
                let mut xor = XorEncoder::default();
                for v in block {
                    xor.push(&mut bits, v.to_bits());
                }
                put_varint(out, bits.byte_len() as u64);
                bits.append_to(out);
            }
        }
    }
}

/// Reads a float column from the front of `input`, advancing it, appending to `out`.
pub fn decode(input: &mut &[u8], out: &mut Vec<f64>) -> Result<(), BlockError> {
    let count = usize::try_from(get_varint(input)?).map_err(|_| corrupt("count"))?;
    if count.div_ceil(BLOCK) > input.len() {
        return Err(BlockError::truncated());
    }
    let start = out.len();
    out.resize(start + count, 0.0);
    let mut scaled = [0i64; BLOCK];
    for block in out[start..].chunks_mut(BLOCK) {
        let (&mode, rest) = input.split_first().ok_or_else(BlockError::truncated)?;
        *input = rest;
        if mode == MODE_XOR {
            let len = usize::try_from(get_varint(input)?).map_err(|_| corrupt("length"))?;
            if len > input.len() {
                return Err(BlockError::truncated());
            }
            let (bytes, rest) = input.split_at(len);
            *input = rest;
            let mut bits = BitReader::new(bytes);
            let mut xor = XorDecoder::default();
            for v in block.iter_mut() {
                *v = f64::from_bits(xor.next(&mut bits).map_err(|e| corrupt(&e.to_string()))?);
            }
            continue;
        }
        let p = *POW10
            .get(usize::from(mode) - 1)
            .ok_or_else(|| corrupt("unknown block mode"))?;
        let scaled = &mut scaled[..block.len()];
        ints::decode_block(input, scaled)?;
        for (v, &n) in block.iter_mut().zip(scaled.iter()) {
            *v = n as f64 / p;
        }
    }
    Ok(())
}

/// The scale and integers of a block of decimals, if every value is one.
fn decimal(block: &[f64]) -> Option<(usize, Vec<i64>)> {
    let mut scale = 0;
    for &v in block {
        scale = scale.max((0..=MAX_SCALE).find(|&k| scaled(v, k).is_some())?);
    }
    let ints = block
        .iter()
        .map(|&v| scaled(v, scale))
        .collect::<Option<Vec<i64>>>()?;
    Some((scale, ints))
}

/// `v * 10^k` as an integer, if dividing it by `10^k` gives `v` back bit for bit.
fn scaled(v: f64, k: usize) -> Option<i64> {
    let p = POW10[k];
    let n = (v * p).round();
    // Strictly inside i64's range (2^63 itself is not an i64); NaN fails both comparisons.
    if !(n > -9.223_372_036_854_775e18 && n < 9.223_372_036_854_775e18) {
        return None;
    }
    let n = n as i64;
    ((n as f64 / p).to_bits() == v.to_bits()).then_some(n)
}

fn corrupt(what: &str) -> BlockError {
    BlockError::new(format!("corrupt float column: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::interface::STALE_NAN_BITS;

    fn round_trip(values: &[f64]) -> usize {
        let mut bytes = Vec::new();
        encode(values, &mut bytes);
        let mut input = bytes.as_slice();
        let mut back = Vec::new();
        decode(&mut input, &mut back).unwrap();
        assert!(input.is_empty());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(values));
        bytes.len()
    }

    #[test]
    fn counters_with_cents_pack_as_integers() {
        let mut v = 123_456.78;
        let values: Vec<f64> = (0..5760u64)
            .map(|i| {
                v = ((v * 100.0f64).round() + ((i * 7919) % 1500) as f64) / 100.0;
                v
            })
            .collect();
        let bytes = round_trip(&values);
        assert!(bytes < 5760 * 2, "{bytes} bytes");
    }

    #[test]
    fn special_values_round_trip_bit_exact() {
        let specials = [
            f64::NAN,
            f64::from_bits(STALE_NAN_BITS),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            1e300,
            f64::MIN_POSITIVE,
            0.1 + 0.2,
            9.3e18,
            -9.3e18,
        ];
        round_trip(&specials);
        let mixed: Vec<f64> = (0..1300)
            .map(|i| match i % 97 {
                0 => specials[i / 97 % specials.len()],
                _ => i as f64 * 0.25,
            })
            .collect();
        round_trip(&mixed);
        round_trip(&[]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for len in 0..80 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 89 + 7) as u8).collect();
            let _ = decode(&mut junk.as_slice(), &mut Vec::new());
        }
        assert!(decode(&mut &[3, 40][..], &mut Vec::new()).is_err());
    }
}
