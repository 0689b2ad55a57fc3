//! The API's error type, answered as Prometheus does: `{"status":"error","errorType":...}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::promql::EvalError;

/// Prometheus's error categories, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Invalid parameters or query (400).
    BadData,
    /// The thing asked for does not exist (404).
    NotFound,
    /// Evaluation failed (422).
    Execution,
    /// The query ran out of time (503).
    Timeout,
    /// The client went away (499).
    Canceled,
    /// A server-side failure (500).
    Internal,
}

impl ErrorType {
    fn name(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::NotFound => "not_found",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Canceled => {
                StatusCode::from_u16(499).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The category, which decides the status code.
    pub kind: ErrorType,
    /// The message shown to the client.
    pub message: String,
}

impl ApiError {
    /// A `bad_data` error.
    pub fn bad_data(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }

    /// A `bad_data` error naming the parameter, as Prometheus words it.
    pub fn bad_param(name: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::bad_data(format!("invalid parameter {name:?}: {message}"))
    }

    /// A `not_found` error.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorType::NotFound,
            message: message.into(),
        }
    }

    /// An `internal` error; the detail is logged, the client sees a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "API failure");
        ApiError {
            kind: ErrorType::Internal,
            message: "internal server error".into(),
        }
    }

    /// The error as a plain-text answer with the same status and message, for endpoints that
    /// answer in text (`/federate`), as Prometheus's do.
    pub fn into_text_response(self) -> Response {
        (self.kind.status(), format!("{}\n", self.message)).into_response()
    }
}

impl From<EvalError> for ApiError {
    fn from(e: EvalError) -> ApiError {
        let kind = match &e {
            EvalError::BadData(_) => ErrorType::BadData,
            EvalError::Execution(_)
            | EvalError::TooManySamples(_)
            | EvalError::TooManySeries(_)
            | EvalError::ResponseTooLarge(_) => ErrorType::Execution,
            EvalError::Timeout(_) => ErrorType::Timeout,
            EvalError::Canceled(_) => ErrorType::Canceled,
            EvalError::Storage(_) | EvalError::Internal(_) => return ApiError::internal(e),
        };
        ApiError {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<crate::tsdb::QueryError> for ApiError {
    fn from(e: crate::tsdb::QueryError) -> ApiError {
        ApiError::from(EvalError::from(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.kind.name(),
            "error": self.message,
        });
        (
            self.kind.status(),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}
