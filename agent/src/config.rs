//! The agent's configuration: a TOML file, overridden by command-line flags, validated once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use osprey_web::SecuritySources;
use serde::Deserialize;

use crate::collect::containers::ContainersConfig;
use crate::collect::host::{HostConfig, HostConfigError};

/// Everything the agent can be told. Unknown keys are errors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where procfs is mounted (a fixture tree in tests).
    pub proc_root: PathBuf,
    /// Where sysfs is mounted (a fixture tree in tests).
    pub sys_root: PathBuf,
    /// A Prometheus web-config file (TLS and basic auth), as node_exporter's `--web.config.file`.
    pub web_config_file: Option<PathBuf>,
    /// A file holding a token that scrapers must send as `Authorization: Bearer <token>`.
    pub bearer_token_file: Option<PathBuf>,
    /// Allow credentials (basic auth or a bearer token) over plain HTTP on a non-loopback
    /// address, where anyone on the path can read them.
    pub allow_insecure_credentials: bool,
    /// Host metrics.
    pub host: HostConfig,
    /// Docker container metrics.
    pub containers: ContainersConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9717)),
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys"),
            web_config_file: None,
            bearer_token_file: None,
            allow_insecure_credentials: false,
            host: HostConfig::default(),
            containers: ContainersConfig::default(),
        }
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema; the error names line and column.
    #[error("invalid config file {path}: {error}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong. Not a `source`: the message already says it, once.
        error: ParseError,
    },
}

/// Configuration text that is not a usable agent configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not valid TOML, or not the schema; the message names the line and column.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// Valid TOML whose `[host]` section asks for something impossible.
    #[error(transparent)]
    Host(#[from] HostConfigError),
}

impl AgentConfig {
    /// Reads and validates a TOML configuration file; relative file paths in it are taken as
    /// relative to its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|error| ConfigError::Invalid {
            path: path.to_owned(),
            error,
        })?;
        // Like the web-config file's TLS paths: relative to the file that names them.
        let dir = path.parent().unwrap_or(Path::new("."));
        let paths = [
            &mut config.web_config_file,
            &mut config.bearer_token_file,
            &mut config.host.textfile.directory,
        ];
        for file in paths.into_iter().flatten() {
            *file = dir.join(&*file);
        }
        Ok(config)
    }

    /// Parses configuration text; a TOML error names the line and column of the problem.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let config: AgentConfig = toml::from_str(text)?;
        config.host.validate()?;
        Ok(config)
    }

    /// The files and settings the agent's TLS and authentication are loaded from.
    pub fn security_sources(&self) -> SecuritySources<'_> {
        SecuritySources {
            web_config_file: self.web_config_file.as_deref(),
            bearer_token_file: self.bearer_token_file.as_deref(),
            listen: self.listen,
            allow_insecure_credentials: self.allow_insecure_credentials,
            how_to_allow: "set allow_insecure_credentials = true in the agent config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_an_error_naming_it_and_its_line() {
        let err = AgentConfig::parse("listen = \"127.0.0.1:1\"\nlisten_adress = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_adress"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_collector_name_is_an_error_naming_it() {
        let err = AgentConfig::parse("[host]\ndisable = [\"hwmom\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("hwmom"), "{err}");
    }

    #[test]
    fn statvfs_timeout_must_be_positive() {
        let err = AgentConfig::parse("[host.filesystem]\nstatvfs_timeout_seconds = -1.0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("statvfs_timeout_seconds"), "{err}");
    }

    #[test]
    fn relative_paths_are_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            "bearer_token_file = \"token\"\nweb_config_file = \"/etc/web.yml\"\n\
             [host.textfile]\ndirectory = \"textfile\"\n",
        )
        .unwrap();
        let config = AgentConfig::load(&path).unwrap();
        assert_eq!(config.bearer_token_file, Some(dir.path().join("token")));
        assert_eq!(
            config.host.textfile.directory,
            Some(dir.path().join("textfile"))
        );
        assert_eq!(config.web_config_file, Some(PathBuf::from("/etc/web.yml")));
    }

    #[test]
    fn invalid_regular_expression_is_an_error_naming_its_line() {
        let err = AgentConfig::parse("[host.netdev]\ndevices_exclude = \"(veth\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid regular expression"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn refused_plain_http_credentials_name_the_agent_setting() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "tok\n").unwrap();
        let config = AgentConfig {
            bearer_token_file: Some(token),
            ..AgentConfig::default()
        };
        let err = osprey_web::Security::load_from(config.security_sources())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("allow_insecure_credentials = true in the agent config"),
            "{err}"
        );
    }

    #[test]
    fn the_packaged_example_is_valid() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/agent.toml");
        let config = AgentConfig::load(&example).unwrap();
        assert_eq!(config.listen.port(), 9717);
        assert!(config.host.disable.is_empty());
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = AgentConfig::parse("").unwrap();
        assert_eq!(config.listen.port(), 9717);
        assert!(config.containers.enabled);
    }
}
