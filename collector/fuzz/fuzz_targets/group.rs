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
    let mut series: Vec<(u64, Vec<Sample>)> = Vec::new();
    while let Ok(Some(next)) = next_series(u, series.last()) {
        series.push(next);
    }
    series
}

/// The series after `previous`: a higher id, timestamps (the previous series' or new ones) and
/// values.
fn next_series(
    u: &mut Unstructured<'_>,
    previous: Option<&(u64, Vec<Sample>)>,
) -> Result<Option<(u64, Vec<Sample>)>> {
    if u.is_empty() {
        return Ok(None);
    }
    let (previous_id, previous_samples) = previous.map_or((0, &[][..]), |(id, s)| (*id, &s[..]));
    let Some(id) = previous_id.checked_add(1 + u64::from(u.arbitrary::<u16>()?)) else {
        return Ok(None);
    };
    let times: Vec<i64> = if !previous_samples.is_empty() && u.arbitrary()? {
        previous_samples.iter().map(|s| s.t).collect()
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
    let mut samples = Vec::with_capacity(times.len());
    for t in times {
        let v = match u.int_in_range(0..=2)? {
            0 => f64::from_bits(u.arbitrary()?),
            1 => f64::from(u.arbitrary::<i32>()?),
            _ => f64::from(u.arbitrary::<i32>()?) / 10f64.powi(u.int_in_range(0..=15)?),
        };
        samples.push(Sample { t, v });
    }
    Ok(Some((id, samples)))
}

/// Equal timestamps and bit-identical values (`==` on floats would refuse NaN).
fn assert_same(expected: &[Sample], actual: &[Sample]) {
    let bits = |s: &[Sample]| s.iter().map(|s| (s.t, s.v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(expected), bits(actual));
}
