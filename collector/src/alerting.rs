//! Starts alerting from the configuration: loads the rule files, opens the notifier on the
//! store's key-value tables, and evaluates every group on its interval through the query engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, Thresholds};
use crate::labels::Labels;
use crate::notify::{Notifications, Notifier, NotifierError, off_async};
use crate::promql::{Engine, QueryValue};
use crate::rules::{
    RuleDeps, RuleError, RuleGroup, RuleKind, RuleManager, StoredAlertState, ThresholdSeries,
    load_rule_file,
};
use crate::tsdb::{Appendable, Storage};
use crate::vocab::expand_glob;

/// Where the single-node default looks for rule files when no configuration names any.
pub const DEFAULT_RULES_DIR: &str = "alert-rules";

/// How often a firing alert is handed to the notifier again (Prometheus's default).
const RESEND_DELAY: Duration = Duration::from_secs(60);

/// How long resolved alert records are kept when `storage.alert_history_retention` is unset.
const DEFAULT_HISTORY_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

fn history_retention(config: &Config) -> Duration {
    (config.storage.alert_history_retention).map_or(DEFAULT_HISTORY_RETENTION, |d| d.0)
}

/// Why alerting could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertingError {
    /// A rule file is invalid; the message lists every problem as promtool does.
    #[error("{0}")]
    Rules(String),
    /// The Alertmanager configuration is invalid.
    #[error("alertmanager configuration: {0}")]
    Notifications(String),
    /// The notifier's tables could not be opened.
    #[error("cannot open the notification queue: {0}")]
    Notifier(#[from] NotifierError),
}

/// The running rule groups and notifier, for the API and `/metrics`.
#[derive(Clone)]
pub struct Alerting {
    /// Every rule group.
    pub rules: RuleManager,
    /// Routing and delivery of alerts.
    pub notifier: Notifier,
}

/// Rule groups and notifications read afresh from the files, checked and ready to replace
/// the running ones.
pub struct Reloaded {
    groups: Vec<RuleGroup>,
    notifications: Notifications,
    evaluation_interval: Duration,
    thresholds: Thresholds,
    history_retention: Duration,
}

impl Reloaded {
    /// Reads and checks the rule files and the Alertmanager configuration `source` names.
    pub fn read(source: AlertingSource<'_>) -> Result<Reloaded, AlertingError> {
        let AlertingSource {
            config,
            base_dir,
            single_node,
        } = source;
        Ok(Reloaded {
            groups: load_groups(&rule_files(config, base_dir, single_node))?,
            notifications: notifications(config, base_dir)?,
            evaluation_interval: config.global.evaluation_interval.0,
            thresholds: config.thresholds.clone(),
            history_retention: history_retention(config),
        })
    }
}

impl Alerting {
    /// Switches to reloaded rules and notifications; rules that stay keep their alerts, and
    /// queued notifications carry on.
    pub async fn apply(&self, reloaded: Reloaded) {
        let rule_count: usize = reloaded.groups.iter().map(|g| g.rules.len()).sum();
        let rules = self.rules.clone();
        // New rules read their saved alerts from the store.
        off_async(move || rules.replace(reloaded.groups, reloaded.evaluation_interval)).await;
        self.rules.set_thresholds(reloaded.thresholds);
        self.notifier.reload(reloaded.notifications);
        self.notifier
            .history
            .set_retention(reloaded.history_retention);
        tracing::info!(rules = rule_count, "rules and notifications reloaded");
    }
}

/// Where alerting takes its settings from.
#[derive(Clone, Copy)]
pub struct AlertingSource<'a> {
    /// The collector's configuration.
    pub config: &'a Config,
    /// What relative paths in it are relative to.
    pub base_dir: &'a Path,
    /// Whether this is the single-node default (no configuration file), which loads the rules
    /// in `alert-rules/` when present.
    pub single_node: bool,
}

