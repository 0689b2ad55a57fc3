//! End-to-end tests of the agent's container metrics against a real Docker engine.

// Shared with tests/containers_outage.rs, which uses helpers this file does not.
#[allow(dead_code)]
#[path = "containers/agent.rs"]
mod agent;

use std::path::Path;
use std::time::{Duration, Instant};

use agent::{Agent, Samples};
use osprey::docker::{Container, Docker, docker};

/// How long Docker's event stream may take to reach the agent's output.
const SETTLE: Duration = Duration::from_secs(15);

fn agent_for(docker: &Docker) -> Agent {
    Agent::start(&["--docker-socket", &docker.socket().display().to_string()])
}

/// Docker with a container of `options` running `command`, and then an agent watching Docker;
/// `None` (after a message) without Docker.
fn container_and_agent(
    name: &str,
    options: &[&str],
    command: &[&str],
) -> Option<(&'static Docker, Container, Agent)> {
    let docker = docker()?;
    let container = docker.start(name, options, command);
    Some((docker, container, agent_for(docker)))
}

fn cpu_seconds(samples: &Samples, name: &str) -> Option<f64> {
    samples.value(
        "container_cpu_usage_seconds_total",
        &[("name", name), ("cpu", "total")],
    )
}

#[test]
fn busy_container_cpu_rises_and_agrees_with_docker_stats() {
    // Half a CPU keeps the rate steady on a shared two-core machine.
    let Some((docker, burner, agent)) = container_and_agent(
        "osprey-cpu",
        &["--cpus", "0.5"],
        &["sh", "-c", "while :; do :; done"],
    ) else {
        return;
    };
    agent.wait_for("the busy container", SETTLE, |s| {
        cpu_seconds(s, &burner.name).is_some()
    });
    std::thread::sleep(Duration::from_secs(2));
    // Docker's percentage covers about one second inside the agent's window; when other work
    // starves the busy loop unevenly the two windows can differ, so up to three measurements
    // are taken. A wrong unit or counter misses on all three.
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let (agent_percent, docker_percent) = measure_cpu_percent(docker, &agent, &burner.name);
        eprintln!("CPU: agent {agent_percent:.2}%, docker stats {docker_percent:.2}%");
        if (agent_percent - docker_percent).abs() <= 0.10 * docker_percent {
            return;
        }
        attempts.push(format!(
            "agent {agent_percent:.1}% vs docker stats {docker_percent:.1}%"
        ));
    }
    panic!("no agreement within 10%: {attempts:?}");
}

/// The container's CPU use in percent of one CPU, from two scrapes around one
/// `docker stats --no-stream`, and as that command reports it.
fn measure_cpu_percent(docker: &Docker, agent: &Agent, name: &str) -> (f64, f64) {
    let (first, started) = (agent.scrape(), Instant::now());
    let stats = docker.run(&["stats", "--no-stream", "--format", "{{.CPUPerc}}", name]);
    let (second, elapsed) = (agent.scrape(), started.elapsed().as_secs_f64());
    let (before, after) = (
        cpu_seconds(&first, name).unwrap(),
        cpu_seconds(&second, name).unwrap(),
    );
    assert!(
        after > before,
        "CPU usage did not rise: {before} -> {after}"
    );
    // Under a CPU quota the kernel counts enforcement periods (throttling itself depends on
    // whether the busy loop gets its half CPU on a shared machine, so it is not asserted).
    let periods = second.value("container_cpu_cfs_periods_total", &[("name", name)]);
    assert!(periods.unwrap_or(0.0) > 0.0, "CFS periods {periods:?}");
    let docker_percent = stats
        .trim_end_matches('%')
        .parse()
        .unwrap_or_else(|_| panic!("docker stats said {stats:?}"));
    ((after - before) / elapsed * 100.0, docker_percent)
}

#[test]
fn memory_limit_is_the_spec_limit() {
    let Some((_, limited, agent)) =
        container_and_agent("osprey-mem", &["--memory", "64m"], &["sleep", "300"])
    else {
        return;
    };
    let samples = agent.wait_for("the limited container", SETTLE, |s| {
        s.mentions_container(&limited.name)
    });
    assert_eq!(
        samples.value(
            "container_spec_memory_limit_bytes",
            &[("name", limited.name.as_str())]
        ),
        Some(67_108_864.0)
    );
    let usage = samples
        .value(
            "container_memory_usage_bytes",
            &[("name", limited.name.as_str())],
        )
        .unwrap();
    assert!(usage > 0.0 && usage <= 67_108_864.0, "usage {usage}");
    // Without a CPU quota there is nothing to throttle, and cAdvisor leaves the family out.
    assert_eq!(
        samples.value(
            "container_cpu_cfs_periods_total",
            &[("name", limited.name.as_str())]
        ),
        None
    );
}

