//! Hostile input against the real collector: requests built to crash, exhaust or stall it, and
//! targets that misbehave, all sent to one running `osprey-collector` while a steady target is
//! scraped every second and `/-/ready` is probed every 100 ms.
//!
//! Each request must get its status and Prometheus's error JSON within its time limit; the
//! steady target must miss no scrape; `/-/ready` must answer every probe in under 100 ms; the
//! collector's peak resident memory over the whole suite is printed and must stay under 1 GB.

#[path = "hostile/support.rs"]
mod support;

use std::time::{Duration, Instant};

use osprey::collector::Collector;
use osprey::net::{free_port, instant_query, metrics, sample};
use osprey::process::wait_for;
use support::{Expect, HostileCase, ReadyProbe, TargetServer, peak_rss_bytes};

/// Series the steady target serves, so queries have data to chew on.
const STEADY_SERIES: usize = 300;

/// Series of imported history: ten minutes of it at one sample a second, with values that
/// rarely repeat, is what made `count_values` over every series grow without bound.
const HISTORY_SERIES: usize = 2_000;

/// Series the flooding target serves: more than a target may create in the store.
const FLOOD_SERIES: usize = 210_000;

#[test]
fn hostile_input_gets_clear_errors_while_the_collector_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let targets = TargetServer::start(STEADY_SERIES, FLOOD_SERIES);
    std::fs::write(dir.path().join("osprey.yml"), config(targets.port)).unwrap();
    import_history(dir.path());
    let port = free_port();
    let collector = Collector::start(dir.path(), port);
    wait_for(
        "a minute of the steady target's history",
        Duration::from_secs(90),
        || {
            let result = instant_query(port, "count_over_time(steady_up[1m])")?;
            let count = result.first()?["value"][1].as_str()?.parse::<f64>().ok()?;
            (count >= 55.0).then_some(())
        },
    );
    let probe = ReadyProbe::start(port);
    let scrapes_before = targets.steady_scrapes().len();

    let started = Instant::now();
    let failures: Vec<String> = cases()
        .iter()
        .filter_map(|case| case.run(port).err())
        .collect();
    let flood_failures = concurrent_heavy_queries(port);
    let suite = started.elapsed();

    let target_failures = hostile_target_failures(&collector);
    let probes = probe.stop();
    let rss = peak_rss_bytes(collector.pid());
    eprintln!(
        "hostile suite: {} requests in {:.1} s; /-/ready: {} probes, slowest {:?}; \
         collector peak RSS {:.0} MiB",
        cases().len() + CONCURRENT_QUERIES,
        suite.as_secs_f64(),
        probes.durations.len(),
        probes.slowest(),
        rss as f64 / (1 << 20) as f64
    );

    let mut problems = failures;
    problems.extend(flood_failures);
    problems.extend(target_failures);
    problems.extend(probes.problems());
    problems.extend(missed_scrapes(&targets.steady_scrapes()[scrapes_before..]));
    if rss >= 1 << 30 {
        problems.push(format!("peak RSS {rss} bytes is over 1 GB"));
    }
    let log = collector.log();
    if log.contains("panicked") {
        problems.push(format!("the collector logged a panic:\n{log}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Imports [`HISTORY_SERIES`] series of `history_load` covering the last eleven minutes at one
/// sample a second into `dir/data`, as `osprey-collector import` does for a user's backfill.
fn import_history(dir: &std::path::Path) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut text = String::from("# TYPE history_load gauge\n");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for series in 0..HISTORY_SERIES {
        for t in now - 660..now {
            // xorshift: values spread over [0, 1000) that hardly ever repeat.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = (state >> 11) as f64 / (1u64 << 53) as f64 * 1000.0;
            text.push_str(&format!("history_load{{i=\"{series}\"}} {value:.6} {t}\n"));
        }
    }
    text.push_str("# EOF\n");
    let file = dir.join("history.om");
    std::fs::write(&file, text).unwrap();
    let output = std::process::Command::new(osprey::binary("osprey-collector"))
        .arg("import")
        .arg(format!("--data-dir={}", dir.join("data").display()))
        .arg(&file)
        .output()
        .expect("run osprey-collector import");
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The collector's configuration: the steady target every second, the misbehaving ones every
/// two seconds.
fn config(target_port: u16) -> String {
    let job = |name: &str, interval: &str| {
        format!(
            "  - job_name: {name}\n    scrape_interval: {interval}\n    metrics_path: /{name}\n    \
             static_configs:\n      - targets: [\"127.0.0.1:{target_port}\"]\n"
        )
    };
    let mut text = String::from("global:\n  evaluation_interval: 5s\nscrape_configs:\n");
    text.push_str(&job("steady", "1s"));
    for hostile in ["duplicates", "future", "garbage", "flood"] {
        text.push_str(&job(hostile, "2s"));
    }
    text
}

/// Every hostile request and what it must get.
fn cases() -> Vec<HostileCase> {
    use Expect::{BadData, Execution, ExecutionOrTimeout, Success};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = ((now - 600).to_string(), now.to_string());
    let range = |query: &str, step: &str| -> Vec<(String, String)> {
        [
            ("query", query),
            ("start", &start),
            ("end", &end),
            ("step", step),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let instant = |query: String| vec![("query".to_owned(), query)];
    let nested = |open: &str, depth: usize, inner: &str, close: &str| {
        format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
    };
    let count_values = r#"count_values("v", {__name__=~".+"} + time())"#;
    let big_separator = "x".repeat(30_000);
    vec![
        HostileCase::post(
            "4,000 added operands",
            "/api/v1/query",
            instant(vec!["up"; 4_000].join("+")),
            BadData,
        ),
        HostileCase::post(
            "16,666 `or` terms",
            "/api/v1/query",
            instant(vec!["up"; 16_666].join(" or ")),
            BadData,
        ),
        HostileCase::post(
            "10,000 nested parentheses to format_query",
            "/api/v1/format_query",
            instant(nested("(", 10_000, "up", ")")),
            BadData,
        ),
        HostileCase::post(
            "50,000 nested parentheses",
            "/api/v1/query",
            instant(nested("(", 50_000, "up", ")")),
            BadData,
        ),
        HostileCase::post(
            "5,000 nested function calls",
            "/api/v1/query",
            instant(nested("abs(", 5_000, "up", ")")),
            BadData,
        ),
        HostileCase::post(
            "count_values over every series and ten minutes of history at 1 s",
            "/api/v1/query_range",
            range(count_values, "1"),
            Execution,
        ),
        HostileCase::post(
            "the same count_values as CSV",
            "/api/v1/export.csv",
            range(count_values, "1"),
            Execution,
        ),
        HostileCase::post(
            "nested subqueries at a 1 ms step",
            "/api/v1/query",
            vec![
                (
                    "query".to_owned(),
                    r#"max_over_time(rate({__name__=~".+"}[1m:1ms])[1h:1ms])"#.to_owned(),
                ),
                ("timeout".to_owned(), "10s".to_owned()),
            ],
            ExecutionOrTimeout,
        ),
        HostileCase::post(
            "label_join making 30 kB label values on every point",
            "/api/v1/query_range",
            range(
                &format!(
                    r#"label_join(count_values("v", history_load + time()), "big", "{big_separator}", "v", "v", "v")"#
                ),
                "1",
            ),
            Execution,
        ),
        HostileCase::post(
            "label_join with an invalid destination",
            "/api/v1/query",
            instant(r#"label_join(up, "", ",", "job")"#.to_owned()),
            Execution,
        )
        .mentioning("label_join"),
        HostileCase::post(
            "5,000 matchers",
            "/api/v1/query",
            instant(format!(
                "steady_up{{{}}}",
                vec![r#"job!="nothing""#; 5_000].join(",")
            )),
            Success,
        ),
        HostileCase::post(
            "topk of 1e18",
            "/api/v1/query",
            instant("topk(1e18, steady_load)".to_owned()),
            Success,
        ),
        HostileCase::get(
            "step=1e20",
            &format!("/api/v1/query_range?query=up&start={start}&end={end}&step=1e20"),
            BadData,
        ),
        HostileCase::get(
            "timeout=1e20",
            "/api/v1/query?query=up&timeout=1e20",
            BadData,
        ),
        HostileCase::get("time=-1e20", "/api/v1/query?query=up&time=-1e20", BadData),
        HostileCase::get(
            "a range beyond 11,000 points",
            "/api/v1/query_range?query=up&start=-5e15&end=5e15&step=15",
            BadData,
        ),
        HostileCase::get(
            "a 70 kB URL",
            &format!("/api/v1/query?query={}", "u".repeat(70_000)),
            Expect::Status(414),
        ),
    ]
}

/// How many heavy queries are sent at once.
const CONCURRENT_QUERIES: usize = 40;

/// Sends [`CONCURRENT_QUERIES`] heavy queries at once with a 3 s timeout; each must end with
/// an error of its own within its time, and none may take the collector down.
fn concurrent_heavy_queries(port: u16) -> Vec<String> {
    let case = HostileCase::post(
        "one of 40 concurrent subqueries",
        "/api/v1/query",
        vec![
            (
                "query".to_owned(),
                r#"max_over_time(rate({__name__=~".+"}[1m:1ms])[1h:1ms])"#.to_owned(),
            ),
            ("timeout".to_owned(), "3s".to_owned()),
        ],
        Expect::ExecutionOrTimeout,
    );
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..CONCURRENT_QUERIES)
            .map(|_| scope.spawn(|| case.run(port)))
            .collect();
        runs.into_iter()
            .filter_map(|run| run.join().expect("query thread").err())
            .collect()
    })
}

/// What the misbehaving targets must have left: `up` 0 and an error for the one over the
/// series limit and the one serving garbage, counters for dropped samples, and the imported
/// history whole.
fn hostile_target_failures(collector: &Collector) -> Vec<String> {
    let mut problems = Vec::new();
    for job in ["flood", "garbage"] {
        match instant_query(collector.port, &format!("up{{job=\"{job}\"}}")) {
            Some(result) if result.len() == 1 && result[0]["value"][1] == "0" => {}
            other => problems.push(format!("up{{job={job:?}}} is not 0: {other:?}")),
        }
        let error = collector
            .targets()
            .into_iter()
            .find(|t| t["labels"]["job"] == job)
            .map(|t| (t["health"].clone(), t["lastError"].clone()));
        match error {
            Some((health, error)) if health == "down" && error != "" => {}
            other => problems.push(format!("target {job} is not down with an error: {other:?}")),
        }
    }
    let history = instant_query(collector.port, "count(count_over_time(history_load[1h]))");
    let series = history
        .as_ref()
        .and_then(|r| r.first()?["value"][1].as_str()?.parse::<usize>().ok());
    if series != Some(HISTORY_SERIES) {
        problems.push(format!(
            "the imported history did not survive a target stamping samples at i64::MAX: \
             {history:?}"
        ));
    }
    let own = metrics(collector.port);
    for counter in [
        "prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "prometheus_target_scrapes_sample_out_of_bounds_total",
    ] {
        if !sample(&own, counter).is_some_and(|n| n >= 1.0) {
            problems.push(format!("{counter} did not count the dropped samples"));
        }
    }
    problems
}

/// A problem for every gap between the steady target's scrapes longer than two intervals.
fn missed_scrapes(scrapes: &[Instant]) -> Vec<String> {
    scrapes
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .filter(|gap| *gap > Duration::from_secs(2))
        .map(|gap| format!("the steady target went {gap:?} without a scrape"))
        .collect()
}
