//! Alert history, acknowledgement, resolving by hand, and silences (in Alertmanager's v2
//! shape) over HTTP.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::notify::{HistoryError, HistoryQuery, Notifier, Silence, SilenceError, SilenceMatcher};
use crate::vocab::rfc3339;

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

/// An API failure, answered as Prometheus-style error JSON.
struct AdminError(StatusCode, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let kind = if self.0 == StatusCode::NOT_FOUND {
            "not_found"
        } else if self.0.is_client_error() {
            "bad_data"
        } else {
            "internal"
        };
        if self.0.is_server_error() {
            tracing::error!("alert admin API: {}", self.1);
        }
        let body = serde_json::json!({"status": "error", "errorType": kind, "error": self.1});
        (self.0, Json(body)).into_response()
    }
}

impl From<HistoryError> for AdminError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::NotFound(_) => AdminError(StatusCode::NOT_FOUND, e.to_string()),
            other => AdminError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

impl From<SilenceError> for AdminError {
    fn from(e: SilenceError) -> Self {
        match e {
            SilenceError::Invalid(_) => AdminError(StatusCode::BAD_REQUEST, e.to_string()),
            SilenceError::NotFound(_) => AdminError(StatusCode::NOT_FOUND, e.to_string()),
            other => AdminError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn success<T: Serialize>(data: T) -> Response {
    Json(serde_json::json!({"status": "success", "data": data})).into_response()
}

/// Parses an RFC 3339 time or Unix seconds (as Prometheus's API accepts) into Unix ms.
fn parse_time(text: &str) -> Result<i64, AdminError> {
    crate::vocab::parse_time(text).map_err(|e| AdminError(StatusCode::BAD_REQUEST, e.to_string()))
}

/// Query of `GET /api/v1/alerts/history`.
#[derive(Debug, Default, Deserialize)]
struct HistoryParams {
    start: Option<String>,
    end: Option<String>,
    host: Option<String>,
    #[serde(default)]
    open: bool,
}

async fn list_history(
    State(n): State<Notifier>,
    Query(p): Query<HistoryParams>,
) -> Result<Response, AdminError> {
    let query = HistoryQuery {
        from: p.start.as_deref().map(parse_time).transpose()?,
        to: p.end.as_deref().map(parse_time).transpose()?,
        host: p.host,
        open_only: p.open,
    };
    Ok(success(n.history.list(&query)?))
}

/// Body of an acknowledgement.
#[derive(Debug, Deserialize)]
struct AckBody {
    by: String,
    #[serde(default)]
    comment: String,
}

async fn acknowledge(
    State(n): State<Notifier>,
    Path(id): Path<u64>,
    Json(body): Json<AckBody>,
) -> Result<Response, AdminError> {
    if body.by.trim().is_empty() {
        return Err(AdminError(
            StatusCode::BAD_REQUEST,
            "`by` must name who acknowledges".to_owned(),
        ));
    }
    Ok(success(n.history.acknowledge(
        id,
        &body.by,
        &body.comment,
        now(),
    )?))
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
) -> Result<Response, AdminError> {
    Ok(success(n.history.resolve(&[id], &body.by, now())?))
}

async fn resolve_many(
    State(n): State<Notifier>,
    Json(body): Json<ResolveBody>,
) -> Result<Response, AdminError> {
    Ok(success(n.history.resolve(&body.ids, &body.by, now())?))
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
    let now = now();
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
) -> Result<Response, AdminError> {
    let silence = Silence {
        id: String::new(),
        matchers: body.matchers,
        starts_at: parse_time(&body.starts_at)?,
        ends_at: parse_time(&body.ends_at)?,
        created_by: body.created_by,
        comment: body.comment,
    };
    let id = n.silences.create(silence)?;
    Ok(Json(serde_json::json!({"silenceID": id})).into_response())
}

async fn expire_silence(
    State(n): State<Notifier>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    n.silences.expire(&id, now())?;
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests;
