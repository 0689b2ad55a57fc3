//! The collector scraping real targets: an `osprey-agent` and Debian's
//! `prometheus-node-exporter` side by side, a target killed, file_sd edits and a broken
//! reload. Observed through the collector's `/api/v1/targets`, `/federate` and `/metrics`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use osprey::agent::start_agent;
use osprey::net::free_port;
use osprey::peers::{NODE_EXPORTER, start_node_exporter};
use osprey::process::{Running, wait_until};
use serde_json::Value;

/// A plain HTTP/1.0 request without a body; returns the status code and body.
fn http(method: &str, port: u16, path: &str) -> Option<(u16, String)> {
    osprey::net::http(method, port, path, "")
}

/// The collector on a configuration of its own, in a temporary directory.
struct Collector {
    running: osprey::collector::Collector,
    dir: tempfile::TempDir,
}

impl Collector {
    fn start(config: &str) -> Collector {
        Collector::start_on(free_port(), config)
    }

    fn start_on(port: u16, config: &str) -> Collector {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("osprey.yml"), config).unwrap();
        let running = osprey::collector::Collector::start(dir.path(), port);
        Collector { running, dir }
    }

    fn port(&self) -> u16 {
        self.running.port
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn targets(&self) -> Vec<Value> {
        self.running.targets()
    }

    fn health_of(&self, job: &str) -> Vec<String> {
        self.targets()
            .iter()
            .filter(|t| t["labels"]["job"] == job)
            .map(|t| t["health"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The `/federate` lines for a selector (URL-encoded by the caller where needed).
    fn federate(&self, selector: &str) -> Vec<String> {
        let path = format!("/federate?match[]={selector}");
        match http("GET", self.port(), &path) {
            Some((200, body)) => body.lines().map(str::to_owned).collect(),
            other => panic!("federate {selector}: {other:?}"),
        }
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut(&Collector) -> bool) {
        wait_until(what, Duration::from_secs(30), || done(self));
    }
}

/// Whether node_exporter is installed; CI must have it.
fn node_exporter_available() -> bool {
    osprey::peer_installed(NODE_EXPORTER).is_some()
}

fn static_job(name: &str, port: u16) -> String {
    format!("  - job_name: {name}\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n")
}

#[test]
fn collector_scrapes_an_osprey_agent_and_node_exporter_side_by_side() {
    if !node_exporter_available() {
        return;
    }
    let agent = start_agent(&[]);
    let node_exporter = start_node_exporter();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n{}{}",
        static_job("agent", agent.port),
        static_job("node_exporter", node_exporter.port)
    );
    let collector = Collector::start(&config);
    collector.wait_for("both targets up", |c| {
        c.health_of("agent") == ["up"] && c.health_of("node_exporter") == ["up"]
    });
    let up = collector.federate("up");
    assert_eq!(up.len(), 2, "{up:?}");
    assert!(up.iter().all(|l| l.contains("} 1 ")), "{up:?}");
    let load = collector.federate("node_load1");
    assert!(
        load.iter().any(|l| l.contains("job=\"node_exporter\"")),
        "node_exporter's node_load1 missing: {load:?}"
    );
    let agent = collector.federate("osprey_agent_build_info");
    assert!(
        agent.iter().any(|l| l.contains("job=\"agent\"")),
        "the agent's build info missing: {agent:?}"
    );
    let samples = collector.federate("scrape_samples_scraped");
    assert!(samples.iter().all(|l| !l.contains("} 0 ")), "{samples:?}");
}

#[test]
fn a_killed_target_turns_up_to_zero_within_one_interval_and_its_series_go_stale() {
    if !node_exporter_available() {
        return;
    }
    let node_exporter = start_node_exporter();
    let interval = Duration::from_secs(2);
    let config = format!(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 1s\nscrape_configs:\n{}",
        static_job("node_exporter", node_exporter.port)
    );
    let collector = Collector::start(&config);
    collector.wait_for("node_exporter up", |c| {
        c.federate("node_load1").len() == 1 && c.health_of("node_exporter") == ["up"]
    });
    drop(node_exporter); // killed and reaped
    let killed = Instant::now();
    collector.wait_for("up to turn 0", |c| {
        c.federate("up").iter().any(|l| l.contains("} 0 "))
    });
    let took = killed.elapsed();
    // One interval, plus slack for this test's polling and a loaded machine.
    assert!(
        took <= interval + Duration::from_millis(1500),
        "up turned 0 after {took:?}, more than one {interval:?} interval"
    );
    assert_eq!(collector.health_of("node_exporter"), ["down"]);
    // Stale series are no longer current: only the synthetic series remain for the job.
    let left = collector.federate("%7Bjob%3D%22node_exporter%22%7D");
    assert!(!left.is_empty());
    let still_current: Vec<&String> = left
        .iter()
        .filter(|l| !l.starts_with("up{") && !l.starts_with("scrape_"))
        .collect();
    assert!(
        still_current.is_empty(),
        "{} series of the dead target are still current, e.g. {:?}",
        still_current.len(),
        still_current.first()
    );
}

#[test]
fn a_file_sd_edit_adds_and_removes_a_target_without_restart() {
    if !node_exporter_available() {
        return;
    }
    let agent = start_agent(&[]);
    let node_exporter = start_node_exporter();
    let (agent_port, ne_port) = (agent.port, node_exporter.port);
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets.yml");
    std::fs::write(
        &targets,
        format!("- targets: [\"127.0.0.1:{agent_port}\"]\n"),
    )
    .unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fleet\n    file_sd_configs:\n      - files: [{:?}]\n",
        dir.path().join("*.yml").display()
    );
    let collector = Collector::start(&config);
    collector.wait_for("the agent from file_sd up", |c| {
        c.health_of("fleet") == ["up"]
    });

    let both = format!("- targets: [\"127.0.0.1:{agent_port}\", \"127.0.0.1:{ne_port}\"]\n");
    std::fs::write(&targets, both).unwrap();
    collector.wait_for("node_exporter added", |c| {
        c.health_of("fleet") == ["up", "up"]
    });
    collector.wait_for("node_exporter's series", |c| {
        !c.federate("node_load1").is_empty()
    });

    std::fs::write(&targets, format!("- targets: [\"127.0.0.1:{ne_port}\"]\n")).unwrap();
    collector.wait_for("the agent removed", |c| c.targets().len() == 1);
    let remaining = collector.targets();
    assert_eq!(
        remaining[0]["labels"]["instance"],
        format!("127.0.0.1:{ne_port}")
    );
    assert!(
        collector.federate("osprey_agent_build_info").is_empty(),
        "a removed target's series must be marked stale"
    );
}

#[test]
fn a_broken_reload_is_refused_with_the_error_and_the_old_config_keeps_scraping() {
    let agent = start_agent(&[]);
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n{}",
        static_job("agent", agent.port)
    );
    let collector = Collector::start(&config);
    collector.wait_for("the agent up", |c| c.health_of("agent") == ["up"]);

    let broken = config.replace(
        "scrape_interval: 1s",
        "scrape_interval: 1s\n  scrape_intervall: 2s",
    );
    std::fs::write(collector.path("osprey.yml"), broken).unwrap();
    let (status, body) = http("POST", collector.port(), "/-/reload").unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("osprey.yml:3:3"),
        "the error names file:line:column: {body}"
    );
    assert!(body.contains("scrape_intervall"), "{body}");

    // SIGHUP with the same broken file is refused too and the process keeps running.
    collector.running.signal("HUP");

    let metrics = |c: &Collector| osprey::net::metrics(c.port());
    collector.wait_for("the failed reload in /metrics", |c| {
        metrics(c).contains("osprey_collector_config_last_reload_successful 0")
    });
    let last_scrape = |c: &Collector| c.targets()[0]["lastScrape"].as_str().unwrap().to_owned();
    let before = last_scrape(&collector);
    collector.wait_for("the old configuration to scrape again", |c| {
        last_scrape(c) != before && c.health_of("agent") == ["up"]
    });
}

