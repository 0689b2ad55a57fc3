//! The exposition corpora of Prometheus's parser tests (`../shared/peer-tests/exposition/`)
//! parse to the same number of samples as Debian's Prometheus counts when it scrapes them
//! (`scrape_samples_scraped`), each served with its format's Content-Type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use osprey_collector::scrape::parse::{Entry, Format, Parser};

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peer-tests/exposition");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(!osprey::in_ci(), "{} is missing in CI", dir.display());
    eprintln!("skipping: {} is absent", dir.display());
    None
}

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

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpora_sample_counts_equal_prometheus_scrape_counts() {
    let Some(dir) = corpus_dir() else { return };
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !osprey::in_ci(),
            "prometheus is not installed (tests/install-deps.sh installs it)"
        );
        eprintln!("skipping: prometheus is not installed");
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
    let mut config =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
    for name in files.keys() {
        config.push_str(&format!(
            "  - job_name: {name:?}\n    metrics_path: /{name}\n    static_configs:\n      - targets: [\"{server}\"]\n"
        ));
    }
    std::fs::write(work.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let _prometheus = KillOnDrop(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                work.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                work.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/query?query=scrape_samples_scraped");
    let deadline = Instant::now() + Duration::from_secs(60);
    let counts: BTreeMap<String, usize> = loop {
        assert!(
            Instant::now() < deadline,
            "Prometheus did not scrape every corpus in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(response) = client.get(&url).send().await else {
            continue;
        };
        let Ok(json) = response.json::<serde_json::Value>().await else {
            continue;
        };
        let results = json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let counts: BTreeMap<String, usize> = results
            .iter()
            .map(|r| {
                let job = r["metric"]["job"].as_str().unwrap_or_default().to_owned();
                let value: f64 = r["value"][1].as_str().unwrap_or("0").parse().unwrap();
                (job, value as usize)
            })
            .collect();
        if counts.len() == files.len() {
            break counts;
        }
    };
    let up = client
        .get(format!("http://127.0.0.1:{port}/api/v1/query?query=up==0"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        up["data"]["result"],
        serde_json::json!([]),
        "Prometheus failed a corpus"
    );

    for (name, body) in &files {
        let ours = our_count(body, format_of(name));
        println!("{name}: osprey {ours} samples, prometheus {}", counts[name]);
        assert_eq!(ours, counts[name], "{name}");
    }
}
