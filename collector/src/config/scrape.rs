//! The `scrape_configs` section: jobs, their targets and how to reach them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::units::ByteSize;
use crate::vocab::{Located, PromDuration};
use serde::Deserialize;

/// One scrape job, as in prometheus.yml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeConfig {
    /// The job name, also the `job` label of its targets.
    pub job_name: Located<String>,
    /// How often to scrape; the global value when absent.
    pub scrape_interval: Option<PromDuration>,
    /// How long one scrape may take; the global value when absent.
    pub scrape_timeout: Option<PromDuration>,
    /// The HTTP path of the metrics.
    #[serde(default = "default_metrics_path")]
    pub metrics_path: String,
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Scheme,
    /// URL query parameters sent with every scrape.
    #[serde(default)]
    pub params: BTreeMap<String, Vec<String>>,
    /// Basic authentication toward the targets.
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token sent to the targets.
    pub bearer_token: Option<String>,
    /// A file holding the bearer token, read at every scrape.
    pub bearer_token_file: Option<PathBuf>,
    /// TLS settings toward the targets.
    pub tls_config: Option<TlsConfig>,
    /// Targets listed in the configuration.
    #[serde(default)]
    pub static_configs: Vec<StaticConfig>,
    /// Files of targets, watched for changes.
    #[serde(default)]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Rewrites of the target labels before scraping.
    #[serde(default)]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rewrites of every scraped series' labels before storing.
    #[serde(default)]
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// Most samples one scrape may return (after metric relabelling); 0 for no limit. Past it,
    /// the whole scrape fails.
    #[serde(default)]
    pub sample_limit: u64,
    /// Most labels a stored series may have (its name and the target labels included); 0 for
    /// no limit. Past it, the whole scrape fails.
    #[serde(default)]
    pub label_limit: u64,
    /// Longest label name of a stored series, in bytes; 0 for no limit. Past it, the whole
    /// scrape fails.
    #[serde(default)]
    pub label_name_length_limit: u64,
    /// Longest label value of a stored series, in bytes; 0 for no limit. Past it, the whole
    /// scrape fails.
    #[serde(default)]
    pub label_value_length_limit: u64,
    /// Largest uncompressed body accepted; no limit when absent.
    pub body_size_limit: Option<ByteSize>,
    /// Keep the target's own `job`, `instance`, ... labels on a clash instead of renaming them
    /// to `exported_*`.
    #[serde(default)]
    pub honor_labels: bool,
    /// Keep timestamps the target exposes (the default) instead of using the scrape time.
    #[serde(default = "yes")]
    pub honor_timestamps: bool,
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

fn yes() -> bool {
    true
}

/// The URL scheme of a job's targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    #[default]
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Basic authentication credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password, if given inline.
    pub password: Option<String>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
}

/// TLS settings toward scrape targets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA certificates that sign the targets' certificates.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for targets that require one.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// The name to verify the targets' certificates against.
    pub server_name: Option<String>,
    /// Accept any certificate (for testing only).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// A group of targets sharing labels.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` of each target.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels added to every target of the group.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Files listing target groups (YAML or JSON, as Prometheus's file_sd reads them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Paths of the files; the last component may be a `*` glob.
    pub files: Vec<String>,
    /// How often to re-read the files even if no change was noticed.
    pub refresh_interval: Option<PromDuration>,
}

/// One relabelling step, as in prometheus.yml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` and matched against `regex`.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// The string between joined source label values.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// The label written by `replace` and `hashmod`.
    pub target_label: Option<String>,
    /// The expression matched (fully anchored) against the joined values or label names.
    #[serde(default = "default_regex")]
    pub regex: Located<String>,
    /// The modulus of `hashmod`.
    pub modulus: Option<u64>,
    /// The value written by `replace` (`$1`, `${name}` refer to regex groups).
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// What to do.
    #[serde(default)]
    pub action: RelabelAction,
}

fn default_separator() -> String {
    ";".to_owned()
}

fn default_regex() -> Located<String> {
    Located::unplaced("(.*)".to_owned())
}

fn default_replacement() -> String {
    "$1".to_owned()
}

/// A relabelling action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
    /// Write `replacement` (with regex groups expanded) to `target_label` when `regex` matches.
    #[default]
    Replace,
    /// Drop the series or target unless `regex` matches.
    Keep,
    /// Drop the series or target if `regex` matches.
    Drop,
    /// Copy labels whose names match `regex` to names given by `replacement`.
    Labelmap,
    /// Remove labels whose names match `regex`.
    Labeldrop,
    /// Remove labels whose names do not match `regex`.
    Labelkeep,
    /// Write the hash of the joined source values modulo `modulus` to `target_label`.
    Hashmod,
}
