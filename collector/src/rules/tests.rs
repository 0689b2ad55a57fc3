//! The alert state machine and rule groups against in-memory storage and a scripted query.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::labels::{Labels, MatchOp, Matcher};
use crate::promql::{Engine, EngineConfig, QueryValue};
use crate::tsdb::{Appendable, MemoryStorage, Querier, Storage, StorageOptions, is_stale_nan};

const MINUTE: i64 = 60_000;

/// A query whose answer the test sets; records the times it was asked at.
#[derive(Default)]
struct Script {
    answer: Mutex<Vec<(Labels, f64)>>,
}

impl Script {
    fn set(&self, answer: Vec<(Labels, f64)>) {
        *self.answer.lock().unwrap() = answer;
    }
}

struct Harness {
    script: Arc<Script>,
    storage: Arc<MemoryStorage>,
    sent: Arc<Mutex<Vec<NotifierAlert>>>,
    manager: RuleManager,
}

fn harness(rules: &str, store: Option<Arc<dyn AlertStateStore>>) -> Harness {
    let groups = parse_rule_file(Path::new("test.yml"), rules).unwrap();
    let script = Arc::new(Script::default());
    let storage = Arc::new(MemoryStorage::new());
    let sent = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::clone(&script);
    let sink = Arc::clone(&sent);
    let deps = RuleDeps {
        query: Arc::new(move |_: &str, _: i64| Ok(answer.answer.lock().unwrap().clone())),
        storage: storage.clone(),
        notify: Arc::new(move |alerts: Vec<NotifierAlert>| sink.lock().unwrap().extend(alerts)),
        state_store: store,
        external_labels: [("site".to_owned(), "lab".to_owned())].into(),
        external_url: "http://collector:9718".to_owned(),
        resend_delay: Duration::from_secs(60),
        thresholds: Default::default(),
    };
    let manager = RuleManager::new(groups, Duration::from_secs(15), deps);
    Harness {
        script,
        storage,
        sent,
        manager,
    }
}

impl Harness {
    fn take_sent(&self) -> Vec<NotifierAlert> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    fn alerts(&self) -> Vec<Alert> {
        self.manager.snapshot()[0].rules[0]
            .alerts
            .values()
            .cloned()
            .collect()
    }

    /// The values of series named `name` at exactly time `t`.
    fn series_at(&self, name: &str, t: i64) -> Vec<(Labels, f64)> {
        let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
        self.storage
            .select(&[m], t, t)
            .unwrap()
            .into_iter()
            .map(|s| (s.labels, s.samples[0].v))
            .collect()
    }
}

const CPU_RULE: &str = "groups:\n- name: host\n  rules:\n  - alert: HighCpu\n    expr: cpu > 80\n    for: 2m\n    labels:\n      severity: warning\n    annotations:\n      summary: 'CPU {{ $value | printf \"%.1f\" }}% on {{ $labels.instance }}'\n";

fn cpu(instance: &str, value: f64) -> (Labels, f64) {
    (
        Labels::from_pairs([("__name__", "cpu"), ("instance", instance)]),
        value,
    )
}

#[test]
fn pending_becomes_firing_after_for_and_writes_alerts_series() {
    let h = harness(CPU_RULE, None);
    h.script.set(vec![cpu("a", 93.25)]);
    h.manager.evaluate_all(0);
    let alerts = h.alerts();
    assert_eq!(alerts[0].state, AlertState::Pending);
    assert!(h.take_sent().is_empty(), "pending alerts are not sent");
    let series = h.series_at("ALERTS", 0);
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].0.get("alertstate"), Some("pending"));
    assert_eq!(series[0].0.get("alertname"), Some("HighCpu"));
    assert_eq!(series[0].0.get("severity"), Some("warning"));

    h.manager.evaluate_all(MINUTE);
    assert_eq!(h.alerts()[0].state, AlertState::Pending);
    h.manager.evaluate_all(2 * MINUTE);
    assert_eq!(h.alerts()[0].state, AlertState::Firing);
    let sent = h.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].starts_at, 2 * MINUTE);
    assert_eq!(sent[0].annotations["summary"], "CPU 93.2% on a");
    assert_eq!(
        sent[0].generator_url,
        "http://collector:9718/graph?g0.expr=cpu+%3E+80&g0.tab=1"
    );
    assert_eq!(
        h.series_at("ALERTS", 2 * MINUTE)[0].0.get("alertstate"),
        Some("firing")
    );
    let for_state = h.series_at("ALERTS_FOR_STATE", 2 * MINUTE);
    assert_eq!(
        for_state[0].1, 0.0,
        "ALERTS_FOR_STATE holds the activation time in seconds"
    );
}

