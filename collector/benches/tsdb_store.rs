//! Store benchmarks that print figures (medians over several runs):
//!
//! - `ingest`: samples/s appended by one thread through the appender, durable (the clock stops
//!   after `sync`, i.e. after the write-ahead tick that holds the last sample has committed);
//! - `create`: series created per CPU second (appenders and durability thread together): 100
//!   sources of 1,000 new series each, as the first scrape of 100 targets creates them, until
//!   `sync` has made them durable;
//! - `select`: 1,000,000 series, the time to select the 1,000 matching two matchers, and the
//!   time to reopen the store holding them, in the same process and in fresh ones (as a
//!   restart does), with the resident memory per series the fresh processes gained;
//! - `restart DIR`: opens the store in DIR once and prints wall seconds, CPU seconds and the
//!   resident bytes gained (what `select` runs in each fresh process);
//! - `size FILE`: loads a Prometheus-text file with timestamps (as written by
//!   `tests/bench/node_dataset.py`), compacts, and prints bytes per sample on disk.
//!
//! `cargo bench -p osprey-collector --bench tsdb_store -- [ingest] [select] [size FILE]`
//! (no argument: ingest, create and select).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Instant;

use osprey_collector::labels::{Labels, MatchOp, Matcher};
use osprey_collector::tsdb::{
    Appendable, Querier, Sample, SeriesRef, Storage, StorageOptions, block,
};

#[path = "support/cpu.rs"]
mod cpu;
use cpu::cpu_seconds;

fn options() -> StorageOptions {
    StorageOptions {
        retention_time: None,
        max_series: u64::MAX,
        max_series_per_source: u64::MAX,
        background_compaction: false,
        ..StorageOptions::default()
    }
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// 10,000 series scraped in batches like a scrape loop (labels once, then references).
fn ingest_once() -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let series = 10_000;
    let scrapes = 1_000;
    let labels: Vec<Labels> = (0..series)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("node_metric_{}", i % 500)),
                ("instance", format!("host-{}:9717", i / 500)),
                ("job", "node".to_owned()),
            ])
        })
        .collect();
    let mut refs: Vec<SeriesRef> = Vec::with_capacity(series);
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    for scrape in 0..scrapes {
        let t = 1_700_000_000_000 + scrape as i64 * 15_000;
        let mut app = storage.appender("bench");
        if scrape == 0 {
            for l in &labels {
                refs.push(app.append(l, t, 0.0).unwrap());
            }
        } else {
            for (i, r) in refs.iter().enumerate() {
                app.append_ref(*r, t, (scrape * 7 + i) as f64 * 0.25)
                    .unwrap();
            }
        }
        app.commit().unwrap();
    }
    storage.sync().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let samples = (series * scrapes) as f64;
    (samples / elapsed, samples / (cpu_seconds() - cpu_before))
}

fn ingest() {
    let (wall, cpu): (Vec<f64>, Vec<f64>) = (0..3).map(|_| ingest_once()).unzip();
    println!(
        "ingest: {:.2} M samples/s durable by wall clock (runs {:?} M/s), {:.2} M samples per \
         CPU second (appender and durability thread together); 10,000 series x 1,000 scrapes",
        median(wall.clone()) / 1e6,
        wall.iter()
            .map(|r| (r / 1e4).round() / 100.0)
            .collect::<Vec<_>>(),
        median(cpu) / 1e6,
    );
}

/// One run of `create`: series created per CPU second.
fn create_once() -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let (sources, per_source) = (100, 1_000);
    let batches: Vec<Vec<Labels>> = (0..sources)
        .map(|source| {
            (0..per_source)
                .map(|i| {
                    Labels::from_pairs([
                        (
                            "__name__",
                            format!("node_bench_family_{}_bytes_total", i / 100),
                        ),
                        ("device", format!("sd{}", i % 100)),
                        ("instance", "127.0.0.1:19890".to_owned()),
                        ("job", format!("t{source:03}")),
                        ("mode", "read".to_owned()),
                    ])
                })
                .collect()
        })
        .collect();
    let t = 1_700_000_000_000;
    let cpu_before = cpu_seconds();
    for (source, labels) in batches.iter().enumerate() {
        let mut app = storage.appender(&format!("t{source:03}"));
        for (i, l) in labels.iter().enumerate() {
            app.append(l, t, i as f64).unwrap();
        }
        app.commit().unwrap();
    }
    storage.sync().unwrap();
    (sources * per_source) as f64 / (cpu_seconds() - cpu_before)
}

fn create() {
    let runs: Vec<f64> = (0..5).map(|_| create_once()).collect();
    println!(
        "create: {:.0} k series created per CPU second, durable (runs {:?} k/s); 100 sources x \
         1,000 new series",
        median(runs.clone()) / 1e3,
        runs.iter().map(|r| (r / 1e3).round()).collect::<Vec<_>>(),
    );
}

