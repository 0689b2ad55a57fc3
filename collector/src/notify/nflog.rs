//! The notification log: what each receiver was last told about each group, kept in the store
//! so that a restart does not repeat a notification.

use serde::{Deserialize, Serialize};

use crate::tsdb::{Commit, KeyValueStore, NOTIFICATION_LOG, StorageError};

/// How long entries are kept (Alertmanager: 120 h).
const RETENTION_MS: i64 = 120 * 3600 * 1000;

/// How often entries past retention are dropped (Alertmanager's maintenance interval).
pub const PRUNE_EVERY_MS: i64 = 15 * 60 * 1000;

/// The last notification about a group to one destination.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Fingerprints of the alerts that were firing.
    pub firing: Vec<u64>,
    /// Fingerprints of the alerts that were resolved.
    pub resolved: Vec<u64>,
    /// When it was sent (Unix ms).
    pub timestamp_ms: i64,
}

/// Why the log could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("notification log: {0}")]
pub struct LogError(#[from] StorageError);

/// The persisted notification log. Its methods read and write the store: call them from a
/// blocking thread, not from async tasks.
pub struct NotificationLog {
    store: KeyValueStore,
}

impl NotificationLog {
    /// The log kept in `store`.
    pub fn new(store: KeyValueStore) -> Self {
        NotificationLog { store }
    }

    /// Drops the entries past retention at `now_ms`.
    pub fn prune(&self, now_ms: i64) -> Result<(), LogError> {
        let mut txn = self.store.write(Commit::Durable)?;
        txn.retain(NOTIFICATION_LOG, |bytes| {
            serde_json::from_slice::<LogEntry>(bytes)
                .is_ok_and(|e| now_ms - e.timestamp_ms < RETENTION_MS)
        })?;
        txn.commit()?;
        Ok(())
    }

    /// The entry for a destination, if any.
    pub fn get(&self, key: &str) -> Result<Option<LogEntry>, LogError> {
        let bytes = self.store.read()?.get(NOTIFICATION_LOG, key)?;
        Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Records a notification, once it is queued. The commit is not flushed on its own: the
    /// store's next durable commit (the delivery's, or the samples' next tick) persists it, and
    /// a crash before that repeats a notification rather than losing one.
    pub fn set(&self, key: &str, entry: &LogEntry) -> Result<(), LogError> {
        let bytes = serde_json::to_vec(entry).expect("log entries serialize to JSON");
        let mut txn = self.store.write(Commit::Lazy)?;
        txn.put(NOTIFICATION_LOG, key, &bytes)?;
        txn.commit()?;
        Ok(())
    }
}

/// Alertmanager's dedup decision: whether a destination must hear about a group now.
pub fn needs_update(
    entry: Option<&LogEntry>,
    firing: &[u64],
    resolved: &[u64],
    send_resolved: bool,
    repeat_interval_ms: i64,
    now_ms: i64,
) -> bool {
    let Some(entry) = entry else {
        return !firing.is_empty();
    };
    let subset = |small: &[u64], big: &[u64]| small.iter().all(|fp| big.contains(fp));
    if !subset(firing, &entry.firing) {
        return true;
    }
    if firing.is_empty() {
        // Everything resolved: say so once (also clears the log's firing set).
        return !entry.firing.is_empty();
    }
    if send_resolved && !subset(resolved, &entry.resolved) {
        return true;
    }
    entry.timestamp_ms < now_ms - repeat_interval_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::{Storage, StorageOptions};

    #[test]
    fn pruning_drops_only_entries_past_retention() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
        let log = NotificationLog::new(storage.key_value());
        let sent_at = |timestamp_ms| LogEntry {
            timestamp_ms,
            ..LogEntry::default()
        };
        log.set("old", &sent_at(1_000)).unwrap();
        log.set("recent", &sent_at(RETENTION_MS)).unwrap();
        log.prune(RETENTION_MS + 1_000).unwrap();
        assert_eq!(log.get("old").unwrap(), None);
        assert_eq!(log.get("recent").unwrap(), Some(sent_at(RETENTION_MS)));
    }

    #[test]
    fn dedup_follows_alertmanager() {
        let sent = LogEntry {
            firing: vec![1, 2],
            resolved: vec![],
            timestamp_ms: 1000,
        };
        let hour = 3_600_000;
        assert!(
            needs_update(None, &[1], &[], false, hour, 2000),
            "first notification"
        );
        assert!(
            !needs_update(None, &[], &[1], true, hour, 2000),
            "nothing to say about resolved-only"
        );
        assert!(
            !needs_update(Some(&sent), &[1, 2], &[], false, hour, 2000),
            "unchanged"
        );
        assert!(
            !needs_update(Some(&sent), &[1], &[2], false, hour, 2000),
            "one resolved, not sent"
        );
        assert!(
            needs_update(Some(&sent), &[1], &[2], true, hour, 2000),
            "one resolved, send_resolved"
        );
        assert!(
            needs_update(Some(&sent), &[1, 2, 3], &[], false, hour, 2000),
            "a new alert"
        );
        assert!(
            needs_update(Some(&sent), &[], &[1, 2], false, hour, 2000),
            "all resolved"
        );
        assert!(
            needs_update(Some(&sent), &[1, 2], &[], false, hour, 1000 + hour + 1),
            "repeat"
        );
    }
}
