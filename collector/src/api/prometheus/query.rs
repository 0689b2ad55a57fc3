//! `/api/v1/query`, `/api/v1/query_range`, `/api/v1/format_query`, `/api/v1/query_exemplars`.

use axum::extract::State;
use axum::response::Response;
use promql_parser::parser::Expr;

use super::params::Params;
use super::{json, json_response};
use crate::api::error::ApiError;
use crate::api::state::ApiState;
use crate::promql::{Engine, EvalResult, Query, QueryValue};
use crate::vocab::now_ms;

/// An instant query at `time` (default now).
pub async fn instant(State(state): State<ApiState>, params: Params) -> Result<Response, ApiError> {
    let expr = required_query(&params)?;
    let t = params.time("time", now_ms())?;
    answer(&state, &params, Query::instant(expr, t)).await
}

/// A range query from `start` to `end` every `step`.
pub async fn range(State(state): State<ApiState>, params: Params) -> Result<Response, ApiError> {
    let query = range_query(&params)?;
    answer(&state, &params, query).await
}

/// Runs `query` and renders its result as the JSON answer, in the query's slot.
async fn answer(state: &ApiState, params: &Params, query: Query) -> Result<Response, ApiError> {
    let body = run_rendered(state, params, query, json::query_success).await?;
    Ok(json_response(body))
}

/// Runs `query` with the request's `timeout` and renders its result with `render`, given the
/// answer's byte limit, on the blocking pool inside the query's slot.
pub async fn run_rendered<T: Send + 'static>(
    state: &ApiState,
    params: &Params,
    query: Query,
    render: impl FnOnce(&QueryValue, usize) -> EvalResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = with_timeout(state, params)?;
    let max_bytes = engine.config().max_response_bytes;
    Ok(engine
        .run(query, move |value| render(&value, max_bytes))
        .await?)
}

/// Reads a range query's parameters (`query`, `start`, `end`, `step`), parsed and checked.
pub fn range_query(params: &Params) -> Result<Query, ApiError> {
    let start = required_time(params, "start")?;
    let end = required_time(params, "end")?;
    if end < start {
        return Err(ApiError::bad_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step = params
        .duration("step")?
        .ok_or_else(|| ApiError::bad_param("step", "cannot parse \"\" to a valid duration"))?;
    let step = step.as_millis() as i64;
    let expr = required_query(params)?;
    Ok(Query::range(expr, start, end, step)?)
}

/// The query reformatted by the parser's pretty printer.
pub async fn format(params: Params) -> Result<Response, ApiError> {
    let expr = required_query(&params)?;
    let mut data = String::new();
    json::push_string(&mut data, &expr.prettify());
    Ok(json_response(json::success(&data)))
}

/// Exemplars are not stored; the answer is always empty (after validating the query).
pub async fn exemplars(params: Params) -> Result<Response, ApiError> {
    required_query(&params)?;
    Ok(json_response(json::success("[]")))
}

/// The `query` parameter, parsed (errors name the parameter, as Prometheus does).
fn required_query(params: &Params) -> Result<Expr, ApiError> {
    let query = params.get("query").unwrap_or("");
    crate::promql::parse(query).map_err(|e| ApiError::bad_param("query", e))
}

fn required_time(params: &Params, name: &str) -> Result<i64, ApiError> {
    if params.get(name).is_none() {
        return Err(ApiError::bad_param(
            name,
            "cannot parse \"\" to a valid timestamp",
        ));
    }
    params.time(name, 0)
}

/// The engine, with the request's `timeout` if it is shorter than the configured one.
fn with_timeout(state: &ApiState, params: &Params) -> Result<Engine, ApiError> {
    Ok(match params.duration("timeout")? {
        Some(t) => state.engine.with_timeout(t),
        None => state.engine.clone(),
    })
}
