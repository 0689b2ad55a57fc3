//! What Grafana does with a dashboard's JSON: it finds the panels, their queries and the template
//! variables, checks what it needs to load the dashboard, and substitutes variables into a query
//! the way its Prometheus data source does before sending it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// The panel types the shipped dashboards may use: ones current Grafana ships.
const PANEL_TYPES: [&str; 7] = [
    "row",
    "timeseries",
    "stat",
    "table",
    "gauge",
    "bargauge",
    "state-timeline",
];

/// Grafana's grid is 24 columns wide.
const GRID_COLUMNS: u64 = 24;

/// How many points Grafana asks for when it computes `$__interval`: about the width of a panel
/// in pixels; the data source's scrape interval is the floor.
const MAX_DATA_POINTS: u64 = 1000;

/// The value Grafana stores as `current` when a variable's "All" option is selected.
const ALL: &str = "$__all";

/// A dashboard file, parsed.
#[derive(Debug)]
pub struct Dashboard {
    /// The file's name, for messages.
    pub file: String,
    json: Value,
}

/// One query of a panel.
#[derive(Debug, Clone)]
pub struct Query {
    /// The panel's title and the query's `refId`, for messages.
    pub place: String,
    /// The PromQL text, variables not substituted yet.
    pub expr: String,
    /// Whether Grafana sends it as an instant query (`/api/v1/query` at the end of the range).
    pub instant: bool,
    /// The `{{label}}` names of its legend.
    pub legend_labels: Vec<String>,
}

/// A template variable whose values come from a query (`label_values(...)`).
#[derive(Debug, Clone)]
pub struct Variable {
    /// Its name, as written after `$`.
    pub name: String,
    /// Its query, variables not substituted yet.
    pub query: String,
    /// Whether several values can be selected at once.
    pub multi: bool,
    include_all: bool,
    all_value: Option<String>,
    starts_at_all: bool,
}

/// The variables' substituted texts by name (`job` -> `node`), Grafana's built-ins included.
pub type Scope = BTreeMap<String, String>;

impl Dashboard {
    /// Reads and parses `path`; panics with the file's name when it is not JSON.
    pub fn load(path: &Path) -> Dashboard {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        Dashboard { file, json }
    }

    /// Its `uid`, the stable part of its URL (`/d/<uid>`).
    pub fn uid(&self) -> &str {
        self.json["uid"].as_str().unwrap_or_default()
    }

    /// Every panel, the panels of collapsed rows included, rows themselves too.
    pub fn panels(&self) -> Vec<&Value> {
        let top = self.json["panels"].as_array().into_iter().flatten();
        top.flat_map(|panel| {
            let nested = panel["panels"].as_array().into_iter().flatten();
            std::iter::once(panel).chain(nested)
        })
        .collect()
    }

    /// Every query of every panel, in the order of the panels.
    pub fn queries(&self) -> Vec<Query> {
        let mut queries = Vec::new();
        for panel in self.panels() {
            let title = panel["title"].as_str().unwrap_or_default();
            for target in panel["targets"].as_array().into_iter().flatten() {
                let instant = target["instant"] == true && target["range"].as_bool() != Some(true);
                queries.push(Query {
                    place: format!("{title:?} {}", target["refId"].as_str().unwrap_or("?")),
                    expr: target["expr"].as_str().unwrap_or_default().to_owned(),
                    instant,
                    legend_labels: legend_labels(target["legendFormat"].as_str()),
                });
            }
        }
        queries
    }

    /// The variables whose values come from a query, in the order Grafana resolves them.
    pub fn variables(&self) -> Vec<Variable> {
        self.variable_list()
            .filter(|v| v["type"] == "query")
            .map(|v| Variable {
                name: v["name"].as_str().unwrap_or_default().to_owned(),
                query: variable_query(v).unwrap_or_default().to_owned(),
                multi: v["multi"] == true,
                include_all: v["includeAll"] == true,
                all_value: v["allValue"]
                    .as_str()
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
                starts_at_all: v["current"]["value"] == ALL
                    || v["current"]["value"]
                        .as_array()
                        .is_some_and(|a| a == &[ALL]),
            })
            .collect()
    }

    /// Every link URL of the dashboard and its panels (data links, panel links, dashboard
    /// links).
    pub fn link_urls(&self) -> Vec<String> {
        let mut urls = Vec::new();
        collect_urls(&self.json, &mut urls);
        urls
    }

