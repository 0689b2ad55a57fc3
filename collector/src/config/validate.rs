//! Checks a deserialized configuration for what types cannot express, collecting every problem
//! at the field it is about.

use std::collections::HashMap;
use std::path::Path;

use super::{Config, ConfigError, RelabelAction, RelabelConfig, ScrapeConfig, base_dir_of};
use crate::vocab::{Document, YamlPath, expand_glob, is_label_name};

/// What the checks found: errors refuse the configuration, warnings do not.
#[derive(Default)]
pub(super) struct Findings {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

/// Problems reported at the position of the field they name.
struct Report<'a> {
    document: &'a Document,
    file: &'a Path,
    findings: Findings,
}

impl Report<'_> {
    fn located(&self, field: &YamlPath, message: String) -> ConfigError {
        let (line, column) = self.document.position(field);
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            message: format!("{field}: {message}"),
        }
    }

    fn error(&mut self, field: &YamlPath, message: String) {
        let error = self.located(field, message);
        self.findings.errors.push(error);
    }

    fn warning(&mut self, field: &YamlPath, message: String) {
        let warning = self.located(field, message);
        self.findings.warnings.push(warning);
    }
}

/// Every problem in `config`, read from `document` in `file`.
pub(super) fn validate(config: &Config, document: &Document, file: &Path) -> Findings {
    let mut report = Report {
        document,
        file,
        findings: Findings::default(),
    };
    let root = YamlPath::default();
    let global = root.key("global");
    if config.global.scrape_interval.0.is_zero() {
        report.error(&global.key("scrape_interval"), "must be above zero".into());
    }
    for name in config.global.external_labels.keys() {
        if !is_label_name(name) {
            let field = global.key("external_labels").key(name);
            report.error(&field, format!("invalid label name {name:?}"));
        }
    }
    if config.alertmanager.is_some() && config.alertmanager_config_file.is_some() {
        report.error(
            &root.key("alertmanager_config_file"),
            "alertmanager and alertmanager_config_file are mutually exclusive".into(),
        );
    }
    check_rule_files(config, &mut report);
    let mut jobs: HashMap<&str, YamlPath> = HashMap::new();
    for job in &config.scrape_configs {
        let at = job.job_name.path.parent();
        let name = job.job_name.value.as_str();
        if name.is_empty() {
            report.error(&job.job_name.path, "must not be empty".into());
        } else if config.local_agent && name == super::LOCAL_AGENT_JOB {
            let message = format!(
                "job_name {name:?} is the in-process agent's job while local_agent is true; \
                 rename this job or drop local_agent"
            );
            report.error(&job.job_name.path, message);
        } else if let Some(first) = jobs.get(name) {
            let message = format!("duplicate job_name {name:?} (first in {first})");
            report.error(&job.job_name.path, message);
        } else {
            jobs.insert(name, at.clone());
        }
        for (field, problem) in job_problems(config, job, &at) {
            report.error(&field, problem);
        }
    }
    report.findings
}

/// A rule file that cannot be read is an error at its line; a glob matching nothing, a
/// warning (Prometheus accepts it too).
fn check_rule_files(config: &Config, report: &mut Report<'_>) {
    let base_dir = base_dir_of(report.file);
    let list = YamlPath::default().key("rule_files");
    for (index, pattern) in config.rule_files.iter().enumerate() {
        let field = list.index(index);
        let files = expand_glob(&base_dir.join(pattern));
        if files.is_empty() {
            report.warning(&field, format!("{pattern:?} matches no file"));
        }
        for file in files {
            let problem = match std::fs::metadata(&file) {
                Ok(meta) if meta.is_file() => continue,
                Ok(_) => "not a file".to_owned(),
                Err(error) => io_reason(&error),
            };
            let message = format!("cannot read {}: {problem}", file.display());
            report.error(&field, message);
        }
    }
}

/// An I/O error's reason without the `(os error N)` suffix.
fn io_reason(error: &std::io::Error) -> String {
    let reason = error.to_string();
    match reason.find(" (os error") {
        Some(end) => reason[..end].to_owned(),
        None => reason,
    }
}

