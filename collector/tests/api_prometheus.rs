//! Grafana's Prometheus data source calls, replayed against the API router without a socket.

use std::sync::Arc;
use std::time::Duration;

mod support;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use osprey_collector::api::MetadataSource;
use osprey_collector::labels::Labels;
use osprey_collector::promql::EngineConfig;
use osprey_collector::tsdb::{Appendable, MemoryStorage, Metadata};
use serde_json::{Value, json};
use support::app::{TestApp, TestState};
use tower::ServiceExt;

const STEP_MS: i64 = 15_000;

/// Two hosts with two CPUs each: `node_cpu_seconds_total` grows by one per scrape (15 s) in
/// every non-idle mode, plus `node_uname_info` and `up`, for one hour from t=0.
fn store() -> Arc<MemoryStorage> {
    let store = Arc::new(MemoryStorage::new());
    let mut app = store.appender("");
    for host in ["a:9100", "b:9100"] {
        let info = Labels::from_pairs([
            ("__name__", "node_uname_info"),
            ("instance", host),
            ("job", "node"),
            ("nodename", host),
        ]);
        let up = Labels::from_pairs([("__name__", "up"), ("instance", host), ("job", "node")]);
        for i in 0..240 {
            let t = i * STEP_MS;
            app.append(&info, t, 1.0).unwrap();
            app.append(&up, t, 1.0).unwrap();
            for cpu in ["0", "1"] {
                for mode in ["idle", "user"] {
                    let labels = Labels::from_pairs([
                        ("__name__", "node_cpu_seconds_total"),
                        ("instance", host),
                        ("job", "node"),
                        ("cpu", cpu),
                        ("mode", mode),
                    ]);
                    app.append(&labels, t, i as f64).unwrap();
                }
            }
        }
    }
    let other = Labels::from_pairs([
        ("__name__", "process_start_time_seconds"),
        ("job", "collector"),
    ]);
    app.append(&other, 0, 1.0).unwrap();
    app.commit().unwrap();
    store
}

fn router_with(config: EngineConfig, metadata: Option<Arc<dyn MetadataSource>>) -> TestApp {
    let mut state = TestState::new(store(), config);
    if let Some(m) = metadata {
        state.state.query.metadata = m;
    }
    state.app()
}

fn router() -> TestApp {
    router_with(EngineConfig::default(), None)
}

async fn send(app: TestApp, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

async fn get(app: TestApp, uri: &str) -> (StatusCode, Value) {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_form(app: TestApp, uri: &str, form: &str) -> (StatusCode, Value) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    send(app, request).await
}

#[tokio::test]
async fn save_and_test_query_returns_the_scalar_as_prometheus_does() {
    let (status, body) = get(router(), "/api/v1/query?query=1%2B1&time=4").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}})
    );
}

#[tokio::test]
async fn variable_query_lists_label_values_of_matching_series_only() {
    let uri = "/api/v1/label/job/values?match[]=node_uname_info&start=0&end=3600";
    let (status, body) = get(router(), uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "success", "data": ["node"]}));
    let (_, all) = get(router(), "/api/v1/label/job/values").await;
    assert_eq!(all["data"], json!(["collector", "node"]));
    let (_, names) = get(router(), "/api/v1/label/__name__/values").await;
    assert_eq!(
        names["data"],
        json!([
            "node_cpu_seconds_total",
            "node_uname_info",
            "process_start_time_seconds",
            "up"
        ])
    );
}

/// Found by the `query` fuzz target: axum answered such a name in plain text.
#[tokio::test]
async fn label_values_of_a_name_that_is_not_utf8_is_a_json_bad_data_error() {
    let (status, body) = get(router(), "/api/v1/label/%A2/values").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "bad_data");
}

#[tokio::test]
async fn metric_browser_lists_label_names_and_series() {
    let (_, labels) = get(router(), "/api/v1/labels").await;
    assert_eq!(
        labels["data"],
        json!(["__name__", "cpu", "instance", "job", "mode", "nodename"])
    );
    let (_, labels) = post_form(router(), "/api/v1/labels", "match[]=up").await;
    assert_eq!(labels["data"], json!(["__name__", "instance", "job"]));
    let (status, series) = get(router(), "/api/v1/series?match[]=up&start=0&end=60").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        series["data"],
        json!([
            {"__name__": "up", "instance": "a:9100", "job": "node"},
            {"__name__": "up", "instance": "b:9100", "job": "node"}
        ])
    );
    let (_, limited) = get(router(), "/api/v1/series?match[]=up&limit=1").await;
    assert_eq!(limited["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        limited["warnings"],
        json!(["results truncated due to limit"])
    );
    let (status, missing) = get(router(), "/api/v1/series").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(missing["error"], "no match[] parameter provided");
}

#[tokio::test]
async fn dashboard_range_query_as_form_body_computes_rates_per_instance() {
    // Each non-idle CPU counter grows by 1 every 15 s: rate 1/15 per CPU, two CPUs per host.
    let form = "query=sum+by+(instance)+(rate(node_cpu_seconds_total%7Bmode!%3D%22idle%22%7D%5B1m0s%5D))\
                &start=600&end=1200&step=5m0s";
    let (status, body) = post_form(router(), "/api/v1/query_range", form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["resultType"], "matrix");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    for (series, host) in result.iter().zip(["a:9100", "b:9100"]) {
        assert_eq!(series["metric"], json!({"instance": host}));
        let values = series["values"].as_array().unwrap();
        let times: Vec<f64> = values.iter().map(|v| v[0].as_f64().unwrap()).collect();
        assert_eq!(times, [600.0, 900.0, 1200.0]);
        for v in values {
            let rate: f64 = v[1].as_str().unwrap().parse().unwrap();
            assert!((rate - 2.0 / 15.0).abs() < 1e-9, "rate {rate}");
        }
    }
}