    /// What would keep Grafana from loading the dashboard as intended: missing identity,
    /// panels without a place on the grid or a data source, queries without text, variables
    /// that never load their values. Empty when there is nothing.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let json = &self.json;
        let uid = self.uid();
        if uid.is_empty() || uid.len() > 40 {
            problems.push(format!("uid {uid:?} must have 1 to 40 characters"));
        }
        if json["title"].as_str().is_none_or(str::is_empty) {
            problems.push("no title".to_owned());
        }
        if json["schemaVersion"].as_u64().is_none_or(|v| v < 36) {
            problems.push("schemaVersion must be 36 or later".to_owned());
        }
        if json["panels"].as_array().is_none_or(Vec::is_empty) {
            problems.push("no panels".to_owned());
        }
        let mut ids = BTreeSet::new();
        for panel in self.panels() {
            let name = format!("panel {:?}", panel["title"].as_str().unwrap_or_default());
            if !panel["id"].as_u64().is_some_and(|id| ids.insert(id)) {
                problems.push(format!("{name}: id missing or used twice"));
            }
            problems.extend(
                panel_problems(panel)
                    .into_iter()
                    .map(|p| format!("{name}: {p}")),
            );
        }
        problems.extend(self.variable_problems());
        problems
    }

    fn variable_list(&self) -> impl Iterator<Item = &Value> {
        self.json["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
    }

    fn variable_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.json["templating"]["list"].is_array() {
            problems.push("templating.list is not a list".to_owned());
        }
        let mut names = BTreeSet::new();
        for variable in self.variable_list() {
            let name = variable["name"].as_str().unwrap_or_default();
            if !names.insert(name) {
                problems.push(format!("variable {name:?}: name missing or used twice"));
            }
            match variable["type"].as_str() {
                Some("datasource") if variable["query"] == "prometheus" => {}
                Some("query") => {
                    if variable_query(variable).and_then(label_values).is_none() {
                        problems.push(format!("variable {name:?}: not a label_values query"));
                    }
                    if !matches!(variable["refresh"].as_u64(), Some(1 | 2)) {
                        problems.push(format!(
                            "variable {name:?}: refresh must be 1 (on load) or 2 (on time \
                             range change), or its values never load"
                        ));
                    }
                    problems.extend(
                        datasource_problem(&variable["datasource"])
                            .map(|p| format!("variable {name:?}: {p}")),
                    );
                }
                other => problems.push(format!(
                    "variable {name:?}: type {other:?} (only datasource variables of \
                     prometheus and query variables are checked)"
                )),
            }
        }
        problems
    }
}

/// The problems of one panel (or row).
fn panel_problems(panel: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let kind = panel["type"].as_str().unwrap_or_default();
    if !PANEL_TYPES.contains(&kind) {
        problems.push(format!("type {kind:?} is not one of {PANEL_TYPES:?}"));
    }
    let grid = &panel["gridPos"];
    let [h, w, x, y] = ["h", "w", "x", "y"].map(|k| grid[k].as_u64());
    match (h, w, x, y) {
        (Some(h), Some(w), Some(x), Some(_)) if h > 0 && w > 0 && x + w <= GRID_COLUMNS => {}
        _ => problems.push(format!("gridPos {grid} does not fit the 24-column grid")),
    }
    if kind == "row" {
        let nested = panel["panels"].as_array().map_or(0, Vec::len);
        if panel["collapsed"] != true && nested > 0 {
            problems.push("an open row must list its panels after it, not inside".to_owned());
        }
        return problems;
    }
    problems.extend(datasource_problem(&panel["datasource"]));
    let targets = panel["targets"].as_array().cloned().unwrap_or_default();
    if targets.is_empty() {
        problems.push("no targets".to_owned());
    }
    let mut ref_ids = BTreeSet::new();
    for target in &targets {
        let ref_id = target["refId"].as_str().unwrap_or_default();
        if ref_id.is_empty() || !ref_ids.insert(ref_id) {
            problems.push(format!("refId {ref_id:?} missing or used twice"));
        }
        if target["expr"].as_str().is_none_or(|e| e.trim().is_empty()) {
            problems.push(format!("target {ref_id}: no expr"));
        }
        if !target["datasource"].is_null() && target["datasource"] != panel["datasource"] {
            problems.push(format!(
                "target {ref_id}: a data source other than the panel's"
            ));
        }
    }
    problems
}

/// Why `reference` is not a reference to the Prometheus data source (the `${datasource}`
/// variable or the provisioned uid `osprey`), if it is not.
fn datasource_problem(reference: &Value) -> Option<String> {
    let uid = reference["uid"].as_str();
    let fine = reference["type"] == "prometheus" && matches!(uid, Some("${datasource}" | "osprey"));
    (!fine).then(|| format!("datasource {reference} is not the prometheus ${{datasource}}"))
}

/// A variable's query text: a string, or the `query` of an object as Grafana 10 writes it.
fn variable_query(variable: &Value) -> Option<&str> {
    let query = &variable["query"];
    query.as_str().or_else(|| query["query"].as_str())
}

