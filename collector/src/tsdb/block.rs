//! The compacted block codec: one series' samples over a long window, timestamps and values each
//! compressed by pco (numerical compression that finds deltas, common multiples such as 0.01 or
//! 4096, and entropy-codes the rest), bit-exact for every value.
//!
//! Layout: `count: varint`, `timestamps_len: varint`, pco(i64 timestamps), pco(f64 values).

use super::interface::Sample;

/// Why a block could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("block codec: {0}")]
pub struct BlockError(String);

/// pco's level 8 is its default; higher levels cost time for little gain on monitoring data.
const LEVEL: usize = 8;

/// Encodes samples (increasing timestamps) as one block.
pub fn encode(samples: &[Sample]) -> Result<Vec<u8>, BlockError> {
    let mut out = Vec::new();
    put_varint(&mut out, samples.len() as u64);
    if samples.is_empty() {
        return Ok(out);
    }
    let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
    let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
    let times = compress(&times)?;
    let values = compress(&values)?;
    put_varint(&mut out, times.len() as u64);
    out.extend_from_slice(&times);
    out.extend_from_slice(&values);
    Ok(out)
}

/// Decodes a block, appending its samples to `out`.
pub fn decode_into(block: &[u8], out: &mut Vec<Sample>) -> Result<(), BlockError> {
    let mut rest = block;
    let count = get_varint(&mut rest)?;
    if count == 0 {
        return Ok(());
    }
    let times_len = usize::try_from(get_varint(&mut rest)?).map_err(|_| corrupt("length"))?;
    if times_len > rest.len() {
        return Err(corrupt("timestamps past the end"));
    }
    let (times, values) = rest.split_at(times_len);
    let times: Vec<i64> = decompress(times)?;
    let values: Vec<f64> = decompress(values)?;
    if times.len() as u64 != count || values.len() as u64 != count {
        return Err(corrupt("count mismatch"));
    }
    out.reserve(times.len());
    out.extend(times.into_iter().zip(values).map(|(t, v)| Sample { t, v }));
    Ok(())
}

/// Decodes a whole block.
pub fn decode(block: &[u8]) -> Result<Vec<Sample>, BlockError> {
    let mut out = Vec::new();
    decode_into(block, &mut out)?;
    Ok(out)
}

impl BlockError {
    /// An error with this description.
    pub fn new(what: String) -> Self {
        BlockError(what)
    }

    /// The input ended inside a value.
    pub fn truncated() -> Self {
        corrupt("truncated")
    }
}

/// pco standalone compression of a column of numbers.
pub fn compress<T: pco::data_types::Number>(numbers: &[T]) -> Result<Vec<u8>, BlockError> {
    let config = pco::ChunkConfig::default().with_compression_level(LEVEL);
    pco::standalone::simple_compress(numbers, &config).map_err(pco_error)
}

/// Most bytes [`decompress`] reserves from the length a column declares before decoding it (a
/// day of samples at one a second); longer columns grow as they decode. The declared length is
/// only a hint: a corrupt one made pco reserve up to 4 GiB, found by the `group` fuzz target.
const MAX_PREALLOC_BYTES: usize = 1 << 20;

/// The inverse of [`compress`].
pub fn decompress<T: pco::data_types::Number>(bytes: &[u8]) -> Result<Vec<T>, BlockError> {
    let (file, chunks) = pco::standalone::FileDecompressor::new(bytes).map_err(pco_error)?;
    file.with_max_prealloc(MAX_PREALLOC_BYTES)
        .simple_decompress(chunks)
        .map_err(pco_error)
}

fn pco_error(e: pco::errors::PcoError) -> BlockError {
    BlockError(e.to_string())
}

fn corrupt(what: &str) -> BlockError {
    BlockError(format!("corrupt block: {what}"))
}

/// Appends `value` as an LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an LEB128 varint from the front of `input`, advancing it.
pub fn get_varint(input: &mut &[u8]) -> Result<u64, BlockError> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Ok(value);
        }
    }
    Err(corrupt("varint"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::interface::STALE_NAN_BITS;

    #[test]
    fn special_values_round_trip_bit_exact() {
        let values = [
            f64::NAN,
            f64::from_bits(STALE_NAN_BITS),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e300,
            0.01,
        ];
        let samples: Vec<Sample> = (0..500)
            .map(|i| Sample {
                t: i * 15_000 + i % 3,
                v: values[i as usize % values.len()],
            })
            .collect();
        let back = decode(&encode(&samples).unwrap()).unwrap();
        assert_eq!(back.len(), samples.len());
        for (a, b) in back.iter().zip(&samples) {
            assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()));
        }
    }

    #[test]
    fn a_huge_declared_length_does_not_reserve_memory() {
        use pco::standalone::FileCompressor;
        let values = [1i64, 2, 3];
        let file = FileCompressor::default().with_n_hint(1 << 40);
        let mut bytes = file.write_header(Vec::new()).unwrap();
        let config = pco::ChunkConfig::default();
        bytes = file
            .chunk_compressor(&values[..], &config)
            .unwrap()
            .write(bytes)
            .unwrap();
        bytes = file.write_footer(bytes).unwrap();
        let decoded: Vec<i64> = decompress(&bytes).unwrap();
        assert_eq!(decoded, values);
        assert!(decoded.capacity() <= MAX_PREALLOC_BYTES / 8);
    }

    #[test]
    fn empty_and_garbage_inputs_do_not_panic() {
        assert!(decode(&encode(&[]).unwrap()).unwrap().is_empty());
        assert!(decode(&[]).is_err());
        assert!(decode(&[3, 200]).is_err());
        assert!(decode(&[3, 2, 1, 2, 3, 4]).is_err());
    }
}
