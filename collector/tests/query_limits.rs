//! Queries from outside cannot exhaust the collector: what a query holds, returns and renders
//! is bounded, a query stops when its client goes away, and heavy queries leave the rest of
//! the server answering.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use osprey_collector::labels::{Labels, Matcher};
use osprey_collector::promql::EngineConfig;
use osprey_collector::tsdb::{Appendable, Appender, MemoryStorage, Querier, QueryError, Series};
use serde_json::Value;
use support::app::{TestApp, TestState};
use tower::ServiceExt;

const TOO_MANY_SAMPLES: &str =
    "query processing would load too many samples into memory in query execution";

/// `series` gauges `m{i="..."}` with distinct values, one sample every 15 s for ten minutes.
fn store(series: usize) -> Arc<MemoryStorage> {
    let store = Arc::new(MemoryStorage::new());
    let mut appender = store.appender("");
    for i in 0..series {
        let labels = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
        for k in 0..40i64 {
            let v = (i as f64) * 1000.0 + k as f64 + 0.25;
            appender.append(&labels, k * 15_000, v).unwrap();
        }
    }
    appender.commit().unwrap();
    store
}

fn app(series: usize, config: EngineConfig) -> TestApp {
    TestState::new(store(series), config).app()
}

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> (StatusCode, String) {
    let uri = format!("{path}?{}", serde_urlencoded::to_string(query).unwrap());
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn post(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Asserts a Prometheus-shaped error answer and returns its message.
fn error(status: StatusCode, body: &str, expected: StatusCode, error_type: &str) -> String {
    let start: String = body.chars().take(300).collect();
    assert_eq!(status, expected, "{start}");
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], error_type, "{body}");
    body["error"].as_str().unwrap().to_owned()
}

fn range(query: &str) -> [(&str, &str); 4] {
    [
        ("query", query),
        ("start", "0"),
        ("end", "600"),
        ("step", "1"),
    ]
}

#[tokio::test]
async fn count_values_over_every_series_and_step_hits_the_sample_limit() {
    // 200 series over 601 steps give 120,200 distinct values: far more than 100,000 samples.
    let config = EngineConfig {
        max_samples: 100_000,
        ..EngineConfig::default()
    };
    let app = app(200, config);
    let hostile = r#"count_values("v", {__name__=~".+"} + time())"#;
    for path in ["/api/v1/query_range", "/api/v1/export.csv"] {
        let (status, body) = get(&app, path, &range(hostile)).await;
        let message = error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "execution");
        assert_eq!(message, TOO_MANY_SAMPLES, "{path}");
    }
    // The same query over a few steps fits.
    let few = [
        ("query", hostile),
        ("start", "0"),
        ("end", "60"),
        ("step", "30"),
    ];
    let (status, body) = get(&app, "/api/v1/query_range", &few).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn every_stage_counts_toward_the_sample_limit() {
    // 20 series of 601 step points hold about 12,000 samples: one selector fits in 32,000,
    // and so do two of them side by side.
    let config = EngineConfig {
        max_samples: 32_000,
        ..EngineConfig::default()
    };
    let app = app(20, config);
    for fits in ["m", "m and m"] {
        let (status, body) = post(&app, "/api/v1/query_range", &range(fits)).await;
        assert_eq!(status, StatusCode::OK, "{fits}: {body}");
    }
    // Each of these holds more in one stage: its output or its working tables.
    let replacement = "x".repeat(40_000);
    let stages = [
        // a binary operation between two vectors
        "m + on(i) group_left m".to_owned(),
        // aggregations keeping a table cell per group and step
        "sum by (i) (m)".to_owned(),
        "quantile by (i) (0.5, m)".to_owned(),
        "topk by (i) (1, m)".to_owned(),
        // a subquery of ten points per second per series
        "max_over_time(m[1m:100ms])".to_owned(),
        // a label function whose labels outweigh the points
        format!(r#"label_replace(m, "a", "{replacement}$1", "i", "(.*)")"#),
    ];
    for query in &stages {
        let (status, body) = post(&app, "/api/v1/query_range", &range(query)).await;
        let message = error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "execution");
        assert_eq!(message, TOO_MANY_SAMPLES, "{query}");
    }
}

#[tokio::test]
async fn a_huge_subquery_resolution_is_refused_not_allocated() {
    let app = app(1, EngineConfig::default());
    let query = "max_over_time(vector(1)[100y:1ms])";
    let (status, body) = get(&app, "/api/v1/query", &[("query", query), ("time", "60")]).await;
    let message = error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "execution");
    assert_eq!(message, TOO_MANY_SAMPLES);
}

#[tokio::test]
async fn results_beyond_the_series_limit_are_refused() {
    let config = EngineConfig {
        max_series: 10,
        ..EngineConfig::default()
    };
    let app = app(11, config);
    for (path, query) in [
        ("/api/v1/query", vec![("query", "m"), ("time", "60")]),
        ("/api/v1/query_range", range("m").to_vec()),
        ("/api/v1/export.csv", range("m").to_vec()),
    ] {
        let (status, body) = get(&app, path, &query).await;
        let message = error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "execution");
        assert!(message.contains("more than 10 series"), "{path}: {message}");
    }
    let (status, body) = get(
        &app,
        "/api/v1/query",
        &[("query", "m{i!=\"0\"}"), ("time", "60")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "ten series fit: {body}");
}

