//! History, acknowledgement, manual resolve and silences through the HTTP routes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::router;
use crate::labels::Labels;
use crate::notify::{Notifier, parse_alertmanager_config};
use crate::rules::{NotifierAlert, Notify};
use crate::tsdb::{Storage, StorageOptions};

fn notifier(dir: &tempfile::TempDir) -> Notifier {
    let config = "route:\n  receiver: hook\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:1/\n";
    let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
    Notifier::open(
        parse_alertmanager_config(config).unwrap(),
        storage.key_value(),
        "http://c:9718",
    )
    .unwrap()
}

fn firing(instance: &str) -> NotifierAlert {
    NotifierAlert {
        labels: Labels::from_pairs([("alertname", "HighCpu"), ("instance", instance)]),
        annotations: Default::default(),
        starts_at: 1_700_000_000_000,
        ends_at: chrono::Utc::now().timestamp_millis() + 600_000,
        generator_url: String::new(),
        value: 97.0,
        resolved: false,
    }
}

async fn call(n: &Notifier, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let response = router(n.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn history_ack_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let n = notifier(&dir);
    n.notify(vec![firing("web1:9100"), firing("db1:9100")]);
    let (status, body) = call(&n, "GET", "/api/v1/alerts/history?host=web1", None).await;
    assert_eq!(status, StatusCode::OK);
    let records = body["data"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["value"], 97.0);
    let id = records[0]["id"].as_u64().unwrap();

    let (status, body) = call(
        &n,
        "POST",
        &format!("/api/v1/alerts/history/{id}/ack"),
        Some(json!({"by": "ana", "comment": "on it"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["acknowledged"]["comment"], "on it");

    let (status, body) = call(
        &n,
        "POST",
        &format!("/api/v1/alerts/history/{id}/resolve"),
        Some(json!({"by": "ana"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"][0]["resolved_by"], "ana");

    let (_, body) = call(
        &n,
        "POST",
        "/api/v1/alerts/history/resolve",
        Some(json!({"by": "bob"})),
    )
    .await;
    assert_eq!(
        body["data"].as_array().unwrap().len(),
        1,
        "bulk resolve took the remaining open one"
    );
    let (_, body) = call(&n, "GET", "/api/v1/alerts/history?state=firing", None).await;
    assert!(body["data"].as_array().unwrap().is_empty());
    let (status, body) = call(
        &n,
        "POST",
        "/api/v1/alerts/history/resolve",
        Some(json!({"by": " "})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = call(
        &n,
        "POST",
        "/api/v1/alerts/history/999/ack",
        Some(json!({"by": "ana"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["status"], "error");
    let (status, _) = call(&n, "GET", "/api/v1/alerts/history?start=yesterday", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn history_filters_by_severity_and_state_and_exports_csv() {
    let dir = tempfile::tempdir().unwrap();
    let n = notifier(&dir);
    let mut critical = firing("db1:9100");
    critical.labels = Labels::from_pairs([
        ("alertname", "HostOutOfDiskSpace"),
        ("instance", "db1:9100"),
        ("severity", "critical"),
    ]);
    n.notify(vec![firing("web1:9100"), critical]);
    let (_, body) = call(&n, "GET", "/api/v1/alerts/history?severity=critical", None).await;
    let records = body["data"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["labels"]["instance"], "db1:9100");
    let id = records[0]["id"].as_u64().unwrap();
    let (status, _) = call(
        &n,
        "POST",
        &format!("/api/v1/alerts/history/{id}/ack"),
        Some(json!({"by": "ana", "until": "2999-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = call(&n, "GET", "/api/v1/alerts/history?state=acknowledged", None).await;
    assert_eq!(body["data"][0]["id"], id);
    assert_eq!(
        body["data"][0]["acknowledged"]["until"],
        32_472_144_000_000_i64
    );
    let (_, body) = call(&n, "GET", "/api/v1/alerts/history?state=firing", None).await;
    assert_eq!(body["data"][0]["labels"]["instance"], "web1:9100");
    let (status, _) = call(&n, "GET", "/api/v1/alerts/history?state=open", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an unknown state");

    let request = Request::get("/api/v1/alerts/history?format=csv&state=acknowledged")
        .body(Body::empty())
        .unwrap();
    let response = router(n.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let csv = String::from_utf8(bytes.to_vec()).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].starts_with("id,alertname,instance,severity,state,"));
    assert!(
        rows[1].starts_with(&format!(
            "{id},HostOutOfDiskSpace,db1:9100,critical,acknowledged,"
        )),
        "{csv}"
    );
}

#[tokio::test]
async fn silences_create_list_expire() {
    let dir = tempfile::tempdir().unwrap();
    let n = notifier(&dir);
    let silence = json!({
        "matchers": [{"name": "instance", "value": "web1:9100", "isRegex": false, "isEqual": true}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "ana",
        "comment": "maintenance"
    });
    let (status, body) = call(&n, "POST", "/api/v2/silences", Some(silence)).await;
    assert_eq!(status, StatusCode::OK);
    let id = body["silenceID"].as_str().unwrap().to_owned();
    let (_, body) = call(&n, "GET", "/api/v2/silences", None).await;
    assert_eq!(body[0]["status"]["state"], "active");
    assert_eq!(body[0]["matchers"][0]["name"], "instance");
    let (status, _) = call(&n, "DELETE", &format!("/api/v2/silence/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = call(&n, "GET", "/api/v2/silences", None).await;
    assert_eq!(body[0]["status"]["state"], "expired");

    let empty = json!({"matchers": [{"name": "a", "value": ".*", "isRegex": true}], "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z", "createdBy": "x", "comment": ""});
    let (status, body) = call(&n, "POST", "/api/v2/silences", Some(empty)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = call(&n, "DELETE", "/api/v2/silence/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_storage_failure_answers_a_generic_internal_error() {
    use axum::response::IntoResponse;

    let failure = crate::notify::HistoryError::Storage(crate::tsdb::StorageError::DiskFull(
        "12 bytes free on /var/lib/osprey".to_owned(),
    ));
    let response = crate::api::ApiError::from(failure).into_response();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["errorType"], "internal");
    assert_eq!(body["error"], "internal server error");
}
