//! Alertmanager's configuration schema (the parts Osprey acts on), strict, validated with
//! Alertmanager's rules and messages so an existing alertmanager.yml works unchanged.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::vocab::{YamlError, from_yaml_str};

/// A whole Alertmanager configuration, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Defaults for receivers.
    #[serde(default)]
    pub global: GlobalConfig,
    /// The routing tree.
    pub route: Option<RouteConfig>,
    /// Where notifications go.
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    /// Alerts that mute others.
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Go template files; Osprey ignores them (with a warning) and uses its built-in texts.
    #[serde(default)]
    pub templates: Vec<String>,
    #[serde(default)]
    mute_time_intervals: Option<IgnoredAny>,
    #[serde(default)]
    time_intervals: Option<IgnoredAny>,
}

/// `global:`; settings of integrations Osprey lacks are collected and checked by name.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GlobalConfig {
    /// Time after which an alert without updates counts as resolved (default 5m).
    pub resolve_timeout: Option<String>,
    /// Default HTTP client settings for webhooks.
    pub http_config: Option<HttpConfig>,
    /// Default sender address.
    pub smtp_from: Option<String>,
    /// Default EHLO name (default `localhost`).
    pub smtp_hello: Option<String>,
    /// Default `host:port` of the mail server.
    pub smtp_smarthost: Option<String>,
    /// Default SMTP user.
    pub smtp_auth_username: Option<String>,
    /// Default SMTP password.
    pub smtp_auth_password: Option<String>,
    /// Default file holding the SMTP password.
    pub smtp_auth_password_file: Option<String>,
    /// Default SMTP identity (PLAIN).
    pub smtp_auth_identity: Option<String>,
    /// Default CRAM-MD5 secret.
    pub smtp_auth_secret: Option<String>,
    /// Default STARTTLS requirement (default true).
    pub smtp_require_tls: Option<bool>,
    /// Default TLS settings for SMTP.
    pub smtp_tls_config: Option<TlsConfig>,
    #[serde(flatten)]
    other_integrations: BTreeMap<String, IgnoredAny>,
}

/// One node of the routing tree.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Receiver name (inherited when absent).
    pub receiver: Option<String>,
    /// Labels to group by; `...` groups by all labels.
    pub group_by: Option<Vec<String>>,
    /// Deprecated equality matchers.
    #[serde(default, rename = "match")]
    pub match_equal: BTreeMap<String, String>,
    /// Deprecated regex matchers.
    #[serde(default)]
    pub match_re: BTreeMap<String, String>,
    /// Matcher strings.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Whether to go on matching siblings after this route matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// Child routes.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Wait before the first notification of a new group.
    pub group_wait: Option<String>,
    /// Wait before notifying about changes in a group.
    pub group_interval: Option<String>,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Option<String>,
    /// Not supported by Osprey yet (warned).
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Not supported by Osprey yet (warned).
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
}

/// A receiver; integrations Osprey lacks are collected and checked by name.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReceiverConfig {
    /// Unique name.
    #[serde(default)]
    pub name: String,
    /// Email destinations.
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
    /// Webhook destinations.
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(flatten)]
    other_integrations: BTreeMap<String, IgnoredAny>,
}

/// `email_configs[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Whether to notify about resolved alerts (default false).
    pub send_resolved: Option<bool>,
    /// Recipients, comma separated.
    #[serde(default)]
    pub to: String,
    /// Sender address.
    pub from: Option<String>,
    /// EHLO name.
    pub hello: Option<String>,
    /// `host:port` of the mail server; port 465 means implicit TLS.
    pub smarthost: Option<String>,
    /// SMTP user.
    pub auth_username: Option<String>,
    /// SMTP password.
    pub auth_password: Option<String>,
    /// File holding the SMTP password.
    pub auth_password_file: Option<String>,
    /// PLAIN identity.
    pub auth_identity: Option<String>,
    /// CRAM-MD5 secret.
    pub auth_secret: Option<String>,
    /// Require STARTTLS (default: global, true).
    pub require_tls: Option<bool>,
    /// TLS settings.
    pub tls_config: Option<TlsConfig>,
    /// Extra headers (Subject overrides the default subject).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Custom HTML body template (ignored, warned).
    pub html: Option<String>,
    /// Custom text body template (ignored, warned).
    pub text: Option<String>,
}

/// `webhook_configs[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Whether to notify about resolved alerts (default true).
    pub send_resolved: Option<bool>,
    /// Endpoint.
    pub url: Option<String>,
    /// File holding the endpoint.
    pub url_file: Option<String>,
    /// HTTP client settings.
    pub http_config: Option<HttpConfig>,
    /// Most alerts per message (0: all).
    #[serde(default)]
    pub max_alerts: u64,
    /// Request timeout (default: none beyond the client's).
    pub timeout: Option<String>,
}