#[tokio::test]
async fn answers_beyond_the_size_limit_are_refused() {
    let config = EngineConfig {
        max_response_bytes: 32 << 10,
        ..EngineConfig::default()
    };
    let app = app(10, config);
    for path in ["/api/v1/query_range", "/api/v1/export.csv"] {
        // 10 series of 601 points: well over 32 KiB in either format.
        let (status, body) = get(&app, path, &range("m")).await;
        let message = error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "execution");
        assert!(message.contains("32768 bytes"), "{path}: {message}");
        let few = [
            ("query", "m"),
            ("start", "0"),
            ("end", "600"),
            ("step", "60"),
        ];
        let (status, body) = get(&app, path, &few).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: a smaller answer fits: {body}"
        );
    }
}

#[tokio::test]
async fn evaluation_errors_are_execution_errors_naming_their_function() {
    let app = app(1, EngineConfig::default());
    for (query, expected) in [
        (
            r#"label_join(m, "1bad", ",", "i")"#,
            "invalid destination label name in label_join(): 1bad",
        ),
        (
            r#"label_join(m, "j", ",", "1bad")"#,
            "invalid source label name in label_join(): 1bad",
        ),
        (
            r#"label_replace(m, "1bad", "x", "i", ".*")"#,
            "invalid destination label name in label_replace(): 1bad",
        ),
        (r#"count_values("1bad", m)"#, "invalid label name \"1bad\""),
    ] {
        let (status, body) = get(&app, "/api/v1/query", &[("query", query), ("time", "60")]).await;
        let message = error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "execution");
        assert_eq!(message, expected, "{query}");
    }
    // A query that does not parse is still bad data.
    let (status, body) = get(&app, "/api/v1/query", &[("query", "m +")]).await;
    error(status, &body, StatusCode::BAD_REQUEST, "bad_data");
}

/// A store whose every read takes 100 ms, counting reads.
struct SlowStore {
    inner: MemoryStorage,
    reads: AtomicUsize,
}

impl Querier for SlowStore {
    fn select(&self, m: &[Matcher], start: i64, end: i64) -> Result<Vec<Series>, QueryError> {
        std::thread::sleep(Duration::from_millis(100));
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.select(m, start, end)
    }

    fn label_names(&self, m: &[Matcher], start: i64, end: i64) -> Result<Vec<String>, QueryError> {
        self.inner.label_names(m, start, end)
    }

    fn label_values(
        &self,
        name: &str,
        m: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        self.inner.label_values(name, m, start, end)
    }
}

impl Appendable for SlowStore {
    fn appender(&self, source: &str) -> Box<dyn Appender + '_> {
        self.inner.appender(source)
    }
}

/// Serves `app` on a loopback port, as the collector does.
async fn serve(app: TestApp) -> (SocketAddr, TestApp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, app)
}

/// Sends a GET over a fresh connection, returning the connection unread.
fn send_get(address: SocketAddr, path_and_query: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path_and_query} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_connection_stops_the_query() {
    let store = Arc::new(SlowStore {
        inner: MemoryStorage::new(),
        reads: AtomicUsize::new(0),
    });
    let (address, _app) = serve(TestState::new(store.clone(), EngineConfig::default()).app()).await;
    // Twenty selectors of 100 ms each: two seconds of work if nobody stops it.
    let query = serde_urlencoded::to_string([("query", vec!["m"; 20].join(" + "))]).unwrap();
    for path in ["/api/v1/query", "/api/v1/export.csv"] {
        let before = store.reads.load(Ordering::SeqCst);
        let extra = if path.ends_with("csv") {
            "&start=0&end=60&step=15"
        } else {
            ""
        };
        let stream = send_get(address, &format!("{path}?{query}{extra}"));
        tokio::time::sleep(Duration::from_millis(350)).await;
        drop(stream);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let reads = store.reads.load(Ordering::SeqCst) - before;
        assert!(
            reads < 10,
            "{path}: {reads} of 20 selectors were read after the client left"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_heavy_queries_leaves_ready_answering() {
    let config = EngineConfig {
        max_concurrent: 2,
        ..EngineConfig::default()
    };
    let (address, _app) = serve(app(300, config)).await;
    // Each query sorts a 30-minute window of 1 s points per series and step.
    let heavy = serde_urlencoded::to_string([
        ("query", "quantile_over_time(0.5, (m + 1)[30m:1s])"),
        ("start", "0"),
        ("end", "600"),
        ("step", "15"),
    ])
    .unwrap();
    let flood: Vec<TcpStream> = (0..40)
        .map(|_| send_get(address, &format!("/api/v1/query_range?{heavy}")))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let answer = tokio::task::spawn_blocking(move || {
            let mut stream = send_get(address, "/-/ready");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        slowest < Duration::from_millis(500),
        "/-/ready took {slowest:?} under a flood of queries"
    );
    drop(flood);
}
