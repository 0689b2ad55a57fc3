//! The built `osprey-collector` binary over a store filled by its own `import` command.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::prometheus::http_get;

/// A running collector, killed on drop.
pub struct Osprey {
    child: Child,
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
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start osprey-collector");
        let mut osprey = Osprey { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while osprey.get("/-/ready").0 != 200 {
            if let Ok(Some(status)) = osprey.child.try_wait() {
                panic!("osprey-collector exited before serving: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "osprey-collector did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        osprey
    }

    /// `GET path`, returning the status code and body (0 when the connection fails).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }
}

impl Drop for Osprey {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
