//! What the alerting end-to-end tests share: a real agent scraped every second by a real
//! collector, a container that burns a CPU, rules on its CPU usage, and an Alertmanager
//! configuration that sends email to aiosmtpd and webhooks to a receiver in the test.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::path::PathBuf;
use std::time::Duration;

use osprey::agent::{Agent, start_agent};
use osprey::collector::Collector;
use osprey::docker::{Container, Docker};
use osprey::net::free_port;
use osprey::process::wait_until;
use serde_json::Value;

/// Fires as soon as the burner uses more than 1% of a CPU: it uses a whole one on an idle
/// machine and still a good share on one busy with builds, while an idle container uses none.
pub const BURN_RULE: &str = "ContainerCpuBurn";
/// The same condition held for a minute.
pub const SUSTAINED_RULE: &str = "ContainerCpuSustained";
/// How long groups wait between notifications.
pub const GROUP_INTERVAL: Duration = Duration::from_secs(5);

/// Docker when it and aiosmtpd are both here; `None` (after a message) when one is missing
/// outside CI.
pub fn peers() -> Option<&'static Docker> {
    let docker = osprey::docker::docker()?;
    osprey::smtp::available().then_some(docker)
}

/// Everything one test runs, in a directory of its own.
pub struct Stack {
    /// Holds the configuration, the store, the log and the Maildir.
    pub dir: tempfile::TempDir,
    /// The collector's port (kept across restarts).
    pub collector_port: u16,
    /// aiosmtpd's port.
    pub smtp_port: u16,
    /// The webhook receiver's port.
    pub hook_port: u16,
    /// The burner's name as given to [`Docker::start`].
    burner: &'static str,
    /// The name of the container the rules watch (what [`Docker::start`] makes of it).
    pub burner_name: String,
    _agent: Agent,
}

impl Stack {
    /// Starts an agent and writes the collector's configuration; the receivers and the
    /// collector are started by the test, when it wants them up.
    pub fn new(burner: &'static str) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let agent = start_agent(&[]);
        let agent_port = agent.port;
        let stack = Stack {
            dir,
            collector_port: free_port(),
            smtp_port: free_port(),
            hook_port: free_port(),
            burner,
            burner_name: format!("{burner}-{}", std::process::id()),
            _agent: agent,
        };
        stack.write_config(agent_port);
        stack
    }

    fn write_config(&self, agent_port: u16) {
        let name = &self.burner_name;
        let expr = format!(
            "sum by (name) (rate(container_cpu_usage_seconds_total{{name=\"{name}\"}}[10s])) > 0.01"
        );
        let rules = format!(
            "groups:\n\
             - name: containers\n  rules:\n\
             \x20 - alert: {BURN_RULE}\n    expr: '{expr}'\n    labels:\n      severity: warning\n    annotations:\n\
             \x20     summary: 'Container {{{{ $labels.name }}}} burns a CPU'\n\
             \x20     description: 'CPU use {{{{ $value | printf \"%.2f\" }}}} of a core'\n\
             \x20 - alert: {SUSTAINED_RULE}\n    expr: '{expr}'\n    for: 1m\n    labels:\n      severity: critical\n"
        );
        std::fs::write(self.path("rules.yml"), rules).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: agent\n    static_configs:\n      - targets: ['127.0.0.1:{agent_port}']\n\
             alertmanager:\n  route:\n    receiver: ops\n    group_by: [alertname]\n    group_wait: 0s\n\
             \x20   group_interval: {}s\n    repeat_interval: 1h\n  receivers:\n  - name: ops\n\
             \x20   email_configs:\n    - to: oncall@example.com\n      from: osprey@example.com\n\
             \x20     smarthost: 127.0.0.1:{}\n      require_tls: false\n      send_resolved: true\n\
             \x20   webhook_configs:\n    - url: http://127.0.0.1:{}/\n",
            GROUP_INTERVAL.as_secs(),
            self.smtp_port,
            self.hook_port
        );
        std::fs::write(self.path("osprey.yml"), config).unwrap();
    }

    /// A path in the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Where aiosmtpd stores the messages.
    pub fn maildir(&self) -> PathBuf {
        self.path("maildir")
    }

    /// Starts the collector and waits until it scrapes the agent.
    pub fn start_collector(&self) -> Collector {
        let collector = Collector::start(self.dir.path(), self.collector_port);
        wait_until("the agent scraped", Duration::from_secs(30), || {
            collector.targets_up() == 1
        });
        collector
    }

    /// Starts the container that burns a CPU.
    pub fn start_burner(&self, docker: &Docker) -> Container {
        let burner = docker.start(self.burner, &[], &["sh", "-c", "while :; do :; done"]);
        assert_eq!(burner.name, self.burner_name);
        burner
    }
}

/// The alert of `rule` in `/api/v1/alerts`, if there is one.
pub fn alert_of(collector: &Collector, rule: &str) -> Option<Value> {
    collector
        .alerts()
        .into_iter()
        .find(|a| a["labels"]["alertname"] == rule)
}

/// Waits until `rule`'s alert is in `state` (`pending`, `firing`) and returns it.
pub fn wait_for_state(collector: &Collector, rule: &str, state: &str, timeout: Duration) -> Value {
    osprey::process::wait_for(&format!("{rule} {state}"), timeout, || {
        alert_of(collector, rule).filter(|a| a["state"] == state)
    })
}

/// Prometheus's label-set fingerprint (FNV-1a over sorted names and values, each followed
/// by 0xff), as Alertmanager prints it in webhooks.
pub fn fingerprint(labels: &Value) -> String {
    let mut pairs: Vec<(&String, &str)> = labels
        .as_object()
        .expect("labels are an object")
        .iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    let mut hash: u64 = 14_695_981_039_346_656_037;
    for (name, value) in pairs {
        for byte in name
            .bytes()
            .chain([0xff])
            .chain(value.bytes())
            .chain([0xff])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(1_099_511_628_211);
        }
    }
    format!("{hash:016x}")
}

/// The webhook bodies and mails whose alerts came from `rule`.
pub fn about<'a>(bodies: &'a [Value], rule: &str) -> Vec<&'a Value> {
    bodies
        .iter()
        .filter(|b| b["groupLabels"]["alertname"] == rule)
        .collect()
}
