//! Request parameters from the URL query and a form body, parsed as Prometheus parses them.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;

use crate::api::error::ApiError;
use crate::labels::Matcher;
use crate::vocab::{parse_duration_or_seconds, parse_time};

/// Earliest time accepted when a request gives no start (Prometheus's minimum time).
pub const MIN_TIME: i64 = -62_135_596_800_000;
/// Latest time accepted when a request gives no end (Prometheus's maximum time).
pub const MAX_TIME: i64 = 253_402_300_799_000;

/// All parameters of a request: form body values first, then URL query values. As an
/// extractor it reads both once; a body that cannot be read is a `bad_data` error.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Params, ApiError> {
        let query = request.uri().query().map(str::to_owned);
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_data(format!("error reading request body: {e}")))?;
        Params::new(query.as_deref(), &headers, &body)
    }
}

impl Params {
    /// Collects parameters from the query string and, for form posts, the body.
    fn new(query: Option<&str>, headers: &HeaderMap, body: &Bytes) -> Result<Params, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let is_form = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form && !body.is_empty() {
            pairs = serde_urlencoded::from_bytes(body)
                .map_err(|e| ApiError::bad_data(format!("error parsing form body: {e}")))?;
        }
        if let Some(q) = query {
            let from_url: Vec<(String, String)> = serde_urlencoded::from_str(q)
                .map_err(|e| ApiError::bad_data(format!("error parsing query string: {e}")))?;
            pairs.extend(from_url);
        }
        Ok(Params(pairs))
    }

    /// The first value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (for `match[]`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A time parameter in milliseconds, or `default` when absent.
    pub fn time(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(s) => parse_time(s).map_err(|e| ApiError::bad_param(name, e.to_string())),
        }
    }

    /// A duration parameter, if present.
    pub fn duration(&self, name: &str) -> Result<Option<Duration>, ApiError> {
        self.get(name)
            .map(|s| {
                parse_duration_or_seconds(s).map_err(|_| {
                    ApiError::bad_param(name, format!("cannot parse {s:?} to a valid duration"))
                })
            })
            .transpose()
    }

    /// The `limit` parameter (0 or absent means no limit).
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(0),
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|&n| n >= 0)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    ApiError::bad_param(
                        "limit",
                        format!("cannot parse {s:?}: must be a non-negative integer"),
                    )
                }),
        }
    }

    /// The matcher sets of every `match[]` selector.
    pub fn matcher_sets(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        let mut sets = Vec::new();
        for selector in self.all("match[]") {
            let parsed = crate::promql::parse_selector(selector)
                .map_err(|e| ApiError::bad_param("match[]", e))?;
            sets.extend(parsed);
        }
        Ok(sets)
    }
}
