//! DockerDown on a real condition: the agent watches a private `dockerd` of this test (its own
//! socket, data, exec root and network namespace, so the shared engine and its `docker0` bridge
//! are untouched); stopping that engine fires the alert through the shipped rules, starting it
//! again resolves it.

mod alert_rules;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use alert_rules::*;
use osprey::agent::start_agent;
use osprey::collector::Collector;
use osprey::net::free_port;
use osprey::process::{Running, wait_until};
use osprey::smtp::SmtpServer;
use osprey::webhook::WebhookReceiver;

/// A `dockerd` of the test's own in a network namespace of its own: `--bridge=none` deletes
/// any `docker0` bridge it sees, which in the host's namespace is the shared engine's. Stopped
/// with SIGTERM (on drop too), so that it stops the containerd it started.
struct PrivateDockerd(Option<Running>);

impl PrivateDockerd {
    fn stop(&mut self) {
        if let Some(mut engine) = self.0.take() {
            engine.signal("TERM");
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while engine.exit_status().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn private_dockerd(dir: &Path) -> PrivateDockerd {
    let mut command = Command::new("unshare");
    command
        .args(["--net", "--", "dockerd"])
        .arg(format!(
            "--host=unix://{}",
            dir.join("docker.sock").display()
        ))
        .arg(format!("--data-root={}", dir.join("root").display()))
        .arg(format!("--exec-root={}", dir.join("exec").display()))
        .arg(format!("--pidfile={}", dir.join("docker.pid").display()))
        .args(["--bridge=none", "--iptables=false", "--ip6tables=false"]);
    let engine = Running::spawn("dockerd", command, Some(&dir.join("dockerd.log")));
    let socket = dir.join("docker.sock");
    wait_until(
        "the private dockerd to answer",
        Duration::from_secs(60),
        || {
            Command::new("docker")
                .arg(format!("--host=unix://{}", socket.display()))
                .arg("version")
                .output()
                .is_ok_and(|o| o.status.success())
        },
    );
    PrivateDockerd(Some(engine))
}

#[test]
fn docker_stopped_fires_docker_down_and_its_return_resolves_it() {
    if osprey::docker::docker().is_none()
        || !osprey::peers_present(&["dockerd", "unshare"])
        || !osprey::smtp::available()
    {
        return;
    }
    let engine_dir = tempfile::tempdir().unwrap();
    let mut engine = private_dockerd(engine_dir.path());
    let socket = engine_dir.path().join("docker.sock");
    let agent = start_agent(&[&format!("--docker-socket={}", socket.display())]);

    let dir = tempfile::tempdir().unwrap();
    let rules = scaled_rule_files(&dir.path().join("rules"));
    let (smtp_port, hook_port) = (free_port(), free_port());
    let config = format!(
        "{}scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n\
         \x20       labels: {{instance: alerts17-private-docker}}\n{}",
        config_head(&rules),
        agent.port,
        alertmanager_section(smtp_port, hook_port, &[])
    );
    std::fs::write(dir.path().join("osprey.yml"), config).unwrap();
    let _smtp = SmtpServer::start(smtp_port, &dir.path().join("maildir"));
    let hook = WebhookReceiver::start(hook_port);
    let collector = Collector::start(dir.path(), free_port());
    wait_targets_up(&collector, 1);
    wait_until(
        "the agent connected to the private dockerd",
        Duration::from_secs(30),
        || {
            osprey::net::instant_query(collector.port, "osprey_docker_up == 1")
                .is_some_and(|v| !v.is_empty())
        },
    );

    engine.stop();
    let expected = [Expected {
        alert: "DockerDown",
        labels: &[("instance", "alerts17-private-docker")],
    }];
    wait_for_all(
        &hook,
        &collector,
        &expected,
        "firing",
        Duration::from_secs(60),
    );

    engine = private_dockerd(engine_dir.path());
    wait_for_all(
        &hook,
        &collector,
        &expected,
        "resolved",
        Duration::from_secs(60),
    );
    drop(agent);
    engine.stop();
}
