//! `delete_series` side by side with a real Prometheus (`--web.enable-admin-api`) holding the
//! same data: after the same deletions (a whole series, the middle of a series, several series
//! through a regex, a range holding nothing) both answer the same queries, series and label
//! values, and both refuse bad requests with the same status and error type.

#[path = "differential/compare.rs"]
mod compare;
#[path = "differential/prometheus_blocks.rs"]
mod prometheus_blocks;
mod tsdb_admin;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use osprey_collector::vocab::rfc3339;
use serde_json::Value;
use tsdb_admin::{Server, start_collector};

/// First sample time, Unix seconds (a multiple of 60).
const START_S: i64 = 1_700_000_040;
/// Seconds between samples.
const INTERVAL_S: i64 = 15;
/// Samples sit 7 s after each interval boundary, so no query time or window edge (multiples
/// of 5 s) falls on a sample, where Prometheus 2 and 3 differ.
const PHASE_S: i64 = 7;
/// Samples per series: two hours.
const SAMPLES: i64 = 480;
const HOSTS: i64 = 4;

const DELETE: &str = "/api/v1/admin/tsdb/delete_series";

/// Time of sample `i`, Unix seconds.
fn sample_time(i: i64) -> i64 {
    START_S + i * INTERVAL_S + PHASE_S
}

/// CPU counters, temperature gauges and an `up`-like series per host, as OpenMetrics.
fn openmetrics() -> String {
    let mut out = String::from("# TYPE demo_cpu_seconds_total unknown\n");
    for h in 0..HOSTS {
        for (m, mode) in (2..).zip(["idle", "system", "user"]) {
            let labels = format!("instance=\"host-{h}\",mode=\"{mode}\"");
            push_series(&mut out, "demo_cpu_seconds_total", &labels, |i| {
                (i * (h + 1) * m + i * i % 7) as f64 / 4.0
            });
        }
    }
    out.push_str("# TYPE demo_temperature_celsius unknown\n");
    for h in 0..HOSTS {
        for (s, sensor) in (0..).zip(["a", "b"]) {
            let labels = format!("instance=\"host-{h}\",sensor=\"{sensor}\"");
            push_series(&mut out, "demo_temperature_celsius", &labels, |i| {
                20.0 + ((i * 7 + h * 3 + s) % 11) as f64 / 2.0
            });
        }
    }
    out.push_str("# TYPE demo_up unknown\n");
    for h in 0..HOSTS {
        push_series(
            &mut out,
            "demo_up",
            &format!("instance=\"host-{h}\""),
            |_| 1.0,
        );
    }
    out.push_str("# EOF\n");
    out
}

/// Every sample of one series, `value(i)` at [`sample_time`]`(i)`.
fn push_series(out: &mut String, name: &str, labels: &str, value: impl Fn(i64) -> f64) {
    for i in 0..SAMPLES {
        writeln!(out, "{name}{{{labels}}} {} {}", value(i), sample_time(i)).unwrap();
    }
}

/// Prometheus over promtool's blocks of `file`, with the admin API on.
fn start_prometheus(dir: &Path, file: &Path) -> Server {
    let (command, port) = prometheus_blocks::over_blocks(dir, file, &["--web.enable-admin-api"]);
    Server::start("prometheus", command, port)
}

/// The collector over a store filled from `file` by its own `import`, scraping nothing.
fn start_osprey(dir: &Path, file: &Path) -> Server {
    let data = dir.join("osprey-data");
    let status = Command::new(env!("CARGO_BIN_EXE_osprey-collector"))
        .arg("import")
        .arg("--data-dir")
        .arg(&data)
        .arg(file)
        .stdout(Stdio::null())
        .status()
        .expect("run osprey-collector import");
    assert!(status.success(), "osprey-collector import failed");
    start_collector("osprey-collector", dir, &data, "global: {}\n")
}

/// The same request to both servers; the status codes must agree. Returns both bodies.
fn both(
    servers: &[Server; 2],
    method: &str,
    path: &str,
    form: &[(&str, &str)],
) -> [(u16, String); 2] {
    let answers = servers.each_ref().map(|s| s.call(method, path, form));
    assert_eq!(
        answers[0].0, answers[1].0,
        "{method} {path} {form:?}: status of osprey {:?}, prometheus {:?}",
        answers[0], answers[1]
    );
    answers
}

/// Every query, series and label-values answer both servers give that differs.
fn differences(servers: &[Server; 2], with_label_values: bool) -> Vec<String> {
    let queries = [
        "demo_up",
        "count(demo_up)",
        "demo_temperature_celsius",
        "demo_cpu_seconds_total",
        "rate(demo_cpu_seconds_total[5m])",
        "sum by (mode) (increase(demo_cpu_seconds_total[10m]))",
        "count_over_time(demo_temperature_celsius[10m])",
        "count by (__name__) ({__name__=~\"demo_.+\"})",
    ];
    let mut differ = Vec::new();
    let mut check = |path: &str, query: &[(&str, &str)], exact: bool| {
        let [ours, theirs] = servers.each_ref().map(|s| s.get(path, query));
        let same = if exact {
            (ours == theirs)
                .then_some(())
                .ok_or_else(|| format!("ours {ours}, theirs {theirs}"))
        } else {
            compare::same_answer(&ours, &theirs)
        };
        if let Err(why) = same {
            differ.push(format!("{path} {query:?}\n    {why}"));
        }
    };
    for query in queries {
        for t in [1795, 2105, 3005, 3905, 4505, 6005, 7200] {
            let time = (START_S + t).to_string();
            check("/api/v1/query", &[("query", query), ("time", &time)], false);
        }
        let (start, end) = (START_S.to_string(), (START_S + 7200).to_string());
        for step in ["15", "60"] {
            let range = [
                ("query", query),
                ("start", &start),
                ("end", &end),
                ("step", step),
            ];
            check("/api/v1/query_range", &range, false);
        }
    }
    let (start, end) = (START_S.to_string(), (START_S + 7200).to_string());
    for selector in [
        "demo_up",
        "{__name__=~\"demo_.+\"}",
        "demo_cpu_seconds_total{mode!=\"idle\"}",
    ] {
        let series = [("match[]", selector), ("start", &start), ("end", &end)];
        check("/api/v1/series", &series, true);
        if with_label_values {
            check("/api/v1/label/instance/values", &series, true);
            check("/api/v1/labels", &series, true);
        }
    }
    if with_label_values {
        check("/api/v1/label/__name__/values", &[], true);
    }
    differ
}

