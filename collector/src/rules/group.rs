//! Rule groups at run time: each group evaluates its rules in order on its interval, writes
//! their output, hands alerts to the notifier and saves alert state.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::alert::{Alert, NotifierAlert};
use super::evaluate::{EvalContext, QueryFn, RuleState};
use super::file::{RuleGroup, RuleKind};
use super::state_store::AlertStateStore;
use super::thresholds::ThresholdSeries;
use crate::labels::Labels;
use crate::tsdb::{Appendable, STALE_NAN_BITS};

/// Receives the alerts that need sending after an evaluation. Called on the evaluation's
/// blocking thread, so an implementation may write to the store.
pub trait Notify: Send + Sync {
    /// Hands over alerts (firing ones and freshly resolved ones).
    fn notify(&self, alerts: Vec<NotifierAlert>);
}

impl<F: Fn(Vec<NotifierAlert>) + Send + Sync> Notify for F {
    fn notify(&self, alerts: Vec<NotifierAlert>) {
        self(alerts)
    }
}

/// What rule groups need from the rest of the collector.
pub struct RuleDeps {
    /// Runs the rules' queries.
    pub query: Arc<dyn QueryFn>,
    /// Where ALERTS, ALERTS_FOR_STATE and recording-rule series go.
    pub storage: Arc<dyn Appendable>,
    /// Where alerts go.
    pub notify: Arc<dyn Notify>,
    /// Where alert state is kept across restarts, if anywhere.
    pub state_store: Option<Arc<dyn AlertStateStore>>,
    /// External labels, for templates.
    pub external_labels: BTreeMap<String, String>,
    /// The collector's URL as users reach it (links in notifications).
    pub external_url: String,
    /// How often a firing alert is handed to the notifier again (Prometheus: 1m).
    pub resend_delay: Duration,
    /// The per-target thresholds, recorded before each group's evaluation.
    pub thresholds: Arc<ThresholdSeries>,
}

/// The health of a rule after its last evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleHealth {
    /// Last error, if the last evaluation failed.
    pub last_error: Option<String>,
    /// Time of the last evaluation (Unix ms; 0: never).
    pub last_evaluation_ms: i64,
    /// How long it took.
    pub evaluation_time: Duration,
}

/// A group with its rules' state and health.
#[derive(Debug, Clone)]
pub struct GroupState {
    /// The group as loaded.
    pub group: RuleGroup,
    /// How often it runs.
    pub interval: Duration,
    /// The rules and their alerts, in order.
    pub rules: Vec<RuleState>,
    /// Per-rule health, same order.
    pub health: Vec<RuleHealth>,
    /// Time of the last evaluation (Unix ms; 0: never).
    pub last_evaluation_ms: i64,
    /// How long the last evaluation took.
    pub evaluation_time: Duration,
    /// Evaluation failures since start.
    pub failures: u64,
    previous_series: Vec<HashSet<Labels>>,
    saved: BTreeMap<String, Vec<Alert>>,
    /// Replaced by a reload: evaluation tasks that still hold it leave it alone.
    retired: bool,
}

impl GroupState {
    /// A group ready to run, with alert state restored from `deps.state_store`.
    pub fn new(group: RuleGroup, default_interval: Duration, deps: &RuleDeps) -> Self {
        let interval = group.interval.unwrap_or(default_interval);
        let mut rules: Vec<RuleState> = group.rules.iter().cloned().map(RuleState::new).collect();
        let mut saved = BTreeMap::new();
        if let Some(store) = &deps.state_store {
            for rule in rules.iter_mut().filter(|r| is_alerting(r)) {
                let key = state_key(&group, &rule.rule.name);
                match store.load(&key) {
                    Ok(alerts) => {
                        rule.alerts = alerts
                            .iter()
                            .map(|a| (a.labels.clone(), a.clone()))
                            .collect();
                        saved.insert(key, alerts);
                    }
                    Err(e) => {
                        tracing::warn!(group = %group.name, rule = %rule.rule.name, "cannot restore alert state: {e}")
                    }
                }
            }
        }
        let count = rules.len();
        GroupState {
            group,
            interval,
            rules,
            health: vec![RuleHealth::default(); count],
            last_evaluation_ms: 0,
            evaluation_time: Duration::ZERO,
            failures: 0,
            previous_series: vec![HashSet::new(); count],
            saved,
            retired: false,
        }
    }

    /// Takes over what `old` (the same group before a reload) knew about rules that are still
    /// here under the same name and kind: their alerts, their output series and their health.
    pub fn carry_over(&mut self, old: &mut GroupState) {
        for (index, rule) in self.rules.iter_mut().enumerate() {
            let Some(old_index) = old.rules.iter().position(|r| {
                r.rule.name == rule.rule.name
                    && std::mem::discriminant(&r.rule.kind)
                        == std::mem::discriminant(&rule.rule.kind)
            }) else {
                continue;
            };
            rule.alerts = std::mem::take(&mut old.rules[old_index].alerts);
            self.previous_series[index] = std::mem::take(&mut old.previous_series[old_index]);
            self.health[index] = old.health[old_index].clone();
        }
        self.saved.extend(std::mem::take(&mut old.saved));
        self.failures = old.failures;
        self.last_evaluation_ms = old.last_evaluation_ms;
        self.evaluation_time = old.evaluation_time;
    }

