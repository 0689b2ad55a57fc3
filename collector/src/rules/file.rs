//! Prometheus rule files: strict YAML into groups of alerting and recording rules, validated
//! with promtool's checks and messages (`file: line:col: group "g", rule N, "name": msg`).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::template::check_alert_template;
use crate::vocab::{
    Document, Located, Read, Segment, YamlPath, is_label_name, is_metric_name, parse_duration,
};

/// A validated rule group.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// The group's name, unique within its file.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Evaluation interval; `None` means the global evaluation interval.
    pub interval: Option<Duration>,
    /// How far back in time the group evaluates, to wait for late samples.
    pub query_offset: Option<Duration>,
    /// Most alerts or series one evaluation of a rule may produce (0: no limit).
    pub limit: usize,
    /// Labels added to every rule's output.
    pub labels: BTreeMap<String, String>,
    /// The rules in evaluation order.
    pub rules: Vec<Rule>,
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The alert name or the recorded metric name.
    pub name: String,
    /// The PromQL expression.
    pub expr: String,
    /// Labels added (alerting rules: templates) to the result.
    pub labels: BTreeMap<String, String>,
    /// What kind of rule this is.
    pub kind: RuleKind,
}

/// Alerting or recording.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// `alert:`; raises alerts.
    Alerting {
        /// How long a condition must hold before the alert fires.
        hold: Duration,
        /// How long a firing alert keeps firing after its condition clears.
        keep_firing_for: Duration,
        /// Templated annotations.
        annotations: BTreeMap<String, String>,
    },
    /// `record:`; writes its result as series named after the rule.
    Recording,
}

/// Every problem found in one rule file, one per line as promtool prints them.
#[derive(Debug, Clone, thiserror::Error)]
pub struct RuleFileErrors {
    /// `file: message` lines.
    pub messages: Vec<String>,
}

impl fmt::Display for RuleFileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages.join("\n"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<Located<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    name: String,
    interval: Option<Located<String>>,
    query_offset: Option<Located<String>>,
    #[serde(default)]
    limit: usize,
    #[serde(default)]
    rules: Vec<Located<RawRule>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    record: Option<Located<String>>,
    alert: Option<Located<String>>,
    /// As written: `expr: 1` is the PromQL number 1.
    expr: Option<Located<String>>,
    #[serde(rename = "for")]
    hold: Option<Located<String>>,
    keep_firing_for: Option<Located<String>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Reads and validates a rule file.
pub fn load_rule_file(path: &Path) -> Result<Vec<RuleGroup>, RuleFileErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| RuleFileErrors {
        messages: vec![format!("{file}: {e}")],
    })?;
    parse_rule_file(path, &text)
}

/// Parses and validates rule-file text; `path` names the file in messages. Every problem is
/// reported, those of the YAML's shape included.
pub fn parse_rule_file(path: &Path, text: &str) -> Result<Vec<RuleGroup>, RuleFileErrors> {
    let file = path.display().to_string();
    let document = Document::parse(text).map_err(|e| RuleFileErrors {
        messages: vec![format!("{file}: {e}")],
    })?;
    let Read { value, errors } = document.read::<RawFile>();
    // Rules with a problem of shape are not checked further: a field left out for being
    // unreadable would be reported again as missing.
    let misshapen: Vec<YamlPath> = errors.iter().map(|e| e.path.clone()).collect();
    let mut messages: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let place = describe(&document, &e.path);
            format!("{file}: {}:{}: {place}{}", e.line, e.column, e.message)
        })
        .collect();
    let raw = value.unwrap_or(RawFile { groups: Vec::new() });
    let mut groups = Vec::new();
    let mut seen = HashSet::new();
    for located in raw.groups {
        let at = located.position();
        let group_place = describe(&document, &located.path);
        let raw_group = located.value;
        if raw_group.name.is_empty() {
            messages.push(format!("{file}: {at}: Groupname must not be empty"));
        }
        if !seen.insert(raw_group.name.clone()) {
            messages.push(format!(
                "{file}: {at}: groupname: \"{}\" is repeated in the same file",
                raw_group.name
            ));
        }
        let mut problems = Vec::new();
        for (k, v) in &raw_group.labels {
            check_label(k, v, &mut problems);
        }
        messages.extend(problems.into_iter().map(|p| format!("{file}: {p}")));
        let mut duration = |name: &str, field: &Option<Located<String>>| {
            duration_field(&file, &group_place, name, field.as_ref(), &mut messages)
        };
        let interval = duration("interval", &raw_group.interval);
        let query_offset = duration("query_offset", &raw_group.query_offset);
        let mut rules = Vec::new();
        for located in raw_group.rules {
            if misshapen.iter().any(|p| p.0.starts_with(&located.path.0)) {
                continue;
            }
            let rule_place = describe(&document, &located.path);
            let raw_rule = located.value;
            match validate_rule(raw_rule, &file, &rule_place, &mut messages) {
                Ok(rule) => rules.push(rule),
                Err(problems) => {
                    for (at, problem) in problems {
                        let at = at.map(|a| format!("{a}: ")).unwrap_or_default();
                        messages.push(format!("{file}: {at}{rule_place}{problem}"));
                    }
                }
            }
        }
        groups.push(RuleGroup {
            name: raw_group.name,
            file: path.to_owned(),
            interval,
            query_offset,
            limit: raw_group.limit,
            labels: raw_group.labels,
            rules,
        });
    }
    if messages.is_empty() {
        Ok(groups)
    } else {
        Err(RuleFileErrors { messages })
    }
}

