//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/NAME/values`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::params::{MAX_TIME, MIN_TIME, Params};
use super::{json, json_response};
use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::labels::Labels;

/// The series matching any `match[]` selector in the time range.
pub async fn series(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::new(query.as_deref(), &headers, &body)?;
    let sets = params.matcher_sets()?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = (
        params.time("start", MIN_TIME)?,
        params.time("end", MAX_TIME)?,
    );
    let limit = params.limit()?;
    let querier = state.engine.querier().clone();
    let found = blocking(move || {
        let mut all: Vec<Labels> = Vec::new();
        for set in &sets {
            all.extend(
                querier
                    .select(set, start, end)?
                    .into_iter()
                    .map(|s| s.labels),
            );
        }
        all.sort();
        all.dedup();
        Ok(all)
    })
    .await?;
    let (found, truncated) = truncate(found, limit);
    let mut data = String::from("[");
    for (i, labels) in found.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::push_labels(&mut data, labels);
    }
    data.push(']');
    Ok(json_response(with_warnings(
        json::success(&data),
        truncated,
    )))
}

/// Label names of the series matching `match[]` (all series if none).
pub async fn labels(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::new(query.as_deref(), &headers, &body)?;
    let sets = params.matcher_sets()?;
    let (start, end) = (
        params.time("start", MIN_TIME)?,
        params.time("end", MAX_TIME)?,
    );
    let limit = params.limit()?;
    let querier = state.engine.querier().clone();
    let names = blocking(move || union(&sets, |m| querier.label_names(m, start, end))).await?;
    let (names, truncated) = truncate(names, limit);
    Ok(json_response(with_warnings(
        json::success(&json::string_list(&names)),
        truncated,
    )))
}

/// Values of one label over the series matching `match[]` (all series if none).
pub async fn label_values(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::new(query.as_deref(), &headers, &Bytes::new())?;
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let sets = params.matcher_sets()?;
    let (start, end) = (
        params.time("start", MIN_TIME)?,
        params.time("end", MAX_TIME)?,
    );
    let limit = params.limit()?;
    let querier = state.engine.querier().clone();
    let values =
        blocking(move || union(&sets, |m| querier.label_values(&name, m, start, end))).await?;
    let (values, truncated) = truncate(values, limit);
    Ok(json_response(with_warnings(
        json::success(&json::string_list(&values)),
        truncated,
    )))
}

/// Runs a storage read off the async threads.
async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, crate::tsdb::QueryError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

/// The sorted union of `read` over each matcher set, or `read(&[])` when there are none.
fn union(
    sets: &[Vec<crate::labels::Matcher>],
    read: impl Fn(&[crate::labels::Matcher]) -> Result<Vec<String>, crate::tsdb::QueryError>,
) -> Result<Vec<String>, crate::tsdb::QueryError> {
    if sets.is_empty() {
        return read(&[]);
    }
    let mut all = Vec::new();
    for set in sets {
        all.extend(read(set)?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

fn truncate<T>(mut items: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let truncated = limit > 0 && items.len() > limit;
    if truncated {
        items.truncate(limit);
    }
    (items, truncated)
}

/// Adds Prometheus's truncation warning to a success body.
fn with_warnings(mut body: String, truncated: bool) -> String {
    if truncated {
        body.pop();
        body.push_str(r#","warnings":["results truncated due to limit"]}"#);
    }
    body
}
