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
    assert_eq!(config.alertmanager.unwrap()["route"]["receiver"], "mail");
}

#[test]
fn an_unknown_key_is_an_error_with_line_and_column() {
    let text = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n";
    let errors = Config::parse(text, Path::new("p.yml")).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    let error = &errors.0[0];
    assert_eq!((error.line, error.column), (5, 5), "{error}");
    assert!(error.message.contains("scrape_intervall"), "{error}");
    assert!(
        error.to_string().starts_with("p.yml:5:5: unknown field"),
        "{error}"
    );
}

#[test]
fn a_wrong_type_is_an_error_with_line_and_column() {
    let text = "scrape_configs:\n  - job_name: a\n    sample_limit: many\n";
    let errors = Config::parse(text, Path::new("p.yml")).unwrap_err();
    assert_eq!(errors.0[0].line, 3, "{errors}");
    let text = "global:\n  scrape_interval: 15 seconds\n";
    let errors = Config::parse(text, Path::new("p.yml")).unwrap_err();
    assert_eq!(errors.0[0].line, 2, "{errors}");
    assert!(
        errors.0[0].message.contains("not a valid duration string"),
        "{errors}"
    );
}

#[test]
fn every_semantic_problem_is_listed_with_its_job() {
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
    let errors = Config::parse(text, Path::new("p.yml")).unwrap_err().0;
    let lines: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| (e.line, e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 5, "{lines:?}");
    assert!(lines[0].1.contains("greater than scrape interval") && lines[0].0 == 3);
    assert!(lines[1].1.contains("duplicate job_name") && lines[1].0 == 6);
    assert!(lines[2].1.contains("must be host:port") && lines[2].0 == 6);
    assert!(
        lines[3].1.ends_with("unclosed group") && lines[3].0 == 11,
        "{lines:?}"
    );
    assert!(lines[4].1.contains("hashmod requires") && lines[4].0 == 6);
}

#[test]
fn the_single_node_default_scrapes_the_agent_as_job_node_and_itself_as_osprey() {
    let config = Config::single_node("127.0.0.1:40123", "web-1", "127.0.0.1:9718");
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
