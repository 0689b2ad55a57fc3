//! The exposition corpora of Prometheus's parser tests (`../shared/peer-tests/exposition/`)
//! parse to the same number of samples as Debian's Prometheus counts when it scrapes them
//! (`scrape_samples_scraped`), each served with its format's Content-Type.

use std::collections::BTreeMap;
use std::time::Duration;

use osprey::net::instant_query;
use osprey::peers::{PROMETHEUS, start_prometheus};
use osprey::process::wait_for;
use osprey_collector::scrape::parse::{Entry, Format, Parser};

fn format_of(name: &str) -> Format {
    if name.ends_with(".om.txt") {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

fn our_count(body: &[u8], format: Format) -> usize {
    let mut parser = Parser::new(body, format);
    let mut samples = 0;
    while let Some(entry) = parser.next().expect("corpus parses") {
        if matches!(entry, Entry::Sample(_)) {
            samples += 1;
        }
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpora_sample_counts_equal_prometheus_scrape_counts() {
    let Some(dir) = osprey::shared_dir("peer-tests/exposition") else {
        return;
    };
    if osprey::peer_installed(PROMETHEUS).is_none() {
        return;
    }
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        files.insert(name, std::fs::read(&path).unwrap());
    }
    assert!(
        files.len() >= 4,
        "expected the four corpora, found {files:?}"
    );

    // Serve each file at /<name> with its format's Content-Type.
    let mut app = axum::Router::new();
    for (name, body) in &files {
        let content_type = match format_of(name) {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        };
        let body = body.clone();
        app = app.route(
            &format!("/{name}"),
            axum::routing::get(move || async move {
                ([(axum::http::header::CONTENT_TYPE, content_type)], body)
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let work = tempfile::tempdir().unwrap();
    let mut jobs = String::new();
    for name in files.keys() {
        jobs.push_str(&format!(
            "  - job_name: {name:?}\n    metrics_path: /{name}\n    static_configs:\n      - targets: [\"{server}\"]\n"
        ));
    }
    let prometheus = start_prometheus(work.path(), &jobs);
    let counts: BTreeMap<String, usize> = wait_for(
        "Prometheus to scrape every corpus",
        Duration::from_secs(60),
        || {
            let results = instant_query(prometheus.port, "scrape_samples_scraped")?;
            let counts: BTreeMap<String, usize> = results
                .iter()
                .map(|r| {
                    let job = r["metric"]["job"].as_str().unwrap_or_default().to_owned();
                    let value: f64 = r["value"][1].as_str().unwrap_or("0").parse().unwrap();
                    (job, value as usize)
                })
                .collect();
            (counts.len() == files.len()).then_some(counts)
        },
    );
    assert_eq!(
        instant_query(prometheus.port, "up==0"),
        Some(Vec::new()),
        "Prometheus failed a corpus"
    );

    for (name, body) in &files {
        let ours = our_count(body, format_of(name));
        println!("{name}: osprey {ours} samples, prometheus {}", counts[name]);
        assert_eq!(ours, counts[name], "{name}");
    }
}
