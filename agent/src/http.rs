//! The agent's HTTP surface: `/metrics`, `/-/healthy`, `/-/ready` and a landing page.

use std::io::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::collect::Collectors;
use crate::expose::Format;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The collectors run on every scrape.
    pub collectors: Arc<Collectors>,
}

/// The agent's router; tests drive it with `oneshot`, without a socket.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(|| async { "OK\n" }))
        .with_state(state)
}

async fn landing() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html><head><title>Osprey Agent</title></head><body>",
        "<h1>Osprey Agent</h1><p>Version ",
        env!("CARGO_PKG_VERSION"),
        "</p><p><a href=\"metrics\">Metrics</a></p></body></html>\n"
    ))
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let collectors = state.collectors.clone();
    let body = match tokio::task::spawn_blocking(move || collectors.scrape(format)).await {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "scrape task failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n").into_response();
        }
    };
    if gzip {
        let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
        if encoder.write_all(body.as_bytes()).is_ok()
            && let Ok(compressed) = encoder.finish()
        {
            return (
                [
                    (header::CONTENT_TYPE, format.content_type()),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                compressed,
            )
                .into_response();
        }
    }
    ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
}
