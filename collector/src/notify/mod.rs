//! Notifications: Alertmanager's configuration, routing, grouping, inhibition and silences,
//! email and webhook delivery through a persisted retry queue.

mod config;
mod matchers;
mod route;
mod validate;

use std::collections::BTreeMap;
use std::time::Duration;

pub use config::{
    AlertmanagerConfig, Authorization, BasicAuth, ConfigError, HttpConfig, TlsConfig,
    load_alertmanager_file, parse_alertmanager_config,
};
pub use matchers::parse_matchers;
pub use route::{GroupBy, Route};

use crate::labels::Matcher;

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
