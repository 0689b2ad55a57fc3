//! Evaluating one rule: alerting rules through Prometheus's alert state machine, recording
//! rules into new series; both return the samples to write.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::alert::{Alert, AlertState};
use super::file::{Rule, RuleKind};
use super::template::{AlertTemplateData, expand_alert_template};
use crate::labels::{Labels, METRIC_NAME};
use crate::promql::EvalError;

/// How long a resolved alert is kept and reported, as Prometheus does.
pub const RESOLVED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// Why one evaluation of a rule failed; the rule's health shows it and the next evaluation
/// tries again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The query failed.
    #[error("{0}")]
    Query(String),
    /// The expression gave a range vector or a string.
    #[error("rule expression gave a {0}, not a vector")]
    NotAVector(&'static str),
    /// Two output series or alerts have the same labels once the rule's labels are applied.
    #[error("vector contains metrics with the same labelset after applying {0} labels")]
    DuplicateLabelset(&'static str),
    /// The rule produced more series or alerts than its group's `limit`.
    #[error("exceeded limit of {limit} with {count} {what}")]
    LimitExceeded {
        /// The group's limit.
        limit: usize,
        /// How many there were.
        count: usize,
        /// `series` or `alerts`.
        what: &'static str,
    },
}

impl From<EvalError> for RuleError {
    fn from(error: EvalError) -> Self {
        RuleError::Query(error.to_string())
    }
}

/// Runs a PromQL instant query: the boundary between rules and the query engine.
pub trait QueryFn: Send + Sync {
    /// The instant vector `expr` yields at `at_ms` (Unix milliseconds), or why it failed.
    fn query(&self, expr: &str, at_ms: i64) -> Result<Vec<(Labels, f64)>, RuleError>;
}

impl<F> QueryFn for F
where
    F: Fn(&str, i64) -> Result<Vec<(Labels, f64)>, RuleError> + Send + Sync,
{
    fn query(&self, expr: &str, at_ms: i64) -> Result<Vec<(Labels, f64)>, RuleError> {
        self(expr, at_ms)
    }
}

/// What one evaluation may refer to besides the rule itself.
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    /// Evaluation time (Unix ms).
    pub at_ms: i64,
    /// The group's query offset in ms (queries run at `at_ms - offset`).
    pub query_offset_ms: i64,
    /// The group's labels, added to every rule's output (rule labels win).
    pub group_labels: &'a BTreeMap<String, String>,
    /// The group's limit on alerts or series per rule (0: none).
    pub limit: usize,
    /// External labels, for templates.
    pub external_labels: &'a BTreeMap<String, String>,
    /// The collector's external URL, for templates.
    pub external_url: &'a str,
}

/// A rule with the state it carries between evaluations.
#[derive(Debug, Clone)]
pub struct RuleState {
    /// The rule as loaded.
    pub rule: Rule,
    /// Alerting rules: alerts by labels (pending, firing, recently resolved).
    pub alerts: BTreeMap<Labels, Alert>,
}

impl RuleState {
    /// A rule with no alerts yet.
    pub fn new(rule: Rule) -> Self {
        RuleState {
            rule,
            alerts: BTreeMap::new(),
        }
    }

    /// Evaluates the rule once; returns the samples to write at `ctx.at_ms`.
    pub fn evaluate(
        &mut self,
        query: &dyn QueryFn,
        ctx: &EvalContext<'_>,
    ) -> Result<Vec<(Labels, f64)>, RuleError> {
        let vector = query.query(&self.rule.expr, ctx.at_ms - ctx.query_offset_ms)?;
        match &self.rule.kind {
            RuleKind::Recording => self.record(vector, ctx),
            RuleKind::Alerting { .. } => self.alert(vector, ctx),
        }
    }