/// The disk holding Docker's data, as `/dev/<name>` of the whole disk.
fn docker_disk(docker: &Docker) -> String {
    let root = docker.run(&["info", "--format", "{{.DockerRootDir}}"]);
    let df = std::process::Command::new("df")
        .args(["--output=source", &root])
        .output()
        .unwrap();
    let source = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_owned();
    let name = source
        .strip_prefix("/dev/")
        .unwrap_or_else(|| panic!("Docker's data is not on a block device: {source:?}"));
    let class = Path::new("/sys/class/block").join(name);
    if class.join("partition").exists() {
        let disk = std::fs::canonicalize(&class).unwrap();
        format!(
            "/dev/{}",
            disk.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
        )
    } else {
        source
    }
}

#[test]
fn file_writes_show_as_fs_write_bytes() {
    let Some(docker) = docker() else { return };
    // On cgroup v1, kernels since 6.10 count blkio bytes only on devices with a throttle rule;
    // a limit far above the write rate makes Docker set one without slowing the write.
    let disk = docker_disk(docker);
    let throttle = format!("{disk}:1gb");
    let options: Vec<&str> = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        vec![]
    } else {
        vec!["--device-write-bps", &throttle]
    };
    let writer = docker.start(
        "osprey-fs",
        &options,
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/tmp/blob bs=1M count=8 conv=fsync && sleep 300",
        ],
    );
    let agent = agent_for(docker);
    agent.wait_for("8 MiB of writes", SETTLE, |s| {
        s.sum(
            "container_fs_writes_bytes_total",
            &[("name", writer.name.as_str())],
        ) >= 8.0 * 1024.0 * 1024.0
    });
}

#[test]
fn network_bytes_rise_after_traffic() {
    let Some(docker) = docker() else { return };
    let server = docker.start(
        "osprey-httpd",
        &[],
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/www/blob bs=1k count=512 2>/dev/null && httpd -f -p 8080 -h /www",
        ],
    );
    let address = server.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}");
    let agent = agent_for(docker);
    let sent = |s: &Samples| {
        s.value(
            "container_network_transmit_bytes_total",
            &[("name", server.name.as_str()), ("interface", "eth0")],
        )
    };
    let before = sent(&agent.wait_for("the server's eth0", SETTLE, |s| sent(s).is_some())).unwrap();
    let url = format!("http://{address}:8080/blob");
    let fetch = format!("for i in 1 2 3 4; do wget -q -O /dev/null {url} || exit 1; done");
    docker.run(&[
        "run",
        "--rm",
        osprey::docker::TEST_IMAGE,
        "sh",
        "-c",
        &fetch,
    ]);
    // Four fetches of 512 KiB leave the server's eth0.
    agent.wait_for("the server's transmitted bytes", SETTLE, |s| {
        sent(s).unwrap_or(0.0) >= before + 4.0 * 512.0 * 1024.0
    });
}

#[test]
fn removed_container_disappears_from_the_output() {
    let Some((docker, doomed, agent)) =
        container_and_agent("osprey-doomed", &[], &["sleep", "300"])
    else {
        return;
    };
    agent.wait_for("the container", SETTLE, |s| {
        s.mentions_container(&doomed.name)
    });
    docker.run(&["rm", "-f", &doomed.id]);
    agent.wait_for("the container to vanish", SETTLE, |s| {
        !s.mentions_container(&doomed.name)
    });
}

#[test]
fn restart_policy_restarts_are_counted() {
    let Some((_, failing, agent)) = container_and_agent(
        "osprey-failing",
        &["--restart", "on-failure:10"],
        &["sh", "-c", "sleep 1; exit 3"],
    ) else {
        return;
    };
    let samples = agent.wait_for("a restart", SETTLE, |s| {
        s.value(
            "osprey_container_restarts_total",
            &[("name", failing.name.as_str())],
        )
        .unwrap_or(0.0)
            >= 1.0
    });
    let counted = samples
        .value(
            "osprey_container_restarts_total",
            &[("name", failing.name.as_str())],
        )
        .unwrap();
    let docker_count: f64 = failing.inspect("{{.RestartCount}}").parse().unwrap();
    assert!(
        counted <= docker_count,
        "agent counted {counted}, Docker {docker_count}"
    );
}

#[test]
fn container_started_after_the_agent_shows_up() {
    let Some(docker) = docker() else { return };
    let agent = agent_for(docker);
    agent.wait_for("Docker", SETTLE, |s| {
        s.value("osprey_docker_up", &[]) == Some(1.0)
    });
    let late = docker.start("osprey-late", &[], &["sleep", "300"]);
    assert!(!Samples::mentions_container(
        &agent.scrape(),
        "never-started"
    ));
    agent.wait_for("the late container", SETTLE, |s| {
        cpu_seconds(s, &late.name).is_some()
    });
}

