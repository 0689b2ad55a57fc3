//! Runs Prometheus's own PromQL test scripts against the engine and fails when the number of
//! passing cases in a file drops below its committed floor.

mod promqltest;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use osprey_collector::labels::Labels;
use osprey_collector::promql::{Engine, EngineConfig, QueryValue, parse};
use osprey_collector::tsdb::{Appendable, Querier, Storage, StorageOptions};
use promqltest::{Command, compare, parse_script};

/// Minimum passing cases per file; raise these when the engine improves. Cases touching
/// native histograms are skipped and not counted here.
const FLOORS: &[(&str, usize)] = &[
    ("aggregators", 138),
    ("at_modifier", 78),
    ("collision", 2),
    ("functions", 330),
    ("histograms", 6),
    ("literals", 25),
    ("name_label_dropping", 30),
    ("operators", 139),
    ("range_queries", 15),
    ("selectors", 31),
    ("staleness", 17),
    ("subquery", 32),
    ("trig_functions", 19),
];

/// Counts for one file.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
}

/// The collector's own store in a temporary directory that lives as long as it does.
struct ScriptStore {
    storage: Arc<Storage>,
    _dir: tempfile::TempDir,
}

/// A fresh, empty store for a script (or after its `clear`).
fn new_store() -> ScriptStore {
    let dir = tempfile::tempdir().expect("create a temporary store directory");
    let storage = Storage::open(dir.path(), StorageOptions::default()).expect("open the store");
    ScriptStore {
        storage: Arc::new(storage),
        _dir: dir,
    }
}

#[test]
fn prometheus_promql_test_scripts_pass_above_their_floors() {
    let Some(dir) = osprey::shared_dir("peer-tests/promql") else {
        return;
    };
    let verbose = std::env::var_os("PROMQL_CONFORMANCE_VERBOSE").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read the promql test directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    let mut below_floor = Vec::new();
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("read test script");
        let tally = run_script(&text, verbose.then_some(name.as_str()));
        println!(
            "{name:<24} passed {:>4}  failed {:>4}  skipped {:>4}",
            tally.passed, tally.failed, tally.skipped
        );
        if let Some(&(_, floor)) = FLOORS.iter().find(|(f, _)| *f == name)
            && tally.passed < floor
        {
            below_floor.push(format!("{name}: {} passed, floor {floor}", tally.passed));
        }
    }
    assert!(
        below_floor.is_empty(),
        "conformance dropped: {below_floor:?}"
    );
}

fn run_script(text: &str, verbose: Option<&str>) -> Tally {
    let mut tally = Tally::default();
    let mut store = new_store();
    let mut histogram_metrics: HashSet<String> = HashSet::new();
    for command in parse_script(text) {
        let command = match command {
            Ok(c) => c,
            Err(e) => {
                if let Some(file) = verbose {
                    println!("  {file}: unreadable command: {e}");
                }
                tally.skipped += 1;
                continue;
            }
        };
        match command {
            Command::Clear => {
                store = new_store();
                histogram_metrics.clear();
            }
            Command::Load {
                interval,
                series,
                histograms,
                histogram_names,
            } => {
                load(store.storage.as_ref(), interval, &series);
                histogram_metrics.extend(histogram_names);
                if histograms {
                    histogram_metrics.extend(series.iter().filter_map(|s| {
                        let (_, name) = s.labels.iter().find(|(n, _)| n == "__name__")?;
                        Some(name.trim_end_matches("_bucket").to_owned())
                    }));
                }
            }
            Command::Eval {
                line,
                query,
                range,
                instant,
                expect,
                histograms,
            } => {
                let touches_histograms =
                    histograms || histogram_metrics.iter().any(|m| query.contains(m.as_str()));
                if touches_histograms {
                    if let Some(file) = verbose {
                        println!("  {file}:{line}: skipped (native histograms): {query}");
                    }
                    tally.skipped += 1;
                    continue;
                }
                let querier: Arc<dyn Querier> = store.storage.clone();
                let engine = Engine::new(querier, EngineConfig::default());
                let outcome = evaluate(&engine, &query, range, instant);
                let verdict = match (&outcome, expect.fail) {
                    (Err(e), true) => match &expect.fail_message {
                        Some(want) if want != e => Err(format!("error {e:?}, expected {want:?}")),
                        _ => Ok(()),
                    },
                    (Ok(_), true) => Err("expected an error".to_owned()),
                    (Err(e), false) => Err(format!("error: {e}")),
                    (Ok(value), false) => {
                        let steps = step_times(range);
                        compare::check(value, &expect, &steps)
                    }
                };
                match verdict {
                    Ok(()) => tally.passed += 1,
                    Err(why) => {
                        tally.failed += 1;
                        if let Some(file) = verbose {
                            println!("  {file}:{line}: {query}\n      {why}");
                        }
                    }
                }
            }
        }
    }
    tally
}

fn evaluate(
    engine: &Engine,
    query: &str,
    (start, end, step): (i64, i64, i64),
    instant: bool,
) -> Result<QueryValue, String> {
    let expr = parse(query).map_err(|e| e.to_string())?;
    let result = if instant {
        engine.instant_blocking(&expr, start)
    } else {
        engine.range_blocking(&expr, start, end, step)
    };
    result.map_err(|e| e.to_string())
}

fn step_times((start, end, step): (i64, i64, i64)) -> Vec<i64> {
    if step == 0 {
        return vec![start];
    }
    (0..=(end - start) / step)
        .map(|i| start + i * step)
        .collect()
}

/// Appends a `load` block; a sample repeated for a series and time keeps its last value.
fn load(store: &dyn Appendable, interval: i64, series: &[promqltest::LoadSeries]) {
    let mut merged: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
    for s in series {
        let samples = merged
            .entry(Labels::from_pairs(s.labels.iter().cloned()))
            .or_default();
        for (i, v) in s.values.iter().enumerate() {
            if let Some(v) = v {
                samples.insert(i as i64 * interval, *v);
            }
        }
    }
    let mut app = store.appender("");
    for (labels, samples) in &merged {
        for (&t, &v) in samples {
            app.append(labels, t, v).expect("append a test sample");
        }
    }
    app.commit().expect("commit test samples");
}
