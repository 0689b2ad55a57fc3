//! The real agent scraped by the real Prometheus, and checked by promtool beside node_exporter.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use osprey::agent::start_agent;
use osprey::host::mem_total_bytes;
use osprey::net::metrics;
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

#[test]
fn promtool_finds_only_the_lints_node_exporters_own_output_draws() {
    let (Some(promtool), Some(_)) = (peer_installed(PROMTOOL), peer_installed(NODE_EXPORTER))
    else {
        return;
    };
    let agent = start_agent(&[]);
    let node_exporter = start_node_exporter();
    let ours = lint_kinds(&promtool, &metrics(agent.port));
    let theirs = lint_kinds(&promtool, &metrics(node_exporter.port));
    assert!(
        !theirs.is_empty(),
        "promtool reported nothing on node_exporter: did it run?"
    );
    let extra: Vec<&String> = ours.difference(&theirs).collect();
    assert!(
        extra.is_empty(),
        "promtool reports on the agent what it does not report on node_exporter: {extra:?}\n\
         (node_exporter draws: {theirs:?})"
    );
}
