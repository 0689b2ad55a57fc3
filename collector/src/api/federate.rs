//! `GET /federate?match[]=...`: the latest sample of every matching series in the text format,
//! as Prometheus's federation endpoint serves it. Series whose latest sample is a staleness
//! marker, or older than the lookback, are left out. Errors are answered as plain text with
//! the query API's status and message, as Prometheus answers them here.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiError;
use super::prometheus::Params;
use crate::exposition;
use crate::tsdb::{Querier, is_stale_nan};

/// How far back a sample still counts as current (Prometheus's default lookback).
const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The routes of this module, over the store's read side.
pub fn router(querier: Arc<dyn Querier>) -> Router {
    Router::new()
        .route("/federate", get(federate))
        .with_state(querier)
}

async fn federate(
    State(querier): State<Arc<dyn Querier>>,
    params: Result<Params, ApiError>,
) -> Response {
    match params.and_then(|params| latest_samples(querier.as_ref(), &params)) {
        Ok(text) => ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], text).into_response(),
        Err(error) => error.into_text_response(),
    }
}

/// The exposition lines of every series some `match[]` selects, each series once.
fn latest_samples(querier: &dyn Querier, params: &Params) -> Result<String, ApiError> {
    let now = crate::vocab::now_ms();
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    for matchers in params.matcher_sets()? {
        let series = querier
            .select(&matchers, now - LOOKBACK_MS, now)
            .map_err(ApiError::internal)?;
        for s in series {
            let Some(last) = s.samples.last() else {
                continue;
            };
            if is_stale_nan(last.v) || !seen.insert(s.labels.clone()) {
                continue;
            }
            exposition::write_sample(&mut out, &s.labels, last.v, Some(last.t));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::labels::Labels;
    use crate::tsdb::{Appendable, MemoryStorage};

    /// `up` of three jobs, sampled a second ago.
    fn store() -> Arc<MemoryStorage> {
        let store = Arc::new(MemoryStorage::new());
        let mut appender = store.appender("");
        let t = crate::vocab::now_ms() - 1000;
        for job in ["a", "b", "c"] {
            let labels = Labels::from_pairs([("__name__", "up"), ("job", job)]);
            appender.append(&labels, t, 1.0).unwrap();
        }
        appender.commit().unwrap();
        store
    }

    async fn get(uri: &str) -> (StatusCode, String) {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = router(store()).oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn jobs(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|line| line.split('"').nth(1))
            .collect()
    }

    #[tokio::test]
    async fn an_or_selector_federates_each_alternative() {
        // match[]={job="a" or job="c"}
        let (status, text) =
            get("/federate?match%5B%5D=%7Bjob%3D%22a%22+or+job%3D%22c%22%7D").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(jobs(&text), ["a", "c"]);
        assert!(text.starts_with("up{job=\"a\"} 1 "), "{text}");
    }

    #[tokio::test]
    async fn overlapping_selectors_give_each_series_once() {
        let (status, text) = get("/federate?match[]=up&match[]=up%7Bjob%3D%22b%22%7D").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(jobs(&text), ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_bad_selector_is_a_400_in_plain_text() {
        let (status, text) = get("/federate?match[]=rate(up%5B5m%5D)").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.starts_with("invalid parameter \"match[]\""), "{text}");
    }
}