#[test]
fn pending_alerts_vanish_silently_and_resolved_ones_are_sent_then_kept_15_minutes() {
    let h = harness(CPU_RULE, None);
    h.script.set(vec![cpu("a", 95.0)]);
    h.manager.evaluate_all(0);
    h.script.set(vec![]);
    h.manager.evaluate_all(MINUTE);
    assert!(h.alerts().is_empty(), "a pending alert is dropped");
    assert!(h.take_sent().is_empty());
    let stale = h.series_at("ALERTS", MINUTE);
    assert!(
        is_stale_nan(stale[0].1),
        "the vanished series gets a staleness marker"
    );

    h.script.set(vec![cpu("a", 95.0)]);
    for t in [2, 3, 4] {
        h.manager.evaluate_all(t * MINUTE);
    }
    assert_eq!(h.take_sent().len(), 1, "fired at 4m, once");
    h.script.set(vec![]);
    h.manager.evaluate_all(5 * MINUTE);
    let resolved = h.take_sent();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].ends_at, 5 * MINUTE);
    assert_eq!(h.alerts()[0].state, AlertState::Inactive);
    h.manager.evaluate_all(20 * MINUTE);
    assert_eq!(h.alerts().len(), 1, "kept exactly 15 minutes");
    h.manager.evaluate_all(20 * MINUTE + 1);
    assert!(h.alerts().is_empty(), "dropped after 15 minutes");
}

#[test]
fn firing_alerts_are_resent_after_the_resend_delay_only() {
    let h = harness(CPU_RULE, None);
    h.script.set(vec![cpu("a", 95.0)]);
    for t in 0..=2 {
        h.manager.evaluate_all(t * MINUTE);
    }
    assert_eq!(h.take_sent().len(), 1);
    h.manager.evaluate_all(2 * MINUTE + 30_000);
    assert!(h.take_sent().is_empty(), "within the resend delay");
    h.manager.evaluate_all(3 * MINUTE + 1);
    assert_eq!(h.take_sent().len(), 1, "resent after a minute");
}

#[test]
fn keep_firing_for_holds_a_firing_alert() {
    let rules = "groups:\n- name: g\n  rules:\n  - alert: Flappy\n    expr: cpu > 80\n    keep_firing_for: 3m\n    labels:\n      severity: warning\n";
    let h = harness(rules, None);
    h.script.set(vec![cpu("a", 95.0)]);
    h.manager.evaluate_all(0);
    assert_eq!(
        h.alerts()[0].state,
        AlertState::Firing,
        "for: 0 fires at once"
    );
    h.script.set(vec![]);
    h.manager.evaluate_all(MINUTE);
    h.manager.evaluate_all(3 * MINUTE);
    assert_eq!(h.alerts()[0].state, AlertState::Firing);
    assert_eq!(h.alerts()[0].keep_firing_since, MINUTE);
    h.manager.evaluate_all(4 * MINUTE);
    assert_eq!(h.alerts()[0].state, AlertState::Inactive);
    assert_eq!(h.alerts()[0].resolved_at, 4 * MINUTE);
}

