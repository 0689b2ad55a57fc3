//! Debian's Prometheus and node_exporter run as peers on free loopback ports.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::net::free_port;
use crate::process::{Running, wait_for};

/// Where Debian installs Prometheus.
pub const PROMETHEUS: &str = "/usr/bin/prometheus";
/// Where Debian installs promtool.
pub const PROMTOOL: &str = "/usr/bin/promtool";
/// Where Debian installs node_exporter.
pub const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// A peer listening on a loopback port, killed when the test ends.
#[derive(Debug)]
pub struct Peer {
    _process: Running,
    /// Where it listens.
    pub port: u16,
}

/// Starts node_exporter on a free loopback port and waits until it accepts connections.
pub fn start_node_exporter() -> Peer {
    let port = free_port();
    let mut command = Command::new(NODE_EXPORTER);
    command.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let process = Running::spawn_listening("prometheus-node-exporter", command, port, None);
    Peer {
        _process: process,
        port,
    }
}

/// Starts Prometheus with `scrape_configs` (YAML list items, indented by two spaces), scraping
/// every second, storing in `dir`, and waits until it accepts connections.
pub fn start_prometheus(dir: &Path, scrape_configs: &str) -> Peer {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{scrape_configs}"
        ),
    )
    .expect("write prometheus.yml");
    let port = free_port();
    let mut command = Command::new(PROMETHEUS);
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let process = Running::spawn_listening("prometheus", command, port, None);
    Peer {
        _process: process,
        port,
    }
}

/// Runs an instant query against Prometheus until it returns one sample whose value satisfies
/// `accept`, and returns that value; panics after 30 s.
pub fn wait_for_sample(prometheus: &Peer, query_text: &str, accept: impl Fn(f64) -> bool) -> f64 {
    let what = format!("{query_text} to give one accepted sample");
    wait_for(&what, Duration::from_secs(30), || {
        let result = crate::net::instant_query(prometheus.port, query_text)?;
        let [sample] = result.as_slice() else {
            return None;
        };
        let value: f64 = sample["value"][1].as_str()?.parse().ok()?;
        accept(value).then_some(value)
    })
}
