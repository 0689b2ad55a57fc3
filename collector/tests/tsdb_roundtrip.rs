//! Property test: random series and samples go into the redb store and exactly the same samples
//! (timestamps and value bits, NaN, infinities and staleness markers included) come out, across
//! chunk cuts, window and day boundaries, compaction into blocks, and reopening.

use std::collections::BTreeMap;

mod support;

use osprey_collector::labels::{Labels, MatchOp, Matcher};
use osprey_collector::tsdb::{Appendable, Querier, STALE_NAN_BITS, Storage};
use proptest::prelude::*;
use support::store::options;

fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(STALE_NAN_BITS),
        Just(f64::NAN.to_bits()),
        Just(f64::INFINITY.to_bits()),
        Just(f64::NEG_INFINITY.to_bits()),
        Just((-0.0f64).to_bits()),
        decimal(),
        any::<u64>(),
    ]
}

/// Values the compacted codec stores as scaled integers (hundredths, thousandths, pages).
fn decimal() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u32..1_000_000).prop_map(|n| (f64::from(n) / 100.0).to_bits()),
        (-1_000_000i32..1_000_000).prop_map(|n| (f64::from(n) / 1000.0).to_bits()),
        (0u32..1_000_000).prop_map(|n| (f64::from(n) * 4096.0).to_bits()),
    ]
}

fn step() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 14_990i64..15_010,
        2 => 1i64..200_000,
        1 => 1i64..40_000_000,
    ]
}

/// Per series: steps and value bits of its samples.
type Plan = Vec<Vec<(i64, u64)>>;

fn plan() -> impl Strategy<Value = Plan> {
    // Some series hold decimals only, so whole blocks of them compact as integers.
    let series = prop_oneof![
        prop::collection::vec((step(), value()), 0..400),
        prop::collection::vec((step(), decimal()), 0..400),
    ];
    prop::collection::vec(series, 1..5)
}

#[derive(Debug, Clone, Copy)]
struct Checkpoints {
    flush: bool,
    compact: bool,
    reopen: bool,
}

fn checkpoints() -> impl Strategy<Value = Checkpoints> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(flush, compact, reopen)| Checkpoints {
        flush,
        compact,
        reopen,
    })
}

type Model = BTreeMap<Labels, Vec<(i64, u64)>>;

fn series_labels(i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("metric_{}", i % 2)),
        ("instance", format!("host{i}")),
    ])
}

/// Appends samples `from..to` (by index) of every series, a few per batch.
fn append(storage: &Storage, plan: &Plan, base: i64, from: usize, to: usize, model: &mut Model) {
    let mut times = vec![base; plan.len()];
    for (s, samples) in plan.iter().enumerate() {
        for (step, _) in samples.iter().take(from) {
            times[s] += step;
        }
    }
    for i in from..to {
        let mut app = storage.appender("prop");
        for (s, samples) in plan.iter().enumerate() {
            if let Some(&(step, bits)) = samples.get(i) {
                times[s] += step;
                let labels = series_labels(s);
                app.append(&labels, times[s], f64::from_bits(bits)).unwrap();
                model.entry(labels).or_default().push((times[s], bits));
            }
        }
        app.commit().unwrap();
    }
}

fn apply(storage: Storage, dir: &std::path::Path, at: Checkpoints) -> Storage {
    if at.flush {
        storage.flush_head().unwrap();
    }
    if at.compact {
        storage.compact(true).unwrap();
    }
    if at.reopen {
        drop(storage);
        return Storage::open(dir, options()).unwrap();
    }
    storage
}

fn stored(storage: &Storage) -> Model {
    let all = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
    storage
        .select(&[all], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            let samples = s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect();
            (s.labels, samples)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn samples_in_equal_samples_out(
        plan in plan(),
        base in -1_000_000_000_000i64..2_000_000_000_000,
        first in checkpoints(),
        second in checkpoints(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut model = Model::new();
        let longest = plan.iter().map(Vec::len).max().unwrap_or(0);
        let middle = longest / 2;
        let storage = Storage::open(dir.path(), options()).unwrap();
        append(&storage, &plan, base, 0, middle, &mut model);
        let storage = apply(storage, dir.path(), first);
        append(&storage, &plan, base, middle, longest, &mut model);
        let storage = apply(storage, dir.path(), second);
        model.retain(|_, samples| !samples.is_empty());
        prop_assert_eq!(stored(&storage), model.clone());
        // A crash-like drop (no flush) and reopen loses nothing that was synced.
        storage.sync().unwrap();
        drop(storage);
        let storage = Storage::open(dir.path(), options()).unwrap();
        prop_assert_eq!(stored(&storage), model);
    }
}
