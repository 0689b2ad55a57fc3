//! Rule groups at run time: each group evaluates its rules in order on its interval, writes
//! their output, hands alerts to the notifier and saves alert state.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::alert::{Alert, NotifierAlert};
use super::evaluate::{EvalContext, QueryFn, RuleState};
use super::file::{RuleGroup, RuleKind};
use super::state_store::AlertStateStore;
use crate::labels::Labels;
use crate::tsdb::{Appendable, STALE_NAN_BITS};

/// Receives the alerts that need sending after an evaluation.
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
        }
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
        let mut appender = deps.storage.appender("");
        let mut to_send = Vec::new();
        for (index, rule) in self.rules.iter_mut().enumerate() {
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
                    health.last_error = Some(e);
                    self.failures += 1;
                    // Prometheus marks a failed rule's previous output stale as well.
                    HashSet::new()
                }
            };
            for gone in self.previous_series[index].difference(&current) {
                let _ = appender.append(gone, at_ms, f64::from_bits(STALE_NAN_BITS));
            }
            self.previous_series[index] = current;
            health.evaluation_time = rule_started.elapsed();
            if is_alerting(rule) {
                to_send.extend(alerts_to_send(rule, deps, at_ms, self.interval));
            }
        }
        if let Err(e) = appender.commit() {
            tracing::warn!(group = %self.group.name, "cannot commit rule output: {e}");
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

/// Every loaded rule group, each behind a lock shared by its evaluation task and the API.
#[derive(Clone)]
pub struct RuleManager {
    groups: Arc<Vec<Arc<Mutex<GroupState>>>>,
    deps: Arc<RuleDeps>,
}

impl RuleManager {
    /// Prepares `groups` (restoring alert state); `default_interval` applies to groups
    /// without their own.
    pub fn new(groups: Vec<RuleGroup>, default_interval: Duration, deps: RuleDeps) -> Self {
        let groups = groups
            .into_iter()
            .map(|g| Arc::new(Mutex::new(GroupState::new(g, default_interval, &deps))))
            .collect();
        RuleManager {
            groups: Arc::new(groups),
            deps: Arc::new(deps),
        }
    }

    /// Evaluates every group once at `at_ms` (tests and manual triggers).
    pub fn evaluate_all(&self, at_ms: i64) {
        for group in self.groups.iter() {
            lock(group).evaluate(&self.deps, at_ms);
        }
    }

    /// A copy of every group's state, for the API.
    pub fn snapshot(&self) -> Vec<GroupState> {
        self.groups.iter().map(|g| lock(g).clone()).collect()
    }

    /// Rule self-metrics in the Prometheus text format: evaluation failures and the last
    /// evaluation's duration per group.
    pub fn render_metrics(&self) -> String {
        let mut failures = String::from(
            "# HELP osprey_rule_evaluation_failures_total Rule evaluations that failed.\n\
             # TYPE osprey_rule_evaluation_failures_total counter\n",
        );
        let mut durations = String::from(
            "# HELP osprey_rule_group_last_duration_seconds Duration of the last evaluation of a rule group.\n\
             # TYPE osprey_rule_group_last_duration_seconds gauge\n",
        );
        for group in self.groups.iter() {
            let group = lock(group);
            let name = group.group.name.replace('\\', "\\\\").replace('"', "\\\"");
            failures.push_str(&format!(
                "osprey_rule_evaluation_failures_total{{rule_group=\"{name}\"}} {}\n",
                group.failures
            ));
            durations.push_str(&format!(
                "osprey_rule_group_last_duration_seconds{{rule_group=\"{name}\"}} {}\n",
                group.evaluation_time.as_secs_f64()
            ));
        }
        failures + &durations
    }

    /// Starts one task per group that evaluates it on its interval until `shutdown` turns true.
    pub fn spawn(
        &self,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.groups
            .iter()
            .map(|group| {
                let group = Arc::clone(group);
                let deps = Arc::clone(&self.deps);
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let interval = lock(&group).interval;
                    let mut ticker = tokio::time::interval(interval);
                    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        tokio::select! {
                            _ = ticker.tick() => {}
                            _ = shutdown.changed() => return,
                        }
                        let group = Arc::clone(&group);
                        let deps = Arc::clone(&deps);
                        let at_ms = chrono::Utc::now().timestamp_millis();
                        let run = tokio::task::spawn_blocking(move || {
                            lock(&group).evaluate(&deps, at_ms)
                        });
                        if let Err(e) = run.await {
                            tracing::error!("rule evaluation task failed: {e}");
                        }
                    }
                })
            })
            .collect()
    }
}

fn lock(group: &Mutex<GroupState>) -> std::sync::MutexGuard<'_, GroupState> {
    // A panic mid-evaluation leaves state that is still usable: recover it.
    group
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
