//! Configuration loading: a full prometheus.yml-shaped file, and errors with locations.

use std::path::Path;

use super::*;

const FULL: &str = r#"
global:
  scrape_interval: 15s
  scrape_timeout: 5s
  evaluation_interval: 30s
  external_labels:
    site: lab
rule_files:
  - rules/*.yml
storage:
  retention_time: 30d
  retention_size: 10GB
  cache_size: 64MB
alertmanager_config_file: /etc/alertmanager/alertmanager.yml
scrape_configs:
  - job_name: node
    scrape_interval: 10s
    metrics_path: /metrics
    scheme: https
    params:
      collect[]: [cpu, meminfo]
    basic_auth:
      username: prom
      password_file: /etc/osprey/password
    tls_config:
      ca_file: /etc/osprey/ca.pem
      insecure_skip_verify: false
    static_configs:
      - targets: ["a:9717", "b:9717"]
        labels:
          env: prod
    file_sd_configs:
      - files: [/etc/osprey/targets/*.yml]
        refresh_interval: 1m
    relabel_configs:
      - source_labels: [__address__]
        regex: "([^:]+):.*"
        target_label: host
      - action: hashmod
        source_labels: [__address__]
        modulus: 4
        target_label: __tmp_shard
    metric_relabel_configs:
      - action: drop
        source_labels: [__name__]
        regex: go_.*
      - action: labeldrop
        regex: pid
    sample_limit: 5000
    body_size_limit: 10MB
    honor_labels: true
"#;

#[test]
fn a_full_prometheus_shaped_file_loads() {
    let config = Config::parse(FULL, Path::new("prometheus.yml")).unwrap();
    assert_eq!(config.global.scrape_interval.0.as_secs(), 15);
    assert_eq!(config.global.external_labels["site"], "lab");
    assert_eq!(config.rule_files, ["rules/*.yml"]);
    assert_eq!(config.storage.retention_size, Some(ByteSize(10 << 30)));
    assert_eq!(config.storage.cache_size, Some(ByteSize(64 << 20)));
    let job = &config.scrape_configs[0];
    assert_eq!(job.job_name.value, "node");
    assert_eq!(config.interval_of(job).0.as_secs(), 10);
    assert_eq!(config.timeout_of(job).0.as_secs(), 5);
    assert_eq!(job.scheme, Scheme::Https);
    assert_eq!(job.static_configs[0].targets, ["a:9717", "b:9717"]);
    assert_eq!(job.relabel_configs[1].action, RelabelAction::Hashmod);
    assert_eq!(
        job.metric_relabel_configs[1].action,
        RelabelAction::Labeldrop
    );
    assert_eq!(job.sample_limit, 5000);
    assert_eq!(job.body_size_limit, Some(ByteSize(10 << 20)));
    assert!(job.honor_labels && job.honor_timestamps);
}

#[test]
fn an_inline_alertmanager_section_passes_through() {
    let text = "alertmanager:\n  route:\n    receiver: mail\n  receivers:\n    - name: mail\n";
    let config = Config::parse(text, Path::new("c.yml")).unwrap();
    let route = config.alertmanager.unwrap().route.unwrap();
    assert_eq!(route.receiver.as_deref(), Some("mail"));
}

#[test]
fn an_inline_alertmanager_section_reports_its_problems_at_their_lines() {
    let text = "global:\n  scrape_interval: 15s\nalertmanager:\n  route:\n    reciever: mail\n  \
                receivers:\n    - name: mail\n      email_configs: yes\n";
    let messages = messages(text);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("p.yml:5:5: alertmanager.route.reciever: unknown field")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("p.yml:8:22: alertmanager.receivers[0].email_configs:")),
        "{messages:?}"
    );
}

fn messages(text: &str) -> Vec<String> {
    let errors = Config::parse(text, Path::new("p.yml")).unwrap_err().0;
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn an_unknown_key_is_an_error_naming_the_field_at_its_line_and_column() {
    let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n";
    let errors = messages(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "p.yml:5:5: scrape_configs[0].scrape_intervall: unknown field `scrape_intervall`"
        ),
        "{errors:?}"
    );
}

#[test]
fn a_wrong_type_is_an_error_naming_the_field() {
    let text = "scrape_configs:\n  - job_name: a\n    sample_limit: many\n";
    assert_eq!(
        messages(text),
        ["p.yml:3:19: scrape_configs[0].sample_limit: expected a whole number, found \"many\""]
    );
    let errors = messages("global:\n  scrape_interval: 15 seconds\n");
    assert!(
        errors[0].starts_with("p.yml:2:20: global.scrape_interval: not a valid duration string"),
        "{errors:?}"
    );
}

#[test]
fn every_error_of_a_file_is_reported_in_one_run() {
    let text = r#"
global:
  scrape_interval: 1x
scrape_configs:
  - job_name: a
    scrape_interval: 5x
    colour: blue
  - job_name: b
    sample_limit: -1
    static_configs:
      - targets: ["ok:1"]
        labels: {"bad-name": x}
storage:
  retention_size: lots
"#;
    let errors = messages(text);
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e.splitn(4, ':').nth(3).unwrap().trim_start())
        .collect();
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(
        fields[0].starts_with("global.scrape_interval: not a valid duration string: \"1x\""),
        "{errors:#?}"
    );
    assert!(
        fields[1].starts_with("scrape_configs[0].scrape_interval: not a valid duration"),
        "{errors:#?}"
    );
    assert!(
        fields[2].starts_with("scrape_configs[0].colour: unknown field `colour`"),
        "{errors:#?}"
    );
    assert!(
        fields[3].starts_with("scrape_configs[1].sample_limit: invalid value integer `-1`"),
        "{errors:#?}"
    );
    assert!(
        fields[4].starts_with("storage.retention_size: invalid size \"lots\""),
        "{errors:#?}"
    );
    assert!(
        fields[5].starts_with("scrape_configs[1].static_configs[0].labels.bad-name: invalid label"),
        "{errors:#?}"
    );
    assert!(errors[0].starts_with("p.yml:3:20: "), "{errors:#?}");
    assert!(errors[1].starts_with("p.yml:6:22: "), "{errors:#?}");
    assert!(errors[2].starts_with("p.yml:7:5: "), "{errors:#?}");
}

#[test]
fn every_semantic_problem_is_listed_at_its_field() {
    let text = r#"
scrape_configs:
  - job_name: a
    scrape_interval: 5s
    scrape_timeout: 10s
  - job_name: a
    static_configs:
      - targets: ["http://x:1/metrics"]
    relabel_configs:
      - source_labels: [x]
        regex: "(unclosed"
        target_label: y
      - action: hashmod
        source_labels: [x]
"#;
    let errors = messages(text);
    assert_eq!(errors.len(), 5, "{errors:#?}");
    assert_eq!(
        errors[0],
        "p.yml:5:21: scrape_configs[0].scrape_timeout: 10s is greater than the scrape interval 5s"
    );
    assert_eq!(
        errors[1],
        "p.yml:6:15: scrape_configs[1].job_name: duplicate job_name \"a\" (first in scrape_configs[0])"
    );
    assert!(
        errors[2].starts_with("p.yml:8:19: scrape_configs[1].static_configs[0].targets[0]: target"),
        "{errors:#?}"
    );
    assert!(
        errors[3].starts_with("p.yml:11:16: scrape_configs[1].relabel_configs[0].regex: invalid"),
        "{errors:#?}"
    );
    assert!(errors[3].ends_with("unclosed group"), "{errors:#?}");
    assert_eq!(
        errors[4],
        "p.yml:13:17: scrape_configs[1].relabel_configs[1].action: action hashmod requires target_label and a modulus above zero"
    );
}

#[test]
fn a_missing_rule_file_is_an_error_at_its_line_and_an_empty_glob_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/ok.yml"), "groups: []\n").unwrap();
    let path = dir.path().join("osprey.yml");
    let text = "rule_files:\n  - rules/ok.yml\n  - rules/missing.yml\n  - nothing/*.yml\n";
    std::fs::write(&path, text).unwrap();
    let errors = Config::check(&path).unwrap_err().0;
    let missing = dir.path().join("rules/missing.yml");
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [format!(
            "{}:3:5: rule_files[1]: cannot read {}: No such file or directory",
            path.display(),
            missing.display()
        )]
    );
    std::fs::write(&path, "rule_files:\n  - rules/ok.yml\n  - nothing/*.yml\n").unwrap();
    let checked = Config::check(&path).unwrap();
    assert_eq!(checked.config.rule_files.len(), 2);
    assert_eq!(
        checked.warnings[0].to_string(),
        format!(
            "{}:3:5: rule_files[1]: \"nothing/*.yml\" matches no file",
            path.display()
        )
    );
}

#[test]
fn a_document_that_is_not_a_mapping_is_one_plain_error() {
    assert_eq!(
        messages("- a\n- b\n"),
        ["p.yml:1:1: expected a mapping, found a list"]
    );
}

#[test]
fn the_single_node_default_scrapes_the_local_agent_as_job_node_and_itself_as_osprey() {
    let config =
        Config::single_node("127.0.0.1:9718").with_local_agent_job("127.0.0.1:40123", "web-1");
    assert!(config.local_agent);
    assert_eq!(config.scrape_configs[0].job_name.value, "node");
    assert_eq!(
        config.scrape_configs[0].static_configs[0].targets,
        ["127.0.0.1:40123"]
    );
    assert_eq!(
        config.scrape_configs[0].static_configs[0].labels["instance"],
        "web-1"
    );
    assert_eq!(config.scrape_configs[1].job_name.value, "osprey");
    assert_eq!(
        config.scrape_configs[1].static_configs[0].targets,
        ["127.0.0.1:9718"]
    );
}

#[test]
fn without_local_agent_no_job_is_added() {
    let config = Config::parse("scrape_configs: []\n", Path::new("p.yml"))
        .unwrap()
        .with_local_agent_job("127.0.0.1:40123", "web-1");
    assert!(config.scrape_configs.is_empty());
}

#[test]
fn a_job_named_node_beside_local_agent_is_an_error_at_its_line() {
    assert_eq!(
        messages("local_agent: true\nscrape_configs:\n  - job_name: node\n"),
        [
            "p.yml:3:15: scrape_configs[0].job_name: job_name \"node\" is the in-process agent's job while local_agent is true; rename this job or drop local_agent"
        ]
    );
}

#[test]
fn credential_and_certificate_files_are_relative_to_the_configuration_file() {
    let text = "scrape_configs:\n  - job_name: a\n    bearer_token_file: token\n\
                \x20   tls_config: {ca_file: ca.pem, cert_file: /abs/c.pem}\n\
                \x20 - job_name: b\n    basic_auth: {username: u, password_file: secrets/p}\n";
    let config = Config::parse(text, Path::new("/etc/osprey/collector.yml")).unwrap();
    let a = &config.scrape_configs[0];
    assert_eq!(
        a.bearer_token_file.as_deref(),
        Some(Path::new("/etc/osprey/token"))
    );
    let tls = a.tls_config.as_ref().unwrap();
    assert_eq!(
        tls.ca_file.as_deref(),
        Some(Path::new("/etc/osprey/ca.pem"))
    );
    assert_eq!(tls.cert_file.as_deref(), Some(Path::new("/abs/c.pem")));
    let basic = config.scrape_configs[1].basic_auth.as_ref().unwrap();
    assert_eq!(
        basic.password_file.as_deref(),
        Some(Path::new("/etc/osprey/secrets/p"))
    );
}
