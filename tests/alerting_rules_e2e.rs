//! Rule files in the running collector: the public node-exporter and cAdvisor rule collection
//! loaded unchanged and evaluated against a real agent without an error; rule files re-read on
//! SIGHUP and `POST /-/reload`, a broken one refused with its position while the old rules keep
//! running; and `check-config` agreeing with promtool and amtool on valid and broken files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use osprey::agent::start_agent;
use osprey::collector::Collector;
use osprey::net::free_port;
use osprey::process::wait_until;
use serde_json::Value;

/// The value of `lastEvaluation` for a rule not evaluated yet.
const NEVER: &str = "0001-01-01T00:00:00Z";

fn write_config(dir: &Path, agent_port: u16, rule_files: &[PathBuf]) {
    let files: Vec<String> = rule_files
        .iter()
        .map(|f| format!("'{}'", f.display()))
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\n\
         scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{agent_port}']\n",
        files.join(", ")
    );
    std::fs::write(dir.join("osprey.yml"), config).unwrap();
}

fn names(rules: &[Value]) -> Vec<String> {
    rules
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn the_public_rule_collection_evaluates_against_a_real_agent_without_an_error() {
    let Some(rules_dir) = osprey::shared_dir("peer-tests/rules") else {
        return;
    };
    let files = [
        rules_dir.join("node-exporter.yml"),
        rules_dir.join("google-cadvisor.yml"),
    ];
    let agent = start_agent(&[]);
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), agent.port, &files);
    let collector = Collector::start(dir.path(), free_port());
    wait_until("the agent scraped", Duration::from_secs(30), || {
        collector.targets_up() == 1
    });
    let first = osprey::process::wait_for("every rule evaluated", Duration::from_secs(30), || {
        let rules = collector.rules();
        rules
            .iter()
            .all(|r| r["lastEvaluation"] != NEVER)
            .then_some(rules)
    });
    assert_eq!(
        first.len(),
        44,
        "every rule of the two files: {:?}",
        names(&first)
    );
    // A few more evaluations, on samples the agent gave since.
    std::thread::sleep(Duration::from_secs(4));
    let rules = collector.rules();
    assert_eq!(names(&rules), names(&first));
    for (rule, earlier) in rules.iter().zip(&first) {
        assert_ne!(rule["lastEvaluation"], earlier["lastEvaluation"], "{rule}");
        assert_eq!(rule["health"], "ok", "{rule:#}");
        assert!(
            rule["lastError"].as_str().unwrap_or_default().is_empty(),
            "{rule:#}"
        );
    }
    let failures = osprey::net::get(collector.port, "/metrics")
        .expect("metrics")
        .1;
    assert!(
        failures
            .lines()
            .filter(|l| l.starts_with("osprey_rule_evaluation_failures_total"))
            .all(|l| l.ends_with(" 0")),
        "{failures}"
    );
}

const FIRST: &str =
    "groups:\n- name: reload\n  rules:\n  - alert: First\n    expr: vector(1) > 0\n";
const BOTH: &str = "groups:\n- name: reload\n  rules:\n  - alert: First\n    expr: vector(1) > 0\n  - alert: Second\n    expr: vector(2) > 0\n";
/// The expression of rule 2 does not parse: line 7, column 11.
const BROKEN: &str = "groups:\n- name: reload\n  rules:\n  - alert: First\n    expr: vector(1) > 0\n  - alert: Third\n    expr: rate(up[5m]\n";
const THIRD: &str =
    "groups:\n- name: reload\n  rules:\n  - alert: Third\n    expr: vector(3) > 0\n";

