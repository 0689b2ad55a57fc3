//! Rule-file validation agrees with Debian's `promtool check rules` on valid and broken files,
//! and loads the public rule collection and Osprey's own rules unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use osprey_collector::rules::load_rule_file;

mod support;

use support::peer_present;

/// Whether promtool is here; CI must have it.
fn promtool() -> bool {
    peer_present("promtool", &["--version"])
}

struct Verdict {
    ok: bool,
    messages: Vec<String>,
}

fn promtool_verdict(path: &Path) -> Verdict {
    let output = Command::new("promtool")
        .args(["check", "rules"])
        .arg(path)
        .output()
        .expect("run promtool");
    let prefix = format!("{}: ", path.display());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut messages: Vec<String> = stderr
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    messages.sort();
    Verdict {
        ok: output.status.success(),
        messages,
    }
}

fn our_verdict(path: &Path) -> Verdict {
    match load_rule_file(path) {
        Ok(_) => Verdict {
            ok: true,
            messages: Vec::new(),
        },
        Err(e) => {
            let mut messages = e.messages;
            messages.sort();
            Verdict {
                ok: false,
                messages,
            }
        }
    }
}

/// (name, file text, whether the messages must match promtool's word for word: not where the
/// text comes from Go's YAML or PromQL parser).
const CASES: &[(&str, &str, bool)] = &[
    (
        "valid_alert",
        "groups:\n- name: host\n  rules:\n  - alert: HighCpu\n    expr: rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]) > 0.8\n    for: 5m\n    keep_firing_for: 1m\n    labels:\n      severity: warning\n    annotations:\n      summary: 'CPU {{ $value | printf \"%.2f\" }} on {{ $labels.instance }}'\n",
        true,
    ),
    (
        "valid_recording",
        "groups:\n- name: rec\n  interval: 30s\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n    labels:\n      team: ops\n",
        true,
    ),
    (
        "valid_number_expr",
        "groups:\n- name: g\n  rules:\n  - alert: Always\n    expr: 1\n",
        true,
    ),
    ("valid_empty_groups", "groups: []\n", true),
    (
        "valid_control_templates",
        "groups:\n- name: g\n  rules:\n  - alert: T\n    expr: up == 0\n    annotations:\n      d: '{{ if gt $value 1.0 }}{{ $value | humanize }}{{ else }}{{ range $k, $v := $labels }}{{ $k }}{{ end }}{{ end }}'\n",
        true,
    ),
    (
        "bad_unknown_field",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    bogus: 1\n",
        false,
    ),
    (
        "bad_expr",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: 'up =='\n",
        false,
    ),
    (
        "bad_duration",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: 5x\n",
        false,
    ),
    (
        "both_record_and_alert",
        "groups:\n- name: g\n  rules:\n  - alert: A2\n    record: r\n    expr: up\n",
        true,
    ),
    (
        "neither_record_nor_alert",
        "groups:\n- name: g\n  rules:\n  - expr: up\n",
        true,
    ),
    (
        "repeated_group",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n- name: g\n  rules:\n  - alert: B\n    expr: up\n",
        true,
    ),
    (
        "empty_group_name",
        "groups:\n- name: ''\n  rules:\n  - alert: A\n    expr: up\n",
        true,
    ),
    (
        "missing_expr",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: ''\n",
        true,
    ),
    (
        "annotations_in_recording",
        "groups:\n- name: g\n  rules:\n  - record: x\n    expr: up\n    annotations:\n      a: b\n",
        true,
    ),
    (
        "for_in_recording",
        "groups:\n- name: g\n  rules:\n  - record: x\n    expr: up\n    for: 1m\n",
        true,
    ),
    (
        "bad_record_name",
        "groups:\n- name: g\n  rules:\n  - record: 'bad name'\n    expr: up\n",
        true,
    ),
    (
        "bad_label_name",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      bad-name: x\n",
        true,
    ),
    (
        "metric_name_label",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      __name__: x\n",
        true,
    ),
    (
        "bad_annotation_name",
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n      bad-name: x\n",
        true,
    ),
    (
        "unclosed_template",
        "groups:\n- name: g\n  rules:\n  - alert: T\n    expr: up\n    labels:\n      x: '{{ $labels.foo '\n",
        true,
    ),
    (
        "undefined_function",
        "groups:\n- name: g\n  rules:\n  - alert: T\n    expr: up\n    annotations:\n      x: '{{ $value | nosuch }}'\n",
        true,
    ),
    (
        "undefined_variable",
        "groups:\n- name: g\n  rules:\n  - alert: T\n    expr: up\n    annotations:\n      x: '{{ $nosuch }}'\n",
        true,
    ),
    ("yaml_syntax", "groups:\n- name: g\n  rules: [\n", false),
    (
        "wrong_type",
        "groups:\n- name: g\n  rules: everything\n",
        false,
    ),
    (
        "unknown_top_level",
        "rules:\n- alert: A\n  expr: up\n",
        false,
    ),
];

#[test]
fn validation_agrees_with_promtool() {
    if !promtool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut disagreements = Vec::new();
    for (name, text, compare_messages) in CASES {
        let path = dir.path().join(format!("{name}.yml"));
        std::fs::write(&path, text).unwrap();
        let theirs = promtool_verdict(&path);
        let ours = our_verdict(&path);
        if theirs.ok != ours.ok {
            disagreements.push(format!(
                "{name}: promtool ok={} {:?}, ours ok={} {:?}",
                theirs.ok, theirs.messages, ours.ok, ours.messages
            ));
        } else if *compare_messages && theirs.messages != ours.messages {
            disagreements.push(format!(
                "{name}: promtool says {:?}\n    we say {:?}",
                theirs.messages, ours.messages
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn loads_the_public_rule_collection_unchanged() {
    let Some(dir) = osprey::shared_dir("peer-tests/rules") else {
        return;
    };
    let mut rules = 0;
    for path in yaml_files(&dir) {
        let groups = load_rule_file(&path).unwrap_or_else(|e| panic!("{e}"));
        rules += groups.iter().map(|g| g.rules.len()).sum::<usize>();
    }
    assert!(rules >= 44, "only {rules} rules loaded");
}

#[test]
fn osprey_rules_pass_promtool_and_load() {
    let files = yaml_files(&osprey::workspace_root().join("alert-rules"));
    assert!(
        files.len() >= 3,
        "alert-rules/ should hold host, containers and collector rules"
    );
    for path in &files {
        let groups = load_rule_file(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!groups.is_empty(), "{} has no groups", path.display());
        for rule in groups.iter().flat_map(|g| &g.rules) {
            if matches!(
                rule.kind,
                osprey_collector::rules::RuleKind::Alerting { .. }
            ) {
                let severity = rule.labels.get("severity").map(String::as_str);
                assert!(
                    matches!(severity, Some("warning" | "critical")),
                    "{} in {} needs severity warning or critical",
                    rule.name,
                    path.display()
                );
            }
        }
        if promtool() {
            let verdict = promtool_verdict(path);
            assert!(
                verdict.ok,
                "promtool rejects {}: {:?}",
                path.display(),
                verdict.messages
            );
        }
    }
}