#[test]
fn deletions_answer_as_prometheus_answers() {
    if !osprey::peers_present(&["prometheus", "promtool"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.om");
    std::fs::write(&file, openmetrics()).unwrap();
    let servers = [
        start_osprey(dir.path(), &file),
        start_prometheus(dir.path(), &file),
    ];
    assert_eq!(
        differences(&servers, true),
        Vec::<String>::new(),
        "before deleting"
    );

    // Refused requests, each of which would delete something if it were accepted.
    let sensor_b = "demo_temperature_celsius{sensor=\"b\"}";
    for (method, form) in [
        ("POST", vec![]),
        ("PUT", vec![("start", "1")]),
        ("POST", vec![("match[]", "demo_up{")]),
        ("POST", vec![("match[]", "")]),
        ("POST", vec![("match[]", sensor_b), ("start", "yesterday")]),
        (
            "PUT",
            vec![("match[]", sensor_b), ("end", "2023-13-01T00:00:00Z")],
        ),
    ] {
        let [(_, ours), (_, theirs)] = both(&servers, method, DELETE, &form);
        let [ours, theirs]: [Value; 2] = [&ours, &theirs].map(|b| serde_json::from_str(b).unwrap());
        assert_eq!(ours["status"], "error", "{form:?}: {ours}");
        assert_eq!(
            ours["errorType"], theirs["errorType"],
            "{form:?}: {ours} {theirs}"
        );
        if !form.iter().any(|(name, _)| *name == "match[]") {
            assert_eq!(ours, theirs, "no match[]");
        }
    }
    let [(_, ours), (_, theirs)] = both(
        &servers,
        "POST",
        "/api/v1/admin/tsdb/snapshot",
        &[("skip_head", "maybe")],
    );
    let [ours, theirs]: [Value; 2] = [&ours, &theirs].map(|b| serde_json::from_str(b).unwrap());
    assert_eq!(ours, theirs, "an invalid skip_head");
    both(&servers, "GET", &format!("{DELETE}?match[]=demo_up"), &[]);

    let middle_start = rfc3339(sample_time(120) * 1000);
    let middle_end = sample_time(240).to_string();
    let regex_start = format!("{}.5", START_S + 2400);
    let regex_end = (START_S + 4200).to_string();
    let deletions: [(&str, Vec<(&str, &str)>); 5] = [
        // A whole series.
        ("POST", vec![("match[]", "demo_up{instance=\"host-1\"}")]),
        // The middle of one series, its first and last deleted samples on the range's edges.
        (
            "PUT",
            vec![
                (
                    "match[]",
                    "demo_temperature_celsius{instance=\"host-0\",sensor=\"a\"}",
                ),
                ("start", &middle_start),
                ("end", &middle_end),
            ],
        ),
        // Several series through a regex, in one of two selectors.
        (
            "POST",
            vec![
                ("match[]", "demo_cpu_seconds_total{mode=~\"user|sys.*\"}"),
                ("match[]", "demo_no_such_metric"),
                ("start", &regex_start),
                ("end", &regex_end),
            ],
        ),
        // A range holding no sample.
        (
            "POST",
            vec![
                ("match[]", "demo_temperature_celsius"),
                ("match[]", "demo_up"),
                ("start", "946684800"),
                ("end", "2000-01-02T00:00:00Z"),
            ],
        ),
        // An empty range.
        (
            "PUT",
            vec![
                ("match[]", "demo_up"),
                ("start", &regex_end),
                ("end", &regex_start),
            ],
        ),
    ];
    for (method, form) in &deletions {
        let [(status, body), _] = both(&servers, method, DELETE, form);
        assert_eq!((status, body.as_str()), (204, ""), "{method} {form:?}");
    }
    assert_eq!(
        differences(&servers, false),
        Vec::<String>::new(),
        "after deleting"
    );
    // Equal answers could also mean neither deleted anything.
    let at = (START_S + 7200).to_string();
    for (query, left) in [
        ("count(count_over_time(demo_up[2h]))", "3"),
        (
            "count_over_time(demo_temperature_celsius{instance=\"host-0\",sensor=\"a\"}[2h])",
            "359",
        ),
    ] {
        let ours = servers[0].get("/api/v1/query", &[("query", query), ("time", &at)]);
        assert_eq!(
            ours["data"]["result"][0]["value"][1], left,
            "{query}: {ours}"
        );
    }

    // Prometheus keeps deleted series in its index (and label values) until its tombstones
    // are cleaned; Osprey forgets them at once.
    for method in ["POST", "PUT"] {
        let [(status, _), _] = both(&servers, method, "/api/v1/admin/tsdb/clean_tombstones", &[]);
        assert_eq!(status, 204);
    }
    assert_eq!(
        differences(&servers, true),
        Vec::<String>::new(),
        "after cleaning"
    );
}
