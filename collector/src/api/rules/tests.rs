//! The rules API answers in Prometheus's JSON shape (field names and types from Prometheus's
//! HTTP API documentation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use super::router;
use crate::labels::Labels;
use crate::rules::{NotifierAlert, RuleDeps, RuleManager, parse_rule_file};
use crate::tsdb::MemoryStorage;

const RULES: &str = "groups:\n- name: host\n  interval: 30s\n  rules:\n  - alert: HighCpu\n    expr: cpu > 80\n    for: 5m\n    labels:\n      severity: warning\n    annotations:\n      summary: 'CPU {{ $value }}'\n  - record: cpu:max\n    expr: max(cpu)\n";

fn manager() -> RuleManager {
    let groups = parse_rule_file(Path::new("/etc/osprey/host.yml"), RULES).unwrap();
    let deps = RuleDeps {
        query: Arc::new(|_: &str, _: i64| {
            Ok(vec![(
                Labels::from_pairs([("__name__", "cpu"), ("instance", "a")]),
                93.5,
            )])
        }),
        storage: Arc::new(MemoryStorage::new()),
        notify: Arc::new(|_: Vec<NotifierAlert>| {}),
        state_store: None,
        external_labels: Default::default(),
        external_url: "http://localhost:9718".to_owned(),
        resend_delay: Duration::from_secs(60),
        thresholds: Default::default(),
    };
    let manager = RuleManager::new(groups, Duration::from_secs(15), deps);
    manager.evaluate_all(1_700_000_000_000);
    manager
}

async fn get(uri: &str) -> (StatusCode, Value) {
    let response = router(manager())
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn rules_endpoint_has_prometheus_shape() {
    let (status, body) = get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "success");
    let group = &body["data"]["groups"][0];
    assert_eq!(group["name"], "host");
    assert_eq!(group["file"], "/etc/osprey/host.yml");
    assert_eq!(group["interval"], 30.0);
    assert_eq!(group["lastEvaluation"], "2023-11-14T22:13:20Z");
    assert!(group["evaluationTime"].is_f64());
    let alerting = &group["rules"][0];
    assert_eq!(alerting["type"], "alerting");
    assert_eq!(alerting["name"], "HighCpu");
    assert_eq!(alerting["query"], "cpu > 80");
    assert_eq!(alerting["duration"], 300.0);
    assert_eq!(alerting["keepFiringFor"], 0.0);
    assert_eq!(alerting["state"], "pending");
    assert_eq!(alerting["health"], "ok");
    assert_eq!(alerting["labels"]["severity"], "warning");
    assert_eq!(alerting["annotations"]["summary"], "CPU {{ $value }}");
    let alert = &alerting["alerts"][0];
    assert_eq!(alert["state"], "pending");
    assert_eq!(alert["value"], "9.35e+01");
    assert_eq!(alert["activeAt"], "2023-11-14T22:13:20Z");
    assert_eq!(alert["annotations"]["summary"], "CPU 93.5");
    assert_eq!(alert["labels"]["alertname"], "HighCpu");
    let recording = &group["rules"][1];
    assert_eq!(recording["type"], "recording");
    assert!(recording.get("alerts").is_none() && recording.get("state").is_none());
}

#[tokio::test]
async fn rules_endpoint_filters_by_type() {
    let (_, body) = get("/api/v1/rules?type=record").await;
    let rules = body["data"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["name"], "cpu:max");
    let (status, body) = get("/api/v1/rules?type=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorType"], "bad_data");
}

#[tokio::test]
async fn alerts_endpoint_lists_active_alerts() {
    let (status, body) = get("/api/v1/alerts").await;
    assert_eq!(status, StatusCode::OK);
    let alerts = body["data"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["labels"]["instance"], "a");
    assert_eq!(alerts[0]["state"], "pending");
}
