//! `osprey-collector check-config`: validates a configuration with the rule files and the
//! Alertmanager configuration it names, and says what it found, so that a wrong path or an
//! empty section shows before the collector starts with nothing to do.

use std::fmt::Write as _;
use std::path::Path;

use crate::alerting::{self, AlertingSource, AlertingSummary};
use crate::config::{Checked, Config, LOCAL_AGENT_JOB, base_dir_of};

/// The verdict on one configuration file.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Whether the file, its rule files and its Alertmanager configuration are valid.
    pub valid: bool,
    /// What to print on standard output: what was found, when valid.
    pub report: String,
    /// What to print on standard error: every problem, then warnings.
    pub problems: Vec<String>,
}

/// Checks `file` as the collector would load it at start.
pub fn check_config(file: &Path) -> Verdict {
    let Checked { config, warnings } = match Config::check(file) {
        Ok(checked) => checked,
        Err(errors) => {
            let count = errors.0.len();
            return invalid(
                errors.0.iter().map(ToString::to_string),
                format!("{}: {count} error(s)", file.display()),
            );
        }
    };
    let jobs = crate::scrape::check_jobs(&config);
    if !jobs.is_empty() {
        let count = jobs.len();
        return invalid(
            jobs.iter()
                .map(|error| format!("{}: {error}", file.display())),
            format!("{}: {count} error(s) in scrape jobs", file.display()),
        );
    }
    let mut problems: Vec<String> = warnings.iter().map(|w| format!("warning: {w}")).collect();
    let base_dir = base_dir_of(file);
    let source = AlertingSource {
        config: &config,
        base_dir: &base_dir,
        single_node: false,
    };
    let alerting = match alerting::check(source) {
        Ok(summary) => summary,
        Err(found) => {
            let count = found.len();
            return invalid(
                problems.into_iter().chain(found),
                format!(
                    "{}: {count} error(s) in rule files or notifications",
                    file.display()
                ),
            );
        }
    };
    let found = Found::of(&config);
    problems.extend(found.warnings(&alerting));
    problems.extend(unknown_threshold_alerts(&config, &alerting));
    Verdict {
        valid: true,
        report: found.render(file, &alerting),
        problems,
    }
}

fn invalid(problems: impl Iterator<Item = String>, last: String) -> Verdict {
    Verdict {
        valid: false,
        report: String::new(),
        problems: problems.chain([last]).collect(),
    }
}

/// The scrape side of a valid configuration.
struct Found {
    local_agent: bool,
    jobs: Vec<JobFound>,
}

struct JobFound {
    name: String,
    static_targets: usize,
    file_sd_patterns: usize,
}

impl Found {
    fn of(config: &Config) -> Found {
        let local = config.local_agent.then(|| JobFound {
            name: LOCAL_AGENT_JOB.to_owned(),
            static_targets: 1,
            file_sd_patterns: 0,
        });
        let jobs = local
            .into_iter()
            .chain(config.scrape_configs.iter().map(|job| JobFound {
                name: job.job_name.value.clone(),
                static_targets: job.static_configs.iter().map(|s| s.targets.len()).sum(),
                file_sd_patterns: job.file_sd_configs.iter().map(|f| f.files.len()).sum(),
            }));
        Found {
            local_agent: config.local_agent,
            jobs: jobs.collect(),
        }
    }

    fn render(&self, file: &Path, alerting: &AlertingSummary) -> String {
        let mut out = format!("{}: ok\n", file.display());
        let _ = writeln!(out, "  scrape jobs: {}", self.jobs.len());
        for (index, job) in self.jobs.iter().enumerate() {
            let mut what = plural(job.static_targets, "static target");
            if job.file_sd_patterns > 0 {
                what += &format!(", {}", plural(job.file_sd_patterns, "file_sd file pattern"));
            }
            if self.local_agent && index == 0 {
                what += " (the in-process agent: this machine)";
            }
            let _ = writeln!(out, "    {}: {what}", job.name);
        }
        let _ = writeln!(
            out,
            "  rules: {} in {} from {} ({} alerting, {} recording)",
            alerting.alerting_rules + alerting.recording_rules,
            plural(alerting.groups, "group"),
            plural(alerting.rule_files, "rule file"),
            alerting.alerting_rules,
            alerting.recording_rules,
        );
        let _ = writeln!(out, "  receivers: {}", alerting.receivers.len());
        for receiver in &alerting.receivers {
            let _ = writeln!(
                out,
                "    {}: {}, {}",
                receiver.name,
                plural(receiver.email, "email destination"),
                plural(receiver.webhook, "webhook")
            );
        }
        out
    }

    /// What is valid but probably not what the user meant: nothing to scrape, no rule, no way
    /// to send an alert.
    fn warnings(&self, alerting: &AlertingSummary) -> Vec<String> {
        let mut warnings = Vec::new();
        let targets: usize = self
            .jobs
            .iter()
            .map(|job| job.static_targets + job.file_sd_patterns)
            .sum();
        if targets == 0 {
            warnings.push(
                "warning: no scrape target: nothing will be collected (add scrape_configs, or \
                 local_agent: true to monitor this machine)"
                    .to_owned(),
            );
        }
        if alerting.alerting_rules == 0 {
            warnings.push(
                "warning: no alerting rule: no alert will fire (rule_files, e.g. the shipped \
                 alert-rules/*.yml)"
                    .to_owned(),
            );
        }
        if alerting.receivers.iter().all(|r| r.email + r.webhook == 0) {
            warnings.push(
                "warning: no email or webhook receiver: alerts are recorded, not sent (add an \
                 alertmanager: section or alertmanager_config_file)"
                    .to_owned(),
            );
        }
        warnings
    }
}

/// A threshold for an alert no rule raises is most often a misspelt name: it would silently
/// change nothing.
fn unknown_threshold_alerts(config: &Config, alerting: &AlertingSummary) -> Vec<String> {
    let named: std::collections::BTreeSet<&String> = config
        .thresholds
        .0
        .iter()
        .flat_map(|entry| entry.alerts.keys())
        .collect();
    named
        .into_iter()
        .filter(|alert| !alerting.alert_names.contains(*alert))
        .map(|alert| {
            format!("warning: thresholds: no alerting rule is named {alert:?}; this threshold changes nothing")
        })
        .collect()
}

fn plural(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}