/// Prometheus's common HTTP client settings (the parts webhooks use).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `Authorization` header.
    pub authorization: Option<Authorization>,
    /// Basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// Deprecated bearer token.
    pub bearer_token: Option<String>,
    /// Deprecated bearer token file.
    pub bearer_token_file: Option<String>,
    /// TLS settings.
    pub tls_config: Option<TlsConfig>,
    /// Follow redirects (default true).
    pub follow_redirects: Option<bool>,
    /// Allow HTTP/2 (accepted, HTTP/1.1 is used).
    pub enable_http2: Option<bool>,
    /// Proxy URL.
    pub proxy_url: Option<String>,
}

/// `authorization:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme (default `Bearer`).
    #[serde(rename = "type")]
    pub scheme: Option<String>,
    /// Credentials.
    pub credentials: Option<String>,
    /// File holding the credentials.
    pub credentials_file: Option<String>,
}

/// `basic_auth:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password.
    pub password: Option<String>,
    /// File holding the password.
    pub password_file: Option<String>,
}

/// `tls_config:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// CA certificate file (PEM).
    pub ca_file: Option<String>,
    /// Client certificate (accepted, not used yet).
    pub cert_file: Option<String>,
    /// Client key (accepted, not used yet).
    pub key_file: Option<String>,
    /// Expected server name.
    pub server_name: Option<String>,
    /// Skip certificate verification.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Minimum TLS version (accepted).
    pub min_version: Option<String>,
}

/// `inhibit_rules[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Optional name.
    pub name: Option<String>,
    /// Deprecated source equality matchers.
    #[serde(default)]
    pub source_match: BTreeMap<String, String>,
    /// Deprecated source regex matchers.
    #[serde(default)]
    pub source_match_re: BTreeMap<String, String>,
    /// Source matcher strings.
    #[serde(default)]
    pub source_matchers: Vec<String>,
    /// Deprecated target equality matchers.
    #[serde(default)]
    pub target_match: BTreeMap<String, String>,
    /// Deprecated target regex matchers.
    #[serde(default)]
    pub target_match_re: BTreeMap<String, String>,
    /// Target matcher strings.
    #[serde(default)]
    pub target_matchers: Vec<String>,
    /// Labels that must be equal in source and target.
    #[serde(default)]
    pub equal: Vec<String>,
}

/// Why an Alertmanager configuration was rejected.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Reads and validates an alertmanager.yml; messages name the file, and problems of its
/// shape are all reported, each at its line and column.
pub fn load_alertmanager_file(path: &Path) -> Result<super::Notifications, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
    let config = read_config(&text, Some(path))?;
    super::validate::validate(config)
        .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
}

/// Parses and validates Alertmanager configuration text.
pub fn parse_alertmanager_config(text: &str) -> Result<super::Notifications, ConfigError> {
    super::validate::validate(read_config(text, None)?)
}

/// The configuration's shape, or every problem with it, one per line.
fn read_config(text: &str, file: Option<&Path>) -> Result<AlertmanagerConfig, ConfigError> {
    from_yaml_str(text).map_err(|errors: Vec<YamlError>| {
        let lines: Vec<String> = errors
            .iter()
            .map(|error| match file {
                Some(file) if error.line > 0 => format!("{}:{error}", file.display()),
                Some(file) => format!("{}: {error}", file.display()),
                None => error.to_string(),
            })
            .collect();
        ConfigError(lines.join("\n"))
    })
}

impl AlertmanagerConfig {
    /// Validates a configuration embedded elsewhere (the collector config's `alertmanager:`).
    pub fn validate(self) -> Result<super::Notifications, ConfigError> {
        super::validate::validate(self)
    }
}

impl GlobalConfig {
    /// Names of integrations Osprey does not implement that the global section configures.
    pub fn unsupported(&self) -> impl Iterator<Item = &str> {
        self.other_integrations.keys().map(String::as_str)
    }
}

impl ReceiverConfig {
    /// Names of integrations Osprey does not implement that this receiver lists.
    pub fn unsupported(&self) -> impl Iterator<Item = &str> {
        self.other_integrations.keys().map(String::as_str)
    }
}

impl AlertmanagerConfig {
    /// Whether time intervals are configured (not supported yet; warned).
    pub fn has_time_intervals(&self) -> bool {
        self.mute_time_intervals.is_some() || self.time_intervals.is_some()
    }
}
