//! Turning an Alertmanager configuration into the routing tree, receivers and inhibition
//! rules Osprey runs, with Alertmanager's checks, defaults and error messages.

use std::collections::HashSet;
use std::time::Duration;

use super::config::{AlertmanagerConfig, ConfigError, InhibitRuleConfig, RouteConfig};
use super::matchers::parse_matchers;
use super::targets::{email_target, webhook_target};
use super::{GroupBy, InhibitRule, Notifications, Receiver, Route};
use crate::labels::{MatchOp, Matcher};
use crate::vocab::{is_label_name, parse_duration};

const GLOBAL_INTEGRATION_FIELDS: &[&str] = &[
    "slack_api_url",
    "slack_api_url_file",
    "pagerduty_url",
    "opsgenie_api_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "wechat_api_url",
    "wechat_api_secret",
    "wechat_api_corp_id",
    "victorops_api_url",
    "victorops_api_key",
    "victorops_api_key_file",
    "telegram_api_url",
    "webex_api_url",
    "jira_api_url",
    "rocketchat_api_url",
    "rocketchat_token",
    "rocketchat_token_file",
    "rocketchat_token_id",
    "rocketchat_token_id_file",
    "smtp_auth_secret_file",
];

const RECEIVER_INTEGRATION_FIELDS: &[&str] = &[
    "discord_configs",
    "pagerduty_configs",
    "slack_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "msteams_configs",
    "msteamsv2_configs",
    "jira_configs",
    "rocketchat_configs",
    "incidentio_configs",
    "mattermost_configs",
];

pub(super) fn err(message: impl std::fmt::Display) -> ConfigError {
    ConfigError(message.to_string())
}

fn duration(text: Option<&str>, default: Duration) -> Result<Duration, ConfigError> {
    text.map_or(Ok(default), |t| parse_duration(t).map_err(err))
}

/// Validates `config` in Alertmanager's order and resolves defaults.
pub fn validate(config: AlertmanagerConfig) -> Result<Notifications, ConfigError> {
    let mut warnings = Vec::new();
    let global = &config.global;
    for field in global.unsupported() {
        if !GLOBAL_INTEGRATION_FIELDS.contains(&field) {
            return Err(err(format!("field {field} not found in type config.plain")));
        }
    }
    if global.smtp_auth_password.is_some() && global.smtp_auth_password_file.is_some() {
        return Err(err(
            "at most one of smtp_auth_password & smtp_auth_password_file must be configured",
        ));
    }
    let resolve_timeout = duration(global.resolve_timeout.as_deref(), Duration::from_secs(300))?;
    let mut names = HashSet::new();
    let mut receivers = Vec::new();
    for receiver in &config.receivers {
        if receiver.name.is_empty() {
            return Err(err("missing name in receiver"));
        }
        for field in receiver.unsupported() {
            if !RECEIVER_INTEGRATION_FIELDS.contains(&field) {
                return Err(err(format!("field {field} not found in type config.plain")));
            }
            warnings.push(format!(
                "receiver {:?}: {field} is not supported by Osprey and is ignored",
                receiver.name
            ));
        }
        if !names.insert(receiver.name.clone()) {
            return Err(err(format!(
                "notification config name {:?} is not unique",
                receiver.name
            )));
        }
        let email = receiver
            .email_configs
            .iter()
            .map(|e| email_target(e, &config, &mut warnings))
            .collect::<Result<_, _>>()?;
        let webhook = receiver
            .webhook_configs
            .iter()
            .map(|w| webhook_target(w, &config))
            .collect::<Result<_, _>>()?;
        receivers.push(Receiver {
            name: receiver.name.clone(),
            email,
            webhook,
        });
    }
    let Some(root) = &config.route else {
        return Err(err("no routes provided"));
    };
    if root.receiver.as_deref().unwrap_or("").is_empty() {
        return Err(err("root route must specify a default receiver"));
    }
    if !root.match_equal.is_empty() || !root.match_re.is_empty() || !root.matchers.is_empty() {
        return Err(err("root route must not have any matchers"));
    }
    if !root.mute_time_intervals.is_empty() {
        return Err(err("root route must not have any mute time intervals"));
    }
    if !root.active_time_intervals.is_empty() {
        return Err(err("root route must not have any active time intervals"));
    }
    check_receivers(root, &names)?;
    if root.continue_matching {
        return Err(err("cannot have continue in root route"));
    }
    let defaults = Route {
        receiver: String::new(),
        group_by: GroupBy::Labels(Vec::new()),
        matchers: Vec::new(),
        continue_matching: false,
        group_wait: Duration::from_secs(30),
        group_interval: Duration::from_secs(300),
        repeat_interval: Duration::from_secs(4 * 3600),
        routes: Vec::new(),
        path: String::new(),
    };
    let route = route(root, &defaults, "{}".to_owned(), &mut warnings)?;
    let inhibit_rules = config
        .inhibit_rules
        .iter()
        .map(inhibit_rule)
        .collect::<Result<_, _>>()?;
    if !config.templates.is_empty() {
        warnings
            .push("templates are ignored: Osprey uses its built-in notification texts".to_owned());
    }
    if config.has_time_intervals() {
        warnings.push("time intervals are not supported by Osprey yet and are ignored".to_owned());
    }
    Ok(Notifications {
        route,
        receivers,
        inhibit_rules,
        resolve_timeout,
        warnings,
    })
}

