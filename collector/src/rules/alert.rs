//! One alert's state and the record of it kept across restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::labels::Labels;

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Its condition no longer holds (kept a while after resolving).
    Inactive,
    /// Its condition holds, for less than the rule's `for`.
    Pending,
    /// Its condition has held for at least `for`.
    Firing,
}

impl AlertState {
    /// The name Prometheus uses (`inactive`, `pending`, `firing`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// An alert of one alerting rule, identified by its labels; times in Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The alert's labels (sample labels, rule labels and `alertname`).
    #[serde(with = "labels_as_pairs")]
    pub labels: Labels,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// Current state.
    pub state: AlertState,
    /// The sample value at the last evaluation that found the condition.
    pub value: f64,
    /// When the condition was first found (start of pending).
    pub active_at: i64,
    /// When the alert started firing (0: never).
    pub fired_at: i64,
    /// When the alert resolved (0: not resolved).
    pub resolved_at: i64,
    /// When it was last handed to the notifier (0: never).
    pub last_sent_at: i64,
    /// Until when the notifier should consider it firing without news.
    pub valid_until: i64,
    /// Since when a firing alert is kept firing by `keep_firing_for` (0: not).
    pub keep_firing_since: i64,
}

impl Alert {
    /// Whether the notifier should hear about this alert now: firing alerts every
    /// `resend_delay`, and once right after they resolve; never pending ones.
    pub fn needs_sending(&self, now: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if self.resolved_at > self.last_sent_at {
            return true;
        }
        self.last_sent_at + resend_delay_ms < now
    }
}

mod labels_as_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::labels::Labels;

    pub fn serialize<S: Serializer>(labels: &Labels, s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name, l.value)).collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
        let pairs = Vec::<(String, String)>::deserialize(d)?;
        Ok(Labels::from_pairs(pairs))
    }
}

/// What the notifier receives for one alert: Alertmanager's view (times in Unix ms).
#[derive(Debug, Clone, PartialEq)]
pub struct NotifierAlert {
    /// The alert's labels.
    pub labels: Labels,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started firing.
    pub starts_at: i64,
    /// When it resolved, or until when it is valid if still firing.
    pub ends_at: i64,
    /// A link to the expression on the collector.
    pub generator_url: String,
    /// The sample value at the last evaluation.
    pub value: f64,
    /// Whether the rule has resolved it (then `ends_at` is the resolve time).
    pub resolved: bool,
}
