//! Lifecycle routes as Prometheus serves them: `/-/healthy`, `/-/ready`, `POST /-/reload`, and
//! the collector's own `/metrics`.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::alerting::AlertingError;
use crate::config::ConfigErrors;
use crate::scrape::{ApplyError, STATS, ScrapeManager};

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
}

/// Whether the last reload worked and when one last did, for `/metrics`.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    /// Whether the last reload succeeded.
    pub successful: AtomicBool,
    /// Unix seconds of the last successful reload (or start).
    pub last_success: AtomicI64,
}

impl ReloadStatus {
    /// Records the outcome of a load or reload.
    pub fn record(&self, ok: bool) {
        self.successful.store(ok, Ordering::Relaxed);
        if ok {
            let now = crate::vocab::now_ms() / 1000;
            self.last_success.store(now, Ordering::Relaxed);
        }
    }
}

/// What the lifecycle routes need.
#[derive(Clone)]
pub struct LifecycleState {
    /// Set once storage is open and the configuration applied.
    pub ready: Arc<AtomicBool>,
    /// Reloads the configuration.
    pub reloader: Arc<dyn Reloader>,
    /// Outcome of the last reload.
    pub reload_status: Arc<ReloadStatus>,
    /// The scrape loops, for target counts.
    pub manager: Arc<ScrapeManager>,
    /// Further self-metric families in the text format (storage, rules, notifications),
    /// rendered on every request to `/metrics`.
    pub more_metrics: Vec<Arc<dyn Fn() -> String + Send + Sync>>,
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
    if state.ready.load(Ordering::Relaxed) {
        "Osprey Collector is Ready.\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable: starting up\n",
        )
            .into_response()
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
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let version = concat!("{version=\"", env!("CARGO_PKG_VERSION"), "\"}");
    family(
        "osprey_collector_build_info",
        "gauge",
        "A metric with a constant '1' value labeled by the collector's version.",
        &[(version, 1.0)],
    );
    let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed) as f64;
    family(
        "osprey_collector_scrapes_total",
        "counter",
        "Scrapes attempted.",
        &[("", load(&STATS.scrapes))],
    );
    family(
        "osprey_collector_scrape_failures_total",
        "counter",
        "Scrapes that failed (target down, timeout, parse error, limit exceeded).",
        &[("", load(&STATS.failures))],
    );
    family(
        "osprey_collector_scraped_samples_total",
        "counter",
        "Samples appended from successful scrapes.",
        &[("", load(&STATS.samples))],
    );
    let targets = state.manager.targets().await;
    let count = |health: &str| targets.iter().filter(|t| t.status.health == health).count() as f64;
    family(
        "osprey_collector_targets",
        "gauge",
        "Active scrape targets by health of their last scrape.",
        &[
            ("{health=\"up\"}", count("up")),
            ("{health=\"down\"}", count("down")),
            ("{health=\"unknown\"}", count("unknown")),
        ],
    );
    let reload = &state.reload_status;
    family(
        "osprey_collector_config_last_reload_successful",
        "gauge",
        "Whether the last configuration reload attempt was successful.",
        &[(
            "",
            f64::from(u8::from(reload.successful.load(Ordering::Relaxed))),
        )],
    );
    family(
        "osprey_collector_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Timestamp of the last successful configuration reload.",
        &[("", reload.last_success.load(Ordering::Relaxed) as f64)],
    );
    for render in &state.more_metrics {
        out.push_str(&render());
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