fn collect_urls(json: &Value, urls: &mut Vec<String>) {
    match json {
        Value::Object(map) => {
            for (key, value) in map {
                match value.as_str() {
                    Some(url) if key == "url" => urls.push(url.to_owned()),
                    _ => collect_urls(value, urls),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_urls(item, urls)),
        _ => {}
    }
}

/// The label names a legend format such as `{{instance}} {{ device }}` refers to.
fn legend_labels(format: Option<&str>) -> Vec<String> {
    let mut labels = Vec::new();
    let mut rest = format.unwrap_or_default();
    while let Some((_, after)) = rest.split_once("{{") {
        let Some((name, tail)) = after.split_once("}}") else {
            break;
        };
        labels.push(name.trim().to_owned());
        rest = tail;
    }
    labels
}

/// The parts of `label_values(SELECTOR, LABEL)`: the selector (`None` in the one-argument form
/// `label_values(LABEL)`) and the label.
pub fn label_values(query: &str) -> Option<(Option<&str>, &str)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (selector, label) = match inner.rsplit_once(',') {
        Some((selector, label)) => (Some(selector.trim()), label.trim()),
        None => (None, inner.trim()),
    };
    let is_name = !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '_');
    is_name.then_some((selector, label))
}

/// What a user has selected in a variable's drop-down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The "All" option.
    All,
    /// These values.
    Values(Vec<String>),
}

impl Variable {
    /// What Grafana selects when the dashboard opens: "All" when its saved `current` is "All",
    /// otherwise the first of the `options` the query returned.
    pub fn initial_selection(&self, options: &[String]) -> Selection {
        if self.include_all && self.starts_at_all {
            return Selection::All;
        }
        Selection::Values(options.iter().take(1).cloned().collect())
    }

    /// The text Grafana's Prometheus data source substitutes for the variable when `selection`
    /// is picked out of `options` (`interpolateQueryExpr`): the value as written (with
    /// backslashes and quotes escaped) for a plain variable; for a multi-value or "All"
    /// variable each value regex-escaped, several joined as `(a|b)`, and "All" as its
    /// `allValue` when it has one.
    pub fn substitute(&self, selection: &Selection, options: &[String]) -> String {
        let values = match selection {
            Selection::All => match &self.all_value {
                Some(all_value) => return all_value.clone(),
                None => options,
            },
            Selection::Values(values) => values.as_slice(),
        };
        if !self.multi && !self.include_all {
            let value = values.first().map(String::as_str).unwrap_or_default();
            return value.replace('\\', "\\\\").replace('\'', "\\\\'");
        }
        let escaped: Vec<String> = values.iter().map(|v| regex_escape(v)).collect();
        match escaped.as_slice() {
            [one] => one.clone(),
            many => format!("({})", many.join("|")),
        }
    }
}

/// Grafana's `prometheusSpecialRegexEscape`: a value made literal inside a regular expression
/// that itself sits in a double-quoted PromQL string.
fn regex_escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\\\\\"),
            '$' | '^' | '*' | '{' | '}' | '[' | ']' | '\'' | '+' | '?' | '.' | '(' | ')' | '|' => {
                escaped.push_str("\\\\");
                escaped.push(c);
            }
            _ => escaped.push(c),
        }
    }
    escaped
}

/// The time range of a dashboard and the intervals Grafana derives from it, in whole seconds.
#[derive(Debug, Clone, Copy)]
pub struct TimeRange {
    /// The start, Unix time.
    pub start: u64,
    /// The end, Unix time.
    pub end: u64,
    /// The data source's scrape interval (`timeInterval`), the floor of `$__interval`.
    pub scrape_interval: u64,
}

impl TimeRange {
    /// `$__interval`, which is also the step of a range query: the range spread over
    /// [`MAX_DATA_POINTS`], no finer than the scrape interval.
    pub fn interval(&self) -> u64 {
        (self.range() / MAX_DATA_POINTS).max(self.scrape_interval)
    }

    /// `$__rate_interval`: `max($__interval + scrape interval, 4 * scrape interval)`, so a
    /// `rate()` always spans at least four scrapes.
    pub fn rate_interval(&self) -> u64 {
        (self.interval() + self.scrape_interval).max(4 * self.scrape_interval)
    }

    /// `$__range` in seconds.
    pub fn range(&self) -> u64 {
        self.end - self.start
    }

    /// The start and end of a range query, aligned down to the step as Grafana aligns them.
    pub fn aligned(&self) -> (u64, u64) {
        let step = self.interval();
        (self.start / step * step, self.end / step * step)
    }

