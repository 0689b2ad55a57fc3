//! `GET /federate?match[]=...`: the latest sample of every matching series in the text format,
//! as Prometheus's federation endpoint serves it. Series whose latest sample is a staleness
//! marker, or older than the lookback, are left out. Each series carries the configuration's
//! `external_labels` it does not have itself (its own value wins), and `instance=""` when
//! neither gives it an instance, as Prometheus writes them: a server federating with
//! `honor_labels: true` then keeps the series as they are here instead of adding its own
//! `instance`. Errors are answered as plain text with the query API's status and message, as
//! Prometheus answers them here.

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
use crate::labels::{Label, Labels, METRIC_NAME};
use crate::tsdb::{Querier, is_stale_nan};

/// How far back a sample still counts as current (Prometheus's default lookback).
const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The label Prometheus always writes, empty when a series has none.
const INSTANCE: &str = "instance";

/// What `/federate` reads and adds.
struct Federation {
    querier: Arc<dyn Querier>,
    /// The external labels with `instance` (empty unless one of them), sorted by name.
    external: Vec<(String, String)>,
}

/// The routes of this module, over the store's read side, adding `external_labels` to every
/// series served.
pub fn router(querier: Arc<dyn Querier>, external_labels: &Labels) -> Router {
    let mut external: Vec<(String, String)> = external_labels
        .iter()
        .map(|l| (l.name.to_owned(), l.value.to_owned()))
        .collect();
    if external_labels.get(INSTANCE).is_none() {
        external.push((INSTANCE.to_owned(), String::new()));
        external.sort();
    }
    Router::new()
        .route("/federate", get(federate))
        .with_state(Arc::new(Federation { querier, external }))
}

async fn federate(
    State(federation): State<Arc<Federation>>,
    params: Result<Params, ApiError>,
) -> Response {
    match params.and_then(|params| latest_samples(&federation, &params)) {
        Ok(text) => ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], text).into_response(),
        Err(error) => error.into_text_response(),
    }
}

/// The exposition lines of every series some `match[]` selects, each series once.
fn latest_samples(federation: &Federation, params: &Params) -> Result<String, ApiError> {
    let now = crate::vocab::now_ms();
    let mut out = String::new();
    let mut seen = BTreeSet::new();
    for matchers in params.matcher_sets()? {
        let series = federation
            .querier
            .select(&matchers, now - LOOKBACK_MS, now)
            .map_err(ApiError::internal)?;
        for s in series {
            let Some(last) = s.samples.last() else {
                continue;
            };
            if is_stale_nan(last.v) || !seen.insert(s.labels.clone()) {
                continue;
            }
            let own = s.labels.iter().filter(|l| l.name != METRIC_NAME);
            let added = federation
                .external
                .iter()
                .filter(|(name, _)| s.labels.get(name).is_none())
                .map(|(name, value)| Label { name, value });
            let name = s.labels.metric_name().unwrap_or_default();
            exposition::write_line(&mut out, name, own.chain(added), last.v, Some(last.t));
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

    /// `up` of three jobs, sampled a second ago, job `c` with an instance and a site.
    fn store() -> Arc<MemoryStorage> {
        let store = Arc::new(MemoryStorage::new());
        let mut appender = store.appender("");
        let t = crate::vocab::now_ms() - 1000;
        for labels in [
            vec![("job", "a")],
            vec![("job", "b")],
            vec![("job", "c"), ("instance", "h:1"), ("site", "own")],
        ] {
            let labels = Labels::from_pairs(labels.into_iter().chain([("__name__", "up")]));
            appender.append(&labels, t, 1.0).unwrap();
        }
        appender.commit().unwrap();
        store
    }

    async fn get(uri: &str) -> (StatusCode, String) {
        get_with(uri, &Labels::default()).await
    }

    async fn get_with(uri: &str, external_labels: &Labels) -> (StatusCode, String) {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = router(store(), external_labels)
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn jobs(text: &str) -> Vec<&str> {
        text.lines()
            .filter_map(|line| line.split("job=\"").nth(1)?.split('"').next())
            .collect()
    }

    #[tokio::test]
    async fn an_or_selector_federates_each_alternative() {
        // match[]={job="a" or job="c"}
        let (status, text) =
            get("/federate?match%5B%5D=%7Bjob%3D%22a%22+or+job%3D%22c%22%7D").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(jobs(&text), ["a", "c"]);
        assert!(text.starts_with("up{job=\"a\",instance=\"\"} 1 "), "{text}");
    }

    #[tokio::test]
    async fn overlapping_selectors_give_each_series_once() {
        let (status, text) = get("/federate?match[]=up&match[]=up%7Bjob%3D%22b%22%7D").await;
        assert_eq!(status, StatusCode::OK);
        // In label order: job c's instance sorts before the others' job.
        assert_eq!(jobs(&text), ["c", "a", "b"]);
    }

    #[tokio::test]
    async fn external_labels_are_added_where_a_series_has_no_label_of_that_name() {
        let external = Labels::from_pairs([("site", "lab"), ("region", "eu")]);
        let (status, text) = get_with("/federate?match[]=up", &external).await;
        assert_eq!(status, StatusCode::OK);
        let series: Vec<&str> = text.lines().filter_map(|l| l.split(' ').next()).collect();
        assert_eq!(
            series,
            [
                r#"up{instance="h:1",job="c",site="own",region="eu"}"#,
                r#"up{job="a",instance="",region="eu",site="lab"}"#,
                r#"up{job="b",instance="",region="eu",site="lab"}"#,
            ]
        );
    }

    #[tokio::test]
    async fn an_external_instance_label_replaces_the_empty_one() {
        let external = Labels::from_pairs([("instance", "central")]);
        let (_, text) = get_with("/federate?match[]=up", &external).await;
        let series: Vec<&str> = text.lines().filter_map(|l| l.split(' ').next()).collect();
        assert_eq!(
            series,
            [
                r#"up{instance="h:1",job="c",site="own"}"#,
                r#"up{job="a",instance="central"}"#,
                r#"up{job="b",instance="central"}"#,
            ]
        );
    }

    #[tokio::test]
    async fn a_bad_selector_is_a_400_in_plain_text() {
        let (status, text) = get("/federate?match[]=rate(up%5B5m%5D)").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.starts_with("invalid parameter \"match[]\""), "{text}");
    }
}
