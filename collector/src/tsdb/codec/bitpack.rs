//! Fixed-width bit packing, least significant bit first: `n` values of `width` bits take
//! `ceil(n * width / 8)` bytes.

use super::super::block::BlockError;

/// Bits needed to hold every number up to `max`.
pub fn width(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// Bytes that `n` values of `width` bits take.
pub fn packed_len(n: usize, width: u32) -> usize {
    (n * width as usize).div_ceil(8)
}

/// Appends `values` (each below `2^width`) packed at `width` bits each.
pub fn pack(values: &[u64], width: u32, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let mut acc: u128 = 0;
    let mut have = 0u32;
    for &v in values {
        acc |= u128::from(v) << have;
        have += width;
        if have >= 64 {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            have -= 64;
        }
    }
    out.extend_from_slice(&(acc as u64).to_le_bytes()[..have.div_ceil(8) as usize]);
}

/// Unpacks `out.len()` values of `width` bits from the front of `input`, advancing it.
pub fn unpack(input: &mut &[u8], width: u32, out: &mut [u64]) -> Result<(), BlockError> {
    if width > 64 {
        return Err(BlockError::new("bit width over 64".into()));
    }
    let len = packed_len(out.len(), width);
    if input.len() < len {
        return Err(BlockError::truncated());
    }
    let (bytes, rest) = input.split_at(len);
    *input = rest;
    if width == 0 {
        out.fill(0);
        return Ok(());
    }
    let mask = u64::MAX >> (64 - width);
    let mut acc: u128 = 0;
    let mut have = 0u32;
    let mut at = 0;
    for o in out.iter_mut() {
        if have < width {
            acc |= u128::from(load_le(bytes, at)) << have;
            have += 64;
            at += 8;
        }
        *o = acc as u64 & mask;
        acc >>= width;
        have -= width;
    }
    Ok(())
}

/// Eight bytes from `at` as a little-endian word, zero-padded past the end.
#[inline]
fn load_le(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(word) => u64::from_le_bytes(word.try_into().expect("8 bytes")),
        None => {
            let mut word = [0u8; 8];
            let tail = bytes.get(at..).unwrap_or(&[]);
            word[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(word)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_width_round_trips() {
        for width in 0..=64u32 {
            let mask = if width == 0 {
                0
            } else {
                u64::MAX >> (64 - width)
            };
            let values: Vec<u64> = (0..77u64)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & mask)
                .collect();
            let mut packed = Vec::new();
            pack(&values, width, &mut packed);
            assert_eq!(packed.len(), packed_len(values.len(), width));
            packed.push(0xAB);
            let mut input = packed.as_slice();
            let mut back = vec![0; values.len()];
            unpack(&mut input, width, &mut back).unwrap();
            assert_eq!(back, values, "width {width}");
            assert_eq!(input, &[0xAB]);
        }
    }

    #[test]
    fn short_input_is_an_error() {
        let mut out = [0u64; 10];
        assert!(unpack(&mut &[1u8, 2][..], 7, &mut out).is_err());
        assert!(unpack(&mut &[1u8; 200][..], 65, &mut out).is_err());
    }
}
