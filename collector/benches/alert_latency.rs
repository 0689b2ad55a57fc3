//! Alert latency: from the rule evaluation that finds a condition to the webhook receiving the
//! notification, over 100 alerts, with group_wait 0. Alertmanager (Debian's
//! prometheus-alertmanager) is measured beside it from the moment it is handed the alert (the
//! step Prometheus takes right after its evaluation) to the webhook receiving it.
//!
//! Run: `cargo bench -p osprey-collector --bench alert_latency`

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use osprey_collector::labels::Labels;
use osprey_collector::notify::{Notifier, parse_alertmanager_config};
use osprey_collector::rules::{RuleDeps, RuleManager, parse_rule_file};
use osprey_collector::tsdb::{MemoryStorage, Storage, StorageOptions};
use serde_json::Value;

const ALERTS: usize = 100;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn record(State(arrivals): State<Arrivals>, body: String) {
    let now = Instant::now();
    let message: Value = serde_json::from_str(&body).unwrap();
    let mut arrivals = arrivals.lock().unwrap();
    for alert in message["alerts"].as_array().unwrap() {
        if alert["status"] == "firing" {
            let instance = alert["labels"]["instance"].as_str().unwrap().to_owned();
            arrivals.entry(instance).or_insert(now);
        }
    }
}

async fn receiver() -> (u16, Arrivals) {
    let arrivals = Arrivals::default();
    let app = axum::Router::new()
        .route("/", axum::routing::post(record))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, arrivals)
}

async fn arrival(arrivals: &Arrivals, instance: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(at) = arrivals.lock().unwrap().get(instance) {
            return *at;
        }
        assert!(Instant::now() < deadline, "alert {instance} never arrived");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn summary(name: &str, mut latencies: Vec<Duration>) -> f64 {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(latencies[latencies.len() / 2]);
    let p99 = ms(latencies[(latencies.len() * 99).div_ceil(100) - 1]);
    println!(
        "{name:<58} median {median:8.2} ms   p99 {p99:8.2} ms   (n={})",
        latencies.len()
    );
    median
}

fn route_config(port: u16) -> String {
    format!(
        "route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: 0s\n  group_interval: 1h\n  repeat_interval: 4h\n\
         receivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:{port}/\n"
    )
}

async fn osprey(dir: &Path) -> f64 {
    let (port, arrivals) = receiver().await;
    let storage = Storage::open(dir, StorageOptions::default()).unwrap();
    let notifier = Notifier::open(
        parse_alertmanager_config(&route_config(port)).unwrap(),
        storage.key_value(),
        "http://127.0.0.1:9718",
    )
    .unwrap();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _tasks = notifier.spawn(shutdown);
    let firing: Arc<Mutex<Vec<(Labels, f64)>>> = Arc::default();
    let answer = firing.clone();
    let rules = "groups:\n- name: bench\n  rules:\n  - alert: HighCpu\n    expr: cpu > 80\n    labels:\n      severity: warning\n";
    let deps = RuleDeps {
        query: Arc::new(move |_: &str, _: i64| Ok(answer.lock().unwrap().clone())),
        storage: Arc::new(MemoryStorage::new()),
        notify: Arc::new(notifier.clone()),
        state_store: None,
        external_labels: Default::default(),
        external_url: "http://127.0.0.1:9718".to_owned(),
        resend_delay: Duration::from_secs(60),
        thresholds: Default::default(),
    };
    let manager = RuleManager::new(
        parse_rule_file(Path::new("bench.yml"), rules).unwrap(),
        Duration::from_secs(15),
        deps,
    );
    let mut latencies = Vec::new();
    for i in 0..ALERTS {
        let instance = format!("host{i}:9100");
        firing.lock().unwrap().push((
            Labels::from_pairs([("__name__", "cpu"), ("instance", instance.as_str())]),
            95.0,
        ));
        let started = Instant::now();
        manager.evaluate_all(chrono::Utc::now().timestamp_millis());
        latencies.push(arrival(&arrivals, &instance).await - started);
    }
    summary("osprey: rule evaluation -> webhook received", latencies)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn alertmanager(dir: &Path) -> Option<f64> {
    let (port, arrivals) = receiver().await;
    let config = dir.join("alertmanager.yml");
    std::fs::write(&config, route_config(port)).unwrap();
    let api = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{api}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=error")
        .spawn();
    let Ok(child) = child else {
        println!("alertmanager: prometheus-alertmanager is not installed; skipped");
        return None;
    };
    let _child = Killed(child);
    let client = reqwest::Client::new();
    let base = format!("http://{}", SocketAddr::from(([127, 0, 0, 1], api)));
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/-/ready"))
        .send()
        .await
        .ok()
        .map(|r| r.status().is_success())
        != Some(true)
    {
        assert!(
            Instant::now() < deadline,
            "alertmanager did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut latencies = Vec::new();
    for i in 0..ALERTS {
        let instance = format!("host{i}:9100");
        let now = chrono::Utc::now();
        let alert = serde_json::json!([{
            "labels": {"alertname": "HighCpu", "instance": instance, "severity": "warning"},
            "startsAt": now.to_rfc3339(),
            "endsAt": (now + chrono::Duration::minutes(5)).to_rfc3339(),
            "generatorURL": "http://127.0.0.1:9090/graph"
        }]);
        let started = Instant::now();
        let response = client
            .post(format!("{base}/api/v2/alerts"))
            .json(&alert)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "alertmanager refused the alert"
        );
        latencies.push(arrival(&arrivals, &instance).await - started);
    }
    Some(summary(
        "alertmanager: alert received -> webhook received",
        latencies,
    ))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let ours = osprey(dir.path()).await;
    if let Some(theirs) = alertmanager(dir.path()).await {
        println!("median ratio osprey / alertmanager: {:.2}", ours / theirs);
    }
}
