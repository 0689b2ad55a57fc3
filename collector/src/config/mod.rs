//! The collector's configuration: a prometheus.yml-shaped YAML file, read once, validated in one
//! place, with every problem reported as `file:line:column: message`.

mod query;
mod scrape;
mod thresholds;
mod units;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::vocab::{Document, PromDuration, Read, YamlError, from_yaml_str};

pub use query::QueryConfig;
pub use scrape::{
    BasicAuth, FileSdConfig, RelabelAction, RelabelConfig, Scheme, ScrapeConfig, StaticConfig,
    TlsConfig,
};
pub use thresholds::{ALERT_LABEL, THRESHOLD_METRIC, ThresholdEntry, Thresholds};
pub use units::{ByteSize, InvalidSize};
pub use validate::{InvalidTarget, check_target};

/// The job name of the in-process agent's target (`local_agent: true`).
pub const LOCAL_AGENT_JOB: &str = "node";

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Defaults for every job and the rule evaluation interval.
    #[serde(default)]
    pub global: GlobalConfig,
    /// The scrape jobs.
    #[serde(default)]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Run an agent inside the collector and scrape it as job [`LOCAL_AGENT_JOB`], as the
    /// single-node default does: the machine the collector runs on is monitored without
    /// installing `osprey-agent` on it.
    #[serde(default)]
    pub local_agent: bool,
    /// Prometheus rule files (globs allowed), relative to the configuration file.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Storage retention.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Query limits.
    #[serde(default)]
    pub query: QueryConfig,
    /// Prometheus's forwarding to external Alertmanagers; accepted, not yet acted on.
    pub alerting: Option<serde_json::Value>,
    /// An Alertmanager configuration inline, in Alertmanager's own schema, read with the rest
    /// of the file so its problems are reported at their lines (validated by the notification
    /// stage).
    pub alertmanager: Option<crate::notify::AlertmanagerConfig>,
    /// An existing alertmanager.yml to read instead of an inline `alertmanager` section.
    pub alertmanager_config_file: Option<PathBuf>,
    /// Per-target thresholds for alert rules (see `thresholds.rs`).
    #[serde(default)]
    pub thresholds: Thresholds,
}

/// The `global` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How often to scrape by default (Prometheus's default: 1m).
    #[serde(default = "one_minute")]
    pub scrape_interval: PromDuration,
    /// How long a scrape may take by default (Prometheus's default: 10s).
    #[serde(default = "ten_seconds")]
    pub scrape_timeout: PromDuration,
    /// How often rules are evaluated by default (Prometheus's default: 1m).
    #[serde(default = "one_minute")]
    pub evaluation_interval: PromDuration,
    /// Labels added to alerts and series leaving this collector.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: one_minute(),
            scrape_timeout: ten_seconds(),
            evaluation_interval: one_minute(),
            external_labels: BTreeMap::new(),
        }
    }
}

fn one_minute() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(60))
}

fn ten_seconds() -> PromDuration {
    PromDuration(std::time::Duration::from_secs(10))
}

/// The `storage` section: retention, the page cache and the free space kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Drop samples older than this (Prometheus's `--storage.tsdb.retention.time`).
    pub retention_time: Option<PromDuration>,
    /// Keep the database under this size (Prometheus's `--storage.tsdb.retention.size`).
    pub retention_size: Option<ByteSize>,
    /// Memory for the database's page cache, read when the collector starts; the operating
    /// system's file cache serves what does not fit.
    pub cache_size: Option<ByteSize>,
    /// Free space kept on the data filesystem: writes stop (queries go on) below it. Default:
    /// 2% of the filesystem, between 4 MiB and 64 MiB.
    pub min_free_bytes: Option<ByteSize>,
    /// How long resolved alert records are kept in the alert history (default 90d).
    pub alert_history_retention: Option<PromDuration>,
}

/// One problem in a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.message),
            line => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                line,
                self.column,
                self.message
            ),
        }
    }
}

/// Every problem found in a configuration file, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// A valid configuration and what in it is doubtful without being wrong (a rule-file glob
/// matching no file).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The configuration.
    pub config: Config,
    /// Warnings, located as errors are.
    pub warnings: Vec<ConfigError>,
}

impl ConfigError {
    /// A problem of `file` found while reading it as YAML.
    fn from_yaml(file: &Path, error: YamlError) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            line: error.line,
            column: error.column,
            message: error.described(),
        }
    }
}

/// The directory relative paths in the configuration file `path` resolve against: the file's
/// own (`.` for a bare file name).
pub fn base_dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

