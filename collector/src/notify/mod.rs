//! Notifications: Alertmanager's configuration, routing, grouping, inhibition and silences,
//! email and webhook delivery through a persisted retry queue.
//!
//! State kept in the store's key-value tables (`tsdb::KeyValueStore`), one table each, values
//! as JSON, read and written from blocking threads only (the rule evaluation, the notifier's
//! flushes and deliveries, [`Notifier::off_async`] for the API):
//! `notification_queue` (u64 id, ascending in queue order -> delivery), `notification_log`
//! (`group key \0 receiver \0 destination` -> last notification), `silences` (id -> silence),
//! `alert_history` (u64 id -> record). Rules keep `alert_state` (see `rules`).

mod config;
mod deliver;
mod dispatch;
mod email;
mod history;
mod matchers;
mod metrics;
mod nflog;
mod notifier;
mod paths;
mod payload;
mod queue;
mod route;
mod silence;
mod targets;
mod validate;
mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

pub use config::{
    AlertmanagerConfig, Authorization, BasicAuth, ConfigError, HttpConfig, TlsConfig,
    load_alertmanager_file, parse_alertmanager_config,
};
pub use deliver::Deliverer;
pub use dispatch::{Dispatcher, SharedNotifications};
pub use email::{build_message, send_email};
pub use history::{
    Acknowledgement, AlertHistory, AlertRecord, HistoryError, HistoryQuery, Observed, RecordState,
};
pub use matchers::{MatcherError, parse_matchers};
pub use metrics::{AttemptResult, NotifyMetrics};
pub use nflog::{LogEntry, NotificationLog, needs_update};
pub use notifier::{Notifier, NotifierError};
pub use payload::{AmAlert, GroupNotice, WebhookAlert, WebhookMessage, fingerprint, sort_alerts};
pub use queue::{Content, Delivery, DeliveryQueue, Integration, QueueError, backoff};
pub use route::{GroupBy, Route};
pub use silence::{Silence, SilenceError, SilenceMatcher, Silences};
pub use webhook::{WebhookClientError, send_webhook, webhook_client};

use crate::labels::Matcher;

/// Runs `work` on tokio's blocking pool and waits for it. The stage's tables are read and
/// written synchronously (a durable write is an fsync and waits for the store's writer), which
/// must not stall the async workers that serve the API and run the scrapes.
pub(crate) async fn off_async<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Cancelled: the runtime is shutting down, and drops the caller as well.
            Err(_) => std::future::pending().await,
        },
    }
}

/// Why one delivery attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// Worth trying again (connection failure, 5xx, temporary SMTP error).
    #[error("{0}")]
    Retry(String),
    /// Not worth trying again (4xx, permanent SMTP error, bad configuration).
    #[error("{0}")]
    Reject(String),
}

/// A validated notification setup: what the dispatcher runs.
#[derive(Debug, Clone)]
pub struct Notifications {
    /// The routing tree.
    pub route: Route,
    /// Receivers by position; names are unique.
    pub receivers: Vec<Receiver>,
    /// Inhibition rules.
    pub inhibit_rules: Vec<InhibitRule>,
    /// When an alert without updates counts as resolved.
    pub resolve_timeout: Duration,
    /// Things configured that Osprey ignores, to log once.
    pub warnings: Vec<String>,
}

/// A receiver and its destinations.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// Name.
    pub name: String,
    /// Email destinations.
    pub email: Vec<EmailTarget>,
    /// Webhook destinations.
    pub webhook: Vec<WebhookTarget>,
}

/// A resolved email destination.
#[derive(Debug, Clone)]
pub struct EmailTarget {
    /// Recipients, comma separated.
    pub to: String,
    /// Sender.
    pub from: String,
    /// Mail server host.
    pub host: String,
    /// Mail server port (465: implicit TLS).
    pub port: u16,
    /// EHLO name.
    pub hello: String,
    /// SMTP user.
    pub username: Option<String>,
    /// SMTP password.
    pub password: Option<String>,
    /// File holding the SMTP password.
    pub password_file: Option<String>,
    /// Require STARTTLS.
    pub require_tls: bool,
    /// TLS settings.
    pub tls: TlsConfig,
    /// Notify about resolved alerts.
    pub send_resolved: bool,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
}

/// A resolved webhook destination.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// Endpoint, or `None` when read from `url_file` at send time.
    pub url: Option<String>,
    /// File holding the endpoint.
    pub url_file: Option<String>,
    /// Notify about resolved alerts.
    pub send_resolved: bool,
    /// HTTP client settings.
    pub http: HttpConfig,
    /// Most alerts per message (0: all).
    pub max_alerts: usize,
    /// Request timeout.
    pub timeout: Option<Duration>,
}

/// An inhibition rule: a source alert mutes target alerts that share the `equal` labels.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// Matchers for the muting alert.
    pub source: Vec<Matcher>,
    /// Matchers for the muted alert.
    pub target: Vec<Matcher>,
    /// Labels whose values must be equal in both.
    pub equal: Vec<String>,
}
