//! Sends arbitrary requests to the Prometheus query API over a small in-memory store, so the
//! parameter parsing (`time`, `start`, `end`, `step`, `timeout`, `limit`, `match[]`), the PromQL
//! parser and the evaluator all see the fuzzer's input. Every answer of a route must be
//! Prometheus-shaped JSON and never an internal error; a panic in the evaluator aborts the run
//! through libFuzzer's panic hook, and an evaluation that outlives the engine's short timeout
//! by far trips libFuzzer's `-timeout`.
//!
//! Input: the route under `/api/v1/` on the first line (`query`, `query_range`, `series`,
//! `label/job/values`, ...), then the form-encoded parameters, e.g.
//! `query_range\nquery=rate(up[5m])&start=0&end=3600&step=60`.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use osprey_collector::api::ApiState;
use osprey_collector::api::prometheus::router;
use osprey_collector::labels::Labels;
use osprey_collector::promql::{Engine, EngineConfig};
use osprey_collector::tsdb::{Appendable, MemoryStorage, STALE_NAN_BITS};
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// One scrape every 15 s for an hour from t=0, as in the API's end-to-end tests.
const STEP_MS: i64 = 15_000;
const SCRAPES: i64 = 240;

fuzz_target!(|data: &[u8]| {
    let (route, form) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(route) = std::str::from_utf8(route) else {
        return;
    };
    let Ok(request) = Request::get(format!("/api/v1/{route}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_vec()))
    else {
        return;
    };
    let (runtime, app) = fixture();
    runtime.block_on(async {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        if status == StatusCode::NOT_FOUND && body.is_empty()
            || status == StatusCode::METHOD_NOT_ALLOWED
        {
            return; // axum's answer for a route or method the API does not have: no JSON
        }
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!("{status} answered with invalid JSON ({e}): {body:?}");
        });
        let expected = if status == StatusCode::OK {
            "success"
        } else {
            "error"
        };
        assert_eq!(json["status"], expected, "{status}: {json}");
    });
});

/// The runtime and the router, built once for the whole run.
fn fixture() -> &'static (Runtime, Router) {
    static FIXTURE: OnceLock<(Runtime, Router)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let config = EngineConfig {
            max_samples: 1_000_000,
            timeout: Duration::from_millis(200),
            max_concurrent: 1,
            ..EngineConfig::default()
        };
        let engine = Engine::new(store(), config);
        (runtime, router(ApiState::new(engine)))
    })
}

/// Counters, a gauge with a NaN, a staleness marker and a gap, a histogram, and `up`, for two
/// instances.
fn store() -> Arc<MemoryStorage> {
    let store = Arc::new(MemoryStorage::new());
    let mut app = store.appender("");
    for instance in ["a:9100", "b:9100"] {
        let series = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![("__name__", name), ("instance", instance), ("job", "node")];
            pairs.extend_from_slice(extra);
            Labels::from_pairs(pairs)
        };
        let up = series("up", &[]);
        let gauge = series("node_load1", &[]);
        let cpu: Vec<Labels> = ["idle", "user"]
            .iter()
            .map(|mode| series("node_cpu_seconds_total", &[("cpu", "0"), ("mode", mode)]))
            .collect();
        let buckets: Vec<(f64, Labels)> = [("0.1", 0.1), ("1", 1.0), ("+Inf", f64::INFINITY)]
            .iter()
            .map(|&(le, bound)| {
                (
                    bound,
                    series("http_request_duration_seconds_bucket", &[("le", le)]),
                )
            })
            .collect();
        for i in 0..SCRAPES {
            let t = i * STEP_MS;
            app.append(&up, t, 1.0).unwrap();
            let load = match i {
                100 => Some(f64::NAN),
                101 => Some(f64::from_bits(STALE_NAN_BITS)),
                102..=110 => None,
                _ => Some((i % 7) as f64 / 4.0),
            };
            if let Some(load) = load {
                app.append(&gauge, t, load).unwrap();
            }
            for (n, labels) in cpu.iter().enumerate() {
                app.append(labels, t, (i * (n as i64 + 1)) as f64).unwrap();
            }
            for (bound, labels) in &buckets {
                app.append(labels, t, (i as f64 * bound.min(2.0)).floor())
                    .unwrap();
            }
        }
    }
    app.commit().unwrap();
    store
}