fn select() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let total = 1_000_000;
    let t = 1_700_000_000_000;
    let built = Instant::now();
    for batch in 0..100 {
        let mut app = storage.appender("");
        for i in batch * 10_000..(batch + 1) * 10_000 {
            let labels = Labels::from_pairs([
                ("__name__", format!("metric_{}", i % 100)),
                ("job", format!("job_{}", (i / 100) % 10)),
                ("instance", format!("host-{}", i / 1000)),
                ("id", i.to_string()),
            ]);
            app.append(&labels, t, i as f64).unwrap();
        }
        app.commit().unwrap();
    }
    println!("select: built {total} series in {:?}", built.elapsed());
    let name = Matcher::new(MatchOp::Equal, "__name__", "metric_42").unwrap();
    let job = Matcher::new(MatchOp::Regex, "job", "job_[7]").unwrap();
    let matchers = [name, job];
    let mut runs = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        let found = storage.select(&matchers, t - 60_000, t).unwrap();
        runs.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(found.len(), 1000);
    }
    println!(
        "select: 1,000 of {total} series by two matchers in {:.2} ms (median of 21)",
        median(runs)
    );
    let closed = Instant::now();
    storage.close().unwrap();
    println!("select: clean close in {:?}", closed.elapsed());
    let (mut runs, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let started = Instant::now();
        let cpu_before = cpu_seconds();
        let storage = Storage::open(dir.path(), options()).unwrap();
        runs.push(started.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - cpu_before);
        assert_eq!(storage.label_values("id", &[], t, t).unwrap().len(), total);
        storage.close().unwrap();
    }
    println!(
        "reopen: {total} series in {:.3} s wall, {:.2} s CPU (medians of 3)",
        median(runs),
        median(cpu)
    );
    // As a restart does it: in a fresh process, where the allocator holds nothing freed by
    // an earlier store (in this one, the first large allocations of each reopen above also
    // consolidate the free lists the previous store's million series left behind).
    let (mut runs, mut cpu, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("restart")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "the restart run failed: {out:?}");
        let figures: Vec<f64> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        runs.push(figures[0]);
        cpu.push(figures[1]);
        rss.push(figures[2]);
    }
    println!(
        "reopen in a fresh process: {total} series in {:.3} s wall, {:.2} s CPU; the resident \
         set grew by {:.0} bytes per series (head, postings, allocator slack and redb's page \
         cache; medians of 3)",
        median(runs),
        median(cpu),
        median(rss) / total as f64,
    );
}

/// Resident set size of this process in bytes, from /proc/self/status.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Opens the store in `dir` and prints the wall seconds, CPU seconds and resident bytes that
/// took, for `select` to read.
fn restart(dir: &str) {
    let before = rss_bytes();
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let storage = Storage::open(dir, options()).unwrap();
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    println!("{wall} {cpu} {}", rss_bytes().saturating_sub(before));
    storage.close().unwrap();
}

/// Parses `name{a="b",...} value timestamp_ms` lines (the generator's output, no escapes).
fn parse_line(line: &str) -> Option<(Labels, f64, i64)> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let (series, rest) = line.rsplit_once('}')?;
    let (name, pairs) = series.split_once('{')?;
    let mut labels = vec![("__name__".to_owned(), name.to_owned())];
    for pair in pairs.split("\",").filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once("=\"")?;
        labels.push((k.to_owned(), v.trim_end_matches('"').to_owned()));
    }
    let mut fields = rest.split_whitespace();
    let v = fields.next()?.parse().ok()?;
    let t = fields.next()?.parse().ok()?;
    Some((Labels::from_pairs(labels), v, t))
}

fn size(file: &str) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), options()).unwrap();
    let reader = std::io::BufReader::new(std::fs::File::open(file).expect("dataset file"));
    let mut samples = 0u64;
    let mut app = storage.appender("");
    let loaded = Instant::now();
    let mut by_series_day: BTreeMap<(Labels, i64), Vec<Sample>> = BTreeMap::new();
    for line in reader.lines() {
        let Some((labels, v, t)) = parse_line(&line.unwrap()) else {
            continue;
        };
        app.append(&labels, t, v).unwrap();
        by_series_day
            .entry((labels, t.div_euclid(86_400_000)))
            .or_default()
            .push(Sample { t, v });
        samples += 1;
        if samples.is_multiple_of(100_000) {
            app.commit().unwrap();
            app = storage.appender("");
        }
    }
    app.commit().unwrap();
    storage.flush_head().unwrap();
    storage.compact(true).unwrap();
    let load_time = loaded.elapsed();
    let allocated = storage.used_bytes().unwrap();
    let backup = dir.path().join("compacted");
    let report = storage.backup(&backup).unwrap();
    let payload: usize = by_series_day
        .values()
        .map(|samples| block::encode(samples).unwrap().len())
        .sum();
    println!(
        "size: pco blocks alone (one per series and day, no keys or pages): {:.3} bytes/sample",
        payload as f64 / samples as f64
    );
    println!(
        "size: {samples} samples loaded and compacted in {load_time:?}; \
         {:.3} bytes/sample (backup as written: {} bytes); \
         {:.3} bytes/sample allocated in the live file",
        report.bytes as f64 / samples as f64,
        report.bytes,
        allocated as f64 / samples as f64,
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        ingest();
        create();
        select();
        return;
    }
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "ingest" => ingest(),
            "create" => create(),
            "select" => select(),
            "size" => size(args.next().expect("size needs a dataset file")),
            "restart" => restart(args.next().expect("restart needs a store directory")),
            other => {
                eprintln!(
                    "unknown benchmark {other:?} (ingest, create, select, size FILE, restart DIR)"
                )
            }
        }
    }
}
