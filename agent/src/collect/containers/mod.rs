//! Docker container metrics: discovery through the Docker Engine API, counters from cgroup files.
//!
//! [`Discovery`] lists containers once and then follows Docker's event stream into an
//! [`Inventory`]; [`ContainerCollector`] reads that inventory at scrape time and the containers'
//! cgroup (v1 or v2) and `/proc/<pid>/net/dev` files, kept open between scrapes. No Docker API
//! call happens on the scrape path.

mod block_devices;
mod cgroup;
mod cgroup_v1;
mod cgroup_v2;
mod collector;
mod docker;
mod families;
mod inspect;
mod inventory;
mod netns;
mod writable_layer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::RegexSet;

use inventory::Inventory;
use serde::Deserialize;

pub use collector::ContainerCollector;
pub use docker::Discovery;

/// The `[containers]` section of the agent's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainersConfig {
    /// Whether container metrics are collected at all (`--no-containers` turns them off).
    pub enabled: bool,
    /// The Docker Engine API socket (`--docker-socket`).
    pub docker_socket: PathBuf,
    /// Docker labels to expose as `container_label_<key>` metric labels; none by default, to
    /// keep the number of series in check.
    pub labels: LabelAllowList,
    /// When not empty, only containers whose name matches one of these regular expressions.
    pub include: NamePatterns,
    /// Containers whose name matches one of these regular expressions are left out.
    pub exclude: NamePatterns,
    /// `container_cpu_usage_seconds_total` per CPU (`cpu="cpu00"`, ...) instead of one
    /// `cpu="total"` series, where the cgroups give it (v1): off by default, since it multiplies
    /// that family's series by the number of CPUs.
    pub per_cpu_usage: bool,
    /// Seconds between two measurements of each container's writable layer
    /// (`container_fs_usage_bytes`); 0 turns them off.
    pub fs_usage_interval_seconds: u64,
}

impl Default for ContainersConfig {
    fn default() -> Self {
        ContainersConfig {
            enabled: true,
            docker_socket: PathBuf::from("/var/run/docker.sock"),
            labels: LabelAllowList::default(),
            include: NamePatterns::default(),
            exclude: NamePatterns::default(),
            per_cpu_usage: false,
            fs_usage_interval_seconds: 60,
        }
    }
}

impl ContainersConfig {
    /// Builds the collector and the discovery task that feeds it (the caller spawns
    /// [`Discovery::run`] on its async runtime). `proc_root` and `sys_root` are where the host's
    /// procfs and sysfs are mounted.
    pub fn build(&self, proc_root: &Path, sys_root: &Path) -> (ContainerCollector, Discovery) {
        raise_open_file_limit();
        let inventory = Inventory::new();
        let settings = collector::Settings {
            hierarchy: cgroup::Hierarchy::detect(sys_root),
            proc_root: proc_root.to_owned(),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            labels: self.labels.clone(),
            per_cpu_usage: self.per_cpu_usage,
            layers: writable_layer::LayerUsages::default(),
        };
        let layer_task = (self.fs_usage_interval_seconds > 0).then(|| {
            let interval = Duration::from_secs(self.fs_usage_interval_seconds);
            (settings.layers.clone(), interval)
        });
        tracing::debug!(hierarchy = ?settings.hierarchy, "container cgroups");
        let collector = ContainerCollector::new(inventory.clone(), settings, sys_root.to_owned());
        let discovery = Discovery::new(self.docker_socket.clone(), inventory, layer_task);
        (collector, discovery)
    }
}

/// Regular expressions matched against whole container names (anchored, as Prometheus's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct NamePatterns {
    set: Option<RegexSet>,
}

impl TryFrom<Vec<String>> for NamePatterns {
    type Error = regex::Error;

    fn try_from(patterns: Vec<String>) -> Result<Self, Self::Error> {
        if patterns.is_empty() {
            return Ok(NamePatterns::default());
        }
        let anchored = patterns.iter().map(|p| format!("^(?:{p})$"));
        Ok(NamePatterns {
            set: Some(RegexSet::new(anchored)?),
        })
    }
}

impl NamePatterns {
    /// Whether no pattern is set.
    pub fn is_empty(&self) -> bool {
        self.set.is_none()
    }

    /// Whether `name` matches one of the patterns.
    pub fn matches(&self, name: &str) -> bool {
        self.set.as_ref().is_some_and(|set| set.is_match(name))
    }
}

/// Docker label keys allowed to become metric labels, with their metric label names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "Vec<String>")]
pub struct LabelAllowList {
    keys: Vec<(String, String)>,
}

impl From<Vec<String>> for LabelAllowList {
    fn from(keys: Vec<String>) -> Self {
        let keys = keys
            .into_iter()
            .map(|key| {
                // cAdvisor's sanitizing: every character that a label name cannot hold becomes `_`.
                let sanitized: String = key
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                (key, format!("container_label_{sanitized}"))
            })
            .collect();
        LabelAllowList { keys }
    }
}

impl LabelAllowList {
    /// The metric label pairs for a container's Docker labels: allow-listed keys only.
    pub(crate) fn metric_labels(&self, labels: &BTreeMap<String, String>) -> Vec<(String, String)> {
        self.keys
            .iter()
            .filter_map(|(key, name)| Some((name.clone(), labels.get(key)?.clone())))
            .collect()
    }
}

/// Each running container keeps about a dozen files open between scrapes; the usual soft limit
/// of 1024 open files would run out near 80 containers, so the soft limit is raised to the hard
/// limit (as Go programs such as dockerd and cAdvisor do at start).
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
    let raised = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
        }
    };
    if !raised {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "cannot raise the open-file limit; many containers may exhaust it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Wrapper {
        containers: ContainersConfig,
    }

    fn parse(text: &str) -> Result<ContainersConfig, toml::de::Error> {
        toml::from_str::<Wrapper>(text).map(|w| w.containers)
    }

    #[test]
    fn patterns_match_whole_names() {
        let config =
            parse("[containers]\ninclude = [\"web-.*\"]\nexclude = [\"web-debug\"]\n").unwrap();
        assert!(config.include.matches("web-1"));
        assert!(!config.include.matches("my-web-1"));
        assert!(config.exclude.matches("web-debug"));
        assert!(!config.exclude.matches("web-debug-2"));
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_its_line() {
        let error = parse("[containers]\n\ninclude = [\"web-(\"]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 3"), "{error}");
    }

    #[test]
    fn only_allow_listed_labels_become_sanitized_metric_labels() {
        let config = parse("[containers]\nlabels = [\"com.example.team\"]\n").unwrap();
        let docker_labels = BTreeMap::from([
            ("com.example.team".to_owned(), "web".to_owned()),
            ("secret".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(
            config.labels.metric_labels(&docker_labels),
            vec![(
                "container_label_com_example_team".to_owned(),
                "web".to_owned()
            )]
        );
    }

    #[test]
    fn defaults_use_the_standard_socket_and_no_labels() {
        let config = ContainersConfig::default();
        assert_eq!(config.docker_socket, Path::new("/var/run/docker.sock"));
        assert!(config.include.is_empty() && config.exclude.is_empty());
        assert!(
            config
                .labels
                .metric_labels(&BTreeMap::from([("a".to_owned(), "b".to_owned())]))
                .is_empty()
        );
    }
}