/// Loads the rules and notifications `source` names, picks up the alerts, silences, history
/// and queued notifications the store holds, then starts evaluation and delivery until
/// `shutdown` turns true.
pub async fn start(
    source: AlertingSource<'_>,
    storage: &Arc<Storage>,
    engine: Engine,
    external_url: &str,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<Alerting, AlertingError> {
    let config = source.config;
    let Reloaded {
        groups,
        notifications,
        evaluation_interval,
        thresholds,
        history_retention,
    } = Reloaded::read(source)?;
    let rule_count: usize = groups.iter().map(|g| g.rules.len()).sum();
    let storage = Arc::clone(storage);
    let external_labels = config.global.external_labels.clone();
    let external_url = external_url.to_owned();
    let base_dir = source.base_dir.to_owned();
    // Opening reads what the previous run left in the store.
    let (notifier, rules) = off_async(move || {
        let store = storage.key_value();
        let notifier = Notifier::open(notifications, store.clone(), &external_url)?;
        notifier.history.set_retention(history_retention);
        let state_store = StoredAlertState::new(store).relative_to(&base_dir);
        let deps = RuleDeps {
            query: Arc::new(move |expr: &str, at_ms: i64| instant_vector(&engine, expr, at_ms)),
            storage: storage as Arc<dyn Appendable>,
            notify: Arc::new(notifier.clone()),
            state_store: Some(Arc::new(state_store)),
            external_labels,
            external_url,
            resend_delay: RESEND_DELAY,
            thresholds: Arc::new(ThresholdSeries::new(thresholds)),
        };
        let rules = RuleManager::new(groups, evaluation_interval, deps);
        Ok::<_, AlertingError>((notifier, rules))
    })
    .await?;
    rules.spawn(shutdown.clone());
    notifier.spawn(shutdown);
    tracing::info!(rules = rule_count, "alerting started");
    Ok(Alerting { rules, notifier })
}

/// What the rule files and the Alertmanager configuration of a valid configuration hold.
#[derive(Debug, Clone, Default)]
pub struct AlertingSummary {
    /// The rule files found (globs expanded).
    pub rule_files: usize,
    /// Rule groups in them.
    pub groups: usize,
    /// Alerting rules.
    pub alerting_rules: usize,
    /// Recording rules.
    pub recording_rules: usize,
    /// The names of the alerting rules.
    pub alert_names: std::collections::BTreeSet<String>,
    /// Receivers with their email and webhook destination counts; empty when no Alertmanager
    /// configuration is given (alerts are then recorded, not sent).
    pub receivers: Vec<ReceiverSummary>,
}

/// One receiver of the Alertmanager configuration.
#[derive(Debug, Clone)]
pub struct ReceiverSummary {
    /// Its name.
    pub name: String,
    /// Email destinations.
    pub email: usize,
    /// Webhook destinations.
    pub webhook: usize,
}

/// Checks the rule files and the Alertmanager configuration `source` names without starting
/// anything: what they hold, or every problem found.
pub fn check(source: AlertingSource<'_>) -> Result<AlertingSummary, Vec<String>> {
    let AlertingSource {
        config,
        base_dir,
        single_node,
    } = source;
    let mut summary = AlertingSummary::default();
    let mut problems = Vec::new();
    for file in rule_files(config, base_dir, single_node) {
        summary.rule_files += 1;
        match load_rule_file(&file) {
            Ok(groups) => count_rules(&groups, &mut summary),
            Err(errors) => problems.push(errors.to_string()),
        }
    }
    match notifications(config, base_dir) {
        Ok(notifications) if sends(config) => {
            summary.receivers = notifications
                .receivers
                .iter()
                .map(|receiver| ReceiverSummary {
                    name: receiver.name.clone(),
                    email: receiver.email.len(),
                    webhook: receiver.webhook.len(),
                })
                .collect();
        }
        Ok(_) => {}
        Err(error) => problems.push(error.to_string()),
    }
    match problems.is_empty() {
        true => Ok(summary),
        false => Err(problems),
    }
}

fn count_rules(groups: &[RuleGroup], summary: &mut AlertingSummary) {
    summary.groups += groups.len();
    for rule in groups.iter().flat_map(|group| &group.rules) {
        match rule.kind {
            RuleKind::Alerting { .. } => {
                summary.alerting_rules += 1;
                summary.alert_names.insert(rule.name.clone());
            }
            RuleKind::Recording => summary.recording_rules += 1,
        }
    }
}

/// Whether the configuration names an Alertmanager configuration (else alerts are recorded
/// without being sent).
fn sends(config: &Config) -> bool {
    config.alertmanager.is_some() || config.alertmanager_config_file.is_some()
}

/// The rule files to load: the configuration's `rule_files` (with `*` globs in file names), or
/// for the single-node default the `alert-rules/` directory when present.
fn rule_files(config: &Config, base_dir: &Path, single_node: bool) -> Vec<PathBuf> {
    let patterns: Vec<PathBuf> = if config.rule_files.is_empty() && single_node {
        vec![Path::new(DEFAULT_RULES_DIR).join("*.yml")]
    } else {
        config.rule_files.iter().map(|p| base_dir.join(p)).collect()
    };
    patterns.iter().flat_map(|p| expand_glob(p)).collect()
}

fn load_groups(files: &[PathBuf]) -> Result<Vec<RuleGroup>, AlertingError> {
    let mut groups = Vec::new();
    for file in files {
        let loaded = load_rule_file(file).map_err(|e| AlertingError::Rules(e.to_string()))?;
        tracing::info!(file = %file.display(), groups = loaded.len(), "rule file loaded");
        groups.extend(loaded);
    }
    Ok(groups)
}

/// The configured notifications, or a setup that records alerts without sending them.
fn notifications(config: &Config, base_dir: &Path) -> Result<Notifications, AlertingError> {
    let invalid = |e: crate::notify::ConfigError| AlertingError::Notifications(e.to_string());
    if let Some(file) = &config.alertmanager_config_file {
        let file = base_dir.join(file);
        let dir = file.parent().unwrap_or(base_dir);
        return crate::notify::load_alertmanager_file(&file)
            .map(|notifications| notifications.with_files_relative_to(dir))
            .map_err(invalid);
    }
    match &config.alertmanager {
        Some(inline) => inline
            .clone()
            .validate()
            .map(|notifications| notifications.with_files_relative_to(base_dir))
            .map_err(invalid),
        None => {
            tracing::info!("no alertmanager configuration: alerts are recorded, not sent");
            crate::notify::parse_alertmanager_config(
                "route:\n  receiver: none\nreceivers:\n  - name: none\n",
            )
            .map_err(invalid)
        }
    }
}

fn instant_vector(
    engine: &Engine,
    expr: &str,
    at_ms: i64,
) -> Result<Vec<(Labels, f64)>, RuleError> {
    let parsed = crate::promql::parse(expr)?;
    match engine.instant_blocking(&parsed, at_ms)? {
        QueryValue::Vector(samples) => Ok(samples.into_iter().map(|(l, p)| (l, p.v)).collect()),
        QueryValue::Scalar(point) => Ok(vec![(Labels::default(), point.v)]),
        other => Err(RuleError::NotAVector(other.type_name())),
    }
}
