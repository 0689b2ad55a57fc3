//! A real Prometheus over blocks made by promtool from the same OpenMetrics file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ::osprey::process::{Running, wait_until};

use super::prometheus_blocks::over_blocks;

/// A running Prometheus, killed on drop.
pub struct Prometheus {
    _process: Running,
    port: u16,
}

impl Prometheus {
    /// Builds blocks from `openmetrics_file` into `dir` and serves them on a free port.
    pub fn start(dir: &Path, openmetrics_file: &Path) -> Prometheus {
        let (command, port) = over_blocks(dir, openmetrics_file, &[]);
        Prometheus {
            _process: spawn_ready("prometheus", command, port),
            port,
        }
    }

    /// `GET path`, returning the status code and body (0 when the connection fails).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }
}

/// Starts `command`, which listens on loopback `port`, and waits up to 30 s until its
/// `/-/ready` answers 200; panics if it exits first.
pub fn spawn_ready(name: &str, command: Command, port: u16) -> Running {
    let mut process = Running::spawn(name, command, None);
    wait_until(
        &format!("{name} to be ready"),
        Duration::from_secs(30),
        || {
            process.assert_alive();
            http_get(port, "/-/ready").0 == 200
        },
    );
    process
}

/// `GET path` from a server on localhost over HTTP/1.0, returning the status code and body
/// (0 when the connection fails).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    ::osprey::net::get(port, path).unwrap_or_default()
}
