//! Alert history (JSON or CSV), acknowledgement, resolving by hand, and silences (in
//! Alertmanager's v2 shape) over HTTP.

mod history_csv;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::notify::{
    Acknowledgement, HistoryError, HistoryQuery, Notifier, RecordState, Silence, SilenceError,
    SilenceMatcher,
};
use crate::vocab::{now_ms, rfc3339};

/// The routes under `/api/v1/alerts/history` and `/api/v2/silences`.
pub fn router(notifier: Notifier) -> Router {
    Router::new()
        .route("/api/v1/alerts/history", get(list_history))
        .route("/api/v1/alerts/history/resolve", post(resolve_many))
        .route("/api/v1/alerts/history/{id}/ack", post(acknowledge))
        .route("/api/v1/alerts/history/{id}/resolve", post(resolve_one))
        .route("/api/v2/silences", get(list_silences).post(create_silence))
        .route("/api/v2/silence/{id}", delete(expire_silence))
        .with_state(notifier)
}

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::NotFound(_) => ApiError::not_found(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<SilenceError> for ApiError {
    fn from(e: SilenceError) -> Self {
        match e {
            SilenceError::Invalid(_) => ApiError::bad_data(e.to_string()),
            SilenceError::NotFound(_) => ApiError::not_found(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

fn success<T: Serialize>(data: T) -> Response {
    Json(serde_json::json!({"status": "success", "data": data})).into_response()
}

/// Parses an RFC 3339 time or Unix seconds (as Prometheus's API accepts) into Unix ms.
fn parse_time(text: &str) -> Result<i64, ApiError> {
    crate::vocab::parse_time(text).map_err(|e| ApiError::bad_data(e.to_string()))
}

/// Query of `GET /api/v1/alerts/history`.
#[derive(Debug, Default, Deserialize)]
struct HistoryParams {
    start: Option<String>,
    end: Option<String>,
    host: Option<String>,
    severity: Option<String>,
    state: Option<RecordState>,
    format: Option<HistoryFormat>,
}

/// How `GET /api/v1/alerts/history` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum HistoryFormat {
    Json,
    Csv,
}

async fn list_history(
    State(n): State<Notifier>,
    Query(p): Query<HistoryParams>,
) -> Result<Response, ApiError> {
    let query = HistoryQuery {
        from: p.start.as_deref().map(parse_time).transpose()?,
        to: p.end.as_deref().map(parse_time).transpose()?,
        host: p.host,
        severity: p.severity,
        state: p.state,
    };
    let records = n.off_async(move |n| n.history.list(&query)).await?;
    Ok(match p.format.unwrap_or(HistoryFormat::Json) {
        HistoryFormat::Json => success(records),
        HistoryFormat::Csv => history_csv::response(&records),
    })
}

/// Body of an acknowledgement.
#[derive(Debug, Deserialize)]
struct AckBody {
    by: String,
    #[serde(default)]
    comment: String,
    /// Until when repeats are muted (RFC 3339 or Unix seconds); none: until it resolves.
    until: Option<String>,
}

/// Who did something, which must be said.
fn named(by: &str, what: &str) -> Result<(), ApiError> {
    if by.trim().is_empty() {
        return Err(ApiError::bad_data(format!("`by` must name who {what}")));
    }
    Ok(())
}

async fn acknowledge(
    State(n): State<Notifier>,
    Path(id): Path<u64>,
    Json(body): Json<AckBody>,
) -> Result<Response, ApiError> {
    named(&body.by, "acknowledges")?;
    let acknowledgement = Acknowledgement {
        by: body.by,
        comment: body.comment,
        at: now_ms(),
        until: body.until.as_deref().map(parse_time).transpose()?,
    };
    let acknowledge = move |n: &Notifier| n.history.acknowledge(id, acknowledgement);
    Ok(success(n.off_async(acknowledge).await?))
}

/// Body of a resolve request.
#[derive(Debug, Deserialize)]
struct ResolveBody {
    by: String,
    #[serde(default)]
    ids: Vec<u64>,
}

async fn resolve_one(
    State(n): State<Notifier>,
    Path(id): Path<u64>,
    Json(body): Json<ResolveBody>,
) -> Result<Response, ApiError> {
    named(&body.by, "resolves")?;
    let now = now_ms();
    let resolve = move |n: &Notifier| n.resolve_by_hand(&[id], &body.by, now);
    Ok(success(n.off_async(resolve).await?))
}

async fn resolve_many(
    State(n): State<Notifier>,
    Json(body): Json<ResolveBody>,
) -> Result<Response, ApiError> {
    named(&body.by, "resolves")?;
    let now = now_ms();
    let resolve = move |n: &Notifier| n.resolve_by_hand(&body.ids, &body.by, now);
    Ok(success(n.off_async(resolve).await?))
}

/// A silence in Alertmanager's API v2 shape.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SilenceJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    matchers: Vec<SilenceMatcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<serde_json::Value>,
}

async fn list_silences(State(n): State<Notifier>) -> Response {
    let now = now_ms();
    let silences: Vec<SilenceJson> = n
        .silences
        .list()
        .into_iter()
        .map(|s| SilenceJson {
            status: Some(serde_json::json!({"state": s.state(now)})),
            id: Some(s.id),
            matchers: s.matchers,
            starts_at: rfc3339(s.starts_at),
            ends_at: rfc3339(s.ends_at),
            created_by: s.created_by,
            comment: s.comment,
        })
        .collect();
    Json(silences).into_response()
}

async fn create_silence(
    State(n): State<Notifier>,
    Json(body): Json<SilenceJson>,
) -> Result<Response, ApiError> {
    let silence = Silence {
        id: String::new(),
        matchers: body.matchers,
        starts_at: parse_time(&body.starts_at)?,
        ends_at: parse_time(&body.ends_at)?,
        created_by: body.created_by,
        comment: body.comment,
    };
    let id = n.off_async(move |n| n.silences.create(silence)).await?;
    Ok(Json(serde_json::json!({"silenceID": id})).into_response())
}

async fn expire_silence(
    State(n): State<Notifier>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    n.off_async(move |n| n.silences.expire(&id, now)).await?;
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests;
