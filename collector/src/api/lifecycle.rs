//! Lifecycle routes as Prometheus serves them: `/-/healthy`, `/-/ready`, `POST /-/reload`, and
//! the collector's own `/metrics`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::alerting::AlertingError;
use crate::config::ConfigErrors;
use crate::scrape::ApplyError;
use crate::tsdb::Appendable;

/// Applies the configuration file again; implemented by the running collector.
pub trait Reloader: Send + Sync {
    /// Reloads; the error lists every problem when the new configuration is refused.
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), ReloadError>> + Send + '_>>;
}

/// Why a reload was refused; the previous configuration keeps running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The collector runs the single-node default, which has no file to read again.
    #[error("started without --config: there is no file to reload")]
    NoConfigFile,
    /// The configuration file is invalid.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// A rule file or the Alertmanager configuration is invalid.
    #[error(transparent)]
    Alerting(#[from] AlertingError),
    /// The scrape configuration could not be applied.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The in-process agent the configuration asks for (`local_agent: true`) could not start.
    #[error("cannot start the in-process agent: {0}")]
    LocalAgent(std::io::Error),
}

/// Whether the last reload worked and when one last did, for `/metrics`.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    successful: Gauge,
    last_success: Gauge,
}

impl ReloadStatus {
    /// Records the outcome of a load or reload.
    pub fn record(&self, ok: bool) {
        self.successful.set(i64::from(ok));
        if ok {
            self.last_success.set(crate::vocab::now_ms() / 1000);
        }
    }

    /// Registers the reload families in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "osprey_collector_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful",
            self.successful.clone(),
        );
        registry.register(
            "osprey_collector_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload",
            self.last_success.clone(),
        );
    }
}

/// What the lifecycle routes need.
#[derive(Clone)]
pub struct LifecycleState {
    /// Set once storage is open and the configuration applied.
    pub ready: Arc<AtomicBool>,
    /// The store, whose refused writes make the collector unready.
    pub storage: Arc<dyn Appendable>,
    /// Reloads the configuration.
    pub reloader: Arc<dyn Reloader>,
    /// The collector's own metrics, each stage's registered at startup.
    pub registry: Arc<Registry>,
}

/// The routes of this module.
pub fn router(state: LifecycleState) -> Router {
    Router::new()
        .route(
            "/-/healthy",
            get(|| async { "Osprey Collector is Healthy.\n" }),
        )
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn ready(State(state): State<LifecycleState>) -> Response {
    let unavailable = |why: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Service Unavailable: {why}\n"),
        )
            .into_response()
    };
    if !state.ready.load(Ordering::Relaxed) {
        unavailable("starting up")
    } else if state.storage.writes_blocked() {
        unavailable(
            "storage writes are blocked (data filesystem nearly full, see storage.min_free_bytes); \
             queries still work",
        )
    } else {
        "Osprey Collector is Ready.\n".into_response()
    }
}

async fn reload(State(state): State<LifecycleState>) -> Response {
    match state.reloader.reload().await {
        Ok(()) => "configuration reloaded\n".into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {error}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<LifecycleState>) -> Response {
    let registry = state.registry.clone();
    // Some families are read under locks an evaluation or a scrape loop may hold for a while
    // (rule groups, for one): encode off the async workers.
    let encoded = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &registry).map(|()| out)
    })
    .await;
    match encoded {
        Ok(Ok(body)) => (
            [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Ok(Err(std::fmt::Error)) | Err(_) => {
            tracing::error!("cannot encode the collector's own metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;
    use crate::tsdb::Appender;

    /// A store whose writes are refused, as when its filesystem is nearly full.
    struct Blocked;

    impl Appendable for Blocked {
        fn appender(&self, _source: &str) -> Box<dyn Appender + '_> {
            unreachable!("readiness never appends")
        }

        fn writes_blocked(&self) -> bool {
            true
        }
    }

    struct NoReload;

    impl Reloader for NoReload {
        fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), ReloadError>> + Send + '_>> {
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn readiness_tells_when_storage_writes_are_blocked() {
        let state = LifecycleState {
            ready: Arc::new(AtomicBool::new(true)),
            storage: Arc::new(Blocked),
            reloader: Arc::new(NoReload),
            registry: Arc::default(),
        };
        let request = Request::get("/-/ready").body(Body::empty()).unwrap();
        let response = router(state).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1 << 12)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("storage writes are blocked"));
    }
}
