//! Query latency side by side with a real Prometheus holding the same data: a Grafana CPU
//! panel over 6 h at 15 s step for 100 hosts, and `/api/v1/labels` and `/api/v1/series` over
//! 100k series. Both servers are asked over HTTP on localhost by the same client; the median
//! of each is printed with the ratio Osprey / Prometheus.
//!
//! Run: `cargo bench -p osprey-collector --bench query_vs_prometheus`
//! (`BENCH_HOSTS`, `BENCH_CPUS`, `BENCH_ROUNDS` change the size).

#[path = "../tests/differential/prometheus.rs"]
mod prometheus;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use osprey_collector::api::{ApiState, app};
use osprey_collector::labels::Labels;
use osprey_collector::promql::{Engine, EngineConfig};
use osprey_collector::tsdb::{Appendable, MemoryStorage};
use prometheus::{Prometheus, http_get};

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

/// Writes the dataset as OpenMetrics and loads the same samples into `store`.
fn generate(path: &Path, store: &MemoryStorage, hosts: usize, cpus: usize) {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create dataset"));
    let mut app = store.appender("");
    let samples = HOURS * 3600 / INTERVAL_S;
    writeln!(out, "# TYPE node_cpu_seconds_total unknown").unwrap();
    for h in 0..hosts {
        let instance = format!("host-{h}:9100");
        for cpu in 0..cpus {
            for (m, mode) in MODES.iter().enumerate() {
                let cpu = cpu.to_string();
                let labels = Labels::from_pairs([
                    ("__name__", "node_cpu_seconds_total"),
                    ("cpu", cpu.as_str()),
                    ("instance", instance.as_str()),
                    ("job", "node"),
                    ("mode", mode),
                ]);
                let mut total = 0.0;
                for i in 0..samples {
                    total += (m + 1) as f64 * 0.37 + (i % 7) as f64 * 0.01;
                    let t = START_S + i * INTERVAL_S;
                    writeln!(
                        out,
                        r#"node_cpu_seconds_total{{cpu="{cpu}",instance="{instance}",job="node",mode="{mode}"}} {total} {t}"#
                    )
                    .unwrap();
                    app.append(&labels, t * 1000, total).unwrap();
                }
            }
        }
    }
    writeln!(out, "# TYPE bench_series_total unknown").unwrap();
    for s in 0..EXTRA_SERIES {
        let instance = format!("host-{}:9100", s % hosts.max(1));
        let id = s.to_string();
        let labels = Labels::from_pairs([
            ("__name__", "bench_series_total"),
            ("id", id.as_str()),
            ("instance", instance.as_str()),
            ("job", "bench"),
        ]);
        for t in [START_S, START_S + HOURS * 3600 - INTERVAL_S] {
            writeln!(
                out,
                r#"bench_series_total{{id="{id}",instance="{instance}",job="bench"}} 1 {t}"#
            )
            .unwrap();
            app.append(&labels, t * 1000, 1.0).unwrap();
        }
    }
    writeln!(out, "# EOF").unwrap();
    out.flush().unwrap();
    app.commit().unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `rounds` requests to each server, alternating, after a warm-up.
fn measure(name: &str, path: &str, prometheus: &Prometheus, osprey_port: u16, rounds: usize) {
    let check = |status: u16, body: &str, who: &str| {
        assert_eq!(status, 200, "{who} failed on {name}: {body}");
    };
    for _ in 0..2 {
        let (s, b) = prometheus.get(path);
        check(s, &b, "prometheus");
        let (s, b) = http_get(osprey_port, path);
        check(s, &b, "osprey");
    }
    let (mut theirs, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        prometheus.get(path);
        theirs.push(t.elapsed());
        let t = Instant::now();
        http_get(osprey_port, path);
        ours.push(t.elapsed());
    }
    let (p, o) = (median(theirs), median(ours));
    println!(
        "{name:<34} prometheus {:>9.2} ms   osprey {:>9.2} ms   ratio {:.2}",
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
    let store = Arc::new(MemoryStorage::new());
    let t = Instant::now();
    generate(&file, &store, hosts, cpus);
    println!(
        "dataset: {hosts} hosts x {cpus} cpus x {} modes over {HOURS} h at {INTERVAL_S} s, plus {EXTRA_SERIES} series (generated in {:.1} s)",
        MODES.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let prometheus = Prometheus::start(dir.path(), &file);
    println!("prometheus ready in {:.1} s", t.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().unwrap().port();
    let router = app(ApiState::new(Engine::new(store, EngineConfig::default())));
    runtime.spawn(async move { axum::serve(listener, router).await });

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
        port,
        rounds,
    );
    measure(
        "labels (all series)",
        "/api/v1/labels",
        &prometheus,
        port,
        rounds,
    );
    let series = format!("/api/v1/series?match[]=bench_series_total&start={START_S}&end={end}");
    measure("series (100k series)", &series, &prometheus, port, rounds);
}
