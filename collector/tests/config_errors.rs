//! The collector refuses a configuration with several errors, printing each once with its
//! file, line, column and field, then one hint, and exits non-zero; `check-config` agrees.

use std::process::{Command, Output};

const CONFIG: &str = "global:
  scrape_interval: 5x
scrape_configs:
  - job_name: node
    scrape_intervall: 15s
    static_configs:
      - targets: [\"localhost:9717\"]
  - job_name: node
    sample_limit: many
rule_files:
  - rules/missing.yml
";

/// Each expected error: its position and field, then the start of its message.
const EXPECTED: &[&str] = &[
    ":2:20: global.scrape_interval: not a valid duration string",
    ":5:5: scrape_configs[0].scrape_intervall: unknown field `scrape_intervall`",
    ":9:19: scrape_configs[1].sample_limit: expected a whole number, found \"many\"",
    ":11:5: rule_files[0]: cannot read ",
    ":8:15: scrape_configs[1].job_name: duplicate job_name \"node\"",
];

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_osprey-collector"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run osprey-collector")
}

fn assert_each_error_once(output: &Output) {
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in EXPECTED {
        let line = format!("osprey.yml{expected}");
        let count = stderr.matches(&line).count();
        assert_eq!(count, 1, "{line:?} printed {count} times in:\n{stderr}");
    }
    // Error lines carry a position; the summary line after them does not.
    let located = |line: &&str| {
        let rest = line.strip_prefix("osprey.yml:").unwrap_or_default();
        rest.starts_with(|c: char| c.is_ascii_digit())
    };
    let error_lines = stderr.lines().filter(located).count();
    assert_eq!(error_lines, EXPECTED.len(), "{stderr}");
}

#[test]
fn startup_prints_every_error_once_then_a_hint_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("osprey.yml"), CONFIG).unwrap();
    let args = [
        "--config",
        "osprey.yml",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        "data",
    ];
    let output = run(&args, dir.path());
    assert_each_error_once(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("check-config"), "one hint line: {stderr}");
}

#[test]
fn check_config_prints_every_error_once_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("osprey.yml"), CONFIG).unwrap();
    assert_each_error_once(&run(&["check-config", "osprey.yml"], dir.path()));
}

#[test]
fn check_config_says_ok_with_what_it_found_and_warns_of_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/a.yml"), "groups: []\n").unwrap();
    let text = "scrape_configs:\n  - job_name: a\n  - job_name: b\nrule_files: [rules/a.yml]\n\
                thresholds:\n  - alerts: {HostHighLoadd: 4}\n";
    std::fs::write(dir.path().join("osprey.yml"), text).unwrap();
    let output = run(&["check-config", "osprey.yml"], dir.path());
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [
        "osprey.yml: ok",
        "scrape jobs: 2",
        "a: 0 static targets",
        "rules: 0 in 0 groups from 1 rule file",
        "receivers: 0",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    for warning in [
        "warning: no scrape target",
        "warning: no alerting rule",
        "warning: no email or webhook receiver",
        "warning: thresholds: no alerting rule is named \"HostHighLoadd\"",
    ] {
        assert!(stderr.contains(warning), "no {warning:?} in:\n{stderr}");
    }
}

/// `packaging/collector.yml`, the commented example, is valid as shipped, keeps this machine
/// (the in-process agent) and the shipped rules, and names its receivers.
#[test]
fn the_example_configuration_passes_with_the_local_agent_and_the_shipped_rules() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/collector.yml");
    let output = run(&["check-config", example], std::path::Path::new("/"));
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("node: 1 static target (the in-process agent: this machine)"),
        "{stdout}"
    );
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../alert-rules"))
        .unwrap()
        .count();
    assert!(
        stdout.contains(&format!("from {shipped} rule files")),
        "not every shipped rule file is loaded:\n{stdout}"
    );
    assert!(
        stdout.contains("ops-all: 1 email destination, 1 webhook"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// A scrape job whose TLS file is missing would stop the collector at start, so check-config
/// refuses it too.
#[test]
fn check_config_refuses_what_the_start_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let text = "scrape_configs:\n  - job_name: a\n    scheme: https\n    tls_config: {ca_file: /nonexistent/ca.pem}\n    static_configs: [{targets: [\"h:1\"]}]\n";
    std::fs::write(dir.path().join("osprey.yml"), text).unwrap();
    let output = run(&["check-config", "osprey.yml"], dir.path());
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("job \"a\"") && stderr.contains("/nonexistent/ca.pem"),
        "{stderr}"
    );
}
