//! Checks a deserialized configuration for what types cannot express, collecting every problem.

use std::collections::HashSet;
use std::path::Path;

use serde_saphyr::Location;

use super::{Config, ConfigError, RelabelAction, RelabelConfig, ScrapeConfig};
use crate::vocab::is_label_name;

/// Every problem in `config`, located as precisely as the file allows.
pub(super) fn validate(config: &Config, path: &Path) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut error = |at: Location, message: String| {
        errors.push(ConfigError {
            file: path.to_owned(),
            line: at.line(),
            column: at.column(),
            message,
        });
    };
    let nowhere = Location::UNKNOWN;
    if config.global.scrape_interval.0.is_zero() {
        error(nowhere, "global.scrape_interval must be above zero".into());
    }
    for name in config.global.external_labels.keys() {
        if !is_label_name(name) {
            error(nowhere, format!("invalid external label name {name:?}"));
        }
    }
    if config.alertmanager.is_some() && config.alertmanager_config_file.is_some() {
        error(
            nowhere,
            "alertmanager and alertmanager_config_file are mutually exclusive".into(),
        );
    }
    let mut jobs = HashSet::new();
    for job in &config.scrape_configs {
        let at = job.job_name.referenced;
        let name = &job.job_name.value;
        if name.is_empty() {
            error(at, "job_name must not be empty".into());
        } else if !jobs.insert(name.as_str()) {
            error(at, format!("duplicate job_name {name:?}"));
        }
        for problem in job_problems(config, job) {
            error(at, format!("job {name:?}: {problem}"));
        }
        for relabel in job
            .relabel_configs
            .iter()
            .chain(&job.metric_relabel_configs)
        {
            for (at_regex, problem) in relabel_problems(relabel) {
                let at = if at_regex {
                    relabel.regex.referenced
                } else {
                    at
                };
                error(at, format!("job {name:?}: {problem}"));
            }
        }
    }
    errors
}

fn job_problems(config: &Config, job: &ScrapeConfig) -> Vec<String> {
    let mut problems = Vec::new();
    let interval = config.interval_of(job);
    if interval.0.is_zero() {
        problems.push("scrape_interval must be above zero".to_owned());
    }
    if let Some(timeout) = job.scrape_timeout
        && timeout > interval
    {
        problems.push(format!(
            "scrape timeout {timeout} greater than scrape interval {interval}"
        ));
    }
    if !job.metrics_path.starts_with('/') {
        problems.push(format!(
            "metrics_path {:?} must start with '/'",
            job.metrics_path
        ));
    }
    if let Some(auth) = &job.basic_auth
        && auth.password.is_some()
        && auth.password_file.is_some()
    {
        problems.push("basic_auth: password and password_file are mutually exclusive".into());
    }
    if job.bearer_token.is_some() && job.bearer_token_file.is_some() {
        problems.push("bearer_token and bearer_token_file are mutually exclusive".into());
    }
    if job.basic_auth.is_some() && (job.bearer_token.is_some() || job.bearer_token_file.is_some()) {
        problems.push("basic_auth and bearer_token are mutually exclusive".into());
    }
    for group in &job.static_configs {
        for target in &group.targets {
            if let Err(problem) = check_target(target) {
                problems.push(problem.to_string());
            }
        }
        for name in group.labels.keys() {
            if !is_label_name(name) {
                problems.push(format!("invalid label name {name:?}"));
            }
        }
    }
    for sd in &job.file_sd_configs {
        if sd.files.is_empty() {
            problems.push("file_sd_configs: files must not be empty".into());
        }
    }
    problems
}

/// A target that is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("target {0:?} must be host:port, without a scheme or a path")]
pub struct InvalidTarget(pub String);

/// A target must be `host:port` (or a bare host), without a scheme or a path.
pub fn check_target(target: &str) -> Result<(), InvalidTarget> {
    if target.is_empty() || target.contains('/') || target.contains(char::is_whitespace) {
        return Err(InvalidTarget(target.to_owned()));
    }
    Ok(())
}

/// Problems of one relabelling step; `true` when the regex is at fault.
fn relabel_problems(relabel: &RelabelConfig) -> Vec<(bool, String)> {
    let mut problems = Vec::new();
    if let Err(e) = regex::Regex::new(&format!("^(?s:{})$", relabel.regex.value)) {
        // The regex crate's message spans lines; its last line says what is wrong.
        let reason = e.to_string();
        let reason = reason.lines().last().unwrap_or_default();
        let reason = reason.trim_start_matches("error: ");
        problems.push((
            true,
            format!("invalid regex {:?}: {reason}", relabel.regex.value),
        ));
    }
    let target = relabel.target_label.as_deref().unwrap_or("");
    match relabel.action {
        RelabelAction::Replace if target.is_empty() => {
            problems.push((false, "relabel action replace requires target_label".into()))
        }
        RelabelAction::Hashmod if target.is_empty() || relabel.modulus.unwrap_or(0) == 0 => {
            problems.push((
                false,
                "relabel action hashmod requires target_label and a modulus above zero".into(),
            ))
        }
        RelabelAction::Labeldrop | RelabelAction::Labelkeep
            if !relabel.source_labels.is_empty() || !target.is_empty() =>
        {
            problems.push((
                false,
                "labeldrop and labelkeep take only regex, not source_labels or target_label".into(),
            ))
        }
        _ => {}
    }
    problems
}
