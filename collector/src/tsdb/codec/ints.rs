//! Integer columns (timestamps, decimal-scaled values) in blocks of [`BLOCK`]: each block keeps
//! its values raw, as deltas or as deltas of deltas, whichever packs narrowest, and stores
//! those residuals frame-of-reference (minus their minimum, divided by their greatest common
//! divisor, e.g. 4096 for page-granular byte counts) at a fixed bit width.
//!
//! Layout: `count` varint, then per block of up to 512 values: `order` byte (0, 1 or 2), the
//! first `order` terms (the first value, then the first delta) as zigzag varints, and when
//! residuals remain: their minimum as a zigzag varint, their common divisor as a varint, a
//! width byte, the packed residuals.
//! All arithmetic wraps, so every `i64` round-trips.

use super::super::block::{BlockError, get_varint, put_varint};
use super::{BLOCK, bitpack};

/// Appends `values` as an integer column.
pub fn encode(values: &[i64], out: &mut Vec<u8>) {
    put_varint(out, values.len() as u64);
    for block in values.chunks(BLOCK) {
        encode_block(block, out);
    }
}

/// Reads an integer column from the front of `input`, advancing it, appending to `out`.
pub fn decode(input: &mut &[u8], out: &mut Vec<i64>) -> Result<(), BlockError> {
    let count = usize::try_from(get_varint(input)?).map_err(|_| corrupt("count"))?;
    // Every block takes at least a byte: a count past the input is corrupt, not a huge reserve.
    if count.div_ceil(BLOCK) > input.len() {
        return Err(BlockError::truncated());
    }
    let start = out.len();
    out.resize(start + count, 0);
    for block in out[start..].chunks_mut(BLOCK) {
        decode_block(input, block)?;
    }
    Ok(())
}

/// The residuals of `values` at `order`, and the leading terms they start from.
fn residuals(values: &[i64], order: usize) -> ([i64; 2], Vec<i64>) {
    let mut lead = [0i64; 2];
    match order {
        0 => (lead, values.to_vec()),
        1 => {
            lead[0] = values[0];
            (
                lead,
                values.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect(),
            )
        }
        _ => {
            lead[0] = values[0];
            lead[1] = values[1].wrapping_sub(values[0]);
            let dod = values
                .windows(3)
                .map(|w| {
                    w[2].wrapping_sub(w[1])
                        .wrapping_sub(w[1].wrapping_sub(w[0]))
                })
                .collect();
            (lead, dod)
        }
    }
}

/// How one block is stored: residuals of `order`, offset by `min`, divided by `divisor`,
/// packed at `width` bits.
struct Layout {
    cost: usize,
    order: usize,
    lead: [i64; 2],
    rest: Vec<i64>,
    min: i64,
    divisor: u64,
    width: u32,
}

impl Layout {
    fn of(values: &[i64], order: usize) -> Self {
        let (lead, rest) = residuals(values, order);
        let min = rest.iter().copied().min().unwrap_or(0);
        let divisor = rest
            .iter()
            .fold(0, |g, r| gcd(g, r.wrapping_sub(min) as u64))
            .max(1);
        let max = rest.iter().copied().max().unwrap_or(0);
        let width = bitpack::width(max.wrapping_sub(min) as u64 / divisor);
        let cost = bitpack::packed_len(rest.len(), width) + 4 * order;
        Layout {
            cost,
            order,
            lead,
            rest,
            min,
            divisor,
            width,
        }
    }
}

/// Writes one block of at most [`BLOCK`] values (the reader knows how many).
pub fn encode_block(values: &[i64], out: &mut Vec<u8>) {
    let best = (0..=2.min(values.len().saturating_sub(1)))
        .map(|order| Layout::of(values, order))
        .min_by_key(|layout| layout.cost);
    let Some(layout) = best else {
        return;
    };
    let order = layout.order;
    out.push(order as u8);
    for &term in &layout.lead[..order] {
        put_varint(out, zigzag(term));
    }
    if layout.rest.is_empty() {
        return;
    }
    put_varint(out, zigzag(layout.min));
    put_varint(out, layout.divisor);
    out.push(layout.width as u8);
    let shifted: Vec<u64> = layout
        .rest
        .iter()
        .map(|r| r.wrapping_sub(layout.min) as u64 / layout.divisor)
        .collect();
    bitpack::pack(&shifted, layout.width, out);
}

