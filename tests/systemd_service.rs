//! The packaged units under a real systemd: a Debian bookworm container whose PID 1 is systemd
//! (`osprey::systemd`). The packages installed there with `dpkg -i` start both services under
//! their sandboxes, the collector scrapes the agent, `systemctl reload` applies a changed
//! configuration and `systemctl stop` ends both cleanly; `packaging/install-agent.sh` installs
//! the agent from a bare binary and from its package, each twice to the same result.
//!
//! The units run exactly as shipped: no drop-in weakens them for the container.

use std::time::Duration;

use osprey::deb::Debs;
use osprey::process::{wait_for, wait_until};
use osprey::systemd::SystemdContainer;

/// Where the packages are mounted inside the containers.
const DEBS: &str = "/debs";

#[test]
fn packages_run_under_systemd() {
    let debs = Debs::build();
    let Some(container) =
        SystemdContainer::start("deb-systemd-service", &[(debs.dir.path(), DEBS)])
    else {
        return;
    };
    container.exec_ok(&[
        "dpkg",
        "-i",
        &format!("{DEBS}/{}", debs.agent),
        &format!("{DEBS}/{}", debs.collector),
    ]);
    // postinst enabled and started both.
    for unit in ["osprey-agent", "osprey-collector"] {
        assert_eq!(
            container.exec_ok(&["systemctl", "is-enabled", unit]).trim(),
            "enabled"
        );
        wait_until_active(&container, unit);
    }

    let metrics = wait_for("the agent to answer", Duration::from_secs(20), || {
        curl(&container, "http://127.0.0.1:9717/metrics")
    });
    assert!(metrics.contains("node_cpu_seconds_total"), "{metrics}");
    // Every collector works inside the unit's sandbox (timex's adjtimex included).
    let failed: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("node_scrape_collector_success{") && line.ends_with(" 0"))
        .collect();
    assert!(
        failed.is_empty(),
        "collectors failing under the unit: {failed:?}"
    );
    assert!(
        metrics.contains("node_scrape_collector_success{collector=\"timex\"} 1"),
        "{metrics}"
    );
    assert_sandboxed(&container, "osprey-agent", "osprey-agent");
    assert_sandboxed(&container, "osprey-collector", "osprey");
    let collector = main_pid(&container, "osprey-collector");
    let data = mount_options(&container, &collector, "/var/lib/osprey");
    assert_eq!(
        data.first().map(String::as_str),
        Some("rw"),
        "/var/lib/osprey {data:?}"
    );

    wait_until_up(&container, "node");
    wait_until_up(&container, "osprey");

    // A job added to the configuration is scraped after `systemctl reload`, by the same process.
    let pid_before = main_pid(&container, "osprey-collector");
    container.exec_ok(&[
        "sh",
        "-c",
        "printf '  - job_name: reloaded\\n    static_configs:\\n      - targets: \
         [\"localhost:9717\"]\\n' >>/etc/osprey/collector.yml",
    ]);
    container.exec_ok(&["systemctl", "reload", "osprey-collector"]);
    wait_until_up(&container, "reloaded");
    assert_eq!(main_pid(&container, "osprey-collector"), pid_before);

    container.exec_ok(&["systemctl", "stop", "osprey-collector", "osprey-agent"]);
    for unit in ["osprey-agent", "osprey-collector"] {
        let result = container.exec_ok(&["systemctl", "show", "-p", "Result", "--value", unit]);
        assert_eq!(result.trim(), "success", "{unit} did not stop cleanly");
    }

    container.exec_ok(&["dpkg", "--purge", "osprey-collector", "osprey-agent"]);
    let left = container.exec(&["ls", "/var/lib/osprey", "/etc/osprey"]);
    assert!(!left.status.success(), "left after purge");
}

#[test]
fn install_agent_script_is_idempotent() {
    let debs = Debs::build();
    let packaging = osprey::workspace_root().join("packaging");
    let binary = osprey::binary("osprey-agent");
    let Some(container) = SystemdContainer::start(
        "deb-install-agent",
        &[
            (debs.dir.path(), DEBS),
            (packaging.as_path(), "/packaging"),
            (binary.as_path(), "/osprey-agent"),
        ],
    ) else {
        return;
    };
    let target = "- targets: [\"node-1:9717\"]";

    let install = [
        "/packaging/install-agent.sh",
        "--host",
        "node-1",
        "--binary",
    ];
    let first = install_twice(&container, &[&install[..], &["/osprey-agent"]].concat());
    assert!(first.contains(target), "{first}");
    assert_eq!(
        unit_file(&container),
        "/etc/systemd/system/osprey-agent.service"
    );
    assert_agent_answers(&container);

    let deb = format!("{DEBS}/{}", debs.agent);
    let install = ["/packaging/install-agent.sh", "--host", "node-1", "--deb"];
    let first = install_twice(&container, &[&install[..], &[deb.as_str()]].concat());
    assert!(first.contains(target), "{first}");
    assert_eq!(
        unit_file(&container),
        "/lib/systemd/system/osprey-agent.service"
    );
    let bare = container.exec(&["ls", "/usr/local/bin/osprey-agent"]);
    assert!(
        !bare.status.success(),
        "the bare binary is left beside the package's"
    );
    assert_agent_answers(&container);
}

