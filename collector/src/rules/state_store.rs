//! Keeping alert state across restarts: a small trait and its implementation on the store.

use std::path::{Path, PathBuf};

use crate::tsdb::{ALERT_STATE, Commit, KeyValueStore, StorageError};

use super::alert::Alert;

/// Why alert state could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateStoreError {
    /// The store failed.
    #[error("alert state storage: {0}")]
    Storage(#[from] StorageError),
    /// A stored record could not be decoded.
    #[error("alert state record for {key}: {source}")]
    Decode {
        /// The rule key.
        key: String,
        /// The decoding error.
        source: serde_json::Error,
    },
}

/// Stores each alerting rule's active alerts under a key naming the rule (`file \0 group \0
/// rule`, the file as the rules were loaded from it). Its methods block on
/// the store: the rules call them while groups are built and evaluated, off the async workers.
pub trait AlertStateStore: Send + Sync {
    /// The alerts saved for `rule_key` (empty if none).
    fn load(&self, rule_key: &str) -> Result<Vec<Alert>, StateStoreError>;
    /// Replaces the alerts saved for each rule key given, in one transaction.
    fn save(&self, entries: &[(String, Vec<Alert>)]) -> Result<(), StateStoreError>;
}

/// Alert state in the store's `alert_state` table.
pub struct StoredAlertState {
    store: KeyValueStore,
    config_dir: Option<PathBuf>,
}

impl StoredAlertState {
    /// Keeps alert state in `store`, under the rule keys as given.
    pub fn new(store: KeyValueStore) -> Self {
        StoredAlertState {
            store,
            config_dir: None,
        }
    }

    /// Stores rule files under their path relative to `dir`, the configuration's directory, so
    /// that a backup restored where the configuration lives elsewhere (a new machine) still
    /// finds the alerts of each rule.
    pub fn relative_to(self, dir: &Path) -> Self {
        StoredAlertState {
            config_dir: Some(dir.to_owned()),
            ..self
        }
    }

    fn stored_key(&self, rule_key: &str) -> String {
        let relative = self.config_dir.as_deref().and_then(|dir| {
            let (file, rule) = rule_key.split_once('\0')?;
            let file = Path::new(file).strip_prefix(dir).ok()?;
            Some(format!("{}\0{rule}", file.display()))
        });
        relative.unwrap_or_else(|| rule_key.to_owned())
    }
}

impl AlertStateStore for StoredAlertState {
    fn load(&self, rule_key: &str) -> Result<Vec<Alert>, StateStoreError> {
        let key = self.stored_key(rule_key);
        let Some(bytes) = self.store.read()?.get(ALERT_STATE, key.as_str())? else {
            return Ok(Vec::new());
        };
        serde_json::from_slice(&bytes).map_err(|source| StateStoreError::Decode {
            key: rule_key.to_owned(),
            source,
        })
    }

    fn save(&self, entries: &[(String, Vec<Alert>)]) -> Result<(), StateStoreError> {
        let mut txn = self.store.write(Commit::Durable)?;
        for (rule_key, alerts) in entries {
            let key = self.stored_key(rule_key);
            if alerts.is_empty() {
                txn.delete(ALERT_STATE, key.as_str())?;
            } else {
                let bytes = serde_json::to_vec(alerts).expect("alerts serialize to JSON");
                txn.put(ALERT_STATE, key.as_str(), &bytes)?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::rules::AlertState;
    use crate::tsdb::{Storage, StorageOptions};

    #[test]
    fn alerts_survive_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
            StoredAlertState::new(storage.key_value())
        };
        let alert = Alert {
            labels: Labels::from_pairs([("alertname", "HighCpu"), ("instance", "a")]),
            annotations: [("summary".to_owned(), "hot".to_owned())].into(),
            state: AlertState::Firing,
            value: 93.5,
            active_at: 1_000,
            fired_at: 301_000,
            resolved_at: 0,
            last_sent_at: 301_000,
            valid_until: 541_000,
            keep_firing_since: 0,
        };
        {
            let store = open();
            let key = "rules.yml\0host\0HighCpu".to_owned();
            store.save(&[(key, vec![alert.clone()])]).unwrap();
        }
        let store = open();
        assert_eq!(store.load("rules.yml\0host\0HighCpu").unwrap(), vec![alert]);
        assert!(store.load("other").unwrap().is_empty());
        store
            .save(&[("rules.yml\0host\0HighCpu".to_owned(), Vec::new())])
            .unwrap();
        assert!(store.load("rules.yml\0host\0HighCpu").unwrap().is_empty());
    }

    #[test]
    fn alerts_are_found_with_the_configuration_in_another_directory() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
        let alert = Alert {
            labels: Labels::from_pairs([("alertname", "HighCpu")]),
            annotations: Default::default(),
            state: AlertState::Firing,
            value: 1.0,
            active_at: 1_000,
            fired_at: 1_000,
            resolved_at: 0,
            last_sent_at: 1_000,
            valid_until: 61_000,
            keep_firing_since: 0,
        };
        let here = StoredAlertState::new(storage.key_value()).relative_to(Path::new("/etc/osprey"));
        let key = "/etc/osprey/rules/host.yml\0host\0HighCpu".to_owned();
        here.save(&[(key, vec![alert.clone()])]).unwrap();
        let there = StoredAlertState::new(storage.key_value()).relative_to(Path::new("/srv/cfg"));
        assert_eq!(
            there
                .load("/srv/cfg/rules/host.yml\0host\0HighCpu")
                .unwrap(),
            vec![alert]
        );
        assert!(
            (there
                .load("/srv/other/rules/host.yml\0host\0HighCpu")
                .unwrap())
            .is_empty(),
            "files outside the configuration's directory keep their whole path"
        );
    }
}