#[test]
fn rule_files_reload_on_sighup_and_post_and_a_broken_file_is_refused() {
    let agent = start_agent(&[]);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, FIRST).unwrap();
    write_config(dir.path(), agent.port, std::slice::from_ref(&rules));
    let collector = Collector::start(dir.path(), free_port());
    let first = osprey::process::wait_for("First firing", Duration::from_secs(20), || {
        collector
            .alerts()
            .into_iter()
            .find(|a| a["labels"]["alertname"] == "First")
    });

    std::fs::write(&rules, BOTH).unwrap();
    collector.signal("HUP");
    wait_until("SIGHUP to load Second", Duration::from_secs(20), || {
        names(&collector.rules()) == ["First", "Second"]
    });
    let kept = collector
        .alerts()
        .into_iter()
        .find(|a| a["labels"]["alertname"] == "First")
        .expect("First still firing");
    assert_eq!(
        kept["activeAt"], first["activeAt"],
        "the reload kept First's alert"
    );

    std::fs::write(&rules, BROKEN).unwrap();
    let (status, body) = collector.reload();
    let position = format!("{}: 7:11:", rules.display());
    assert_eq!(status, 500, "{body}");
    assert!(body.contains(&position), "{body}");
    assert!(collector.log().contains(&position), "{}", collector.log());
    let before = collector.rules();
    std::thread::sleep(Duration::from_secs(3));
    let after = collector.rules();
    assert_eq!(
        names(&after),
        ["First", "Second"],
        "the old rules keep running"
    );
    assert_ne!(after[0]["lastEvaluation"], before[0]["lastEvaluation"]);

    std::fs::write(&rules, THIRD).unwrap();
    let (status, body) = collector.reload();
    assert_eq!(status, 200, "{body}");
    wait_until("Third evaluated", Duration::from_secs(20), || {
        let rules = collector.rules();
        names(&rules) == ["Third"] && rules[0]["lastEvaluation"] != NEVER
    });
}

/// `check-config`'s verdict on a configuration naming `rules` and `alertmanager` files.
fn check_config(dir: &Path, rules: Option<&Path>, alertmanager: Option<&Path>) -> (bool, String) {
    let mut config = String::new();
    if let Some(rules) = rules {
        config.push_str(&format!("rule_files: ['{}']\n", rules.display()));
    }
    if let Some(file) = alertmanager {
        config.push_str(&format!("alertmanager_config_file: '{}'\n", file.display()));
    }
    osprey::collector::check_config(dir, &config)
}

#[test]
fn check_config_agrees_with_promtool_and_amtool() {
    if !osprey::peers_present(&["promtool", "amtool"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rule_cases = [
        ("valid.yml", BOTH, None),
        ("bad_expr.yml", BROKEN, Some("7:11")),
        (
            "bad_yaml.yml",
            "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up\n   for: 1m\n",
            None,
        ),
        (
            "no_name.yml",
            "groups:\n- rules:\n  - alert: X\n    expr: up\n",
            None,
        ),
        (
            "bad_label.yml",
            "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up\n    labels:\n      0bad: x\n",
            None,
        ),
    ];
    for (name, text, position) in rule_cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let promtool = Command::new("promtool")
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .expect("run promtool")
            .status
            .success();
        let (ours, output) = check_config(dir.path(), Some(&file), None);
        assert_eq!(
            ours, promtool,
            "{name}: promtool says {promtool}; check-config:\n{output}"
        );
        if !ours {
            assert!(
                output.contains(&format!("{}:", file.display())),
                "{name}: {output}"
            );
        }
        if let Some(position) = position {
            assert!(output.contains(position), "{name}: {output}");
        }
    }
    let receivers =
        "receivers:\n- name: ops\n  webhook_configs:\n  - url: http://127.0.0.1:5001/\n";
    let am_cases = [
        ("am_valid.yml", format!("route:\n  receiver: ops\n  group_wait: 0s\n{receivers}")),
        ("am_unknown_receiver.yml", format!("route:\n  receiver: nobody\n{receivers}")),
        ("am_no_route.yml", receivers.to_owned()),
        ("am_bad_duration.yml", format!("route:\n  receiver: ops\n  group_wait: soon\n{receivers}")),
        ("am_email_without_smarthost.yml", "route:\n  receiver: m\nreceivers:\n- name: m\n  email_configs:\n  - to: a@example.com\n".to_owned()),
    ];
    for (name, text) in am_cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let amtool = Command::new("amtool")
            .arg("check-config")
            .arg(&file)
            .output()
            .expect("run amtool")
            .status
            .success();
        let (ours, output) = check_config(dir.path(), None, Some(&file));
        assert_eq!(
            ours, amtool,
            "{name}: amtool says {amtool}; check-config:\n{output}"
        );
    }
}
