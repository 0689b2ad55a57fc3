//! `/api/v1/rules` and `/api/v1/alerts` in Prometheus's JSON shape.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::rules::template::format_float;
use crate::rules::{Alert, AlertState, GroupState, RuleKind, RuleManager, RuleState};
use crate::vocab::rfc3339;

/// Prometheus's response envelope.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// `success` or `error`.
    pub status: String,
    /// The payload on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// `bad_data`, ... on error.
    #[serde(rename = "errorType", skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The message on error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `data` of `/api/v1/rules`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RuleDiscovery {
    /// The groups.
    pub groups: Vec<RuleGroupJson>,
}

/// One group.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleGroupJson {
    /// Group name.
    pub name: String,
    /// File it came from.
    pub file: String,
    /// Rules in order.
    pub rules: Vec<RuleJson>,
    /// Interval in seconds.
    pub interval: f64,
    /// Limit (0: none).
    pub limit: usize,
    /// Last evaluation's duration in seconds.
    pub evaluation_time: f64,
    /// Last evaluation's time.
    pub last_evaluation: String,
}

/// One rule; alerting-only fields are absent for recording rules.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleJson {
    /// `firing`, `pending` or `inactive` (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Alert or record name.
    pub name: String,
    /// The expression.
    pub query: String,
    /// `for`, in seconds (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// `keep_firing_for`, in seconds (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<f64>,
    /// Rule labels.
    pub labels: BTreeMap<String, String>,
    /// Rule annotations (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Active alerts (alerting rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<AlertJson>>,
    /// `ok`, `err` or `unknown`.
    pub health: String,
    /// The last evaluation's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Last evaluation's duration in seconds.
    pub evaluation_time: f64,
    /// Last evaluation's time.
    pub last_evaluation: String,
    /// `alerting` or `recording`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One active alert.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertJson {
    /// Alert labels.
    pub labels: BTreeMap<String, String>,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: String,
    /// When it became active.
    pub active_at: String,
    /// Since when `keep_firing_for` holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    /// The value, as Go's `%e` shortest form (`9.35e+01`).
    pub value: String,
}

/// `data` of `/api/v1/alerts`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlertDiscovery {
    /// Every pending or firing alert.
    pub alerts: Vec<AlertJson>,
}

/// Filters of `/api/v1/rules`.
#[derive(Debug, Default, Deserialize)]
pub struct RulesFilter {
    /// `alert` or `record`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Leave alerts out of alerting rules.
    pub exclude_alerts: Option<bool>,
}

/// The routes `/api/v1/rules` and `/api/v1/alerts` over the running rule groups.
pub fn router(rules: RuleManager) -> Router {
    Router::new()
        .route("/api/v1/rules", get(list_rules))
        .route("/api/v1/alerts", get(list_alerts))
        .with_state(rules)
}

fn success<T: Serialize>(data: T) -> Response {
    Json(Envelope {
        status: "success".to_owned(),
        data: Some(data),
        error_type: None,
        error: None,
    })
    .into_response()
}

async fn list_rules(
    State(rules): State<RuleManager>,
    Query(filter): Query<RulesFilter>,
) -> Response {
    let wanted = match filter.kind.as_deref() {
        None | Some("") => None,
        Some("alert") => Some(true),
        Some("record") => Some(false),
        Some(other) => {
            let body = Envelope::<()> {
                status: "error".to_owned(),
                data: None,
                error_type: Some("bad_data".to_owned()),
                error: Some(format!("invalid query parameter type='{other}'")),
            };
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let with_alerts = !filter.exclude_alerts.unwrap_or(false);
    let groups = rules
        .snapshot()
        .iter()
        .map(|g| group_json(g, wanted, with_alerts))
        .filter(|g| wanted.is_none() || !g.rules.is_empty())
        .collect();
    success(RuleDiscovery { groups })
}

async fn list_alerts(State(rules): State<RuleManager>) -> Response {
    let alerts = rules
        .snapshot()
        .iter()
        .flat_map(|g| g.rules.iter())
        .flat_map(active_alerts)
        .collect();
    success(AlertDiscovery { alerts })
}

fn group_json(group: &GroupState, wanted: Option<bool>, with_alerts: bool) -> RuleGroupJson {
    let rules = group
        .rules
        .iter()
        .zip(&group.health)
        .filter(|(rule, _)| wanted.is_none_or(|alerting| alerting == is_alerting(rule)))
        .map(|(rule, health)| {
            let alerting = match &rule.rule.kind {
                RuleKind::Alerting {
                    hold,
                    keep_firing_for,
                    annotations,
                } => Some((
                    hold.as_secs_f64(),
                    keep_firing_for.as_secs_f64(),
                    annotations.clone(),
                )),
                RuleKind::Recording => None,
            };
            let alerts: Vec<AlertJson> = active_alerts(rule).collect();
            let state = rule
                .alerts
                .values()
                .map(|a| a.state)
                .filter(|s| *s != AlertState::Inactive)
                .max_by_key(|s| matches!(s, AlertState::Firing))
                .unwrap_or(AlertState::Inactive);
            RuleJson {
                state: alerting.as_ref().map(|_| state.as_str().to_owned()),
                name: rule.rule.name.clone(),
                query: rule.rule.expr.clone(),
                duration: alerting.as_ref().map(|a| a.0),
                keep_firing_for: alerting.as_ref().map(|a| a.1),
                labels: rule.rule.labels.clone(),
                alerts: alerting
                    .as_ref()
                    .map(|_| if with_alerts { alerts } else { Vec::new() }),
                annotations: alerting.map(|a| a.2),
                health: match (&health.last_error, health.last_evaluation_ms) {
                    (Some(_), _) => "err",
                    (None, 0) => "unknown",
                    (None, _) => "ok",
                }
                .to_owned(),
                last_error: health.last_error.clone(),
                evaluation_time: health.evaluation_time.as_secs_f64(),
                last_evaluation: rfc3339(health.last_evaluation_ms),
                kind: if is_alerting(rule) {
                    "alerting"
                } else {
                    "recording"
                }
                .to_owned(),
            }
        })
        .collect();
    RuleGroupJson {
        name: group.group.name.clone(),
        file: group.group.file.display().to_string(),
        rules,
        interval: group.interval.as_secs_f64(),
        limit: group.group.limit,
        evaluation_time: group.evaluation_time.as_secs_f64(),
        last_evaluation: rfc3339(group.last_evaluation_ms),
    }
}

fn is_alerting(rule: &RuleState) -> bool {
    matches!(rule.rule.kind, RuleKind::Alerting { .. })
}

fn active_alerts(rule: &RuleState) -> impl Iterator<Item = AlertJson> + '_ {
    rule.alerts
        .values()
        .filter(|a| a.state != AlertState::Inactive)
        .map(alert_json)
}

fn alert_json(alert: &Alert) -> AlertJson {
    AlertJson {
        labels: alert
            .labels
            .iter()
            .map(|l| (l.name.to_owned(), l.value.to_owned()))
            .collect(),
        annotations: alert.annotations.clone(),
        state: alert.state.as_str().to_owned(),
        active_at: rfc3339(alert.active_at),
        keep_firing_since: (alert.keep_firing_since != 0).then(|| rfc3339(alert.keep_firing_since)),
        value: format_float(alert.value, 'e', None),
    }
}

#[cfg(test)]
mod tests;