/// Reads one block of `out.len()` values (at most [`BLOCK`]) from the front of `input`.
pub fn decode_block(input: &mut &[u8], out: &mut [i64]) -> Result<(), BlockError> {
    let n = out.len();
    if n == 0 {
        return Ok(());
    }
    if n > BLOCK {
        return Err(corrupt("block too long"));
    }
    let (&order, rest) = input.split_first().ok_or_else(BlockError::truncated)?;
    *input = rest;
    let order = usize::from(order);
    if order > 2.min(n - 1) {
        return Err(corrupt("bad order"));
    }
    let mut lead = [0i64; 2];
    for term in lead.iter_mut().take(order) {
        *term = unzigzag(get_varint(input)?);
    }
    let m = n - order;
    let mut packed = [0u64; BLOCK];
    let (mut min, mut divisor) = (0i64, 1u64);
    if m > 0 {
        min = unzigzag(get_varint(input)?);
        divisor = get_varint(input)?;
        let (&width, rest) = input.split_first().ok_or_else(BlockError::truncated)?;
        *input = rest;
        bitpack::unpack(input, u32::from(width), &mut packed[..m])?;
    }
    let residual = |i: usize| min.wrapping_add(packed[i].wrapping_mul(divisor) as i64);
    match order {
        0 => {
            for (o, i) in out.iter_mut().zip(0..) {
                *o = residual(i);
            }
        }
        1 => {
            let mut v = lead[0];
            out[0] = v;
            for (o, i) in out[1..].iter_mut().zip(0..) {
                v = v.wrapping_add(residual(i));
                *o = v;
            }
        }
        _ => {
            let (mut v, mut delta) = (lead[0], lead[1]);
            out[0] = v;
            v = v.wrapping_add(delta);
            out[1] = v;
            for (o, i) in out[2..].iter_mut().zip(0..) {
                delta = delta.wrapping_add(residual(i));
                v = v.wrapping_add(delta);
                *o = v;
            }
        }
    }
    Ok(())
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn corrupt(what: &str) -> BlockError {
    BlockError::new(format!("corrupt integer column: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[i64]) -> usize {
        let mut bytes = Vec::new();
        encode(values, &mut bytes);
        let mut input = bytes.as_slice();
        let mut back = Vec::new();
        decode(&mut input, &mut back).unwrap();
        assert_eq!(back, values);
        assert!(input.is_empty());
        bytes.len()
    }

    #[test]
    fn jittered_timestamps_pack_into_a_few_bits_each() {
        let times: Vec<i64> = (0..5760)
            .map(|i| 1_700_000_000_000 + i * 15_000 + (i * 7919) % 7 - 3)
            .collect();
        let bytes = round_trip(&times);
        assert!(bytes < 5760 * 5 / 8 + 200, "{bytes} bytes");
    }

    #[test]
    fn extremes_and_short_columns_round_trip() {
        round_trip(&[]);
        round_trip(&[42]);
        round_trip(&[i64::MIN, i64::MAX]);
        round_trip(&[i64::MAX, i64::MIN, 0, -1, i64::MAX, 5]);
        round_trip(&(0..1100).map(|i| i * i * i).collect::<Vec<_>>());
        round_trip(&[i64::MIN, 0, i64::MAX, -4096, 4096]);
    }

    #[test]
    fn common_multiples_are_divided_out() {
        let pages: Vec<i64> = (0..512)
            .map(|i| 8_000_000 + (i * 7919 % 4096) * 4096)
            .collect();
        assert!(round_trip(&pages) < 512 * 12 / 8 + 20);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for len in 0..60 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 97 + 13) as u8).collect();
            let _ = decode(&mut junk.as_slice(), &mut Vec::new());
        }
        assert!(decode(&mut &[0xff, 0xff, 0xff, 0x7f][..], &mut Vec::new()).is_err());
    }
}
