//! The shipped container rules on real conditions: a real agent watching the real Docker
//! engine, a collector with the shipped rule files (durations scaled, see `alert_rules`),
//! aiosmtpd and a webhook receiver. Each container below makes one failure real (`docker stop`
//! of a container without a restart policy, `docker kill`, a `--rm` container killed, a failing
//! health check, OOM kills, a restart loop, memory near the limit, CPU throttling), every alert
//! is seen firing in a notification, then the failure is undone and every alert is seen
//! resolved.

mod alert_rules;

use std::time::Duration;

use alert_rules::*;
use osprey::agent::start_agent;
use osprey::collector::Collector;
use osprey::docker::{Container, Docker};
use osprey::net::free_port;
use osprey::smtp::{SmtpServer, mails};
use osprey::webhook::WebhookReceiver;

/// The instance label of the agent, so thresholds can name it.
const INSTANCE: &str = "alerts17-docker-host";

fn start(docker: &Docker, name: &str, options: &[&str], command: &str) -> Container {
    docker.start(name, options, &["sh", "-c", command])
}

#[test]
fn container_failures_fire_and_resolve() {
    let Some(docker) = osprey::docker::docker() else {
        return;
    };
    if !osprey::smtp::available() {
        return;
    }
    let agent = start_agent(&[]);
    let dir = tempfile::tempdir().unwrap();
    let rules = scaled_rule_files(&dir.path().join("rules"));
    let (smtp_port, hook_port) = (free_port(), free_port());
    let config = format!(
        "{}scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n\
         \x20       labels: {{instance: {INSTANCE}}}\n\
         thresholds:\n  - matchers: ['instance=\"{INSTANCE}\"']\n    alerts:\n\
         \x20     ContainerHighCpuUsage: 2\n      ContainerMemoryLimitReached: 85\n{}",
        config_head(&rules),
        agent.port,
        alertmanager_section(smtp_port, hook_port, &[])
    );
    std::fs::write(dir.path().join("osprey.yml"), config).unwrap();
    let maildir = dir.path().join("maildir");
    let _smtp = SmtpServer::start(smtp_port, &maildir);
    let hook = WebhookReceiver::start(hook_port);
    let collector = Collector::start(dir.path(), free_port());
    wait_targets_up(&collector, 1);

    let sleeper = "sleep 3600";
    let stopped = start(docker, "alerts17-stop", &[], sleeper);
    let killed = start(docker, "alerts17-kill", &[], sleeper);
    let gone = start(docker, "alerts17-gone", &["--rm"], sleeper);
    let health = [
        "--health-cmd=test -f /tmp/ok",
        "--health-interval=1s",
        "--health-retries=1",
        "--health-timeout=1s",
    ];
    let sick = start(docker, "alerts17-sick", &health, sleeper);
    let until_stop = |work: &str| format!("while [ ! -f /tmp/stop ]; do {work}; done; sleep 3600");
    let oom = start(
        docker,
        "alerts17-oom",
        &["--memory=16m"],
        &until_stop("tail /dev/zero"),
    );
    let looping = start(
        docker,
        "alerts17-loop",
        &["--restart=always"],
        "sleep 1; exit 1",
    );
    let full = "head -c 28m /dev/zero > /dev/shm/fill; sleep 3600";
    let memory = start(docker, "alerts17-mem", &["--memory=32m"], full);
    let throttled = start(
        docker,
        "alerts17-throttle",
        &["--cpus=0.05"],
        &until_stop(":"),
    );
    // Running long enough to be scraped running.
    std::thread::sleep(Duration::from_secs(4));
    docker.run(&["stop", "-t", "1", &stopped.name]);
    docker.run(&["kill", &killed.name]);
    docker.run(&["kill", &gone.name]);

    let named = |name: &Container| [("name", name.name.clone())];
    let labels: Vec<(&str, [(&str, String); 1])> = vec![
        ("ContainerExited", named(&stopped)),
        ("ContainerExited", named(&killed)),
        ("ContainerDisappeared", named(&gone)),
        ("ContainerUnhealthy", named(&sick)),
        ("ContainerOomKilled", named(&oom)),
        ("HostOomKillDetected", [("instance", INSTANCE.to_owned())]),
        ("ContainerRestarting", named(&looping)),
        ("ContainerHighMemoryUsage", named(&memory)),
        ("ContainerMemoryLimitReached", named(&memory)),
        ("ContainerHighCpuUsage", named(&throttled)),
        ("ContainerCpuThrottled", named(&throttled)),
    ];
    let borrowed: Vec<[(&str, &str); 1]> = labels
        .iter()
        .map(|(_, [(name, value)])| [(*name, value.as_str())])
        .collect();
    let expected: Vec<Expected<'_>> = labels
        .iter()
        .zip(&borrowed)
        .map(|((alert, _), labels)| Expected { alert, labels })
        .collect();
    let covered: std::collections::BTreeSet<&str> = expected.iter().map(|e| e.alert).collect();
    let listed: std::collections::BTreeSet<&str> = CONTAINER_TEST_ALERTS.iter().copied().collect();
    assert_eq!(covered, listed, "the table and CONTAINER_TEST_ALERTS agree");
    wait_for_all(
        &hook,
        &collector,
        &expected,
        "firing",
        Duration::from_secs(90),
    );
    assert!(
        mails(&maildir)
            .iter()
            .any(|m| m.subject.contains("ContainerExited")),
        "the email went too"
    );

    docker.run(&["start", &stopped.name]);
    docker.run(&["start", &killed.name]);
    let _back = start(docker, "alerts17-gone", &[], sleeper);
    docker.run(&["exec", &sick.name, "touch", "/tmp/ok"]);
    docker.run(&["exec", &oom.name, "touch", "/tmp/stop"]);
    docker.run(&["stop", "-t", "1", &looping.name]);
    docker.run(&["exec", &memory.name, "rm", "/dev/shm/fill"]);
    docker.run(&["exec", &throttled.name, "touch", "/tmp/stop"]);
    wait_for_all(
        &hook,
        &collector,
        &expected,
        "resolved",
        Duration::from_secs(90),
    );
}
