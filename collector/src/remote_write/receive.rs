//! `POST /api/v1/write`: remote-write 1.0 pushes (Prometheus in agent mode, Grafana Alloy,
//! vmagent) stored as scraped samples are. Answered as Prometheus's receiver answers: `204`
//! once stored; otherwise a plain-text reason with `400` (undecodable body, invalid series,
//! out-of-order sample, series limit), `413` (too large), `415` (another content type or
//! encoding) or `500` (the store failed: the sender retries). Nothing of a refused push is
//! stored.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt as _;
use prometheus_client::registry::Registry;

use super::batch::{Batch, BatchError, WriteError};
use super::decode::{self, DecodeError, MAX_COMPRESSED_BYTES};
use super::metrics::ReceiveMetrics;
use crate::tsdb::Appendable;
use crate::vocab::{Throttle, now_ms};

/// The most of a body read before a too-large one is refused: twice the limit. A sender still
/// writing its body when the connection closes under it sees a broken connection, not the
/// `413`, so a body somewhat over the limit is read to its end first (as Go's server reads a
/// little of an unread body); a larger one, or one declared larger, is cut off.
const MAX_DRAINED_BYTES: usize = 2 * MAX_COMPRESSED_BYTES;

/// Receives pushes into a store, counting them.
pub struct Receiver {
    storage: Arc<dyn Appendable>,
    metrics: ReceiveMetrics,
    /// Refused pushes are logged when they start, then once a minute with their count.
    refusals: Mutex<Throttle>,
}

impl Receiver {
    /// A receiver appending to `storage`.
    pub fn new(storage: Arc<dyn Appendable>) -> Receiver {
        Receiver {
            storage,
            metrics: ReceiveMetrics::default(),
            refusals: Mutex::default(),
        }
    }

    /// Registers the receiver's metrics in the collector's registry.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry);
    }

    /// Logs a push that was not stored, throttled; a storage failure at error level.
    fn log_refusal(&self, error: &ReceiveError, status: StatusCode) {
        let mut throttle = self.refusals.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(refused) = throttle.count(1) else {
            return;
        };
        if status.is_server_error() {
            tracing::error!(%error, refused, "remote-write push not stored");
        } else {
            tracing::warn!(%error, refused, "remote-write push refused");
        }
    }
}

/// The route of this module.
pub fn router(receiver: Arc<Receiver>) -> Router {
    Router::new()
        .route("/api/v1/write", post(receive))
        .with_state(receiver)
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let outcome = store_push(&receiver, &headers, body).await;
    let status = outcome
        .as_ref()
        .map_or_else(ReceiveError::status, |_| StatusCode::NO_CONTENT);
    receiver
        .metrics
        .record(status.as_u16(), *outcome.as_ref().unwrap_or(&0));
    match outcome {
        Ok(_) => status.into_response(),
        Err(error) => {
            receiver.log_refusal(&error, status);
            // A server-side failure is told in the log, not to the sender.
            let reason = if status.is_server_error() {
                "the samples could not be stored now; the collector's log says why".to_owned()
            } else {
                error.to_string()
            };
            (status, format!("{reason}\n")).into_response()
        }
    }
}

/// Reads, decodes, checks and stores one push: the samples stored.
async fn store_push(
    receiver: &Receiver,
    headers: &HeaderMap,
    body: Body,
) -> Result<u64, ReceiveError> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    decode::check_headers(
        header(header::CONTENT_TYPE),
        header(header::CONTENT_ENCODING),
    )?;
    let declared = header(header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_DRAINED_BYTES) {
        return Err(DecodeError::TooLarge.into());
    }
    let body = read_body(body).await?;
    let storage = receiver.storage.clone();
    // Decoding up to 32 MiB and appending are blocking work, kept off the async workers.
    tokio::task::spawn_blocking(move || {
        let request = decode::decode(&body)?;
        let batch = Batch::check(request, now_ms())?;
        Ok(batch.append_to(storage.as_ref())?)
    })
    .await
    .map_err(|error| ReceiveError::Internal(error.to_string()))?
}

/// The body, refused when it passes [`MAX_COMPRESSED_BYTES`] (a sender may leave out the
/// length, or state a false one). What follows the limit is read and dropped up to
/// [`MAX_DRAINED_BYTES`] before the refusal is answered.
async fn read_body(body: Body) -> Result<Vec<u8>, ReceiveError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    let mut received = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| ReceiveError::Read(error.to_string()))?;
        received += chunk.len();
        if received > MAX_DRAINED_BYTES {
            break;
        }
        if received <= MAX_COMPRESSED_BYTES {
            out.extend_from_slice(&chunk);
        }
    }
    if received > MAX_COMPRESSED_BYTES {
        return Err(DecodeError::TooLarge.into());
    }
    Ok(out)
}

/// Why a push was not stored, with the status it is answered with.
#[derive(Debug, thiserror::Error)]
enum ReceiveError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("cannot read the request body: {0}")]
    Read(String),
    #[error(transparent)]
    Refused(#[from] BatchError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ReceiveError {
    fn status(&self) -> StatusCode {
        match self {
            ReceiveError::Decode(DecodeError::Encoding(_) | DecodeError::ContentType(_)) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ReceiveError::Decode(DecodeError::TooLarge | DecodeError::DecompressedTooLarge(_)) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ReceiveError::Decode(_)
            | ReceiveError::Read(_)
            | ReceiveError::Refused(_)
            | ReceiveError::Write(WriteError::Refused(_)) => StatusCode::BAD_REQUEST,
            ReceiveError::Write(WriteError::Storage(_)) | ReceiveError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

#[cfg(test)]
mod tests;