/// Where `path` is, in promtool's words: `group "g", rule 2, "HighLoad": ` followed by the
/// field within the rule, if any (`for: `). Names come from the document, so a group or rule
/// that could not be read is still named.
fn describe(document: &Document, path: &YamlPath) -> String {
    let text = |path: &YamlPath| document.text(path).unwrap_or_default().to_owned();
    let (place, rest) = match path.0.as_slice() {
        [Segment::Key(groups), Segment::Index(g), rest @ ..] if groups == "groups" => {
            let group_at = YamlPath::default().key("groups").index(*g);
            let group = format!("group {:?}", text(&group_at.key("name")));
            match rest {
                [Segment::Key(rules), Segment::Index(r), rest @ ..] if rules == "rules" => {
                    let rule_at = group_at.key("rules").index(*r);
                    let mut name = text(&rule_at.key("alert"));
                    if name.is_empty() {
                        name = text(&rule_at.key("record"));
                    }
                    (format!("{group}, rule {}, {name:?}: ", r + 1), rest)
                }
                _ => (format!("{group}: "), rest),
            }
        }
        all => (String::new(), all),
    };
    match rest {
        [] => place,
        field => format!("{place}{}: ", YamlPath(field.to_vec())),
    }
}

/// A duration field of a group or rule; a bad one is reported at its position.
fn duration_field(
    file: &str,
    place: &str,
    name: &str,
    field: Option<&Located<String>>,
    messages: &mut Vec<String>,
) -> Option<Duration> {
    let field = field?;
    match parse_duration(&field.value) {
        Ok(d) => Some(d),
        Err(e) => {
            let at = field.position();
            messages.push(format!("{file}: {at}: {place}{name}: {e}"));
            None
        }
    }
}

type Problems = Vec<(Option<String>, String)>;

fn validate_rule(
    raw: RawRule,
    file: &str,
    place: &str,
    messages: &mut Vec<String>,
) -> Result<Rule, Problems> {
    let mut problems: Problems = Vec::new();
    let record = raw.record.as_ref().filter(|r| !r.value.is_empty());
    let alert = raw.alert.as_ref().filter(|a| !a.value.is_empty());
    let record_at = raw
        .record
        .as_ref()
        .map_or("0:0".to_owned(), Located::position);
    match (record, alert) {
        (Some(r), Some(a)) => problems.push((
            Some(format!("{}: {}", r.position(), a.position())),
            "only one of 'record' and 'alert' must be set".to_owned(),
        )),
        (None, None) => problems.push((
            Some(record_at.clone()),
            "one of 'record' or 'alert' must be set".to_owned(),
        )),
        _ => {}
    }
    let expr_at = raw
        .expr
        .as_ref()
        .map_or("0:0".to_owned(), Located::position);
    let expr = raw.expr.map(|e| e.value).unwrap_or_default();
    if expr.is_empty() {
        problems.push((Some(expr_at), "field 'expr' must be set in rule".to_owned()));
    } else if let Err(e) = promql_parser::parser::parse(&expr) {
        problems.push((Some(expr_at), format!("could not parse expression: {e}")));
    }
    let hold = duration_field(file, place, "for", raw.hold.as_ref(), messages).unwrap_or_default();
    let keep_firing_for = duration_field(
        file,
        place,
        "keep_firing_for",
        raw.keep_firing_for.as_ref(),
        messages,
    )
    .unwrap_or_default();
    if record.is_some() {
        let mut misplaced = |what: &str| {
            let message = format!("invalid field '{what}' in recording rule");
            problems.push((Some(record_at.clone()), message));
        };
        if !raw.annotations.is_empty() {
            misplaced("annotations");
        }
        if !hold.is_zero() {
            misplaced("for");
        }
        if !keep_firing_for.is_zero() {
            misplaced("keep_firing_for");
        }
        let name = &record.map(|r| r.value.clone()).unwrap_or_default();
        if !is_metric_name(name) {
            let message = format!("invalid recording rule name: {name}");
            problems.push((Some(record_at.clone()), message));
        }
    }
    let mut label_problems = Vec::new();
    for (k, v) in &raw.labels {
        check_label(k, v, &mut label_problems);
    }
    for k in raw.annotations.keys() {
        if !is_label_name(k) {
            label_problems.push(format!("invalid annotation name: {k}"));
        }
    }
    if let Some(alert) = alert {
        let templates = raw.labels.iter().map(|(k, v)| ("label", k, v));
        for (what, key, text) in
            templates.chain(raw.annotations.iter().map(|(k, v)| ("annotation", k, v)))
        {
            if let Err(e) = check_alert_template(&alert.value, text) {
                label_problems.push(format!("{what} {key:?}: {e}"));
            }
        }
    }
    problems.extend(label_problems.into_iter().map(|p| (None, p)));
    if !problems.is_empty() {
        return Err(problems);
    }
    let (name, kind) = match (alert, record) {
        (Some(alert), _) => (
            alert.value.clone(),
            RuleKind::Alerting {
                hold,
                keep_firing_for,
                annotations: raw.annotations,
            },
        ),
        (None, Some(record)) => (record.value.clone(), RuleKind::Recording),
        (None, None) => unreachable!("reported above"),
    };
    Ok(Rule {
        name,
        expr,
        labels: raw.labels,
        kind,
    })
}

fn check_label(name: &str, _value: &str, problems: &mut Vec<String>) {
    if !is_label_name(name) || name == crate::labels::METRIC_NAME {
        problems.push(format!("invalid label name: {name}"));
    }
}
