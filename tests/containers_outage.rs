//! End-to-end tests of the agent without Docker, with Docker going away and coming back, and
//! with container metrics turned off.

// Shared with tests/containers.rs, which uses the helpers this file does not.
#[allow(dead_code)]
#[path = "containers/agent.rs"]
mod agent;
#[path = "containers/socket_proxy.rs"]
mod socket_proxy;

use std::time::Duration;

use agent::{Agent, Samples};
use osprey::docker::docker;
use socket_proxy::SocketProxy;

/// How long Docker's event stream may take to reach the agent's output.
const SETTLE: Duration = Duration::from_secs(15);

#[test]
fn without_docker_host_metrics_go_on_and_one_line_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("docker.sock");
    let agent = Agent::start(&["--docker-socket", &missing.display().to_string()]);
    // Long enough for several reconnection attempts (0.5 s, 1 s, 2 s apart).
    std::thread::sleep(Duration::from_secs(4));
    let samples = agent.scrape();
    assert_eq!(samples.value("osprey_docker_up", &[]), Some(0.0));
    assert_eq!(
        samples.value(
            "osprey_agent_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    let lines = agent.log_lines_with("Docker unavailable");
    assert_eq!(lines.len(), 1, "{}", agent.log());
    assert!(
        lines[0].contains("docker.sock") && lines[0].contains("No such file"),
        "{}",
        lines[0]
    );
}

#[test]
fn agent_follows_docker_going_away_and_coming_back() {
    let Some(docker) = docker() else { return };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let agent = Agent::start(&["--docker-socket", &socket.display().to_string()]);
    let up = |s: &Samples| s.value("osprey_docker_up", &[]);
    assert_eq!(up(&agent.scrape()), Some(0.0));

    let proxy = SocketProxy::start(&socket, &docker.socket());
    // Backoff doubles to at most 30 s between attempts, but stays under 4 s this early.
    agent.wait_for("Docker to be up", SETTLE, |s| up(s) == Some(1.0));
    drop(proxy);
    agent.wait_for("Docker to be down", SETTLE, |s| up(s) == Some(0.0));
    let _proxy = SocketProxy::start(&socket, &docker.socket());
    agent.wait_for("Docker to be up again", Duration::from_secs(40), |s| {
        up(s) == Some(1.0)
    });
    assert_eq!(
        agent.log_lines_with("connected to Docker").len(),
        2,
        "{}",
        agent.log()
    );
}

#[test]
fn socket_without_permission_gives_docker_up_0_and_says_so() {
    let Some(docker) = docker() else { return };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    if !status.lines().any(|l| l.starts_with("Uid:\t0\t")) {
        osprey::skip_outside_ci("running the agent as an unprivileged user needs root");
        return;
    }
    // Docker's socket is root:docker 0660; user nobody in no group may not connect.
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let agent = Agent::start_via(
        &nobody,
        &["--docker-socket", &docker.socket().display().to_string()],
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(agent.scrape().value("osprey_docker_up", &[]), Some(0.0));
    let lines = agent.log_lines_with("Docker unavailable");
    assert_eq!(lines.len(), 1, "{}", agent.log());
    assert!(lines[0].contains("Permission denied"), "{}", lines[0]);
}

#[test]
fn no_containers_flag_turns_container_metrics_off() {
    let agent = Agent::start(&["--no-containers"]);
    let samples = agent.scrape();
    assert!(
        samples
            .value(
                "osprey_agent_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            )
            .is_some()
    );
    assert!(
        !samples
            .0
            .iter()
            .any(|s| s.name.starts_with("container_") || s.name.starts_with("osprey_docker")),
        "{samples:?}"
    );
    assert!(!agent.log().contains("Docker"), "{}", agent.log());
}
