//! The real agent scraped by the real Prometheus, and the agent's and the collector's own
//! `/metrics` checked by promtool beside node_exporter.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use osprey::agent::start_agent;
use osprey::host::mem_total_bytes;
use osprey::net::{metrics, sample};
use osprey::peer_installed;
use osprey::peers::{
    NODE_EXPORTER, PROMETHEUS, PROMTOOL, start_node_exporter, start_prometheus, wait_for_sample,
};

#[test]
fn prometheus_scrapes_the_agent_and_reads_memtotal_from_proc_meminfo() {
    if peer_installed(PROMETHEUS).is_none() {
        return;
    }
    let agent = start_agent(&[]);
    let dir = tempfile::tempdir().unwrap();
    let prometheus = start_prometheus(
        dir.path(),
        &format!(
            "  - job_name: osprey\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            agent.port
        ),
    );
    wait_for_sample(&prometheus, "up{job=\"osprey\"}", |v| v == 1.0);
    let mem_total = wait_for_sample(
        &prometheus,
        "node_memory_MemTotal_bytes{job=\"osprey\"}",
        |_| true,
    );
    assert_eq!(mem_total, mem_total_bytes());
}

/// The kinds of problem promtool reports (the text after the metric name), one per line.
fn lint_kinds(promtool: &Path, exposition: &str) -> BTreeSet<String> {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        !report.contains("error while linting"),
        "promtool cannot parse it:\n{report}"
    );
    report
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(_, kind)| kind.to_owned()))
        .collect()
}

/// The `process_*` family Prometheus's client libraries expose, which both binaries report.
const PROCESS_FAMILY: [&str; 6] = [
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
];

/// Starts the built collector in `dir`, scraping the agent at `agent_url` every second and
/// evaluating one rule group, and waits until it has scraped the agent, so that its own metrics
/// hold labelled samples of each stage.
fn start_collector(dir: &Path, agent_port: u16) -> osprey::collector::Collector {
    let agent = format!("127.0.0.1:{agent_port}");
    std::fs::write(
        dir.join("osprey.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n\
             \x20 - job_name: agent\n    static_configs:\n      - targets: ['{agent}']\n\
             rule_files: [rules.yml]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n  - name: agents\n    rules:\n      - alert: AgentDown\n        expr: up == 0\n",
    )
    .unwrap();
    let collector = osprey::collector::Collector::start(dir, osprey::net::free_port());
    osprey::process::wait_until(
        "the collector to scrape the agent",
        Duration::from_secs(30),
        || collector.targets_up() == 1,
    );
    collector
}

#[test]
fn promtool_finds_only_the_lints_node_exporters_own_output_draws() {
    let (Some(promtool), Some(_)) = (peer_installed(PROMTOOL), peer_installed(NODE_EXPORTER))
    else {
        return;
    };
    let agent = start_agent(&[]);
    let node_exporter = start_node_exporter();
    let dir = tempfile::tempdir().unwrap();
    let collector = start_collector(dir.path(), agent.port);
    let theirs = lint_kinds(&promtool, &metrics(node_exporter.port));
    assert!(
        !theirs.is_empty(),
        "promtool reported nothing on node_exporter: did it run?"
    );
    for (binary, port) in [("the agent", agent.port), ("the collector", collector.port)] {
        let exposition = metrics(port);
        let ours = lint_kinds(&promtool, &exposition);
        let extra: Vec<&String> = ours.difference(&theirs).collect();
        assert!(
            extra.is_empty(),
            "promtool reports on {binary} what it does not report on node_exporter: {extra:?}\n\
             (node_exporter draws: {theirs:?})"
        );
        for name in PROCESS_FAMILY {
            assert!(
                sample(&exposition, name).is_some(),
                "{binary} does not report {name}:\n{exposition}"
            );
        }
    }
}
