//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/NAME/values`: answered from label
//! sets alone, never from samples.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;

use super::params::{MAX_TIME, MIN_TIME, Params};
use super::{json, json_response};
use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::labels::{Labels, Matcher};
use crate::tsdb::{Querier, QueryError};

/// What the three endpoints share: `match[]` selectors, the time range and `limit`.
struct SeriesParams {
    sets: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
    limit: usize,
}

impl SeriesParams {
    fn parse(params: &Params) -> Result<SeriesParams, ApiError> {
        Ok(SeriesParams {
            sets: params.matcher_sets()?,
            start: params.time("start", MIN_TIME)?,
            end: params.time("end", MAX_TIME)?,
            limit: params.limit()?,
        })
    }

    /// The sorted union of `read` over each `match[]` set (`read(&[])` when there is none),
    /// run off the async threads.
    async fn read_union<T: Ord + Send + 'static>(
        self,
        state: &ApiState,
        read: impl Fn(&dyn Querier, &[Matcher], i64, i64) -> Result<Vec<T>, QueryError> + Send + 'static,
    ) -> Result<(Vec<T>, bool), ApiError> {
        let querier = state.engine.querier().clone();
        let SeriesParams {
            sets,
            start,
            end,
            limit,
        } = self;
        let mut all = tokio::task::spawn_blocking(move || {
            let Some((first, rest)) = sets.split_first() else {
                return read(&*querier, &[], start, end);
            };
            let mut all = read(&*querier, first, start, end)?;
            if !rest.is_empty() {
                for set in rest {
                    all.extend(read(&*querier, set, start, end)?);
                }
                all.sort();
                all.dedup();
            }
            Ok(all)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)?;
        let truncated = limit > 0 && all.len() > limit;
        if truncated {
            all.truncate(limit);
        }
        Ok((all, truncated))
    }
}

/// The series matching any `match[]` selector in the time range.
pub async fn series(State(state): State<ApiState>, params: Params) -> Result<Response, ApiError> {
    let request = SeriesParams::parse(&params)?;
    if request.sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (found, truncated): (Vec<Arc<Labels>>, bool) = request
        .read_union(&state, |q, m, start, end| q.select_labels(m, start, end))
        .await?;
    let mut data = String::with_capacity(found.len() * 128 + 2);
    data.push('[');
    for (i, labels) in found.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::push_labels(&mut data, labels);
    }
    data.push(']');
    Ok(respond(&data, truncated))
}

/// Label names of the series matching `match[]` (all series if none).
pub async fn labels(State(state): State<ApiState>, params: Params) -> Result<Response, ApiError> {
    let (names, truncated) = SeriesParams::parse(&params)?
        .read_union(&state, |q, m, start, end| q.label_names(m, start, end))
        .await?;
    Ok(respond(&json::string_list(&names), truncated))
}

/// Values of one label over the series matching `match[]` (all series if none).
pub async fn label_values(
    State(state): State<ApiState>,
    name: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    // A name that does not decode (invalid UTF-8 once percent-decoded) is refused as
    // Prometheus refuses it, in JSON, not with axum's plain-text rejection.
    let Path(name) = name.map_err(|e| ApiError::bad_data(format!("invalid label name: {e}")))?;
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let (values, truncated) = SeriesParams::parse(&params)?
        .read_union(&state, move |q, m, start, end| {
            q.label_values(&name, m, start, end)
        })
        .await?;
    Ok(respond(&json::string_list(&values), truncated))
}

/// A success body around `data`, with Prometheus's warning when a limit truncated it.
fn respond(data: &str, truncated: bool) -> Response {
    let mut body = json::success(data);
    if truncated {
        body.pop();
        body.push_str(r#","warnings":["results truncated due to limit"]}"#);
    }
    json_response(body)
}
