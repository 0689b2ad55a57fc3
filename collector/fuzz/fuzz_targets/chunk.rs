//! Two properties of the head chunk codec, from the same bytes:
//! - read as a stored chunk, arbitrary bytes decode to samples or an error, never a panic, and
//!   whatever decodes re-encodes to a chunk that decodes to the very same samples;
//! - read as samples (16 bytes each: a timestamp delta and the value's bits), any sequence
//!   encodes and decodes back bit for bit, NaN payloads and the staleness marker included.

#![no_main]

use libfuzzer_sys::fuzz_target;
use osprey_collector::tsdb::Sample;
use osprey_collector::tsdb::chunk::{self, ChunkEncoder};

fuzz_target!(|data: &[u8]| {
    if let Ok(samples) = chunk::decode(data) {
        assert!(samples.len() <= usize::from(ChunkEncoder::MAX_SAMPLES));
        let again = chunk::decode(&chunk::encode(&samples)).expect("a re-encoded chunk decodes");
        assert_same(&samples, &again);
    }

    let samples = samples_from(data);
    let decoded = chunk::decode(&chunk::encode(&samples)).expect("an encoded chunk decodes");
    assert_same(&samples, &decoded);
});

/// Samples whose timestamps step by the little-endian `i64` in each record's first 8 bytes
/// (wrapping, so every delta-of-delta bucket is reachable) and whose values are the bits in
/// the last 8.
fn samples_from(data: &[u8]) -> Vec<Sample> {
    let mut t = 0i64;
    data.chunks_exact(16)
        .take(usize::from(ChunkEncoder::MAX_SAMPLES))
        .map(|record| {
            let (delta, bits) = record.split_at(8);
            t = t.wrapping_add(i64::from_le_bytes(delta.try_into().unwrap()));
            Sample {
                t,
                v: f64::from_bits(u64::from_le_bytes(bits.try_into().unwrap())),
            }
        })
        .collect()
}

/// Equal timestamps and bit-identical values (`==` on floats would refuse NaN).
fn assert_same(expected: &[Sample], actual: &[Sample]) {
    let bits = |s: &[Sample]| s.iter().map(|s| (s.t, s.v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(expected), bits(actual));
}