impl Config {
    /// Reads and validates the file at `path`; warnings are logged.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let Checked { config, warnings } = Config::check(path)?;
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        Ok(config)
    }

    /// Reads and validates the file at `path`, returning its warnings beside it.
    pub fn check(path: &Path) -> Result<Checked, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            ConfigErrors(vec![ConfigError {
                file: path.to_owned(),
                line: 0,
                column: 0,
                message: format!("cannot read: {error}"),
            }])
        })?;
        Config::check_text(&text, path)
    }

    /// Parses and validates `text`, naming `path` in errors and resolving relative paths
    /// against its directory.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
        Config::check_text(text, path).map(|checked| checked.config)
    }

    /// Every problem of `text`: those of its YAML and types, then the semantic checks over
    /// whatever could be read.
    fn check_text(text: &str, path: &Path) -> Result<Checked, ConfigErrors> {
        let located = |error| ConfigError::from_yaml(path, error);
        let document = Document::parse(text).map_err(|e| ConfigErrors(vec![located(e)]))?;
        let Read { value, errors } = document.read::<Config>();
        let mut errors: Vec<ConfigError> = errors.into_iter().map(located).collect();
        let Some(config) = value else {
            return Err(ConfigErrors(errors));
        };
        let found = validate::validate(&config, &document, path);
        errors.extend(found.errors);
        if errors.is_empty() {
            Ok(Checked {
                config: config.with_files_relative_to(path.parent().unwrap_or(Path::new(""))),
                warnings: found.warnings,
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The configuration used when none is given: the in-process agent (`local_agent`), and
    /// job `osprey` scraping the collector's own `/metrics` at `self_address`, every 15 s.
    pub fn single_node(self_address: &str) -> Config {
        let text = format!(
            "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n\
             local_agent: true\n\
             scrape_configs:\n  - job_name: osprey\n    static_configs:\n      - targets: [{self_address:?}]\n"
        );
        Config::parse(&text, Path::new("<built-in>"))
            .unwrap_or_else(|errors| unreachable!("the built-in configuration is valid: {errors}"))
    }

    /// This configuration with the job scraping the in-process agent at `agent_address` added
    /// when `local_agent` is set. The agent's loopback port changes with every start, so its
    /// series take a stable `instance`, `agent_instance` (the host name), instead.
    pub fn with_local_agent_job(mut self, agent_address: &str, agent_instance: &str) -> Config {
        if !self.local_agent {
            return self;
        }
        let text = format!(
            "job_name: {LOCAL_AGENT_JOB}\nstatic_configs:\n  - targets: [{agent_address:?}]\n\
             \x20   labels: {{instance: {agent_instance:?}}}\n"
        );
        let job = from_yaml::<ScrapeConfig>(&text, Path::new("<built-in>"))
            .unwrap_or_else(|error| unreachable!("the local agent's job is valid: {error}"));
        self.scrape_configs.insert(0, job);
        self
    }

    /// This configuration with the credential and certificate files of its scrape jobs made
    /// relative to `dir`, the configuration file's directory, as Prometheus reads them (rule
    /// files, file_sd files and `alertmanager_config_file` are joined to it where they are
    /// read).
    fn with_files_relative_to(mut self, dir: &Path) -> Config {
        let resolve = |file: &mut PathBuf| *file = dir.join(&*file);
        for job in &mut self.scrape_configs {
            if let Some(tls) = &mut job.tls_config {
                tls.ca_file.iter_mut().for_each(resolve);
                tls.cert_file.iter_mut().for_each(resolve);
                tls.key_file.iter_mut().for_each(resolve);
            }
            if let Some(basic) = &mut job.basic_auth {
                basic.password_file.iter_mut().for_each(resolve);
            }
            job.bearer_token_file.iter_mut().for_each(resolve);
        }
        self
    }

    /// The scrape interval of `job`, or the global one.
    pub fn interval_of(&self, job: &ScrapeConfig) -> PromDuration {
        job.scrape_interval.unwrap_or(self.global.scrape_interval)
    }

    /// The scrape timeout of `job`: its own, else the global one, never above its interval.
    pub fn timeout_of(&self, job: &ScrapeConfig) -> PromDuration {
        let timeout = job.scrape_timeout.unwrap_or(self.global.scrape_timeout);
        timeout.min(self.interval_of(job))
    }
}

/// Deserializes YAML (or JSON) `text`, turning its first problem into a located
/// [`ConfigError`].
pub fn from_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    from_yaml_str(text).map_err(|errors: Vec<YamlError>| {
        let first = errors.into_iter().next().unwrap_or_else(|| YamlError {
            line: 0,
            column: 0,
            path: Default::default(),
            message: "cannot be read".to_owned(),
        });
        ConfigError::from_yaml(path, first)
    })
}

#[cfg(test)]
mod tests;
