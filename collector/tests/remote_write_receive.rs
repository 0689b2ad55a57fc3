//! The collector past one server: Debian's Prometheus remote-writes what it scrapes into the
//! built collector, and both then answer the same range queries and metadata; pushes that are
//! not valid remote write are refused with a reason and leave nothing stored; and a Prometheus
//! federating from the collector stores the series with the collector's external labels.

#[path = "differential/compare.rs"]
mod compare;
// Its `start_collector` picks the port itself; these tests need the port before starting.
#[allow(dead_code)]
mod tsdb_admin;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use osprey::net::free_port;
use osprey::process::wait_for;
use osprey_collector::remote_write::MAX_COMPRESSED_BYTES;
use osprey_collector::remote_write::proto::{TimeSeries, WriteRequest};
use osprey_collector::vocab::now_ms;
use prost::Message as _;
use serde_json::Value;
use tsdb_admin::Server;

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// The range of the compared queries' range selectors (`[5s]`), in seconds.
const WINDOW_S: f64 = 5.0;

/// The built collector on `port` with `config`, its data in `dir/osprey-data`.
fn start_osprey(dir: &Path, port: u16, config: &str) -> Server {
    let file = dir.join("osprey.yml");
    std::fs::write(&file, config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_osprey-collector"));
    command
        .arg(format!("--config={}", file.display()))
        .arg(format!("--data-dir={}", dir.join("osprey-data").display()))
        .arg(format!("--listen=127.0.0.1:{port}"));
    Server::start("osprey-collector", command, port)
}

/// Prometheus on `port` with `config`, its data in `dir/prometheus-data`.
fn start_prometheus(dir: &Path, port: u16, config: &str) -> Server {
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let mut command = Command::new(PROMETHEUS);
    command
        .arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prometheus-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    Server::start("prometheus", command, port)
}

/// A push as remote write sends it: protobuf, snappy block-compressed.
fn encoded(series: Vec<TimeSeries>) -> Vec<u8> {
    let request = WriteRequest {
        timeseries: series,
        metadata: Vec::new(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap()
}

/// `POST /api/v1/write` with remote write's headers (the content encoding as given): the
/// status and the body.
async fn push(port: u16, body: Vec<u8>, encoding: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", encoding)
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .expect("the collector answers /api/v1/write");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The `metric` of every series an instant query returns, as name-value maps, sorted.
fn series_of(server: &Server, query: &str) -> Vec<BTreeMap<String, String>> {
    let answer = server.get("/api/v1/query", &[("query", query)]);
    let result = answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut series: Vec<BTreeMap<String, String>> = result
        .iter()
        .map(|s| serde_json::from_value(s["metric"].clone()).unwrap())
        .collect();
    series.sort();
    series
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|&(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// A start for range queries over the samples of `scraped` (an instant query's matrix, every
/// target's `up` since it started): `WINDOW_S` and a second after the latest first sample, so
/// that no window reaches back to where a series starts (Prometheus 3 extrapolates rate()
/// there differently from the Prometheus 2 under test), at a fraction of a second far from
/// every sample's, so that no step or window edge falls on a sample (where Prometheus 2's
/// closed windows and 3's left-open ones differ).
fn query_start(scraped: &Value) -> f64 {
    let series: Vec<Vec<f64>> = scraped["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let points = s["values"].as_array().cloned().unwrap_or_default();
            points.iter().filter_map(|p| p[0].as_f64()).collect()
        })
        .collect();
    let latest_first = series
        .iter()
        .filter_map(|times| times.first().copied())
        .fold(f64::MIN, f64::max);
    let fractions: Vec<i64> = series
        .iter()
        .flatten()
        .map(|t| (t * 1000.0).round() as i64 % 1000)
        .collect();
    let distance = |ms: i64| {
        let apart = |f: &i64| (f - ms).rem_euclid(1000).min((ms - f).rem_euclid(1000));
        fractions.iter().map(apart).min().unwrap_or(1000)
    };
    let best = (0..1000)
        .step_by(50)
        .max_by_key(|&ms| distance(ms))
        .unwrap();
    (latest_first.ceil() + WINDOW_S + 1.0) + best as f64 / 1000.0
}

#[test]
fn prometheus_remote_writes_what_it_scrapes_and_both_answer_the_same() {
    if osprey::peer_installed(PROMETHEUS).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (osprey_port, prometheus_port) = (free_port(), free_port());
    let osprey = start_osprey(dir.path(), osprey_port, "global: {}\n");
    let prometheus = start_prometheus(
        dir.path(),
        prometheus_port,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: prometheus\n\
             \x20   static_configs: [{{targets: ['127.0.0.1:{prometheus_port}']}}]\n\
             \x20 - job_name: osprey\n\
             \x20   static_configs: [{{targets: ['127.0.0.1:{osprey_port}']}}]\n\
             remote_write:\n\
             \x20 - url: http://127.0.0.1:{osprey_port}/api/v1/write\n\
             \x20   queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms}}\n\
             \x20   metadata_config: {{send_interval: 1s}}\n"
        ),
    );
    let scraped = wait_for(
        "Prometheus to scrape both targets",
        Duration::from_secs(60),
        || {
            let form = [("query", "up[1m]")];
            let scraped = prometheus.get("/api/v1/query", &form);
            let series = scraped["data"]["result"].as_array().map_or(0, Vec::len);
            (series == 2).then_some(scraped)
        },
    );
    let start = query_start(&scraped);
    let end = start + 15.0;
    while (now_ms() as f64) < (end + 2.0) * 1000.0 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (start, end) = (start.to_string(), end.to_string());
    let queries = [
        "up",
        "prometheus_http_requests_total",
        "rate(prometheus_http_requests_total[5s])",
        "sum by (handler) (rate(prometheus_http_requests_total[5s]))",
        "sum by (job) (scrape_samples_scraped)",
        "process_resident_memory_bytes",
        "histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[5s])))",
        "osprey_collector_scrapes_total",
    ];
    // What Prometheus stored by `end` reaches the collector within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    let differences = loop {
        let mut differences = Vec::new();
        for query in queries {
            let form = [
                ("query", query),
                ("start", start.as_str()),
                ("end", end.as_str()),
                ("step", "1"),
            ];
            let theirs = prometheus.get("/api/v1/query_range", &form);
            let series = theirs["data"]["result"].as_array().map_or(0, Vec::len);
            assert!(series > 0, "{query}: Prometheus has nothing: {theirs}");
            let ours = osprey.get("/api/v1/query_range", &form);
            if let Err(why) = compare::same_answer(&ours, &theirs) {
                differences.push(format!("{query}: {why}"));
            }
        }
        if differences.is_empty() || Instant::now() > deadline {
            break differences;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(differences, Vec::<String>::new());

    // Metadata comes in requests of its own, once a second here.
    for metric in [
        "prometheus_http_requests_total",
        "process_resident_memory_bytes",
    ] {
        let theirs = prometheus.get("/api/v1/metadata", &[("metric", metric)]);
        let ours = wait_for(
            &format!("the metadata of {metric}"),
            Duration::from_secs(20),
            || {
                let ours = osprey.get("/api/v1/metadata", &[("metric", metric)]);
                (ours["data"] != serde_json::json!({})).then_some(ours)
            },
        );
        assert_eq!(ours["data"], theirs["data"], "{metric}");
    }
}

#[tokio::test]
async fn hostile_pushes_are_refused_with_a_reason_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let osprey = start_osprey(dir.path(), port, "global: {}\n");
    let t = now_ms() - 10_000;
    let good = |name: &str, t: i64, v: f64| {
        TimeSeries::new(&[("__name__", name), ("job", "pusher")], &[(t, v)])
    };
    assert_eq!(
        push(port, encoded(vec![good("kept", t, 1.0)]), "snappy").await,
        (204, String::new())
    );

    let uncompressed = WriteRequest {
        timeseries: vec![good("refused_uncompressed", t, 1.0)],
        metadata: Vec::new(),
    }
    .encode_to_vec();
    let not_protobuf = snap::raw::Encoder::new()
        .compress_vec(b"refused_text{job=\"pusher\"} 1\n")
        .unwrap();
    let bad_label = TimeSeries::new(
        &[("__name__", "refused_label"), ("bad-name", "x")],
        &[(t, 1.0)],
    );
    let oversized = vec![0; MAX_COMPRESSED_BYTES + 1];
    let cases: [(Vec<u8>, &str, u16, &str); 6] = [
        (uncompressed, "snappy", 400, "not snappy"),
        (
            not_protobuf,
            "snappy",
            400,
            "not a remote-write protobuf message",
        ),
        (
            encoded(vec![good("refused_valid", t, 1.0), bad_label]),
            "snappy",
            400,
            "invalid label name \"bad-name\"",
        ),
        // Older than the stored sample of `kept`.
        (
            encoded(vec![
                good("refused_new", t, 1.0),
                good("kept", t - 1000, 2.0),
            ]),
            "snappy",
            400,
            "out of order sample",
        ),
        (oversized, "snappy", 413, "larger than"),
        (
            encoded(vec![good("refused_gzip", t, 1.0)]),
            "gzip",
            415,
            "gzip encoding",
        ),
    ];
    for (body, encoding, status, reason) in cases {
        let (answered, text) = push(port, body, encoding).await;
        assert_eq!(answered, status, "{reason}: {text}");
        assert!(text.contains(reason), "{reason}: {text}");
        assert_eq!(
            osprey.call("GET", "/-/healthy", &[]).0,
            200,
            "after {reason}"
        );
    }
    let everything = osprey.get(
        "/api/v1/series",
        &[("match[]", "{__name__=~\".+\"}"), ("start", "0")],
    );
    assert_eq!(
        everything["data"],
        serde_json::json!([{"__name__": "kept", "job": "pusher"}]),
        "only the accepted push is stored"
    );
    let kept = osprey.get("/api/v1/query", &[("query", "kept")]);
    assert_eq!(kept["data"]["result"][0]["value"][1], "1", "{kept}");

    // The collector goes on storing valid pushes, and counted each answer by its code.
    let later = good("kept", t + 1000, 3.0);
    assert_eq!(push(port, encoded(vec![later]), "snappy").await.0, 204);
    let kept = osprey.get("/api/v1/query", &[("query", "kept")]);
    assert_eq!(kept["data"]["result"][0]["value"][1], "3", "{kept}");
    let (_, metrics) = osprey.call("GET", "/metrics", &[]);
    for (code, count) in [(204, 2), (400, 4), (413, 1), (415, 1)] {
        let line =
            format!("osprey_collector_remote_write_requests_total{{code=\"{code}\"}} {count}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(
        metrics.contains("osprey_collector_remote_write_received_samples_total 2"),
        "{metrics}"
    );
}

#[test]
fn a_prometheus_federating_from_the_collector_stores_its_external_labels() {
    if osprey::peer_installed(PROMETHEUS).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (osprey_port, prometheus_port) = (free_port(), free_port());
    let osprey = start_osprey(
        dir.path(),
        osprey_port,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             \x20 external_labels: {{site: lab, region: eu}}\n\
             scrape_configs:\n\
             \x20 - job_name: osprey\n\
             \x20   static_configs:\n\
             \x20     - targets: ['127.0.0.1:{osprey_port}']\n\
             \x20       labels: {{site: own}}\n"
        ),
    );
    // A series with no instance label, pushed.
    let pushed = TimeSeries::new(
        &[("__name__", "pushed_total"), ("job", "pusher")],
        &[(now_ms(), 7.0)],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, text) = runtime.block_on(push(osprey_port, encoded(vec![pushed]), "snappy"));
    assert_eq!(status, 204, "{text}");
    let prometheus = start_prometheus(
        dir.path(),
        prometheus_port,
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: federate\n\
             \x20   honor_labels: true\n\
             \x20   metrics_path: /federate\n\
             \x20   params: {{'match[]': ['{{job=~\"osprey|pusher\"}}']}}\n\
             \x20   static_configs: [{{targets: ['127.0.0.1:{osprey_port}']}}]\n"
        ),
    );
    let query = "{__name__=~\"up|pushed_total\", job=~\"osprey|pusher\"}";
    let stored = wait_for(
        "Prometheus to store the federated series",
        Duration::from_secs(30),
        || {
            let series = series_of(&prometheus, query);
            (series.len() == 2).then_some(series)
        },
    );
    let instance = format!("127.0.0.1:{osprey_port}");
    assert_eq!(
        stored,
        [
            // No instance of its own: Prometheus adds none (the federation target's).
            labels(&[
                ("__name__", "pushed_total"),
                ("job", "pusher"),
                ("region", "eu"),
                ("site", "lab"),
            ]),
            // Its own site wins over the external one.
            labels(&[
                ("__name__", "up"),
                ("instance", &instance),
                ("job", "osprey"),
                ("region", "eu"),
                ("site", "own"),
            ]),
        ]
    );
    // The collector's own answers keep its series as they are.
    assert_eq!(
        series_of(&osprey, "pushed_total"),
        [labels(&[("__name__", "pushed_total"), ("job", "pusher")])]
    );
}