    /// Marks the group as replaced by a reload: it is not evaluated again.
    pub fn retire(&mut self) {
        self.retired = true;
    }

    /// Whether a reload replaced this group.
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Evaluates every rule once at `at_ms`, in order.
    pub fn evaluate(&mut self, deps: &RuleDeps, at_ms: i64) {
        let started = Instant::now();
        let ctx = EvalContext {
            at_ms,
            query_offset_ms: self.group.query_offset.map_or(0, |d| d.as_millis() as i64),
            group_labels: &self.group.labels,
            limit: self.group.limit,
            external_labels: &deps.external_labels,
            external_url: &deps.external_url,
        };
        deps.thresholds
            .record(deps.query.as_ref(), deps.storage.as_ref(), at_ms);
        let mut to_send = Vec::new();
        for (index, rule) in self.rules.iter_mut().enumerate() {
            // One batch per rule, as Prometheus does: later rules of the group read what
            // earlier ones recorded at this same evaluation.
            let mut appender = deps.storage.appender("");
            let rule_started = Instant::now();
            let result = rule.evaluate(deps.query.as_ref(), &ctx);
            let health = &mut self.health[index];
            health.last_evaluation_ms = at_ms;
            let current: HashSet<Labels> = match result {
                Ok(samples) => {
                    health.last_error = None;
                    for (labels, value) in &samples {
                        if let Err(e) = appender.append(labels, at_ms, *value) {
                            tracing::warn!(rule = %rule.rule.name, "cannot write rule output {labels}: {e}");
                        }
                    }
                    samples.into_iter().map(|(labels, _)| labels).collect()
                }
                Err(e) => {
                    tracing::warn!(group = %self.group.name, rule = %rule.rule.name, "evaluation failed: {e}");
                    health.last_error = Some(e.to_string());
                    self.failures += 1;
                    // Prometheus marks a failed rule's previous output stale as well.
                    HashSet::new()
                }
            };
            for gone in self.previous_series[index].difference(&current) {
                let _ = appender.append(gone, at_ms, f64::from_bits(STALE_NAN_BITS));
            }
            if let Err(e) = appender.commit() {
                tracing::warn!(group = %self.group.name, rule = %rule.rule.name, "cannot commit rule output: {e}");
            }
            self.previous_series[index] = current;
            health.evaluation_time = rule_started.elapsed();
            if is_alerting(rule) {
                to_send.extend(alerts_to_send(rule, deps, at_ms, self.interval));
            }
        }
        self.save_state(deps);
        self.last_evaluation_ms = at_ms;
        self.evaluation_time = started.elapsed();
        if !to_send.is_empty() {
            deps.notify.notify(to_send);
        }
    }

    fn save_state(&mut self, deps: &RuleDeps) {
        let Some(store) = &deps.state_store else {
            return;
        };
        let mut changed = Vec::new();
        for rule in self.rules.iter().filter(|r| is_alerting(r)) {
            let key = state_key(&self.group, &rule.rule.name);
            let alerts: Vec<Alert> = rule.alerts.values().cloned().collect();
            if self
                .saved
                .get(&key)
                .map_or(!alerts.is_empty(), |old| *old != alerts)
            {
                changed.push((key, alerts));
            }
        }
        if changed.is_empty() {
            return;
        }
        match store.save(&changed) {
            Ok(()) => self.saved.extend(changed),
            Err(e) => tracing::warn!(group = %self.group.name, "cannot save alert state: {e}"),
        }
    }
}

fn is_alerting(rule: &RuleState) -> bool {
    matches!(rule.rule.kind, RuleKind::Alerting { .. })
}

/// The key a rule's alert state is stored under.
fn state_key(group: &RuleGroup, rule: &str) -> String {
    format!("{}\0{}\0{rule}", group.file.display(), group.name)
}

/// Prometheus's `sendAlerts`: alerts due for (re)sending, with their validity extended.
fn alerts_to_send(
    rule: &mut RuleState,
    deps: &RuleDeps,
    now: i64,
    interval: Duration,
) -> Vec<NotifierAlert> {
    let resend = deps.resend_delay.as_millis() as i64;
    let delta = resend.max(interval.as_millis() as i64);
    let url = generator_url(&deps.external_url, &rule.rule.expr);
    let mut out = Vec::new();
    for alert in rule.alerts.values_mut() {
        if !alert.needs_sending(now, resend) {
            continue;
        }
        alert.last_sent_at = now;
        alert.valid_until = now + 4 * delta;
        out.push(NotifierAlert {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: alert.fired_at,
            ends_at: if alert.resolved_at != 0 {
                alert.resolved_at
            } else {
                alert.valid_until
            },
            generator_url: url.clone(),
            value: alert.value,
            resolved: alert.resolved_at != 0,
        });
    }
    out
}

/// A link to the expression in the collector's UI, as Prometheus builds it.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    let mut encoded = String::new();
    for b in expr.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(b as char)
            }
            b' ' => encoded.push('+'),
            b => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    format!(
        "{}/graph?g0.expr={encoded}&g0.tab=1",
        external_url.trim_end_matches('/')
    )
}
