//! What the end-to-end tests of the shipped alert rules share: the rule files with their
//! durations scaled down, a collector configuration sending every alert to aiosmtpd and a
//! webhook receiver, and waiting for an alert to fire or resolve as the receiver sees it.
//!
//! Scaling: each duration of the shipped files (`for:` and range selectors) is divided by
//! [`TIME_SCALE`], so that `for: 5m` holds 10 s and `[15m]` looks back 30 s, with scrapes and
//! evaluations every second. The expressions, labels and thresholds are the shipped ones.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::path::{Path, PathBuf};
use std::time::Duration;

use osprey::collector::Collector;
use osprey::process::wait_until;
use osprey::webhook::WebhookReceiver;
use serde_json::Value;

/// What the shipped durations are divided by.
pub const TIME_SCALE: u64 = 30;

/// The alerts each end-to-end test makes fire and resolve; together, every shipped alert.
pub const CONTAINER_TEST_ALERTS: &[&str] = &[
    "ContainerExited",
    "ContainerDisappeared",
    "ContainerOomKilled",
    "HostOomKillDetected",
    "ContainerRestarting",
    "ContainerUnhealthy",
    "ContainerHighMemoryUsage",
    "ContainerMemoryLimitReached",
    "ContainerHighCpuUsage",
    "ContainerCpuThrottled",
];
/// See [`CONTAINER_TEST_ALERTS`].
pub const DOCKER_DOWN_TEST_ALERTS: &[&str] = &["DockerDown"];
/// See [`CONTAINER_TEST_ALERTS`].
pub const HOST_TEST_ALERTS: &[&str] = &[
    "TargetDown",
    "HostHighCpuUsage",
    "HostCriticalCpuUsage",
    "HostHighMemoryUsage",
    "HostOutOfMemory",
    "HostSwapFillingUp",
    "HostLowDiskSpace",
    "HostOutOfDiskSpace",
    "HostDiskWillFillIn24Hours",
    "HostLowInodes",
    "HostOutOfInodes",
    "HostHighLoad",
    "HostDiskIoSaturated",
    "HostNetworkErrors",
    "HostClockSkew",
    "CollectorScrapeLimitHit",
    "CollectorRuleEvaluationFailures",
    "CollectorNotificationsFailing",
    "CollectorNotificationsDropped",
    "CollectorNotificationQueueGrowing",
    "CollectorScrapesSlow",
];
/// See [`CONTAINER_TEST_ALERTS`].
pub const STORAGE_TEST_ALERTS: &[&str] = &["CollectorStorageWritesBlocked"];

/// The shipped rule files, `alert-rules/*.yml`.
pub fn shipped_rule_files() -> Vec<PathBuf> {
    let dir = osprey::workspace_root().join("alert-rules");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// The names of every alert in the shipped rule files.
pub fn shipped_alert_names() -> Vec<String> {
    let mut names: Vec<String> = shipped_rule_files()
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.lines()
                .filter_map(|l| l.trim().strip_prefix("- alert: ").map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names
}

/// Writes the shipped rule files into `dir` with every duration divided by [`TIME_SCALE`];
/// returns their paths.
pub fn scaled_rule_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    shipped_rule_files()
        .iter()
        .map(|file| {
            let scaled = scale_durations(&std::fs::read_to_string(file).unwrap());
            let copy = dir.join(file.file_name().unwrap());
            std::fs::write(&copy, scaled).unwrap();
            copy
        })
        .collect()
}

/// `text` with the durations of `for:` lines and `[...]` range selectors scaled down.
fn scale_durations(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if let Some((indent, duration)) = line.split_once("for: ") {
            out.push_str(&format!("{indent}for: {}\n", scaled(duration.trim())));
            continue;
        }
        let mut rest = line;
        while let Some(open) = rest.find('[') {
            let close = open + rest[open..].find(']').expect("a closed range selector");
            out.push_str(&rest[..=open]);
            out.push_str(&scaled(&rest[open + 1..close]));
            rest = &rest[close..];
        }
        out.push_str(rest);
        out.push('\n');
    }
    out
}

