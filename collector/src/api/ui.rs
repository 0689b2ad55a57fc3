//! The built-in web UI: a page and its script and style, compiled into the binary, that draw
//! everything from the collector's own query API.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The UI's files: name under `/ui/`, content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("ui/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("ui/app.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("ui/chart.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("ui/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("ui/favicon.svg"),
    ),
];

/// `/` serves the page, `/ui/{file}` its assets.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route(
            "/ui/{file}",
            get(|Path(file): Path<String>| async move { asset(&file) }),
        )
}

fn asset(name: &str) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(file, ..)| *file == name) else {
        return (StatusCode::NOT_FOUND, "no such UI file\n").into_response();
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get_path(path: &str) -> (StatusCode, String, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn the_root_serves_the_page_that_loads_the_assets() {
        let (status, content_type, body) = get_path("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert!(body.starts_with("<!doctype html>"), "{body}");
        for asset in [
            "/ui/app.js",
            "/ui/chart.js",
            "/ui/style.css",
            "/ui/favicon.svg",
        ] {
            assert!(body.contains(asset), "the page does not load {asset}");
        }
    }

    #[tokio::test]
    async fn assets_are_served_with_their_content_types() {
        for (path, expected, marker) in [
            (
                "/ui/app.js",
                "text/javascript; charset=utf-8",
                "/api/v1/query",
            ),
            ("/ui/chart.js", "text/javascript; charset=utf-8", "canvas"),
            (
                "/ui/style.css",
                "text/css; charset=utf-8",
                "prefers-color-scheme",
            ),
            ("/ui/favicon.svg", "image/svg+xml", "<svg"),
        ] {
            let (status, content_type, body) = get_path(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(content_type, expected, "{path}");
            assert!(body.contains(marker), "{path} lacks {marker}");
        }
    }

    #[tokio::test]
    async fn unknown_files_are_not_found() {
        for path in ["/ui/nope.js", "/ui/..%2Fui.rs", "/ui/"] {
            let (status, ..) = get_path(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
    }
}
