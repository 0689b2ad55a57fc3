//! The single-node default (no configuration file): the in-process agent listens on a new
//! loopback port at every start, and its series keep one `instance` across restarts anyway.

use std::process::Command;
use std::time::Duration;

use osprey::net::{free_port, instant_query};
use osprey::process::{Running, wait_for};

/// Starts the collector with no `--config`, its data in `dir/data`, and waits until job `node`
/// has been scraped; returns it with the `instance` of that scrape's `up` series.
fn start_single_node(dir: &std::path::Path, port: u16) -> (Running, String) {
    let mut command = Command::new(osprey::binary("osprey-collector"));
    command
        .current_dir(dir)
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--data-dir={}", dir.join("data").display()));
    let mut collector = Running::spawn(
        "osprey-collector",
        command,
        Some(&dir.join("collector.log")),
    );
    let instance = wait_for("job node to be scraped", Duration::from_secs(60), || {
        collector.assert_alive();
        let result = instant_query(port, r#"up{job="node"} == 1"#)?;
        result.first()?["metric"]["instance"]
            .as_str()
            .map(str::to_owned)
    });
    (collector, instance)
}

#[test]
fn the_local_agent_keeps_one_instance_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (first, instance) = start_single_node(dir.path(), port);
    first.terminate(Duration::from_secs(30));
    let (_second, again) = start_single_node(dir.path(), port);
    assert_eq!(
        instance, again,
        "the local agent's instance changed on restart"
    );
    assert!(
        !instance.starts_with("127.0.0.1:"),
        "instance {instance:?} is the agent's loopback port, which changes with every start"
    );
    let series = instant_query(
        port,
        r#"count by (instance) (count_over_time(up{job="node"}[1h]))"#,
    )
    .unwrap();
    assert_eq!(
        series.len(),
        1,
        "job node has more than one instance in its history: {series:?}"
    );
}

/// Starts the collector on `port` with `config` written to `dir/osprey.yml` and `envs` set.
fn start_with_config(
    dir: &std::path::Path,
    port: u16,
    config: &str,
    envs: &[(&str, &str)],
) -> Running {
    let file = dir.join("osprey.yml");
    std::fs::write(&file, config).unwrap();
    let mut command = Command::new(osprey::binary("osprey-collector"));
    command
        .envs(envs.iter().copied())
        .arg(format!("--config={}", file.display()))
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--data-dir={}", dir.join("data").display()));
    Running::spawn(
        "osprey-collector",
        command,
        Some(&dir.join("collector.log")),
    )
}

/// The `instance` of job node once it is up and its host series are stored.
fn node_instance(collector: &mut Running, port: u16) -> String {
    wait_for("job node to be scraped", Duration::from_secs(60), || {
        collector.assert_alive();
        let result = instant_query(port, r#"up{job="node"} == 1"#)?;
        let node_load1 = instant_query(port, "node_load1")?;
        (!node_load1.is_empty()).then_some(())?;
        result.first()?["metric"]["instance"]
            .as_str()
            .map(str::to_owned)
    })
}

/// `local_agent: true` in a configuration file keeps this machine monitored as the default
/// does, and a reload keeps the agent (one `instance` for job node before and after).
#[test]
fn local_agent_in_a_configuration_file_scrapes_this_machine_and_survives_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = "global: {scrape_interval: 1s}\nlocal_agent: true\nscrape_configs: []\n";
    let mut collector = start_with_config(dir.path(), port, config, &[]);
    let instance = node_instance(&mut collector, port);
    std::fs::write(dir.path().join("osprey.yml"), config.replace("1s", "2s")).unwrap();
    let (status, body) = osprey::net::post(port, "/-/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    let targets = wait_for("the reloaded job node", Duration::from_secs(30), || {
        let (_, body) = osprey::net::get(port, "/api/v1/targets")?;
        let targets: serde_json::Value = serde_json::from_str(&body).ok()?;
        let active = targets["data"]["activeTargets"].as_array()?.clone();
        active
            .iter()
            .any(|t| t["scrapeInterval"] == "2s" && t["health"] == "up")
            .then_some(active)
    });
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0]["labels"]["instance"], instance.as_str());
}

/// A machine without certificate roots (no ca-certificates package; here: the roots pointed at
/// a missing path) still runs plain-HTTP scrapes: only https jobs need roots.
#[test]
fn plain_http_scrapes_need_no_certificate_roots() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = "global: {scrape_interval: 1s}\nlocal_agent: true\nscrape_configs: []\n";
    let missing = dir.path().join("no-roots");
    let missing = missing.to_str().unwrap();
    let envs = [("SSL_CERT_FILE", missing), ("SSL_CERT_DIR", missing)];
    let mut collector = start_with_config(dir.path(), port, config, &envs);
    node_instance(&mut collector, port);
}
