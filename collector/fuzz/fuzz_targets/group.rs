//! Two properties of compacted groups, from the same bytes:
//! - read as a stored group, arbitrary bytes decode to members or an error, never a panic;
//!   when they decode, looking up each member by id finds the same samples;
//! - read as series (ascending ids and timestamps, columns shared between series as a scrape
//!   target's are, values raw or decimal), the series pack into groups that decode back bit for
//!   bit, each group keyed by its first id and within the size target unless it holds one series.

#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use osprey_collector::tsdb::Sample;
use osprey_collector::tsdb::group::{self, TARGET_BYTES};

fuzz_target!(|data: &[u8]| {
    if let Ok(members) = group::decode_all(data) {
        let mut seen = std::collections::HashSet::new();
        for (id, samples) in members.iter().filter(|(id, _)| seen.insert(*id)) {
            let found = group::find(data, *id).expect("a decodable group finds its members");
            assert_same(samples, &found.expect("a listed member is found"));
        }
    }

    let series = series_from(&mut Unstructured::new(data));
    let expected: Vec<_> = series
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .cloned()
        .collect();
    let mut decoded = Vec::new();
    for (key, bytes) in group::build(series) {
        let members = group::decode_all(&bytes).expect("a built group decodes");
        assert_eq!(Some(key), members.first().map(|(id, _)| *id));
        assert!(bytes.len() <= TARGET_BYTES || members.len() == 1);
        decoded.extend(members);
    }
    assert_eq!(expected.len(), decoded.len());
    for ((id, samples), (decoded_id, decoded_samples)) in expected.iter().zip(&decoded) {
        assert_eq!(id, decoded_id);
        assert_same(samples, decoded_samples);
    }
});

/// Series read from the fuzzer's bytes until they run out (an exhausted [`Unstructured`] would
/// go on answering zeros).
fn series_from(u: &mut Unstructured<'_>) -> Vec<(u64, Vec<Sample>)> {
    let mut series = Vec::new();
    let mut id = 0u64;
    let mut times: Vec<i64> = Vec::new();
    while let Ok(Some((next_id, next_times, values))) = next_series(u, id, &times) {
        id = next_id;
        times = next_times;
        let samples = times.iter().zip(values).map(|(&t, v)| Sample { t, v });
        series.push((id, samples.collect()));
    }
    series
}

/// One series after `id`: its id, timestamps (the previous series' or new ones) and values.
fn next_series(
    u: &mut Unstructured<'_>,
    id: u64,
    previous: &[i64],
) -> Result<Option<(u64, Vec<i64>, Vec<f64>)>> {
    if u.is_empty() {
        return Ok(None);
    }
    let Some(id) = id.checked_add(1 + u64::from(u.arbitrary::<u16>()?)) else {
        return Ok(None);
    };
    let times = if !previous.is_empty() && u.arbitrary()? {
        previous.to_vec()
    } else {
        let len = u.int_in_range(0..=2000)?;
        let mut t = i64::from(u.arbitrary::<i32>()?);
        let mut times = Vec::with_capacity(len);
        for _ in 0..len {
            times.push(t);
            // At most 2000 steps of under 2^32 from an i32: far from overflowing.
            t += 1 + i64::from(u.arbitrary::<u32>()?);
        }
        times
    };
    let mut values = Vec::with_capacity(times.len());
    for _ in &times {
        values.push(match u.int_in_range(0..=2)? {
            0 => f64::from_bits(u.arbitrary()?),
            1 => f64::from(u.arbitrary::<i32>()?),
            _ => f64::from(u.arbitrary::<i32>()?) / 10f64.powi(u.int_in_range(0..=15)?),
        });
    }
    Ok(Some((id, times, values)))
}

/// Equal timestamps and bit-identical values (`==` on floats would refuse NaN).
fn assert_same(expected: &[Sample], actual: &[Sample]) {
    let bits = |s: &[Sample]| s.iter().map(|s| (s.t, s.v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(expected), bits(actual));
}
