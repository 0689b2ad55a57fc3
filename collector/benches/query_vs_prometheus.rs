//! Query latency side by side with a real Prometheus holding the same data: a Grafana CPU
//! panel over 6 h at 15 s step for 100 hosts, and `/api/v1/labels`, label values (all series,
//! and restricted by `match[]` to 100k series) and `/api/v1/series` over 100k series. Prometheus serves blocks promtool built from an OpenMetrics file; Osprey serves
//! its own store after `osprey-collector import` read the same file. Both are asked over HTTP on
//! localhost by the same client; the median of each is printed with the ratio Osprey / Prometheus.
//!
//! Run: `cargo bench -p osprey-collector --profile ci --bench query_vs_prometheus`
//! (`BENCH_HOSTS`, `BENCH_CPUS`, `BENCH_ROUNDS` change the size).

#[path = "../tests/differential/osprey.rs"]
mod osprey;
#[path = "../tests/differential/prometheus.rs"]
mod prometheus;
#[path = "../tests/differential/prometheus_blocks.rs"]
mod prometheus_blocks;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use osprey::Osprey;
use prometheus::Prometheus;

const START_S: i64 = 1_700_000_040;
const HOURS: i64 = 6;
const INTERVAL_S: i64 = 15;
const MODES: [&str; 8] = [
    "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice",
];
const EXTRA_SERIES: usize = 100_000;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes the dataset as OpenMetrics.
fn generate(path: &Path, hosts: usize, cpus: usize) {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create dataset"));
    let samples = HOURS * 3600 / INTERVAL_S;
    writeln!(out, "# TYPE node_cpu_seconds_total unknown").unwrap();
    for h in 0..hosts {
        let instance = format!("host-{h}:9100");
        for cpu in 0..cpus {
            for (m, mode) in MODES.iter().enumerate() {
                let mut total = 0.0;
                for i in 0..samples {
                    total += (m + 1) as f64 * 0.37 + (i % 7) as f64 * 0.01;
                    let t = START_S + i * INTERVAL_S;
                    writeln!(
                        out,
                        r#"node_cpu_seconds_total{{cpu="{cpu}",instance="{instance}",job="node",mode="{mode}"}} {total} {t}"#
                    )
                    .unwrap();
                }
            }
        }
    }
    writeln!(out, "# TYPE bench_series_total unknown").unwrap();
    for s in 0..EXTRA_SERIES {
        let instance = format!("host-{}:9100", s % hosts.max(1));
        for t in [START_S, START_S + HOURS * 3600 - INTERVAL_S] {
            writeln!(
                out,
                r#"bench_series_total{{id="{s}",instance="{instance}",job="bench"}} 1 {t}"#
            )
            .unwrap();
        }
    }
    writeln!(out, "# EOF").unwrap();
    out.flush().unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `rounds` requests to each server, alternating, after a warm-up.
fn measure(name: &str, path: &str, prometheus: &Prometheus, osprey: &Osprey, rounds: usize) {
    let check = |status: u16, body: &str, who: &str| {
        assert_eq!(status, 200, "{who} failed on {name}: {body}");
    };
    for _ in 0..2 {
        let (s, b) = prometheus.get(path);
        check(s, &b, "prometheus");
        let (s, b) = osprey.get(path);
        check(s, &b, "osprey");
    }
    let (mut theirs, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        prometheus.get(path);
        theirs.push(t.elapsed());
        let t = Instant::now();
        osprey.get(path);
        ours.push(t.elapsed());
    }
    let (p, o) = (median(theirs), median(ours));
    println!(
        "{name:<38} prometheus {:>9.2} ms   osprey {:>9.2} ms   ratio {:.2}",
        p.as_secs_f64() * 1e3,
        o.as_secs_f64() * 1e3,
        o.as_secs_f64() / p.as_secs_f64()
    );
}

fn main() {
    let (hosts, cpus, rounds) = (
        env_or("BENCH_HOSTS", 100),
        env_or("BENCH_CPUS", 2),
        env_or("BENCH_ROUNDS", 15),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bench.om");
    let t = Instant::now();
    generate(&file, hosts, cpus);
    println!(
        "dataset: {hosts} hosts x {cpus} cpus x {} modes over {HOURS} h at {INTERVAL_S} s, plus {EXTRA_SERIES} series (generated in {:.1} s)",
        MODES.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let prometheus = Prometheus::start(dir.path(), &file);
    println!("prometheus ready in {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let osprey = Osprey::start(dir.path(), &file);
    println!(
        "osprey imported and ready in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let end = START_S + HOURS * 3600;
    let panel = serde_urlencoded::to_string([
        (
            "query",
            r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
        ),
        ("start", &START_S.to_string()),
        ("end", &end.to_string()),
        ("step", "15"),
    ])
    .unwrap();
    measure(
        "cpu panel query_range 6h/15s",
        &format!("/api/v1/query_range?{panel}"),
        &prometheus,
        &osprey,
        rounds,
    );
    measure(
        "labels (all series)",
        "/api/v1/labels",
        &prometheus,
        &osprey,
        rounds,
    );
    measure(
        "label values (__name__)",
        "/api/v1/label/__name__/values",
        &prometheus,
        &osprey,
        rounds,
    );
    let restricted = format!(
        "/api/v1/label/instance/values?match[]=bench_series_total&start={START_S}&end={end}"
    );
    measure(
        "label values (instance, 100k series)",
        &restricted,
        &prometheus,
        &osprey,
        rounds,
    );
    let series = format!("/api/v1/series?match[]=bench_series_total&start={START_S}&end={end}");
    measure(
        "series (100k series)",
        &series,
        &prometheus,
        &osprey,
        rounds,
    );
}