#[test]
fn duplicate_label_sets_are_an_evaluation_error() {
    let rules = "groups:\n- name: g\n  rules:\n  - alert: Dup\n    expr: cpu\n    labels:\n      instance: same\n      severity: warning\n";
    let h = harness(rules, None);
    h.script.set(vec![cpu("a", 1.0), cpu("b", 2.0)]);
    h.manager.evaluate_all(0);
    let group = &h.manager.snapshot()[0];
    let error = group.health[0].last_error.as_deref();
    assert_eq!(
        error,
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
    assert_eq!(group.failures, 1);
    let metrics = metrics_text(&h.manager);
    assert!(
        metrics.contains("osprey_rule_evaluation_failures_total{rule_group=\"g\"} 1\n"),
        "{metrics}"
    );
}

/// The manager's self-metrics in the Prometheus text format.
fn metrics_text(manager: &RuleManager) -> String {
    let mut registry = prometheus_client::registry::Registry::default();
    manager.register_metrics(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
    text
}

#[test]
fn rule_group_names_are_escaped_in_metrics() {
    let rules = "groups:\n- name: \"a\\nb\\\"c\\\\d\"\n  rules:\n  - alert: A\n    expr: cpu\n";
    let h = harness(rules, None);
    assert_eq!(h.manager.snapshot()[0].group.name, "a\nb\"c\\d");
    let metrics = metrics_text(&h.manager);
    assert!(
        metrics
            .contains("osprey_rule_evaluation_failures_total{rule_group=\"a\\nb\\\"c\\\\d\"} 0\n"),
        "{metrics}"
    );
}

#[test]
fn limit_exceeded_is_an_error_and_clears_alerts() {
    let rules = "groups:\n- name: g\n  limit: 1\n  rules:\n  - alert: Many\n    expr: cpu\n    labels:\n      severity: warning\n";
    let h = harness(rules, None);
    h.script.set(vec![cpu("a", 1.0), cpu("b", 2.0)]);
    h.manager.evaluate_all(0);
    let group = &h.manager.snapshot()[0];
    assert_eq!(
        group.health[0].last_error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert!(group.rules[0].alerts.is_empty());
}

#[test]
fn recording_rules_write_their_result_as_series() {
    let rules = "groups:\n- name: rec\n  labels:\n    team: ops\n  rules:\n  - record: instance:cpu:ratio\n    expr: cpu / 100\n    labels:\n      source: rule\n";
    let h = harness(rules, None);
    h.script.set(vec![cpu("a", 0.5), cpu("b", 0.25)]);
    h.manager.evaluate_all(1000);
    let series = h.series_at("instance:cpu:ratio", 1000);
    assert_eq!(series.len(), 2);
    let expected = Labels::from_pairs([
        ("__name__", "instance:cpu:ratio"),
        ("instance", "a"),
        ("source", "rule"),
        ("team", "ops"),
    ]);
    assert_eq!(series[0], (expected, 0.5));
}

#[test]
fn firing_state_survives_a_restart_without_a_second_first_notification() {
    let dir = tempfile::tempdir().unwrap();
    let open = || -> Arc<dyn AlertStateStore> {
        let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
        Arc::new(StoredAlertState::new(storage.key_value()))
    };
    {
        let h = harness(CPU_RULE, Some(open()));
        h.script.set(vec![cpu("a", 95.0)]);
        for t in 0..=2 {
            h.manager.evaluate_all(t * MINUTE);
        }
        assert_eq!(h.take_sent().len(), 1);
    }
    let h = harness(CPU_RULE, Some(open()));
    assert_eq!(
        h.alerts()[0].state,
        AlertState::Firing,
        "restored before any evaluation"
    );
    h.script.set(vec![cpu("a", 95.0)]);
    h.manager.evaluate_all(2 * MINUTE + 15_000);
    assert_eq!(h.alerts()[0].state, AlertState::Firing);
    assert_eq!(h.alerts()[0].active_at, 0, "activation time kept");
    assert!(
        h.take_sent().is_empty(),
        "no new first notification after the restart"
    );
}

#[test]
fn on_a_full_disk_rules_keep_evaluating_and_the_saved_state_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let open = |min_free_bytes| {
        let options = StorageOptions {
            min_free_bytes: Some(min_free_bytes),
            ..StorageOptions::default()
        };
        let storage = Storage::open(dir.path(), options).unwrap();
        Arc::new(StoredAlertState::new(storage.key_value()))
    };
    {
        let h = harness(CPU_RULE, Some(open(0)));
        h.script.set(vec![cpu("a", 95.0)]);
        for t in 0..=2 {
            h.manager.evaluate_all(t * MINUTE);
        }
        assert_eq!(h.alerts()[0].state, AlertState::Firing);
    }
    {
        // Every write is refused from here on.
        let h = harness(CPU_RULE, Some(open(u64::MAX)));
        assert_eq!(
            h.alerts()[0].state,
            AlertState::Firing,
            "read on a full disk"
        );
        h.script.set(vec![cpu("b", 99.0)]);
        for t in 3..=5 {
            h.manager.evaluate_all(t * MINUTE);
        }
        let sent = h.take_sent();
        let instance = |a: &NotifierAlert| a.labels.get("instance").unwrap_or("").to_owned();
        let sent_as = |resolved: bool| -> BTreeSet<String> {
            (sent.iter().filter(|a| a.resolved == resolved).map(instance)).collect()
        };
        assert_eq!(sent_as(true), BTreeSet::from(["a".to_owned()]), "went on");
        assert_eq!(sent_as(false), BTreeSet::from(["b".to_owned()]), "went on");
        let health = &h.manager.snapshot()[0].health[0];
        assert_eq!(health.last_error, None, "saving is not the rule's failure");
    }
    let saved = open(0).load("test.yml\0host\0HighCpu").unwrap();
    assert_eq!(
        saved.len(),
        1,
        "the refused saves changed nothing: {saved:?}"
    );
    assert_eq!(saved[0].labels.get("instance"), Some("a"));
    assert_eq!(saved[0].state, AlertState::Firing);
}

#[test]
fn every_bad_rule_of_a_file_is_reported_with_its_position_group_and_rule() {
    let text = "groups:
- name: a
  rules:
  - alert: A
    expr: up
    bogus: 1
  - alert: B
    expr: up
    for: 5x
- name: b
  interval: soon
  rules:
  - record: r
    expr: 'up =='
  - alert: C
    expr: [up]
";
    let messages = parse_rule_file(Path::new("t.yml"), text)
        .unwrap_err()
        .messages;
    assert_eq!(messages.len(), 5, "{messages:#?}");
    assert!(
        messages[0].starts_with("t.yml: 6:5: group \"a\", rule 1, \"A\": bogus: unknown field"),
        "{messages:#?}"
    );
    assert!(
        messages[1]
            .starts_with("t.yml: 16:11: group \"b\", rule 2, \"C\": expr: expected a string"),
        "{messages:#?}"
    );
    assert!(
        messages[2].starts_with("t.yml: 9:10: group \"a\", rule 2, \"B\": for: not a valid"),
        "{messages:#?}"
    );
    assert!(
        messages[3].starts_with("t.yml: 11:13: group \"b\": interval: not a valid"),
        "{messages:#?}"
    );
    assert!(
        messages[4].starts_with("t.yml: 14:11: group \"b\", rule 1, \"r\": could not parse"),
        "{messages:#?}"
    );
}

/// Runs rule queries through the real engine over `storage`.
fn engine_query(storage: &Arc<MemoryStorage>) -> Arc<dyn QueryFn> {
    let engine = Engine::new(storage.clone() as Arc<dyn Querier>, EngineConfig::default());
    Arc::new(
        move |expr: &str, at_ms: i64| -> Result<Vec<(Labels, f64)>, RuleError> {
            let parsed = crate::promql::parse(expr)?;
            match engine.instant_blocking(&parsed, at_ms)? {
                QueryValue::Vector(v) => Ok(v.into_iter().map(|(l, p)| (l, p.v)).collect()),
                other => Err(RuleError::NotAVector(other.type_name())),
            }
        },
    )
}

/// Dependencies that evaluate rules with the real query engine over `storage`, with
/// `thresholds`, and drop notifications.
fn engine_deps(storage: &Arc<MemoryStorage>, thresholds: Arc<ThresholdSeries>) -> RuleDeps {
    RuleDeps {
        query: engine_query(storage),
        storage: storage.clone(),
        notify: Arc::new(|_: Vec<NotifierAlert>| {}),
        state_store: None,
        external_labels: Default::default(),
        external_url: String::new(),
        resend_delay: Duration::from_secs(60),
        thresholds,
    }
}

#[test]
fn a_later_rule_reads_what_an_earlier_one_recorded_at_the_same_evaluation() {
    let storage = Arc::new(MemoryStorage::new());
    let rules = "groups:\n- name: g\n  rules:\n  - record: doubled\n    expr: vector(21) * 2\n  - alert: Doubled\n    expr: doubled == 42\n";
    let deps = engine_deps(&storage, Default::default());
    let groups = parse_rule_file(Path::new("t.yml"), rules).unwrap();
    let manager = RuleManager::new(groups, Duration::from_secs(15), deps);
    manager.evaluate_all(1_000);
    let alerts = &manager.snapshot()[0].rules[1].alerts;
    assert_eq!(alerts.len(), 1, "the first evaluation already fires");
}

/// The shipped rules' pattern: the target's own threshold, else the default of 80.
const THRESHOLD_RULE: &str = r#"groups:
- name: host
  rules:
  - alert: HighCpu
    expr: |
      cpu > on (instance, job) group_left () osprey_alert_threshold{alert="HighCpu"}
      or cpu > 80 unless on (instance, job) osprey_alert_threshold{alert="HighCpu"}
"#;

fn thresholds(yaml: &str) -> crate::config::Thresholds {
    crate::config::Config::parse(yaml, Path::new("t.yml"))
        .unwrap()
        .thresholds
}

fn scrape(storage: &MemoryStorage, t: i64, cpu: f64) {
    let mut appender = storage.appender("");
    for (instance, group) in [("a:9717", "db"), ("b:9717", "web")] {
        let target = [("instance", instance), ("job", "node"), ("group", group)];
        let up = Labels::from_pairs(target.iter().copied().chain([("__name__", "up")]));
        let value = Labels::from_pairs(target.iter().copied().chain([("__name__", "cpu")]));
        appender.append(&up, t, 1.0).unwrap();
        appender.append(&value, t, cpu).unwrap();
    }
    appender.commit().unwrap();
}

fn firing_instances(manager: &RuleManager) -> Vec<String> {
    let groups = manager.snapshot();
    (groups[0].rules[0].alerts.values())
        .filter(|a| a.state == AlertState::Firing)
        .map(|a| a.labels.get("instance").unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_rule_compares_with_the_targets_own_threshold_or_its_default() {
    let storage = Arc::new(MemoryStorage::new());
    let deps = engine_deps(
        &storage,
        Arc::new(ThresholdSeries::new(thresholds(
            "thresholds:\n- matchers: ['group=\"db\"']\n  alerts: {HighCpu: 50}\n",
        ))),
    );
    let groups = parse_rule_file(Path::new("t.yml"), THRESHOLD_RULE).unwrap();
    let manager = RuleManager::new(groups, Duration::from_secs(15), deps);
    scrape(&storage, 1_000, 60.0);
    manager.evaluate_all(1_000);
    assert_eq!(
        firing_instances(&manager),
        ["a:9717"],
        "a at its own 50, b at the default 80, from the first evaluation"
    );
    let threshold = Matcher::new(MatchOp::Equal, "__name__", "osprey_alert_threshold").unwrap();
    let written = storage
        .select(std::slice::from_ref(&threshold), 1_000, 1_000)
        .unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(
        written[0].labels.to_string(),
        r#"osprey_alert_threshold{alert="HighCpu", group="db", instance="a:9717", job="node"}"#
    );

    manager.set_thresholds(thresholds(
        "thresholds:\n- matchers: ['instance=\"b:9717\"']\n  alerts: {HighCpu: 10}\n",
    ));
    scrape(&storage, 16_000, 60.0);
    manager.evaluate_all(16_000);
    assert_eq!(
        firing_instances(&manager),
        ["b:9717"],
        "the reloaded thresholds"
    );
    let ended = storage.select(&[threshold], 16_000, 16_000).unwrap();
    let a = ended
        .iter()
        .find(|s| s.labels.get("instance") == Some("a:9717"));
    assert!(
        a.is_some_and(|s| crate::tsdb::is_stale_nan(s.samples[0].v)),
        "a's threshold ends with a staleness marker: {ended:?}"
    );
}
