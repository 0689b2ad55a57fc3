//! An online snapshot under load: a collector scraping 20 targets of 10,000 series each takes a
//! snapshot through the API while it scrapes; a second collector started on the snapshot
//! directory answers what the first answers for a time before the request.

mod tsdb_admin;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::NaiveDateTime;
use osprey::process::{Running, wait_for};
use osprey_collector::tsdb::DB_FILE;
use osprey_collector::vocab::now_ms;
use serde_json::Value;
use tsdb_admin::{Server, start_collector};

const TARGETS: usize = 20;
const SERIES: usize = 10_000;
const SCRAPE_INTERVAL_S: i64 = 5;
/// How long before the snapshot request the compared time lies: a scrape started then has
/// long been stored (its timeout is 4 s) when the snapshot is taken.
const SETTLED_MS: i64 = 20_000;

/// One process serving every target on its own ephemeral port (tests/bench/scrape_targets.py,
/// whose folder is named first; the ports are written to the file named next once all listen);
/// each target's counters grow with time.
const TARGETS_PY: &str = r#"
import sys, time
sys.path.insert(0, sys.argv[1])
import scrape_targets
ports_file, count, series = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
prefixes = [b'load_series{series="%d"} ' % s for s in range(series)]

def page(index):
    tick = int(time.time())
    return b"".join(p + b"%d\n" % (tick * (s % 7 + 1) + index) for s, p in enumerate(prefixes))

scrape_targets.serve(ports_file, count, page)
"#;

/// Starts the targets and returns them with their ports.
fn start_targets(dir: &Path) -> (Running, Vec<u16>) {
    let ports_file = dir.join("ports");
    let mut command = Command::new("python3");
    command
        .args(["-c", TARGETS_PY])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/bench"))
        .arg(&ports_file)
        .arg(TARGETS.to_string())
        .arg(SERIES.to_string());
    let mut targets = Running::spawn("targets", command, Some(&dir.join("targets.log")));
    let ports = wait_for("the targets to listen", Duration::from_secs(30), || {
        targets.assert_alive();
        let text = std::fs::read_to_string(&ports_file).ok()?;
        Some(
            text.lines()
                .map(|p| p.parse().unwrap())
                .collect::<Vec<u16>>(),
        )
    });
    assert_eq!(ports.len(), TARGETS);
    (targets, ports)
}

/// The `data` of an instant query at `time_ms`, which must succeed.
fn query(server: &Server, query: &str, time_ms: i64) -> Value {
    let time = format!("{:.3}", time_ms as f64 / 1000.0);
    let answer = server.get("/api/v1/query", &[("query", query), ("time", &time)]);
    assert_eq!(
        answer["status"], "success",
        "{}: {query}: {answer}",
        server.name
    );
    answer["data"].clone()
}

/// The single value of an instant query's result, if it has one.
fn scalar(data: &Value) -> Option<f64> {
    data["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn a_snapshot_taken_while_scraping_answers_as_its_source() {
    if !osprey::peer_present("python3", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_targets, ports) = start_targets(dir.path());
    let targets: Vec<String> = ports.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
    let config = format!(
        "global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n  scrape_timeout: 4s\n\
         scrape_configs:\n  - job_name: load\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    let data = dir.path().join("data");
    let source = start_collector("source", dir.path(), &data, &config);
    let all = (TARGETS * SERIES) as f64;
    wait_for(
        "every target's series to be stored",
        Duration::from_secs(180),
        || (scalar(&query(&source, "count(load_series)", now_ms())) == Some(all)).then_some(()),
    );
    // Scrape on, so the compared time is covered by full scrapes of every target.
    std::thread::sleep(Duration::from_millis(SETTLED_MS as u64 + 5_000));

    let requested = now_ms();
    let (status, body) = source.call("POST", "/api/v1/admin/tsdb/snapshot", &[]);
    let took_ms = now_ms() - requested;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["status"], "success", "{answer}");
    let name = answer["data"]["name"].as_str().unwrap().to_owned();
    let (time, random) = name.split_at(16);
    let taken = NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .and_utc()
        .timestamp_millis();
    assert!(
        (requested - 1_000..=now_ms()).contains(&taken),
        "{name} is not named after the time it was taken"
    );
    assert!(
        random.len() == 17
            && random.starts_with('-')
            && random[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{name} does not end in 16 hex digits"
    );
    let snapshot_dir = data.join("snapshots").join(&name);
    let bytes = std::fs::metadata(snapshot_dir.join(DB_FILE)).unwrap().len();
    println!("snapshot {name}: {bytes} bytes in {took_ms} ms while scraping");

    let copy = start_collector("snapshot", dir.path(), &snapshot_dir, "global: {}\n");
    let at = requested - SETTLED_MS;
    let recent = query(&copy, "max(timestamp(up{job=\"load\"}))", requested);
    assert!(
        scalar(&recent).is_some_and(|t| t * 1000.0 >= at as f64),
        "the snapshot misses the scrapes just before it was requested: {recent}"
    );
    for expression in [
        "count by (job) (load_series)",
        "count by (job) (up == 1)",
        "sum(load_series{series=~\"1..\"})",
        "sum by (instance) (load_series{series=\"7\"})",
        "sum(count_over_time(load_series{series=~\"2..\"}[1m]))",
        "max(timestamp(load_series))",
    ] {
        let [ours, theirs] = [&copy, &source].map(|s| query(s, expression, at));
        assert_eq!(ours, theirs, "{expression} at {at} ms");
        assert_ne!(ours["result"], Value::Array(Vec::new()), "{expression}");
    }
    assert_eq!(scalar(&query(&copy, "count(load_series)", at)), Some(all));
    let (start, end) = (
        format!("{}", (at - 60_000) / 1000),
        format!("{}", at / 1000),
    );
    let range = [
        ("query", "sum(load_series{series=~\"3..\"})"),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("step", "5"),
    ];
    let [ours, theirs] = [&copy, &source].map(|s| s.get("/api/v1/query_range", &range));
    assert_eq!(ours, theirs, "range query");
    let series = [
        ("match[]", "load_series{series=~\"4..\"}"),
        ("start", start.as_str()),
        ("end", end.as_str()),
    ];
    let [ours, theirs] = [&copy, &source].map(|s| s.get("/api/v1/series", &series));
    assert_eq!(ours["data"].as_array().map(Vec::len), Some(TARGETS * 100));
    assert_eq!(ours, theirs, "series");

    // The source scrapes on: every target again since the request.
    wait_for("the source to scrape on", Duration::from_secs(60), || {
        let oldest = scalar(&query(
            &source,
            "min(timestamp(up{job=\"load\"}))",
            now_ms(),
        ))?;
        (oldest * 1000.0 > requested as f64).then_some(())
    });
}
