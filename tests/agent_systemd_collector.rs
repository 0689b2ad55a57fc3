//! The systemd collector against a real systemd: a Debian container whose PID 1 is systemd,
//! its system bus reached through the container's root (`/proc/<pid>/root`).

use std::process::Command;
use std::time::Duration;

use osprey::agent::start_agent;
use osprey::net::{metrics, sample};
use osprey::process::wait_for;
use osprey::systemd::SystemdContainer;

/// The container's init process as the host sees it.
fn host_pid(container: &SystemdContainer) -> u32 {
    let output = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Pid}}", &container.name])
        .output()
        .expect("run docker inspect");
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid of {}: {text:?}", container.name))
}

#[test]
fn unit_states_come_from_the_running_systemd() {
    let Some(container) = SystemdContainer::start("agent20-systemd-units", &[]) else {
        return;
    };
    // A service that fails at once, so that one unit is in the `failed` state (systemd-run
    // waits for a oneshot and reports the failure; the state is what counts).
    container.exec(&[
        "systemd-run",
        "--unit=osprey-broken",
        "--service-type=oneshot",
        "false",
    ]);
    wait_for(
        "osprey-broken.service to fail",
        Duration::from_secs(30),
        || {
            let state = container.exec(&["systemctl", "is-failed", "osprey-broken.service"]);
            (String::from_utf8_lossy(&state.stdout).trim() == "failed").then_some(())
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    let bus = format!(
        "unix:path=/proc/{}/root/run/dbus/system_bus_socket",
        host_pid(&container)
    );
    std::fs::write(
        &config,
        format!("[host.systemd]\nenabled = true\nbus_address = \"{bus}\"\n"),
    )
    .unwrap();
    let agent = start_agent(&["--no-containers", "--config", config.to_str().unwrap()]);
    let text = metrics(agent.port);
    let seconds = sample(
        &text,
        "node_scrape_collector_duration_seconds{collector=\"systemd\"}",
    );
    eprintln!("the systemd collector took {seconds:?} s over D-Bus");
    assert_eq!(
        sample(
            &text,
            "node_scrape_collector_success{collector=\"systemd\"}"
        ),
        Some(1.0),
        "{}",
        agent.log()
    );

    let dbus_type =
        container.exec_ok(&["systemctl", "show", "-p", "Type", "--value", "dbus.service"]);
    let active = format!(
        "node_systemd_unit_state{{name=\"dbus.service\",state=\"active\",type=\"{}\"}}",
        dbus_type.trim()
    );
    assert_eq!(sample(&text, &active), Some(1.0), "{text}");
    let failed =
        "node_systemd_unit_state{name=\"osprey-broken.service\",state=\"failed\",type=\"oneshot\"}";
    assert_eq!(sample(&text, failed), Some(1.0), "{text}");
    let inactive = "node_systemd_unit_state{name=\"osprey-broken.service\",state=\"inactive\",type=\"oneshot\"}";
    assert_eq!(sample(&text, inactive), Some(0.0), "{text}");
    // Targets, slices and mounts are left out by default, as in node_exporter.
    assert!(!text.contains("name=\"multi-user.target\""), "{text}");

    let listed = container.exec_ok(&[
        "systemctl",
        "list-units",
        "--all",
        "--state=failed",
        "--plain",
        "--no-legend",
    ]);
    assert_eq!(
        sample(&text, "node_systemd_units{state=\"failed\"}"),
        Some(listed.lines().count() as f64),
        "{listed}"
    );
    let state = container.exec(&["systemctl", "is-system-running"]);
    let running = String::from_utf8_lossy(&state.stdout).trim() == "running";
    assert_eq!(
        sample(&text, "node_systemd_system_running"),
        Some(if running { 1.0 } else { 0.0 })
    );
    let version = container.exec_ok(&["systemctl", "show", "-p", "Version", "--value"]);
    let series = format!("node_systemd_version{{version=\"{}\"}}", version.trim());
    assert!(sample(&text, &series).is_some_and(|v| v >= 252.0), "{text}");
}
