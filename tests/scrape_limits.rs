//! Scrape limits and dropped samples against the real collector: a target past its
//! `sample_limit` is down with `up 0`, its scrape report and the reason, a target exposing a
//! repeated series and a sample stamped at the end of time stays up with those samples counted,
//! and a healthy target beside them is unaffected. Observed through `/api/v1/query`,
//! `/api/v1/targets` and `/metrics`.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use osprey::net::{free_port, instant_query, metrics, sample};
use osprey::process::wait_until;
use serde_json::Value;

/// Serves `body` as the text format to every request on a loopback port, from a thread that
/// lives as long as the test; returns the port.
fn serve(body: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("a bound address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn job(name: &str, port: u16, extra: &str) -> String {
    format!(
        "  - job_name: {name}\n{extra}    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
    )
}

/// The value of the single series `query` selects, if exactly one.
fn single_value(port: u16, query: &str) -> Option<f64> {
    let result = instant_query(port, query)?;
    let [series] = result.as_slice() else {
        return None;
    };
    series["value"][1].as_str()?.parse().ok()
}

fn target_of<'a>(targets: &'a [Value], job: &str) -> &'a Value {
    targets
        .iter()
        .find(|t| t["labels"]["job"] == job)
        .unwrap_or_else(|| panic!("no target of job {job} in {targets:?}"))
}

#[test]
fn a_target_past_its_sample_limit_is_down_with_its_report_and_the_others_are_not_affected() {
    let big: String = (0..30)
        .map(|i| format!("big_series{{i=\"{i}\"}} {i}\n"))
        .collect();
    let messy = format!(
        "messy_repeated 1\nmessy_repeated 2\nmessy_end_of_time 1 {}\nmessy_fine 3\n",
        i64::MAX
    );
    let small = "small_a 1\nsmall_b 2\n".to_owned();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}{}",
        job("big", serve(big), "    sample_limit: 10\n"),
        job("messy", serve(messy), ""),
        job("small", serve(small), ""),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("osprey.yml"), config).unwrap();
    let collector = osprey::collector::Collector::start(dir.path(), free_port());
    let port = collector.port;
    wait_until("every target scraped", Duration::from_secs(30), || {
        let targets = collector.targets();
        targets.len() == 3 && targets.iter().all(|t| t["health"] != "unknown")
    });
    wait_until(
        "the report series queryable",
        Duration::from_secs(30),
        || instant_query(port, "up").is_some_and(|up| up.len() == 3),
    );

    let targets = collector.targets();
    let big = target_of(&targets, "big");
    assert_eq!(big["health"], "down", "{big}");
    let error = big["lastError"].as_str().unwrap_or_default();
    assert!(error.starts_with("sample limit exceeded"), "{big}");
    for job in ["messy", "small"] {
        let target = target_of(&targets, job);
        assert_eq!(target["health"], "up", "{target}");
        assert_eq!(target["lastError"], "", "{target}");
    }

    assert_eq!(single_value(port, "up{job=\"big\"}"), Some(0.0));
    let scraped = single_value(port, "scrape_samples_scraped{job=\"big\"}");
    assert_eq!(scraped, Some(30.0), "the whole body is counted");
    assert!(single_value(port, "scrape_duration_seconds{job=\"big\"}").is_some());
    let big_series = instant_query(port, "{__name__=~\"big_.*\"}").unwrap();
    assert!(big_series.is_empty(), "kept: {big_series:?}");

    assert_eq!(single_value(port, "up{job=\"small\"}"), Some(1.0));
    assert_eq!(single_value(port, "small_b"), Some(2.0));
    assert_eq!(single_value(port, "up{job=\"messy\"}"), Some(1.0));
    assert_eq!(
        single_value(port, "messy_repeated"),
        Some(1.0),
        "the first line counts"
    );
    assert_eq!(single_value(port, "messy_fine"), Some(3.0));
    let end_of_time = instant_query(port, "messy_end_of_time").unwrap();
    assert!(end_of_time.is_empty(), "stored: {end_of_time:?}");

    // Three scrapes of the messy target, each dropping a repeated sample, log one warning.
    let duplicates = "prometheus_target_scrapes_sample_duplicate_timestamp_total";
    wait_until(
        "three scrapes dropping a repeat",
        Duration::from_secs(30),
        || sample(&metrics(port), duplicates).is_some_and(|v| v >= 3.0),
    );
    let exposition = metrics(port);
    for counter in [
        "prometheus_target_scrapes_exceeded_sample_limit_total",
        "prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "prometheus_target_scrapes_sample_out_of_bounds_total",
    ] {
        let value = sample(&exposition, counter);
        assert!(value.is_some_and(|v| v >= 1.0), "{counter}: {value:?}");
    }
    let series_limit = sample(
        &exposition,
        "osprey_target_scrapes_exceeded_series_limit_total",
    );
    assert_eq!(series_limit, Some(0.0));
    let log = collector.log();
    let warnings = log.matches("samples dropped: series listed twice").count();
    assert_eq!(
        warnings, 1,
        "logged once a minute, not at every scrape:\n{log}"
    );
}
