//! The built `osprey-collector` binary over a store filled by its own `import` command.

use std::path::Path;
use std::process::{Command, Stdio};

use ::osprey::net::free_port;
use ::osprey::process::Running;

use super::prometheus::{http_get, spawn_ready};

/// A running collector, killed on drop.
pub struct Osprey {
    _process: Running,
    port: u16,
}

impl Osprey {
    /// Imports `openmetrics_file` into a store in `dir` and serves it, with no scrape targets,
    /// on a free port.
    pub fn start(dir: &Path, openmetrics_file: &Path) -> Osprey {
        let binary = env!("CARGO_BIN_EXE_osprey-collector");
        let data = dir.join("osprey-data");
        let status = Command::new(binary)
            .arg("import")
            .arg("--data-dir")
            .arg(&data)
            .arg(openmetrics_file)
            .stdout(Stdio::null())
            .status()
            .expect("run osprey-collector import");
        assert!(status.success(), "osprey-collector import failed");
        let config = dir.join("osprey.yml");
        std::fs::write(&config, "global: {}\n").unwrap();
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"));
        Osprey {
            _process: spawn_ready("osprey-collector", command, port),
            port,
        }
    }

    /// `GET path`, returning the status code and body (0 when the connection fails).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }
}