fn check_receivers(route: &RouteConfig, names: &HashSet<String>) -> Result<(), ConfigError> {
    for child in &route.routes {
        check_receivers(child, names)?;
    }
    match route.receiver.as_deref() {
        Some(name) if !name.is_empty() && !names.contains(name) => {
            Err(err(format!("undefined receiver {name:?} used in route")))
        }
        _ => Ok(()),
    }
}

fn legacy_matchers(
    equal: &std::collections::BTreeMap<String, String>,
    regex: &std::collections::BTreeMap<String, String>,
    strings: &[String],
) -> Result<Vec<Matcher>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in equal {
        if !is_label_name(name) {
            return Err(err(format!("invalid label name {name:?}")));
        }
        out.push(Matcher::new(MatchOp::Equal, name, value).map_err(|e| err(e.to_string()))?);
    }
    for (name, value) in regex {
        if !is_label_name(name) {
            return Err(err(format!("invalid label name {name:?}")));
        }
        out.push(Matcher::new(MatchOp::Regex, name, value).map_err(|e| err(e.to_string()))?);
    }
    for text in strings {
        out.extend(parse_matchers(text).map_err(err)?);
    }
    Ok(out)
}

fn route(
    config: &RouteConfig,
    parent: &Route,
    path: String,
    warnings: &mut Vec<String>,
) -> Result<Route, ConfigError> {
    let group_by = match &config.group_by {
        None => parent.group_by.clone(),
        Some(labels) => {
            let all = labels.iter().any(|l| l == "...");
            let mut seen = HashSet::new();
            for label in labels.iter().filter(|l| *l != "...") {
                if !is_label_name(label) {
                    return Err(err(format!(
                        "invalid label name {label:?} in group_by list"
                    )));
                }
                if all {
                    // Alertmanager 0.25's wording, repeated word included.
                    return Err(err(
                        "cannot have wildcard group_by (`...`) and other other labels at the same time",
                    ));
                }
                if !seen.insert(label) {
                    return Err(err(format!("duplicated label {label:?} in group_by")));
                }
            }
            if all {
                GroupBy::All
            } else {
                GroupBy::Labels(labels.clone())
            }
        }
    };
    let group_interval = duration(config.group_interval.as_deref(), parent.group_interval)?;
    if group_interval.is_zero() {
        return Err(err("group_interval cannot be zero"));
    }
    let repeat_interval = duration(config.repeat_interval.as_deref(), parent.repeat_interval)?;
    if repeat_interval.is_zero() {
        return Err(err("repeat_interval cannot be zero"));
    }
    if !config.mute_time_intervals.is_empty() || !config.active_time_intervals.is_empty() {
        warnings.push(format!("route {path}: time intervals are ignored"));
    }
    let matchers = legacy_matchers(&config.match_equal, &config.match_re, &config.matchers)?;
    let mut node = Route {
        receiver: config
            .receiver
            .clone()
            .unwrap_or_else(|| parent.receiver.clone()),
        group_by,
        path: path.clone(),
        matchers,
        continue_matching: config.continue_matching,
        group_wait: duration(config.group_wait.as_deref(), parent.group_wait)?,
        group_interval,
        repeat_interval,
        routes: Vec::new(),
    };
    for (index, child) in config.routes.iter().enumerate() {
        let child_path = format!("{path}/{index}");
        let child = route(child, &node, child_path, warnings)?;
        node.routes.push(child);
    }
    Ok(node)
}

fn inhibit_rule(rule: &InhibitRuleConfig) -> Result<InhibitRule, ConfigError> {
    for label in &rule.equal {
        if !is_label_name(label) {
            return Err(err(format!("{label:?} is not a valid label name")));
        }
    }
    Ok(InhibitRule {
        source: legacy_matchers(
            &rule.source_match,
            &rule.source_match_re,
            &rule.source_matchers,
        )?,
        target: legacy_matchers(
            &rule.target_match,
            &rule.target_match_re,
            &rule.target_matchers,
        )?,
        equal: rule.equal.clone(),
    })
}

#[cfg(test)]
mod tests {
    use crate::notify::{GroupBy, parse_alertmanager_config};

    #[test]
    fn defaults_inherit_down_the_tree_and_ignored_parts_are_warned() {
        let config = "route:\n  receiver: chat\n  group_by: [alertname]\n  group_wait: 10s\n  routes:\n  - matchers: [team=db]\n    repeat_interval: 1h\ntemplates: [x.tmpl]\nreceivers:\n- name: chat\n  slack_configs:\n  - channel: '#ops'\n";
        let n = parse_alertmanager_config(config).unwrap();
        let child = &n.route.routes[0];
        assert_eq!(child.receiver, "chat");
        assert_eq!(child.group_by, GroupBy::Labels(vec!["alertname".into()]));
        assert_eq!(child.group_wait.as_secs(), 10);
        assert_eq!(
            child.group_interval.as_secs(),
            300,
            "Alertmanager's default"
        );
        assert_eq!(child.repeat_interval.as_secs(), 3600);
        assert_eq!(n.resolve_timeout.as_secs(), 300);
        assert_eq!(n.warnings.len(), 2, "{:?}", n.warnings);
    }

    #[test]
    fn unknown_integrations_are_rejected() {
        let config = "route:\n  receiver: r\nreceivers:\n- name: r\n  carrier_pigeon_configs: []\n";
        let error = parse_alertmanager_config(config).unwrap_err();
        assert_eq!(
            error.0,
            "field carrier_pigeon_configs not found in type config.plain"
        );
    }
}
