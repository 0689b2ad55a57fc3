//! Host metrics under node_exporter's names, read at scrape time from procfs and sysfs.
//!
//! Each file is one node_exporter collector. They read from the configured `proc_root` and
//! `sys_root`, so unit tests run them against the fixture trees in `agent/tests/fixtures/`.

mod arp;
mod conntrack;
mod cpu;
mod diskstats;
mod entropy;
mod filefd;
mod filesystem;
mod hwmon;
mod loadavg;
mod meminfo;
mod netclass;
mod netdev;
mod netstat;
mod pressure;
mod processes;
mod sockstat;
mod softnet;
mod stat;
mod statvfs;
mod systemd;
mod textfile;
mod time;
mod timex;
mod udp_queues;
mod uname;
mod vmstat;

use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use regex::Regex;
use serde::{Deserialize, Deserializer};

use super::{CollectError, Collector};
use crate::config::AgentConfig;
pub use systemd::SystemdConfig;
pub use textfile::TextfileConfig;

/// The `[host]` section of the agent's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Names of host collectors to leave out (e.g. `["hwmon"]`).
    pub disable: Vec<String>,
    /// Which mounted filesystems are reported.
    pub filesystem: filesystem::FilesystemConfig,
    /// Which block devices are reported.
    pub diskstats: DeviceFilterConfig,
    /// Which network devices are reported.
    pub netdev: DeviceFilterConfig,
    /// Where the textfile collector finds its `*.prom` files.
    pub textfile: TextfileConfig,
    /// The systemd collector (off by default).
    pub systemd: SystemdConfig,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            disable: Vec::new(),
            filesystem: filesystem::FilesystemConfig::default(),
            diskstats: DeviceFilterConfig {
                devices_exclude: Pattern::new(diskstats::DEFAULT_DEVICES_EXCLUDE),
            },
            netdev: DeviceFilterConfig {
                devices_exclude: Pattern::new(netdev::DEFAULT_DEVICES_EXCLUDE),
            },
            textfile: TextfileConfig::default(),
            systemd: SystemdConfig::default(),
        }
    }
}

impl HostConfig {
    /// Checks what serde cannot: every name in `disable` is a host collector, and the statvfs
    /// timeout is a usable duration.
    pub fn validate(&self) -> Result<(), HostConfigError> {
        let unknown = self.disable.iter().find(|n| !NAMES.contains(&n.as_str()));
        if let Some(name) = unknown {
            return Err(HostConfigError::UnknownCollector { name: name.clone() });
        }
        let seconds = self.filesystem.statvfs_timeout_seconds;
        if !(seconds > 0.0 && seconds <= 3600.0) {
            return Err(HostConfigError::StatvfsTimeout { seconds });
        }
        if let Err(error) = self.systemd.patterns() {
            return Err(HostConfigError::SystemdPattern { error });
        }
        Ok(())
    }
}

/// A `[host]` section that asks for something impossible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostConfigError {
    /// `disable` names a collector that does not exist.
    #[error("[host] disable: unknown collector {name:?}; known: {}", NAMES.join(", "))]
    UnknownCollector {
        /// The name given.
        name: String,
    },
    /// A systemd unit pattern is not a valid regular expression.
    #[error("[host.systemd] unit_include or unit_exclude: {error}")]
    SystemdPattern {
        /// What is wrong with it.
        error: regex::Error,
    },
    /// The statvfs timeout is not a usable duration.
    #[error("[host.filesystem] statvfs_timeout_seconds: {seconds} is not between 0 and 3600")]
    StatvfsTimeout {
        /// The value given.
        seconds: f64,
    },
}

/// A device filter: devices whose name matches `devices_exclude` are left out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFilterConfig {
    /// Regular expression over the device name.
    pub devices_exclude: Pattern,
}

/// A regular expression read from the configuration; an invalid one is a configuration error.
#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl Pattern {
    /// Compiles one of the built-in defaults (known to be valid).
    fn new(pattern: &str) -> Self {
        Pattern(Regex::new(pattern).expect("built-in pattern compiles"))
    }

    /// Whether `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Regex::new(&text)
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("invalid regular expression: {e}")))
    }
}

/// Names of every host collector, in scrape order.
pub const NAMES: &[&str] = &[
    "arp",
    "conntrack",
    "cpu",
    "diskstats",
    "entropy",
    "filefd",
    "filesystem",
    "hwmon",
    "loadavg",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "pressure",
    "processes",
    "sockstat",
    "softnet",
    "stat",
    "textfile",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
];