#[test]
fn check_config_lists_every_error_with_its_location_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(
        &file,
        "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: a\n    scrape_timeout: 10s\n  - job_name: a\n",
    )
    .unwrap();
    let output = Command::new(osprey::binary("osprey-collector"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let at = |line: u32| format!("{}:{line}:", file.display());
    assert!(
        stderr.contains(&format!(
            "{}21: scrape_configs[0].scrape_timeout: 10s is greater than the scrape interval 5s",
            at(5)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}15: scrape_configs[1].job_name: duplicate job_name",
            at(6)
        )),
        "{stderr}"
    );

    std::fs::write(&file, "scrape_configs:\n  - job_name: a\n").unwrap();
    let output = Command::new(osprey::binary("osprey-collector"))
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn body_size_and_sample_limits_fail_the_whole_scrape_with_the_reason() {
    let agent = start_agent(&[]);
    let target = format!(
        "static_configs:\n      - targets: [\"127.0.0.1:{}\"]",
        agent.port
    );
    // The collector's own /metrics has several samples; the agent's may have only one.
    let port = free_port();
    let itself = format!("static_configs:\n      - targets: [\"127.0.0.1:{port}\"]");
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n\
         \x20 - job_name: small_body\n    body_size_limit: 100\n    {target}\n\
         \x20 - job_name: few_samples\n    sample_limit: 1\n    {itself}\n\
         \x20 - job_name: unlimited\n    {target}\n"
    );
    let collector = Collector::start_on(port, &config);
    collector.wait_for("all three scraped", |c| {
        c.targets().iter().all(|t| t["health"] != "unknown") && c.targets().len() == 3
    });
    let error_of = |job: &str| {
        let targets = collector.targets();
        let t = targets.iter().find(|t| t["labels"]["job"] == job).unwrap();
        (
            t["health"].as_str().unwrap().to_owned(),
            t["lastError"].as_str().unwrap().to_owned(),
        )
    };
    let (health, error) = error_of("small_body");
    assert_eq!(health, "down");
    assert!(error.contains("body size limit exceeded"), "{error}");
    let (health, error) = error_of("few_samples");
    assert_eq!(health, "down");
    assert!(error.contains("sample limit exceeded"), "{error}");
    assert_eq!(error_of("unlimited"), ("up".to_owned(), String::new()));
    let build_info = collector.federate("osprey_agent_build_info");
    assert_eq!(
        build_info.len(),
        1,
        "only the unlimited job stores samples: {build_info:?}"
    );
}

#[test]
fn without_a_config_the_collector_scrapes_its_in_process_agent_as_job_node() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = Command::new(osprey::binary("osprey-collector"));
    command
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--data-dir={}", dir.path().display()));
    let _collector = Running::spawn("osprey-collector", command, None);
    wait_until("job node to come up", Duration::from_secs(40), || {
        http("GET", port, "/federate?match[]=up").is_some_and(|(status, body)| {
            status == 200 && body.contains("job=\"node\"") && body.contains("} 1 ")
        })
    });
}