fn job_problems(config: &Config, job: &ScrapeConfig, at: &YamlPath) -> Vec<(YamlPath, String)> {
    let mut problems = Vec::new();
    let interval = config.interval_of(job);
    if job.scrape_interval.is_some() && interval.0.is_zero() {
        problems.push((at.key("scrape_interval"), "must be above zero".to_owned()));
    }
    if let Some(timeout) = job.scrape_timeout
        && timeout > interval
    {
        problems.push((
            at.key("scrape_timeout"),
            format!("{timeout} is greater than the scrape interval {interval}"),
        ));
    }
    if !job.metrics_path.starts_with('/') {
        problems.push((
            at.key("metrics_path"),
            format!("{:?} must start with '/'", job.metrics_path),
        ));
    }
    if let Some(auth) = &job.basic_auth
        && auth.password.is_some()
        && auth.password_file.is_some()
    {
        problems.push((
            at.key("basic_auth").key("password_file"),
            "password and password_file are mutually exclusive".into(),
        ));
    }
    if job.bearer_token.is_some() && job.bearer_token_file.is_some() {
        problems.push((
            at.key("bearer_token_file"),
            "bearer_token and bearer_token_file are mutually exclusive".into(),
        ));
    }
    if job.basic_auth.is_some() && (job.bearer_token.is_some() || job.bearer_token_file.is_some()) {
        problems.push((
            at.key("basic_auth"),
            "basic_auth and bearer_token are mutually exclusive".into(),
        ));
    }
    for (i, group) in job.static_configs.iter().enumerate() {
        let group_at = at.key("static_configs").index(i);
        for (j, target) in group.targets.iter().enumerate() {
            if let Err(problem) = check_target(target) {
                problems.push((group_at.key("targets").index(j), problem.to_string()));
            }
        }
        for name in group.labels.keys() {
            if !is_label_name(name) {
                let field = group_at.key("labels").key(name);
                problems.push((field, format!("invalid label name {name:?}")));
            }
        }
    }
    for (i, sd) in job.file_sd_configs.iter().enumerate() {
        if sd.files.is_empty() {
            let field = at.key("file_sd_configs").index(i).key("files");
            problems.push((field, "must not be empty".into()));
        }
    }
    let relabel_lists = [
        ("relabel_configs", &job.relabel_configs),
        ("metric_relabel_configs", &job.metric_relabel_configs),
    ];
    for (list, steps) in relabel_lists {
        for (i, relabel) in steps.iter().enumerate() {
            let step_at = at.key(list).index(i);
            for (field, problem) in relabel_problems(relabel) {
                problems.push((step_at.key(field), problem));
            }
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

/// Problems of one relabelling step, each with the field at fault.
fn relabel_problems(relabel: &RelabelConfig) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if let Err(e) = regex::Regex::new(&format!("^(?s:{})$", relabel.regex.value)) {
        // The regex crate's message spans lines; its last line says what is wrong.
        let reason = e.to_string();
        let reason = reason.lines().last().unwrap_or_default();
        let reason = reason.trim_start_matches("error: ");
        let message = format!("invalid regex {:?}: {reason}", relabel.regex.value);
        problems.push(("regex", message));
    }
    let target = relabel.target_label.as_deref().unwrap_or("");
    let problem = match relabel.action {
        RelabelAction::Replace if target.is_empty() => "action replace requires target_label",
        RelabelAction::Hashmod if target.is_empty() || relabel.modulus.unwrap_or(0) == 0 => {
            "action hashmod requires target_label and a modulus above zero"
        }
        RelabelAction::Labeldrop | RelabelAction::Labelkeep
            if !relabel.source_labels.is_empty() || !target.is_empty() =>
        {
            "labeldrop and labelkeep take only regex, not source_labels or target_label"
        }
        _ => return problems,
    };
    problems.push(("action", problem.to_owned()));
    problems
}
