//! Shared by the TSDB admin tests: servers of the Prometheus HTTP API (the built collector, a
//! real Prometheus) run as child processes on loopback ports.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use osprey::net::free_port;
use osprey::process::{Running, wait_until};
use serde_json::Value;

/// A server answering the Prometheus HTTP API on a loopback port, killed on drop.
pub struct Server {
    /// What it is, for messages.
    pub name: &'static str,
    port: u16,
    _process: Running,
}

impl Server {
    /// Starts `command`, which listens on `port`, and waits until `/-/ready` answers 200.
    pub fn start(name: &'static str, command: Command, port: u16) -> Server {
        let mut process = Running::spawn_listening(name, command, port, None);
        wait_until(
            &format!("{name} to be ready"),
            Duration::from_secs(60),
            || {
                process.assert_alive();
                osprey::net::get(port, "/-/ready").is_some_and(|(status, _)| status == 200)
            },
        );
        Server {
            name,
            port,
            _process: process,
        }
    }

    /// `method path` with `form` URL-encoded as the body: the status and the body.
    pub fn call(&self, method: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let body = serde_urlencoded::to_string(form).unwrap();
        osprey::net::request(
            method,
            self.port,
            path,
            ("application/x-www-form-urlencoded", &body),
            Duration::from_secs(120),
        )
        .unwrap_or_else(|| panic!("{} does not answer {method} {path}", self.name))
    }

    /// `GET path?query`, answered with JSON.
    pub fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let query = serde_urlencoded::to_string(query).unwrap();
        let (_, body) = self.call("GET", &format!("{path}?{query}"), &[]);
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{} answers {path}?{query} with {body:?}: {e}", self.name))
    }
}

/// The built collector with `config` (written to `dir/<name>.yml`) over the store in `data`.
pub fn start_collector(name: &'static str, dir: &Path, data: &Path, config: &str) -> Server {
    let file = dir.join(format!("{name}.yml"));
    std::fs::write(&file, config).unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_osprey-collector"));
    command
        .arg(format!("--config={}", file.display()))
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--listen=127.0.0.1:{port}"));
    Server::start(name, command, port)
}