/// A single-unit duration (`5m`, `6h`) divided by [`TIME_SCALE`], in seconds, at least 2 s.
fn scaled(duration: &str) -> String {
    let (number, unit) = duration.split_at(duration.len() - 1);
    let seconds: u64 = number
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("{duration}"))
        * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            other => panic!("unexpected unit {other} in {duration}"),
        };
    format!("{}s", (seconds / TIME_SCALE).max(2))
}

/// The Alertmanager section every test uses: each alert in a group of its own, sent at once by
/// email to aiosmtpd and by webhook, resolved ones too; `extra_webhooks` are more webhook
/// URLs of the same receiver.
pub fn alertmanager_section(smtp_port: u16, hook_port: u16, extra_webhooks: &[String]) -> String {
    let extra: String = extra_webhooks
        .iter()
        .map(|url| format!("    - url: {url}\n      send_resolved: true\n"))
        .collect();
    format!(
        "alertmanager:\n  route:\n    receiver: ops\n    group_by: ['...']\n    group_wait: 0s\n\
         \x20   group_interval: 1s\n    repeat_interval: 1h\n  receivers:\n  - name: ops\n\
         \x20   email_configs:\n    - to: oncall@example.com\n      from: osprey@example.com\n\
         \x20     smarthost: 127.0.0.1:{smtp_port}\n      require_tls: false\n      send_resolved: true\n\
         \x20   webhook_configs:\n    - url: http://127.0.0.1:{hook_port}/\n      send_resolved: true\n{extra}"
    )
}

/// One alert in one webhook notification.
#[derive(Debug, Clone)]
pub struct Event {
    /// `firing` or `resolved`.
    pub status: String,
    /// The alert's labels.
    pub labels: Value,
}

/// Every alert of every notification `hook` received, in order.
pub fn events(hook: &WebhookReceiver) -> Vec<Event> {
    hook.bodies()
        .iter()
        .flat_map(|body| body["alerts"].as_array().cloned().unwrap_or_default())
        .map(|alert| Event {
            status: alert["status"].as_str().unwrap_or_default().to_owned(),
            labels: alert["labels"].clone(),
        })
        .collect()
}

/// What a test expects to see: `alert` for the series whose labels include `labels`.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The alert name.
    pub alert: &'a str,
    /// Labels the alert must carry (`name`, `instance`, `mountpoint`, ...).
    pub labels: &'a [(&'a str, &'a str)],
}

impl Expected<'_> {
    fn matches(&self, event: &Event) -> bool {
        event.labels["alertname"] == self.alert
            && (self.labels.iter()).all(|(name, value)| event.labels[*name] == *value)
    }

    /// Whether `hook` received a notification with this alert in `status` (after it
    /// fired, for `resolved`).
    fn seen(&self, hook: &WebhookReceiver, status: &str) -> bool {
        let events = events(hook);
        let fired = events
            .iter()
            .position(|e| self.matches(e) && e.status == "firing");
        match status {
            "firing" => fired.is_some(),
            _ => fired.is_some_and(|at| {
                (events[at..].iter()).any(|e| self.matches(e) && e.status == status)
            }),
        }
    }
}