#[tokio::test]
async fn errors_carry_prometheus_types_and_status_codes() {
    let (status, body) = get(router(), "/api/v1/query?query=sum(").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "bad_data");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.starts_with("invalid parameter \"query\": "),
        "{message}"
    );

    let uri = "/api/v1/query_range?query=up&start=0&end=100000&step=1";
    let (status, body) = get(router(), uri).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
    );

    // A range across most of i64's milliseconds must not overflow past the limit.
    let uri = "/api/v1/query_range?query=up&start=-5e15&end=5e15&step=15";
    let (status, body) = get(router(), uri).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorType"], "bad_data");

    let uri = "/api/v1/query?query=up&time=-1e20";
    let (status, body) = get(router(), uri).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        "invalid parameter \"time\": cannot parse \"-1e20\" to a valid timestamp"
    );

    let uri = "/api/v1/query?query=label_replace(up,%22instance%22,%22x%22,%22%22,%22%22)&time=60";
    let (status, body) = get(router(), uri).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errorType"], "execution");

    let tiny = EngineConfig {
        max_samples: 10,
        ..EngineConfig::default()
    };
    let (status, body) = get(
        router_with(tiny, None),
        "/api/v1/query_range?query=up&start=0&end=3600&step=15",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errorType"], "execution");

    let expired = EngineConfig {
        timeout: Duration::ZERO,
        ..EngineConfig::default()
    };
    let (status, body) = get(router_with(expired, None), "/api/v1/query?query=up&time=60").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["errorType"], "timeout");

    let (status, body) = get(
        router(),
        "/api/v1/query_range?query=up&start=0&end=60&step=abc",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"],
        "invalid parameter \"step\": cannot parse \"abc\" to a valid duration"
    );

    // A body over the size limit cannot be read: Prometheus's error shape, not a bare 413.
    let huge = format!("match[]=up&pad={}", "x".repeat(3 << 20));
    let (status, body) = post_form(router(), "/api/v1/series", &huge).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorType"], "bad_data");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.starts_with("error reading request body"),
        "{message}"
    );
}

#[tokio::test]
async fn instant_vectors_and_special_values_are_strings() {
    let (_, body) = get(
        router(),
        "/api/v1/query?query=up%20/%200&time=2015-07-01T00:00:00Z",
    )
    .await;
    assert_eq!(
        body["data"]["result"],
        json!([]),
        "no sample within lookback in 2015"
    );
    let (_, body) = get(router(), "/api/v1/query?query=up%20/%200&time=60.5").await;
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[0]["value"], json!([60.5, "+Inf"]));
    assert_eq!(
        result[0]["metric"],
        json!({"instance": "a:9100", "job": "node"})
    );
    let (_, body) = get(router(), "/api/v1/query?query=-1/0&time=1").await;
    assert_eq!(body["data"]["result"], json!([1, "-Inf"]));
    let (_, body) = get(router(), "/api/v1/query?query=0/0&time=1").await;
    assert_eq!(body["data"]["result"], json!([1, "NaN"]));
}

struct FixedMetadata;

impl MetadataSource for FixedMetadata {
    fn all_metadata(&self) -> Vec<(String, Metadata)> {
        vec![
            (
                "node_cpu_seconds_total".into(),
                Metadata {
                    kind: "counter".into(),
                    help: "Seconds the CPUs spent in each mode.".into(),
                    unit: String::new(),
                },
            ),
            (
                "up".into(),
                Metadata {
                    kind: "gauge".into(),
                    ..Default::default()
                },
            ),
        ]
    }
}

#[tokio::test]
async fn metadata_buildinfo_exemplars_and_format_query_answer_in_prometheus_shapes() {
    let (_, empty) = get(router(), "/api/v1/metadata").await;
    assert_eq!(empty, json!({"status": "success", "data": {}}));
    let with_meta = router_with(EngineConfig::default(), Some(Arc::new(FixedMetadata)));
    let (_, body) = get(with_meta, "/api/v1/metadata?metric=node_cpu_seconds_total").await;
    assert_eq!(
        body["data"],
        json!({"node_cpu_seconds_total": [{"type": "counter", "help": "Seconds the CPUs spent in each mode.", "unit": ""}]})
    );
    let (_, build) = get(router(), "/api/v1/status/buildinfo").await;
    assert_eq!(build["status"], "success");
    assert!(build["data"]["version"].is_string());
    assert!(build["data"].get("features").is_none());
    let (_, ex) = get(router(), "/api/v1/query_exemplars?query=up&start=0&end=60").await;
    assert_eq!(ex, json!({"status": "success", "data": []}));
    let (_, formatted) = get(router(), "/api/v1/format_query?query=sum(up)by(job)").await;
    assert_eq!(formatted["data"], "sum by (job) (up)");
}
