//! The built `osprey-collector` run on a directory of its own: configuration, rule files and
//! data there, standard error in a log file there, its HTTP API on a loopback port.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::net::{get, post};
use crate::process::{Running, wait_until};

/// A running collector.
#[derive(Debug)]
pub struct Collector {
    process: Running,
    /// Where its HTTP server listens.
    pub port: u16,
    dir: PathBuf,
}

impl Collector {
    /// Starts the collector with `dir/osprey.yml` (written by the caller), its data in
    /// `dir/data` and its log appended to `dir/collector.log`, and waits until it is ready.
    pub fn start(dir: &Path, port: u16) -> Collector {
        let mut command = Command::new(crate::binary("osprey-collector"));
        command
            .arg(format!("--config={}", dir.join("osprey.yml").display()))
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--data-dir={}", dir.join("data").display()))
            .env("OSPREY_LOG", "info");
        let log = dir.join("collector.log");
        let mut process = Running::spawn("osprey-collector", command, Some(&log));
        wait_until("the collector to answer", Duration::from_secs(30), || {
            process.assert_alive();
            get(port, "/-/ready").is_some_and(|(status, _)| status == 200)
        });
        Collector {
            process,
            port,
            dir: dir.to_owned(),
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("collector.log")).unwrap_or_default()
    }

    /// Sends a signal (`HUP` to reload).
    pub fn signal(&self, signal: &str) {
        self.process.signal(signal);
    }

    /// Stops it with SIGTERM, as systemd does, and waits for it to exit.
    pub fn stop(self) {
        self.process.terminate(Duration::from_secs(30));
    }

    /// `POST /-/reload`: the status and body.
    pub fn reload(&self) -> (u16, String) {
        post(self.port, "/-/reload", "").expect("the collector answers /-/reload")
    }

    /// The `data` of a successful API answer at `path`, or `None`.
    pub fn api(&self, path: &str) -> Option<Value> {
        let (200, body) = get(self.port, path)? else {
            return None;
        };
        let json: Value = serde_json::from_str(&body).ok()?;
        Some(json["data"].clone())
    }

    /// Every alert of `/api/v1/alerts`.
    pub fn alerts(&self) -> Vec<Value> {
        self.api("/api/v1/alerts")
            .and_then(|data| data["alerts"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Every rule of `/api/v1/rules`, across groups.
    pub fn rules(&self) -> Vec<Value> {
        self.api("/api/v1/rules")
            .and_then(|data| data["groups"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Every active target of `/api/v1/targets`.
    pub fn targets(&self) -> Vec<Value> {
        self.api("/api/v1/targets")
            .and_then(|data| data["activeTargets"].as_array().cloned())
            .unwrap_or_default()
    }

    /// How many targets of `/api/v1/targets` are `up`.
    pub fn targets_up(&self) -> usize {
        self.targets()
            .iter()
            .filter(|t| t["health"] == "up")
            .count()
    }
}

/// Writes `config` to `dir/osprey.yml` and runs `osprey-collector check-config` on it: whether
/// it passed, and what it printed (standard output, then standard error).
pub fn check_config(dir: &Path, config: &str) -> (bool, String) {
    let path = dir.join("osprey.yml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(crate::binary("osprey-collector"))
        .arg("check-config")
        .arg(&path)
        .output()
        .expect("run check-config");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}
