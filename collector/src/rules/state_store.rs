//! Keeping alert state across restarts: a small trait and its redb implementation.

use std::sync::Arc;

use redb::{ReadableDatabase, TableDefinition};

use super::alert::Alert;

/// Why alert state could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateStoreError {
    /// The database failed.
    #[error("alert state storage: {0}")]
    Database(#[from] redb::Error),
    /// A stored record could not be decoded.
    #[error("alert state record for {key}: {source}")]
    Decode {
        /// The rule key.
        key: String,
        /// The decoding error.
        source: serde_json::Error,
    },
}

/// Stores each alerting rule's active alerts under a key naming the rule.
pub trait AlertStateStore: Send + Sync {
    /// The alerts saved for `rule_key` (empty if none).
    fn load(&self, rule_key: &str) -> Result<Vec<Alert>, StateStoreError>;
    /// Replaces the alerts saved for each rule key given, in one transaction.
    fn save(&self, entries: &[(String, Vec<Alert>)]) -> Result<(), StateStoreError>;
}

/// Table `alert_state`: rule key (`file\0group\0rule`) -> JSON array of alerts.
const ALERT_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("alert_state");

/// Alert state in its own table of the collector's redb database.
pub struct RedbAlertStateStore {
    db: Arc<redb::Database>,
}

impl RedbAlertStateStore {
    /// Uses (and creates if needed) the `alert_state` table in `db`.
    pub fn new(db: Arc<redb::Database>) -> Result<Self, StateStoreError> {
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(ALERT_STATE).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;
        Ok(RedbAlertStateStore { db })
    }
}

impl AlertStateStore for RedbAlertStateStore {
    fn load(&self, rule_key: &str) -> Result<Vec<Alert>, StateStoreError> {
        let txn = self.db.begin_read().map_err(redb::Error::from)?;
        let table = txn.open_table(ALERT_STATE).map_err(redb::Error::from)?;
        let Some(bytes) = table.get(rule_key).map_err(redb::Error::from)? else {
            return Ok(Vec::new());
        };
        serde_json::from_slice(bytes.value()).map_err(|source| StateStoreError::Decode {
            key: rule_key.to_owned(),
            source,
        })
    }

    fn save(&self, entries: &[(String, Vec<Alert>)]) -> Result<(), StateStoreError> {
        let txn = self.db.begin_write().map_err(redb::Error::from)?;
        {
            let mut table = txn.open_table(ALERT_STATE).map_err(redb::Error::from)?;
            for (rule_key, alerts) in entries {
                if alerts.is_empty() {
                    table.remove(rule_key.as_str()).map_err(redb::Error::from)?;
                } else {
                    let bytes = serde_json::to_vec(alerts).expect("alerts serialize to JSON");
                    table
                        .insert(rule_key.as_str(), bytes.as_slice())
                        .map_err(redb::Error::from)?;
                }
            }
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::rules::AlertState;

    #[test]
    fn alerts_survive_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
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
            let db = Arc::new(redb::Database::create(&path).unwrap());
            let store = RedbAlertStateStore::new(db).unwrap();
            let key = "rules.yml\0host\0HighCpu".to_owned();
            store.save(&[(key, vec![alert.clone()])]).unwrap();
        }
        let db = Arc::new(redb::Database::create(&path).unwrap());
        let store = RedbAlertStateStore::new(db).unwrap();
        assert_eq!(store.load("rules.yml\0host\0HighCpu").unwrap(), vec![alert]);
        assert!(store.load("other").unwrap().is_empty());
        store
            .save(&[("rules.yml\0host\0HighCpu".to_owned(), Vec::new())])
            .unwrap();
        assert!(store.load("rules.yml\0host\0HighCpu").unwrap().is_empty());
    }
}
