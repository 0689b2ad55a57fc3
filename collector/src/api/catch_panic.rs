//! A request whose handler panics is answered with a generic 500, never with the panic's text,
//! and the connection and the process carry on.

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;

use super::ApiError;

/// Runs the rest of the stack, turning a panic into `500 internal server error` (the panic's
/// message goes to the log through [`ApiError::internal`]).
pub async fn catch_panic(request: Request, next: Next) -> Response {
    // Cloning the URI shares its bytes: nothing is copied on the path every request takes.
    let uri = request.uri().clone();
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            ApiError::internal(format!("handler of {} panicked: {message}", uri.path()))
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_a_generic_500() {
        let app = Router::new()
            .route(
                "/boom",
                get(|| async {
                    if true {
                        panic!("secret detail");
                    }
                    "unreachable"
                }),
            )
            .route("/fine", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(catch_panic));
        let request = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request("/boom")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("\"errorType\":\"internal\""), "{body}");
        assert!(!body.contains("secret detail"), "{body}");
        let response = app.oneshot(request("/fine")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
