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