/// Runs the install command twice and checks that both runs print the same and leave the same
/// installation; returns what the first printed.
fn install_twice(container: &SystemdContainer, command: &[&str]) -> String {
    let first = container.exec_ok(command);
    let state = installation(container);
    let second = container.exec_ok(command);
    assert_eq!(first, second, "the second run printed otherwise");
    assert_eq!(
        installation(container),
        state,
        "the second run changed the installation"
    );
    first
}

/// The installed agent: its files' names, owners, modes and contents, its user and groups, and
/// whether its unit is enabled and active.
fn installation(container: &SystemdContainer) -> String {
    wait_until_active(container, "osprey-agent");
    container.exec_ok(&[
        "sh",
        "-c",
        "for f in /usr/bin/osprey-agent /usr/local/bin/osprey-agent /etc/osprey/agent.toml \
         /etc/systemd/system/osprey-agent.service /lib/systemd/system/osprey-agent.service; do \
         [ -e $f ] && stat -c '%n %U %G %a' $f && md5sum $f; done; id osprey-agent; \
         systemctl is-enabled osprey-agent; systemctl is-active osprey-agent",
    ])
}

/// The unit file systemd loaded for the agent.
fn unit_file(container: &SystemdContainer) -> String {
    let show = ["systemctl", "show", "-p", "FragmentPath", "--value"];
    let path = container.exec_ok(&[&show[..], &["osprey-agent"]].concat());
    path.trim().to_owned()
}

fn assert_agent_answers(container: &SystemdContainer) {
    let metrics = wait_for("the agent to answer", Duration::from_secs(20), || {
        curl(container, "http://127.0.0.1:9717/metrics")
    });
    assert!(metrics.contains("node_load1"), "{metrics}");
}

/// Checks that the main process of `unit` runs as `user`, without capabilities, with
/// no_new_privs and a seccomp filter, and sees the file system read-only.
fn assert_sandboxed(container: &SystemdContainer, unit: &str, user: &str) {
    let pid = main_pid(container, unit);
    let status = container.exec_ok(&["cat", &format!("/proc/{pid}/status")]);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
            .to_owned()
    };
    let uid = container.exec_ok(&["id", "-u", user]);
    assert_eq!(field("Uid:").split_whitespace().next(), Some(uid.trim()));
    assert_eq!(field("CapEff:"), "0000000000000000", "{unit}");
    assert_eq!(field("CapBnd:"), "0000000000000000", "{unit}");
    assert_eq!(field("NoNewPrivs:"), "1", "{unit}");
    assert_eq!(field("Seccomp:"), "2", "{unit}: no seccomp filter");
    let root = mount_options(container, &pid, "/");
    assert_eq!(
        root.first().map(String::as_str),
        Some("ro"),
        "{unit}: / {root:?}"
    );
}

/// The options of the mount at `point` as process `pid` sees it (its mountinfo).
fn mount_options(container: &SystemdContainer, pid: &str, point: &str) -> Vec<String> {
    let mountinfo = container.exec_ok(&["cat", &format!("/proc/{pid}/mountinfo")]);
    mountinfo
        .lines()
        .rev()
        .map(|line| line.split(' ').collect::<Vec<_>>())
        .find(|fields| fields.get(4) == Some(&point))
        .and_then(|fields| Some(fields.get(5)?.split(',').map(str::to_owned).collect()))
        .unwrap_or_else(|| panic!("process {pid} has no mount at {point}:\n{mountinfo}"))
}

fn main_pid(container: &SystemdContainer, unit: &str) -> String {
    let pid = container.exec_ok(&["systemctl", "show", "-p", "MainPID", "--value", unit]);
    pid.trim().to_owned()
}

fn wait_until_active(container: &SystemdContainer, unit: &str) {
    wait_until(
        &format!("{unit} to be active"),
        Duration::from_secs(30),
        || {
            container
                .exec_ok(&["systemctl", "show", "-p", "ActiveState", "--value", unit])
                .trim()
                == "active"
        },
    );
}

/// Waits until the collector reports `up` 1 for `job`.
fn wait_until_up(container: &SystemdContainer, job: &str) {
    let query = format!("http://127.0.0.1:9718/api/v1/query?query=up%7Bjob%3D%22{job}%22%7D");
    wait_until(
        &format!("up{{job=\"{job}\"}} to be 1"),
        Duration::from_secs(60),
        || {
            curl(container, &query).is_some_and(|body| {
                let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                answer["data"]["result"][0]["value"][1] == "1"
            })
        },
    );
}

/// The body of `GET url` from inside the container, or `None` while nothing answers.
fn curl(container: &SystemdContainer, url: &str) -> Option<String> {
    let output = container.exec(&["curl", "-sf", "--max-time", "5", url]);
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
