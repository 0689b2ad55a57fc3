//! Docker container metrics: discovery through the Docker Engine API, counters from cgroup files.

use serde::Deserialize;

/// The `[containers]` section of the agent's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainersConfig {
    /// Whether container metrics are collected at all.
    pub enabled: bool,
}

impl Default for ContainersConfig {
    fn default() -> Self {
        ContainersConfig { enabled: true }
    }
}
