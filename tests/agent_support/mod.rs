//! What the agent's end-to-end tests share: free ports, processes that stop with the test, and
//! starting the real agent, Prometheus and node_exporter.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use osprey::net::free_port;

/// A child process killed when the test ends, pass or fail.
pub struct Running {
    child: Child,
    /// What it is, for messages.
    pub name: String,
    /// Where it listens.
    pub port: u16,
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `command` and waits until it accepts TCP connections on `port`, or panics with its
/// stderr if it exits first.
pub fn spawn_listening(name: &str, mut command: Command, port: u16) -> Running {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut running = Running {
        child,
        name: name.to_owned(),
        port,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return running;
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = running.child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!("{name} exited with {status} before listening:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{name} did not listen on port {port} within 20 s");
}

/// Starts the built `osprey-agent` on a free loopback port with extra arguments.
pub fn start_agent(args: &[&str]) -> Running {
    let port = free_port();
    let mut command = Command::new(osprey::binary("osprey-agent"));
    command
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .args(args);
    spawn_listening("osprey-agent", command, port)
}

/// The path of a peer program installed from Debian, or `None` (with a message) on a machine
/// without it; CI must have it.
pub fn peer(path: &str) -> Option<PathBuf> {
    let path = PathBuf::from(path);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !osprey::in_ci(),
        "{} is missing; tests/install-deps.sh installs it",
        path.display()
    );
    eprintln!(
        "skipping: {} is not installed (run tests/install-deps.sh)",
        path.display()
    );
    None
}

/// Starts Debian's node_exporter on a free loopback port.
pub fn start_node_exporter(binary: &Path) -> Running {
    let port = free_port();
    let mut command = Command::new(binary);
    command.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    spawn_listening("prometheus-node-exporter", command, port)
}

/// Starts Debian's Prometheus with `scrape_configs` (YAML list items, indented by two spaces),
/// scraping every second, storing in `dir`.
pub fn start_prometheus(binary: &Path, dir: &Path, scrape_configs: &str) -> Running {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{scrape_configs}"
        ),
    )
    .expect("write prometheus.yml");
    let port = free_port();
    let mut command = Command::new(binary);
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    spawn_listening("prometheus", command, port)
}

/// Runs an instant query against Prometheus until it returns one sample whose value satisfies
/// `accept`, and returns that value; panics after 30 s with the last answer.
pub fn wait_for_sample(prometheus: &Running, query: &str, accept: impl Fn(f64) -> bool) -> f64 {
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        let answer = client
            .post(format!("{}/api/v1/query", prometheus.url()))
            .form(&[("query", query)])
            .send()
            .and_then(|r| r.text());
        if let Ok(body) = answer {
            let value = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|json| {
                    let result = json["data"]["result"].as_array()?.clone();
                    match result.as_slice() {
                        [sample] => sample["value"][1].as_str()?.parse::<f64>().ok(),
                        _ => None,
                    }
                });
            if let Some(value) = value.filter(|v| accept(*v)) {
                return value;
            }
            last = body;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("query {query:?} never gave an accepted single sample; last answer: {last}");
}

/// GETs a URL over plain HTTP and returns the body.
pub fn get(url: &str) -> String {
    reqwest::blocking::get(url)
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The value of the sample written exactly as `series` (name with its labels) in `exposition`.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

/// `MemTotal` from /proc/meminfo, in bytes.
pub fn mem_total_bytes() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
    let kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .expect("MemTotal in /proc/meminfo");
    kb * 1024.0
}