/// Waits until every one of `expected` was notified in `status` (`firing`, or `resolved` after
/// firing); on a timeout, names the missing ones, the collector's alerts and what arrived.
pub fn wait_for_all(
    hook: &WebhookReceiver,
    collector: &Collector,
    expected: &[Expected<'_>],
    status: &str,
    timeout: Duration,
) {
    let missing = || -> Vec<String> {
        (expected.iter())
            .filter(|e| !e.seen(hook, status))
            .map(|e| format!("{} {:?}", e.alert, e.labels))
            .collect()
    };
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline && !missing().is_empty() {
        std::thread::sleep(Duration::from_millis(250));
    }
    let missing = missing();
    if !missing.is_empty() {
        let alerts: Vec<String> = (collector.alerts().iter())
            .map(|a| {
                format!(
                    "{} {} {}",
                    a["labels"]["alertname"], a["state"], a["labels"]
                )
            })
            .collect();
        let seen: Vec<String> = (events(hook).iter())
            .map(|e| format!("{} {} {}", e.labels["alertname"], e.status, e.labels))
            .collect();
        panic!(
            "not {status} within {timeout:?}: {missing:#?}\ncollector alerts: {alerts:#?}\n\
             notifications: {seen:#?}\nlog tail: {}",
            tail(&collector.log(), 20)
        );
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits until the collector scrapes `count` targets successfully.
pub fn wait_targets_up(collector: &Collector, count: usize) {
    wait_until("the targets scraped", Duration::from_secs(30), || {
        collector.targets_up() >= count
    });
}

/// What a [`Served`] target answers to a scrape: the exposition text, made afresh each time.
pub type Exposition = Box<dyn Fn() -> String + Send>;

/// A scrape target in a thread of the test, for conditions this machine cannot produce (a
/// failing NIC, a skewed clock, swap): `GET` answers the exposition text the test sets, any
/// other request the status the test sets (a webhook that rejects or accepts).
pub struct Served {
    /// Where it listens.
    pub port: u16,
    exposition: std::sync::Arc<std::sync::Mutex<Exposition>>,
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
}

impl Served {
    /// Listens on `127.0.0.1:port` for the rest of the test.
    pub fn start(port: u16, exposition: Exposition) -> Served {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        use std::sync::atomic::Ordering;

        let listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("cannot listen on {port}: {e}"));
        let served = Served {
            port,
            exposition: std::sync::Arc::new(std::sync::Mutex::new(exposition)),
            status: std::sync::Arc::new(std::sync::atomic::AtomicU16::new(200)),
        };
        let (exposition, status) = (served.exposition.clone(), served.status.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(clone) = stream.try_clone() else {
                    continue;
                };
                let mut reader = BufReader::new(clone);
                let mut request_line = String::new();
                let mut length = 0;
                let _ = reader.read_line(&mut request_line);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let response = if request_line.starts_with("GET") {
                    let text = (exposition.lock().unwrap())();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    )
                } else {
                    let code = status.load(Ordering::SeqCst);
                    format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                };
                let mut stream = stream;
                let _ = stream.write_all(response.as_bytes());
            }
        });
        served
    }

    /// What scrapes get from now on.
    pub fn set_exposition(&self, exposition: Exposition) {
        *self.exposition.lock().unwrap() = exposition;
    }

    /// The status other requests get from now on.
    pub fn set_status(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A small ext4 filesystem on a loop device, mounted for the test and unmounted on drop: real
/// disk space and inodes to use up.
pub struct LoopFilesystem {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
}

impl LoopFilesystem {
    /// Makes a `size_mib` filesystem with `inodes` inodes and no reserved blocks in `dir` and
    /// mounts it; `None` (after a message) where loop mounts are not possible outside CI.
    pub fn mount(dir: &Path, size_mib: u64, inodes: u64) -> Option<LoopFilesystem> {
        let image = dir.join("fs.img");
        let mountpoint = dir.join("fs");
        std::fs::create_dir_all(&mountpoint).unwrap();
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(size_mib << 20))
            .unwrap();
        let run = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .output()
                .map_err(|e| format!("{program}: {e}"))
                .and_then(|o| match o.status.success() {
                    true => Ok(()),
                    false => Err(format!("{program}: {}", String::from_utf8_lossy(&o.stderr))),
                })
        };
        let image_arg = image.display().to_string();
        let inodes = inodes.to_string();
        let made = run(
            "mkfs.ext4",
            &["-q", "-F", "-m", "0", "-N", &inodes, &image_arg],
        )
        .and_then(|()| {
            run(
                "mount",
                &["-o", "loop", &image_arg, &mountpoint.display().to_string()],
            )
        });
        match made {
            Ok(()) => Some(LoopFilesystem { mountpoint }),
            Err(problem) => {
                osprey::skip_outside_ci(&format!("cannot mount a loop filesystem: {problem}"));
                None
            }
        }
    }
}

impl Drop for LoopFilesystem {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.mountpoint)
            .status();
    }
}

/// The collector configuration's start: 1 s scrapes and evaluations, `rule_files`.
pub fn config_head(rule_files: &[PathBuf]) -> String {
    let files: Vec<String> = rule_files
        .iter()
        .map(|f| format!("'{}'", f.display()))
        .collect();
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\n",
        files.join(", ")
    )
}
