//! `/api/v1/export.csv` holds the same numbers as `/api/v1/query_range` for the same request.

use std::sync::Arc;

mod support;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use osprey_collector::labels::Labels;
use osprey_collector::promql::EngineConfig;
use osprey_collector::tsdb::{Appendable, MemoryStorage};
use serde_json::Value;
use support::app::{TestApp, TestState};
use tower::ServiceExt;

/// Two counters scraped every 15 s for 10 minutes; host `b` misses every fourth scrape and
/// carries a label value with a comma and quotes, which the CSV header must quote.
fn router() -> TestApp {
    let store = Arc::new(MemoryStorage::new());
    let mut appender = store.appender("");
    let a = Labels::from_pairs([("__name__", "requests_total"), ("host", "a")]);
    let b = Labels::from_pairs([("__name__", "requests_total"), ("host", "b, \"the\" other")]);
    for i in 0..40i64 {
        appender.append(&a, i * 15_000, (i * i) as f64).unwrap();
        if i % 4 != 3 {
            appender
                .append(&b, i * 15_000, 3.0 * i as f64 + 0.25)
                .unwrap();
        }
    }
    appender.commit().unwrap();
    TestState::new(store, EngineConfig::default()).app()
}

async fn get(app: &TestApp, uri: &str) -> (StatusCode, String, String) {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// Splits one CSV record, honouring quoted fields with doubled quotes.
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

#[tokio::test]
async fn csv_export_holds_the_values_of_query_range() {
    let router = router();
    let params = "query=rate(requests_total%5B1m%5D)&start=60&end=585&step=15";
    let (status, _, json) = get(&router, &format!("/api/v1/query_range?{params}")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (status, content_type, csv) = get(&router, &format!("/api/v1/export.csv?{params}")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(content_type, "text/csv; charset=utf-8");

    let json: Value = serde_json::from_str(&json).unwrap();
    let result = json["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    let header = fields(lines.next().unwrap());
    assert_eq!(header[..2], ["time", "timestamp"]);
    let rows: Vec<Vec<String>> = lines.map(fields).collect();
    let mut compared = 0;
    for series in result {
        let host = series["metric"]["host"].as_str().unwrap();
        let column = header
            .iter()
            .position(|h| h.contains(&format!("host=\"{}\"", host.replace('"', "\\\""))))
            .unwrap_or_else(|| panic!("no column for host {host} in {header:?}"));
        let values = series["values"].as_array().unwrap();
        let in_csv: Vec<(&str, &str)> = rows
            .iter()
            .filter(|row| !row[column].is_empty())
            .map(|row| (row[1].as_str(), row[column].as_str()))
            .collect();
        assert_eq!(in_csv.len(), values.len(), "host {host}");
        for ((t, v), point) in in_csv.iter().zip(values) {
            assert_eq!(
                t.parse::<f64>().unwrap(),
                point[0].as_f64().unwrap(),
                "host {host}"
            );
            assert_eq!(*v, point[1].as_str().unwrap(), "host {host} at {t}");
            compared += 1;
        }
    }
    assert!(compared > 40, "only {compared} values compared");
}

#[tokio::test]
async fn a_bad_query_is_a_clear_error() {
    let (status, _, body) = get(
        &router(),
        "/api/v1/export.csv?query=rate(&start=0&end=60&step=15",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid parameter \\\"query\\\""), "{body}");
}
