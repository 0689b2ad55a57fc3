//! `import` stores exactly what `promtool tsdb create-blocks-from openmetrics` stores from the
//! same OpenMetrics file: every series, timestamp and value (read back with `promtool tsdb dump`).

use std::collections::BTreeMap;
use std::process::Command;

use osprey_collector::import::import_file;
use osprey_collector::labels::{MatchOp, Matcher};
use osprey_collector::tsdb::{MemoryStorage, Querier};

type Samples = BTreeMap<String, Vec<(i64, u64)>>;

/// Node-exporter-like counters and gauges at 15 s with a few ms of jitter, plus special values.
fn openmetrics() -> String {
    let mut out = String::from("# HELP node_x_total A counter.\n# TYPE node_x_total counter\n");
    for series in 0..20 {
        for step in 0..50i64 {
            let ms = 1_700_000_000_000 + step * 15_000 + (step * 7 + series) % 5;
            let value = (series * 1000 + step * step) as f64 / 3.0;
            out.push_str(&format!(
                "node_x_total{{cpu=\"{series}\",mode=\"a\\\"b\"}} {value} {}.{:03}\n",
                ms / 1000,
                ms % 1000
            ));
        }
    }
    out.push_str("# TYPE special gauge\n");
    for (i, v) in ["NaN", "+Inf", "-Inf", "-0.5", "1e300"].iter().enumerate() {
        out.push_str(&format!("special{{i=\"{i}\"}} {v} 1700000000\n"));
    }
    out.push_str("# EOF\n");
    out
}

fn promtool_samples(dir: &std::path::Path, file: &std::path::Path) -> Samples {
    let blocks = dir.join("blocks");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(file)
        .arg(&blocks)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    // `dump` opens the directory as a TSDB, which needs a WAL directory to exist.
    std::fs::create_dir_all(blocks.join("wal")).unwrap();
    let dump = Command::new("promtool")
        .args(["tsdb", "dump"])
        .arg(&blocks)
        .output()
        .unwrap();
    assert!(dump.status.success(), "{dump:?}");
    let mut samples = Samples::new();
    for line in String::from_utf8(dump.stdout).unwrap().lines() {
        let (rest, t) = line.rsplit_once(' ').unwrap();
        let (series, v) = rest.rsplit_once(' ').unwrap();
        let v: f64 = v.parse().unwrap();
        samples
            .entry(series.to_owned())
            .or_default()
            .push((t.parse().unwrap(), v.to_bits()));
    }
    samples
}

/// Go's rendering of a label set, as `promtool tsdb dump` prints it (ASCII values).
fn go_labels(labels: &osprey_collector::labels::Labels) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

#[test]
fn import_stores_what_promtool_stores() {
    if !osprey::peer_present("promtool", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.om.txt");
    std::fs::write(&file, openmetrics()).unwrap();
    let expected = promtool_samples(dir.path(), &file);

    let store = MemoryStorage::new();
    let report = import_file(&file, &store, |_| Ok(())).unwrap();
    let all = Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap();
    let mut ours = Samples::new();
    for series in store.select(&[all], i64::MIN, i64::MAX).unwrap() {
        let samples = series
            .samples
            .iter()
            .map(|s| (s.t, s.v.to_bits()))
            .collect();
        ours.insert(go_labels(&series.labels), samples);
    }
    assert_eq!(report.series as usize, expected.len());
    assert_eq!(report.samples, 1005);
    // NaN bit patterns may differ between encoders; compare NaN as NaN.
    let normalise = |s: Samples| -> Samples {
        s.into_iter()
            .map(|(k, v)| {
                let v = v
                    .into_iter()
                    .map(|(t, b)| {
                        (
                            t,
                            if f64::from_bits(b).is_nan() {
                                0x7ff8_0000_0000_0001
                            } else {
                                b
                            },
                        )
                    })
                    .collect();
                (k, v)
            })
            .collect()
    };
    assert_eq!(normalise(ours), normalise(expected));
}
