//! Prometheus over blocks made by promtool from an OpenMetrics file: the command, not yet
//! started (the differential test and the admin API test start it their own ways).

use std::path::Path;
use std::process::{Command, Stdio};

use ::osprey::net::free_port;

/// Builds blocks from `openmetrics_file` into `dir/data` with promtool and returns the command
/// serving them (with `flags` added) on a free loopback port, and that port.
pub fn over_blocks(dir: &Path, openmetrics_file: &Path, flags: &[&str]) -> (Command, u16) {
    let data = dir.join("data");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(openmetrics_file)
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .expect("run promtool");
    assert!(status.success(), "promtool failed");
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global: {}\n").unwrap();
    let port = free_port();
    let mut command = Command::new("prometheus");
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(flags);
    (command, port)
}
