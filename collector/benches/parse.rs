//! Ingestion hot path on one core: parsing a 10,000-series exposition (node_exporter-like
//! names and labels), and parsing plus label handling plus appending through the series cache
//! into the in-memory store, as a scrape does from its second scrape on. Criterion prints the
//! throughput in samples per CPU-second ("elem/s"): times are the bench thread's CPU time (from
//! `/proc/thread-self/schedstat`), so other processes on a busy machine do not count.

use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use osprey_collector::labels::Labels;
use osprey_collector::scrape::parse::{Entry, Format, Parser};
use osprey_collector::scrape::{IngestRules, SeriesCache};
use osprey_collector::tsdb::{Appendable, MemoryStorage};

const SERIES: usize = 10_000;

/// The calling thread's CPU time in nanoseconds, as criterion measures wall time.
struct ThreadCpuTime;

static WALL_TIME: WallTime = WallTime;

fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("/proc/thread-self/schedstat is readable (Linux with schedstats)");
    stat.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .expect("schedstat starts with the CPU time in ns")
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, ns: &u64) -> f64 {
        *ns as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, as for wall time.
        WALL_TIME.formatter()
    }
}

/// 100 families of 100 series each, with HELP/TYPE and two or three labels, like an agent's
/// /metrics page.
fn exposition() -> String {
    let mut out = String::new();
    for family in 0..SERIES / 100 {
        let name = format!("node_bench_family_{family}_bytes_total");
        out.push_str(&format!(
            "# HELP {name} Bytes moved by device.\n# TYPE {name} counter\n"
        ));
        for series in 0..100 {
            out.push_str(&format!(
                "{name}{{device=\"sd{series}\",mode=\"read\",mountpoint=\"/mnt/disk{series}\"}} {}\n",
                (family * 1000 + series) as f64 * 1.5
            ));
        }
    }
    out
}

fn parse_only(c: &mut Criterion<ThreadCpuTime>) {
    let body = exposition();
    let mut group = c.benchmark_group("exposition");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("parse_10k_series", |b| {
        b.iter(|| {
            let mut parser = Parser::new(black_box(body.as_bytes()), Format::Text);
            let mut samples = 0usize;
            while let Some(entry) = parser.next().unwrap() {
                if let Entry::Sample(s) = entry {
                    samples += s.labels.len();
                }
            }
            samples
        })
    });
    group.finish();
}

fn parse_label_append(c: &mut Criterion<ThreadCpuTime>) {
    let body = exposition();
    let rules = IngestRules {
        target_labels: Labels::from_pairs([("job", "node"), ("instance", "host-1:9717")]),
        honor_timestamps: true,
        ..IngestRules::default()
    };
    let mut group = c.benchmark_group("exposition");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("parse_label_append_10k_series", |b| {
        let store = MemoryStorage::new();
        let mut cache = SeriesCache::default();
        let mut t = 0;
        b.iter(|| {
            t += 15_000;
            let mut app = store.appender("bench");
            let outcome = cache
                .ingest(app.as_mut(), &rules, body.as_bytes(), Format::Text, t)
                .unwrap();
            app.commit().unwrap();
            outcome
        })
    });
    group.bench_function("first_scrape_creates_10k_series", |b| {
        b.iter(|| {
            let store = MemoryStorage::new();
            let mut app = store.appender("bench");
            let outcome = SeriesCache::default()
                .ingest(app.as_mut(), &rules, body.as_bytes(), Format::Text, 0)
                .unwrap();
            app.commit().unwrap();
            outcome
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = parse_only, parse_label_append
}
criterion_main!(benches);
