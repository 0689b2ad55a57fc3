//! The `thresholds` section: per-target limits for alert rules, without editing their PromQL.
//!
//! Each entry names the targets it is for with Alertmanager-style matchers on the target's
//! labels (`instance`, `job` or any label given in the scrape configuration) and the value of
//! the threshold for each alert it sets. The rule stage publishes them as the series
//! `osprey_alert_threshold{alert="...", <the target's labels>}`, which rules compare with and
//! fall back to their own default where a target has none.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::labels::{Labels, Matcher};
use crate::notify::parse_matchers;

/// The metric under which thresholds are published, one series per alert and target.
pub const THRESHOLD_METRIC: &str = "osprey_alert_threshold";

/// The label naming the alert a threshold series is for.
pub const ALERT_LABEL: &str = "alert";

/// Every threshold entry, in the order written: for a given alert and target the first entry
/// that matches the target and sets the alert wins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Thresholds(pub Vec<ThresholdEntry>);

/// One entry: the targets it is for and the thresholds it sets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdEntry {
    /// Alertmanager-style matchers on target labels (`instance="db1:9717"`,
    /// `group=~"batch|etl"`); all must match. None: every target.
    #[serde(default)]
    pub matchers: Vec<TargetMatchers>,
    /// The threshold of each alert, by alert name.
    pub alerts: BTreeMap<String, Threshold>,
}

/// One entry of a `matchers` list, parsed (it may hold several matchers, `{a="1",b="2"}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct TargetMatchers(Vec<Matcher>);

impl TryFrom<String> for TargetMatchers {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        parse_matchers(&text)
            .map(TargetMatchers)
            .map_err(|e| e.to_string())
    }
}

/// A threshold value: a finite number.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct Threshold(pub f64);

impl TryFrom<f64> for Threshold {
    type Error = String;

    fn try_from(value: f64) -> Result<Self, Self::Error> {
        if value.is_finite() {
            Ok(Threshold(value))
        } else {
            Err(format!("a threshold must be a finite number, not {value}"))
        }
    }
}

impl ThresholdEntry {
    /// Whether the entry is for the target with these labels.
    pub fn matches(&self, target: &Labels) -> bool {
        (self.matchers.iter().flat_map(|m| &m.0)).all(|m| m.matches_labels(target))
    }
}

impl Thresholds {
    /// The threshold of each alert for the target with these labels: per alert, the value of
    /// the first entry that matches the target and sets it.
    pub fn for_target(&self, target: &Labels) -> BTreeMap<&str, f64> {
        let mut found = BTreeMap::new();
        for entry in self.0.iter().filter(|e| e.matches(target)) {
            for (alert, threshold) in &entry.alerts {
                found.entry(alert.as_str()).or_insert(threshold.0);
            }
        }
        found
    }

    /// Whether no entry is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn thresholds(yaml: &str) -> Thresholds {
        Config::parse(yaml, Path::new("t.yml")).unwrap().thresholds
    }

    #[test]
    fn the_first_matching_entry_sets_each_alert() {
        let thresholds = thresholds(
            "thresholds:
  - matchers: ['instance=\"db1:9717\"']
    alerts: {HostHighCpuUsage: 95}
  - matchers: ['group=~\"batch|etl\"']
    alerts: {HostHighCpuUsage: 99, HostHighLoad: 4}
  - alerts: {HostHighLoad: 3}
",
        );
        let db1 = Labels::from_pairs([("instance", "db1:9717"), ("group", "batch")]);
        let etl = Labels::from_pairs([("instance", "etl:9717"), ("group", "etl")]);
        let web = Labels::from_pairs([("instance", "web:9717")]);
        let cpu_and_load = |labels| {
            let found = thresholds.for_target(labels);
            (
                found.get("HostHighCpuUsage").copied(),
                found.get("HostHighLoad").copied(),
            )
        };
        assert_eq!(cpu_and_load(&db1), (Some(95.0), Some(4.0)));
        assert_eq!(cpu_and_load(&etl), (Some(99.0), Some(4.0)));
        assert_eq!(cpu_and_load(&web), (None, Some(3.0)));
    }

    #[test]
    fn bad_matchers_and_values_are_reported_at_their_line() {
        let errors = Config::parse(
            "thresholds:\n  - matchers: ['instance=~\"(\"']\n    alerts: {A: 1}\n  - alerts: {B: .nan}\n  - matchers: []\n    alert: {C: 1}\n",
            Path::new("t.yml"),
        )
        .unwrap_err()
        .to_string();
        assert!(errors.contains("t.yml:2:"), "{errors}");
        assert!(errors.contains("invalid regular expression"), "{errors}");
        assert!(errors.contains("t.yml:4:"), "{errors}");
        assert!(errors.contains("finite"), "{errors}");
        assert!(errors.contains("unknown field"), "{errors}");
    }
}
