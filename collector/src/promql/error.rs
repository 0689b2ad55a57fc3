//! Why a query failed, in the categories the Prometheus HTTP API reports.

use crate::tsdb::QueryError;

/// A failed query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The query text or its parameters are invalid (`bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed on the data (`execution`), e.g. duplicate series or bad matching.
    #[error("{0}")]
    Execution(String),
    /// The query ran past its deadline (`timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// Nobody waits for the result any more (`canceled`).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The query would hold more samples in memory than allowed (`execution`).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The result would have more series than allowed (`execution`).
    #[error("query result would have more than {0} series (the query.max_series limit)")]
    TooManySeries(usize),
    /// The answer rendered from the result would be larger than allowed (`execution`).
    #[error("query result would take more than {0} bytes (the query.max_response_bytes limit)")]
    ResponseTooLarge(usize),
    /// The storage failed (`internal`).
    #[error("{0}")]
    Storage(#[from] QueryError),
    /// Evaluation stopped on a bug (`internal`); the detail is for the log, not the client.
    #[error("query evaluation failed: {0}")]
    Internal(String),
}

/// Shorthand for evaluation results.
pub type EvalResult<T> = Result<T, EvalError>;

/// An execution error with a formatted message.
pub(crate) fn execution(message: impl Into<String>) -> EvalError {
    EvalError::Execution(message.into())
}