#[test]
fn allow_listed_labels_only_and_name_filters_apply() {
    let Some(docker) = docker() else { return };
    let shown = docker.start(
        "osprey-shown",
        &["--label", "com.example.team=web", "--label", "secret=x"],
        &["sleep", "300"],
    );
    let hidden = docker.start("osprey-hidden", &[], &["sleep", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        "[containers]\nlabels = [\"com.example.team\"]\ninclude = [\"osprey-.*\"]\nexclude = [\"osprey-hidden-.*\"]\n",
    )
    .unwrap();
    let agent = Agent::start(&["--config", &config.display().to_string()]);
    let samples = agent.wait_for("the labelled container", SETTLE, |s| {
        s.mentions_container(&shown.name)
    });
    let found = samples.matching(
        "container_memory_usage_bytes",
        &[("name", shown.name.as_str())],
    );
    let sample = found
        .first()
        .expect("a memory sample of the shown container");
    assert_eq!(
        sample
            .labels
            .get("container_label_com_example_team")
            .map(String::as_str),
        Some("web")
    );
    assert!(
        !sample.labels.keys().any(|k| k.contains("secret")),
        "{sample:?}"
    );
    assert!(!samples.mentions_container(&hidden.name));
}

#[test]
fn health_and_pause_follow_docker() {
    let Some((docker, checked, agent)) = container_and_agent(
        "osprey-health",
        &["--health-cmd", "true", "--health-interval", "1s"],
        &["sleep", "300"],
    ) else {
        return;
    };
    let name = checked.name.as_str();
    agent.wait_for("healthy", SETTLE, |s| {
        s.value(
            "osprey_container_health_status",
            &[("name", name), ("status", "healthy")],
        ) == Some(1.0)
    });
    docker.run(&["pause", name]);
    let samples = agent.wait_for("paused", SETTLE, |s| {
        s.value(
            "osprey_container_state",
            &[("name", name), ("state", "paused")],
        ) == Some(1.0)
    });
    assert_eq!(
        samples.value(
            "osprey_container_state",
            &[("name", name), ("state", "running")]
        ),
        Some(0.0)
    );
    assert!(
        cpu_seconds(&samples, name).is_some(),
        "a paused container keeps its counters"
    );
    docker.run(&["unpause", name]);
}

#[test]
fn image_inventory_matches_docker() {
    let Some(docker) = docker() else { return };
    let agent = agent_for(docker);
    let samples = agent.wait_for("Docker", SETTLE, |s| {
        s.value("osprey_docker_up", &[]) == Some(1.0)
    });
    let size: f64 = docker
        .run(&[
            "image",
            "inspect",
            "-f",
            "{{.Size}}",
            osprey::docker::TEST_IMAGE,
        ])
        .parse()
        .unwrap();
    let image = [("image", osprey::docker::TEST_IMAGE), ("tag", "latest")];
    assert_eq!(samples.value("osprey_image_size_bytes", &image), Some(size));
    let count = docker
        .run(&["images", "-q", "--no-trunc"])
        .lines()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(samples.value("osprey_images", &[]), Some(count as f64));
}

/// `du` of a directory in bytes (allocated blocks, hard links once).
fn du_bytes(path: &str) -> f64 {
    let output = std::process::Command::new("du")
        .args(["-s", "--block-size=1", path])
        .output()
        .expect("run du");
    let text = String::from_utf8_lossy(&output.stdout);
    let bytes = text.split_whitespace().next().unwrap_or_default();
    bytes
        .parse()
        .unwrap_or_else(|_| panic!("du {path}: {text:?}"))
}

#[test]
fn writable_layer_max_memory_and_per_cpu_usage_follow_the_container() {
    let Some(docker) = docker() else { return };
    let writer = docker.start(
        "agent20-layer",
        &[],
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/blob bs=1M count=8 conv=fsync && sleep 300",
        ],
    );
    let upper = writer.inspect("{{.GraphDriver.Data.UpperDir}}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        "[containers]\nfs_usage_interval_seconds = 1\nper_cpu_usage = true\n",
    )
    .unwrap();
    let agent = Agent::start(&[
        "--docker-socket",
        &docker.socket().display().to_string(),
        "--config",
        config.to_str().unwrap(),
    ]);
    let name = writer.name.as_str();
    // The 8 MiB file lies in the writable layer; the agent's figure is du's once settled.
    let samples = agent.wait_for("the writable layer's usage to match du", SETTLE, |s| {
        let usage = s.sum("container_fs_usage_bytes", &[("name", name)]);
        usage >= 8.0 * 1024.0 * 1024.0 && usage == du_bytes(&upper)
    });
    let stat = rustix::fs::statvfs(upper.as_str()).unwrap();
    assert_eq!(
        samples.sum("container_fs_limit_bytes", &[("name", name)]),
        (stat.f_blocks * stat.f_frsize) as f64
    );
    let max = samples.value("container_memory_max_usage_bytes", &[("name", name)]);
    let usage = samples.value("container_memory_usage_bytes", &[("name", name)]);
    assert!(
        max.unwrap() >= usage.unwrap(),
        "max {max:?}, usage {usage:?}"
    );
    let cpus: Vec<&str> = (samples
        .matching("container_cpu_usage_seconds_total", &[("name", name)]))
    .iter()
    .map(|s| s.labels["cpu"].as_str())
    .collect();
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // cgroup v2 gives no per-CPU figures: the total stays.
        assert_eq!(cpus, ["total"]);
    } else {
        assert!(!cpus.is_empty(), "no CPU usage at all");
        assert!(
            cpus.iter()
                .all(|cpu| cpu.starts_with("cpu") && cpu[3..].parse::<u32>().is_ok()),
            "{cpus:?}"
        );
    }
}
