//! Every loaded rule group with its evaluation task; a reload swaps the groups and keeps the
//! state of the rules that stay.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::file::RuleGroup;
use super::group::{GroupState, RuleDeps};
use crate::config::Thresholds;

/// Every loaded rule group, each behind a lock shared by its evaluation task and the API.
#[derive(Clone)]
pub struct RuleManager {
    running: Arc<Mutex<Running>>,
    deps: Arc<RuleDeps>,
}

/// The groups in force and the tasks evaluating them.
struct Running {
    groups: Vec<Arc<Mutex<GroupState>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Set by [`RuleManager::spawn`]; groups loaded later get tasks of their own.
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
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
            running: Arc::new(Mutex::new(Running {
                groups,
                tasks: Vec::new(),
                shutdown: None,
            })),
            deps: Arc::new(deps),
        }
    }

    /// Replaces the groups with `groups` (a reload). A rule still present in a group of the
    /// same file and name keeps its alerts, so a firing alert goes on firing without a new
    /// first notification; removed rules stop being evaluated.
    pub fn replace(&self, groups: Vec<RuleGroup>, default_interval: Duration) {
        let mut running = lock(&self.running);
        for task in running.tasks.drain(..) {
            task.abort();
        }
        let fresh: Vec<Arc<Mutex<GroupState>>> = groups
            .into_iter()
            .map(|group| {
                let mut state = GroupState::new(group, default_interval, &self.deps);
                let previous = running.groups.iter().find(|old| {
                    let old = lock(old);
                    old.group.file == state.group.file && old.group.name == state.group.name
                });
                if let Some(previous) = previous {
                    let mut previous = lock(previous);
                    previous.retire();
                    state.carry_over(&mut previous);
                }
                Arc::new(Mutex::new(state))
            })
            .collect();
        for old in &running.groups {
            lock(old).retire();
        }
        running.groups = fresh;
        if let Some(shutdown) = running.shutdown.clone() {
            running.tasks = self.spawn_tasks(&running.groups, shutdown);
        }
    }

    /// Replaces the per-target thresholds (a reload); rules compare with them from their next
    /// evaluation.
    pub fn set_thresholds(&self, thresholds: Thresholds) {
        self.deps.thresholds.replace(thresholds);
    }

    /// Evaluates every group once at `at_ms` (tests and manual triggers).
    pub fn evaluate_all(&self, at_ms: i64) {
        for group in self.groups() {
            lock(&group).evaluate(&self.deps, at_ms);
        }
    }

    /// A copy of every group's state, for the API.
    pub fn snapshot(&self) -> Vec<GroupState> {
        self.groups().iter().map(|g| lock(g).clone()).collect()
    }

    /// Registers the rule self-metrics, read from the groups on each scrape: evaluation
    /// failures and the last evaluation's duration per group.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(RuleMetrics(self.clone())));
    }

    /// Starts one task per group that evaluates it on its interval until `shutdown` turns
    /// true; groups loaded by a later [`RuleManager::replace`] are started the same way.
    pub fn spawn(&self, shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut running = lock(&self.running);
        running.tasks = self.spawn_tasks(&running.groups, shutdown.clone());
        running.shutdown = Some(shutdown);
    }

    fn groups(&self) -> Vec<Arc<Mutex<GroupState>>> {
        lock(&self.running).groups.clone()
    }

    fn spawn_tasks(
        &self,
        groups: &[Arc<Mutex<GroupState>>],
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        groups
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
                            let mut group = lock(&group);
                            if !group.is_retired() {
                                group.evaluate(&deps, at_ms);
                            }
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

/// `osprey_rule_evaluation_failures_total` and `osprey_rule_group_last_duration_seconds` of
/// the groups in force.
struct RuleMetrics(RuleManager);

impl std::fmt::Debug for RuleMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleMetrics").finish_non_exhaustive()
    }
}

impl Collector for RuleMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let groups: Vec<(String, u64, f64)> = (self.0.groups().iter())
            .map(|group| {
                let group = lock(group);
                let seconds = group.evaluation_time.as_secs_f64();
                (group.group.name.clone(), group.failures, seconds)
            })
            .collect();
        let mut failures = encoder.encode_descriptor(
            "osprey_rule_evaluation_failures",
            "Rule evaluations that failed.",
            None,
            MetricType::Counter,
        )?;
        for (name, count, _) in &groups {
            let labels = [("rule_group", name.as_str())];
            ConstCounter::new(*count).encode(failures.encode_family(&labels)?)?;
        }
        let mut durations = encoder.encode_descriptor(
            "osprey_rule_group_last_duration_seconds",
            "Duration of the last evaluation of a rule group.",
            None,
            MetricType::Gauge,
        )?;
        for (name, _, seconds) in &groups {
            let labels = [("rule_group", name.as_str())];
            ConstGauge::new(*seconds).encode(durations.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic mid-evaluation leaves state that is still usable: recover it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
