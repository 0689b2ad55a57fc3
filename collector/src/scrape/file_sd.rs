//! File-based discovery: target groups read from YAML or JSON files named by `file_sd_configs`,
//! re-read when a file changes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::{ConfigError, InvalidTarget, StaticConfig, from_yaml};
use crate::vocab::expand_glob;

/// The files a pattern names now: a plain path, or a path whose last component holds `*`
/// or `?`.
pub fn expand(pattern: &str, base: &Path) -> Vec<PathBuf> {
    expand_glob(&base.join(pattern))
}

/// When a file was last modified, `None` if it cannot be read.
pub fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Why a file_sd file's targets could not be read; the job keeps the file's previous targets.
#[derive(Debug, thiserror::Error)]
pub enum FileSdError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a list of target groups (with the place of the problem).
    #[error("{0}")]
    Parse(ConfigError),
    /// A target is not `host:port`.
    #[error("{}: {source}", path.display())]
    Target {
        /// The file.
        path: PathBuf,
        /// The target.
        source: InvalidTarget,
    },
}

/// Reads the target groups of one file; each group gets `__meta_filepath`.
pub fn read_groups(path: &Path) -> Result<Vec<StaticConfig>, FileSdError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileSdError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut groups: Vec<StaticConfig> = from_yaml(&text, path).map_err(FileSdError::Parse)?;
    for group in &mut groups {
        for target in &group.targets {
            crate::config::check_target(target).map_err(|source| FileSdError::Target {
                path: path.to_owned(),
                source,
            })?;
        }
        group
            .labels
            .insert("__meta_filepath".into(), path.display().to_string());
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_read_from_yaml_and_json_with_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("a.yml");
        std::fs::write(&yaml, "- targets: ['h:1']\n  labels: {env: x}\n").unwrap();
        let json = dir.path().join("b.json");
        std::fs::write(&json, r#"[{"targets": ["h:2"]}]"#).unwrap();
        let files = expand("*", dir.path());
        assert_eq!(files, [yaml.clone(), json.clone()]);
        let groups = read_groups(&yaml).unwrap();
        assert_eq!(groups[0].targets, ["h:1"]);
        assert_eq!(groups[0].labels["env"], "x");
        assert_eq!(read_groups(&json).unwrap()[0].targets, ["h:2"]);
        std::fs::write(&json, "[{\"targets\": 5}]").unwrap();
        assert!(
            read_groups(&json)
                .unwrap_err()
                .to_string()
                .contains("b.json:1:")
        );
    }
}