    fn record(
        &self,
        vector: Vec<(Labels, f64)>,
        ctx: &EvalContext<'_>,
    ) -> Result<Vec<(Labels, f64)>, RuleError> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(vector.len());
        for (labels, value) in vector {
            let mut pairs = with_labels(&labels, ctx.group_labels, &self.rule.labels, |_, v| {
                v.clone()
            });
            pairs.insert(METRIC_NAME.to_owned(), self.rule.name.clone());
            let labels = Labels::from_pairs(pairs);
            if !seen.insert(labels.clone()) {
                return Err(RuleError::DuplicateLabelset("rule"));
            }
            out.push((labels, value));
        }
        if ctx.limit > 0 && out.len() > ctx.limit {
            return Err(RuleError::LimitExceeded {
                limit: ctx.limit,
                count: out.len(),
                what: "series",
            });
        }
        Ok(out)
    }

    fn alert(
        &mut self,
        vector: Vec<(Labels, f64)>,
        ctx: &EvalContext<'_>,
    ) -> Result<Vec<(Labels, f64)>, RuleError> {
        let RuleKind::Alerting {
            hold,
            keep_firing_for,
            annotations,
        } = &self.rule.kind
        else {
            unreachable!("alert() is only called for alerting rules")
        };
        let now = ctx.at_ms;
        let mut found: BTreeMap<Labels, Alert> = BTreeMap::new();
        for (sample_labels, value) in vector {
            let mut sample_map = label_map(&sample_labels);
            sample_map.remove(METRIC_NAME);
            let sample_labels = Labels::from_pairs(sample_map.clone());
            let data = AlertTemplateData {
                labels: sample_map,
                external_labels: ctx.external_labels.clone(),
                external_url: ctx.external_url.to_owned(),
                value,
            };
            let expand =
                |_: &str, text: &String| expand_alert_template(&self.rule.name, text, &data);
            let mut pairs =
                with_labels(&sample_labels, ctx.group_labels, &self.rule.labels, expand);
            pairs.insert("alertname".to_owned(), self.rule.name.clone());
            let labels = Labels::from_pairs(pairs);
            let annotations = annotations
                .iter()
                .map(|(k, v)| (k.clone(), expand(k, v)))
                .collect();
            let alert = Alert {
                labels: labels.clone(),
                annotations,
                state: AlertState::Pending,
                value,
                active_at: now,
                fired_at: 0,
                resolved_at: 0,
                last_sent_at: 0,
                valid_until: 0,
                keep_firing_since: 0,
            };
            if found.insert(labels, alert).is_some() {
                return Err(RuleError::DuplicateLabelset("alert"));
            }
        }
        for (labels, fresh) in &found {
            match self.alerts.get_mut(labels) {
                Some(known) if known.state != AlertState::Inactive => {
                    known.value = fresh.value;
                    known.annotations = fresh.annotations.clone();
                }
                _ => {
                    self.alerts.insert(labels.clone(), fresh.clone());
                }
            }
        }
        let retention = RESOLVED_RETENTION.as_millis() as i64;
        let hold = hold.as_millis() as i64;
        let keep_firing_for = keep_firing_for.as_millis() as i64;
        let mut out = Vec::new();
        let mut active = 0;
        self.alerts.retain(|labels, alert| {
            if !found.contains_key(labels) {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && keep_firing_for > 0 {
                    if alert.keep_firing_since == 0 {
                        alert.keep_firing_since = now;
                    }
                    keep_firing = now - alert.keep_firing_since < keep_firing_for;
                }
                if alert.state == AlertState::Pending
                    || (alert.resolved_at != 0 && now - alert.resolved_at > retention)
                {
                    return false;
                }
                if alert.state != AlertState::Inactive && !keep_firing {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at = now;
                }
                if !keep_firing {
                    return true;
                }
            } else {
                alert.keep_firing_since = 0;
            }
            active += 1;
            if alert.state == AlertState::Pending && now - alert.active_at >= hold {
                alert.state = AlertState::Firing;
                alert.fired_at = now;
            }
            out.push((series_labels(alert, "ALERTS", true), 1.0));
            let for_state = series_labels(alert, "ALERTS_FOR_STATE", false);
            out.push((for_state, (alert.active_at / 1000) as f64));
            true
        });
        if ctx.limit > 0 && active > ctx.limit {
            self.alerts.clear();
            return Err(RuleError::LimitExceeded {
                limit: ctx.limit,
                count: active,
                what: "alerts",
            });
        }
        Ok(out)
    }
}

fn series_labels(alert: &Alert, name: &str, with_state: bool) -> Labels {
    let mut pairs = label_map(&alert.labels);
    pairs.insert(METRIC_NAME.to_owned(), name.to_owned());
    if with_state {
        pairs.insert("alertstate".to_owned(), alert.state.as_str().to_owned());
    }
    Labels::from_pairs(pairs)
}

/// A label set as a name -> value map.
pub(crate) fn label_map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.to_owned(), l.value.to_owned()))
        .collect()
}

/// `base` plus group labels, then rule labels (each value passed through `value_of`); an empty
/// value removes the label once the map becomes [`Labels`].
fn with_labels(
    base: &Labels,
    group: &BTreeMap<String, String>,
    rule: &BTreeMap<String, String>,
    value_of: impl Fn(&str, &String) -> String,
) -> BTreeMap<String, String> {
    let mut pairs = label_map(base);
    for (name, value) in group.iter().chain(rule) {
        pairs.insert(name.clone(), value_of(name, value));
    }
    pairs
}