/// Builds the enabled host collectors from the configuration. The systemd collector, when
/// enabled, makes its D-Bus calls on the current tokio runtime: call this from within one.
pub fn collectors(config: &AgentConfig) -> Vec<Box<dyn Collector>> {
    let proc_root = &config.proc_root;
    let sys_root = &config.sys_root;
    let host = &config.host;
    let all: Vec<Box<dyn Collector>> = vec![
        Box::new(arp::Arp::new(proc_root)),
        Box::new(conntrack::Conntrack::new(proc_root)),
        Box::new(cpu::Cpu::new(proc_root)),
        Box::new(diskstats::Diskstats::new(
            proc_root,
            Path::new(diskstats::UDEV_DATA),
            host.diskstats.clone(),
        )),
        Box::new(entropy::Entropy::new(proc_root)),
        Box::new(filefd::Filefd::new(proc_root)),
        Box::new(filesystem::Filesystem::new(
            proc_root,
            host.filesystem.clone(),
        )),
        Box::new(hwmon::Hwmon::new(sys_root)),
        Box::new(loadavg::Loadavg::new(proc_root)),
        Box::new(meminfo::Meminfo::new(proc_root)),
        Box::new(netclass::Netclass::new(sys_root, host.netdev.clone())),
        Box::new(netdev::Netdev::new(
            proc_root,
            sys_root,
            host.netdev.clone(),
        )),
        Box::new(netstat::Netstat::new(proc_root)),
        Box::new(pressure::Pressure::new(proc_root)),
        Box::new(processes::Processes::new(proc_root)),
        Box::new(sockstat::Sockstat::new(proc_root)),
        Box::new(softnet::Softnet::new(proc_root)),
        Box::new(stat::Stat::new(proc_root)),
        Box::new(textfile::Textfile::new(&host.textfile)),
        Box::new(time::Time),
        Box::new(timex::Timex),
        Box::new(udp_queues::UdpQueues::new(proc_root)),
        Box::new(uname::Uname::new()),
        Box::new(vmstat::Vmstat::new(proc_root)),
    ];
    let mut enabled: Vec<Box<dyn Collector>> = all
        .into_iter()
        .filter(|c| !host.disable.iter().any(|name| name == c.name()))
        .collect();
    if host.systemd.enabled {
        let runtime = tokio::runtime::Handle::current();
        enabled.push(Box::new(systemd::Systemd::new(&host.systemd, runtime)));
    }
    enabled
}

/// A parse error for `path`.
fn parse_error(path: &Path, message: impl Into<String>) -> CollectError {
    CollectError::Parse {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Parses one whitespace-separated number of a procfs line.
fn number(path: &Path, field: Option<&str>) -> Result<f64, CollectError> {
    let field = field.ok_or_else(|| parse_error(path, "missing field"))?;
    field
        .parse::<f64>()
        .map_err(|_| parse_error(path, format!("not a number: {field:?}")))
}

/// Parses one hexadecimal field (as in softnet_stat, nf_conntrack statistics and socket tables).
fn hexadecimal(path: &Path, field: Option<&str>) -> Result<f64, CollectError> {
    let field = field.ok_or_else(|| parse_error(path, "missing field"))?;
    u64::from_str_radix(field, 16)
        .map(|value| value as f64)
        .map_err(|_| parse_error(path, format!("not a hexadecimal number: {field:?}")))
}

/// The fixture trees the unit tests read, in `agent/tests/fixtures/`.
#[cfg(test)]
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs one collector alone and returns its text output.
#[cfg(test)]
fn scrape_one(collector: &dyn Collector) -> String {
    let mut out = crate::expose::Exposition::new(crate::expose::Format::Text004);
    collector.collect(&mut out).expect("collector succeeds");
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lists_every_collector_in_order() {
        let built: Vec<&str> = collectors(&AgentConfig::default())
            .iter()
            .map(|c| c.name())
            .collect();
        assert_eq!(built, NAMES);
    }

    #[test]
    fn disabled_collectors_are_left_out() {
        let mut config = AgentConfig::default();
        config.host.disable = vec!["hwmon".to_owned(), "netclass".to_owned()];
        let built: Vec<&str> = collectors(&config).iter().map(|c| c.name()).collect();
        assert_eq!(built.len(), NAMES.len() - 2);
        assert!(!built.contains(&"hwmon") && !built.contains(&"netclass"));
    }
}