    /// Grafana's built-in variables for this range.
    pub fn builtins(&self) -> Scope {
        let seconds = |s: u64| format!("{s}s");
        [
            ("__interval", seconds(self.interval())),
            ("__interval_ms", (self.interval() * 1000).to_string()),
            ("__rate_interval", seconds(self.rate_interval())),
            ("__range", seconds(self.range())),
            ("__range_s", self.range().to_string()),
            ("__range_ms", (self.range() * 1000).to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }
}

/// `text` with every `$name`, `${name}` and `[[name]]` replaced by its value in `scope`, as
/// Grafana's template service replaces them; an error naming a variable the scope lacks or a
/// `${name:format}` (Grafana would send those unchanged or reformatted; the dashboards use
/// neither).
pub fn interpolate(text: &str, scope: &Scope) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['$', '[']) {
        out.push_str(&rest[..at]);
        let (name, after) = match variable_at(&rest[at..]) {
            Some(found) => found,
            None => {
                out.push_str(&rest[at..=at]);
                rest = &rest[at + 1..];
                continue;
            }
        };
        if name.contains(':') {
            return Err(format!(
                "${{{name}}}: formats are not used by the dashboards"
            ));
        }
        let value = scope
            .get(name)
            .ok_or_else(|| format!("${name} is not a variable of the dashboard"))?;
        out.push_str(value);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// The variable reference at the start of `text` (`$name`, `${name}`, `[[name]]`), as its name
/// and the text after it; `None` when `text` does not start with one.
fn variable_at(text: &str) -> Option<(&str, &str)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (name, after) = if let Some(braced) = text.strip_prefix("${") {
        braced.split_once('}')?
    } else if let Some(bracketed) = text.strip_prefix("[[") {
        bracketed.split_once("]]")?
    } else {
        let plain = text.strip_prefix('$')?;
        let end = plain.find(|c| !is_word(c)).unwrap_or(plain.len());
        plain.split_at(end)
    };
    let word = name.split(':').next().unwrap_or_default();
    (!word.is_empty() && word.chars().all(is_word)).then_some((name, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(pairs: &[(&str, &str)]) -> Scope {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn interpolate_replaces_the_three_syntaxes_and_leaves_regex_anchors() {
        let scope = scope(&[("job", "node"), ("__rate_interval", "8s")]);
        assert_eq!(
            interpolate(
                r#"rate(x{job="$job",a=~"b$",c="${job}"}[$__rate_interval]) [[job]]"#,
                &scope
            ),
            Ok(r#"rate(x{job="node",a=~"b$",c="node"}[8s]) node"#.to_owned())
        );
        assert!(interpolate("x{job=\"$jobs\"}", &scope).is_err());
        assert!(interpolate("x{job=\"${job:csv}\"}", &scope).is_err());
    }

    fn variable(multi: bool, include_all: bool, all_value: Option<&str>) -> Variable {
        Variable {
            name: "v".to_owned(),
            query: "label_values(up, instance)".to_owned(),
            multi,
            include_all,
            all_value: all_value.map(str::to_owned),
            starts_at_all: include_all,
        }
    }

    #[test]
    fn substitute_escapes_as_grafanas_prometheus_data_source() {
        let options = ["127.0.0.1:9100".to_owned(), "b".to_owned()];
        let one = Selection::Values(vec![options[0].clone()]);
        assert_eq!(
            variable(false, false, None).substitute(&one, &options),
            "127.0.0.1:9100"
        );
        assert_eq!(
            variable(true, false, None).substitute(&one, &options),
            r"127\\.0\\.0\\.1:9100"
        );
        let both = Selection::Values(options.to_vec());
        assert_eq!(
            variable(true, false, None).substitute(&both, &options),
            r"(127\\.0\\.0\\.1:9100|b)"
        );
        let all = Selection::All;
        assert_eq!(
            variable(true, true, None).substitute(&all, &options),
            r"(127\\.0\\.0\\.1:9100|b)"
        );
        assert_eq!(
            variable(true, true, Some(".+")).substitute(&all, &options),
            ".+"
        );
    }

    #[test]
    fn rate_interval_spans_four_scrapes() {
        let range = TimeRange {
            start: 1000,
            end: 1030,
            scrape_interval: 2,
        };
        assert_eq!((range.interval(), range.rate_interval()), (2, 8));
        assert_eq!(range.aligned(), (1000, 1030));
        let day = TimeRange {
            start: 0,
            end: 86_400,
            scrape_interval: 15,
        };
        assert_eq!((day.interval(), day.rate_interval()), (86, 101));
    }

    #[test]
    fn label_values_reads_both_forms() {
        assert_eq!(
            label_values(r#"label_values(up{job="$job"}, instance)"#),
            Some((Some(r#"up{job="$job"}"#), "instance"))
        );
        assert_eq!(label_values("label_values(job)"), Some((None, "job")));
        assert_eq!(label_values("query_result(up)"), None);
    }
}
