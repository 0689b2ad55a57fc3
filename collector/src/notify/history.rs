//! Alert history in the store: every firing and resolve with times, value and labels, and what
//! people did about it (acknowledged, resolved by hand).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::payload::fingerprint;
use crate::tsdb::{ALERT_HISTORY, Commit, KeyValueStore, StorageError};

/// Who or what acknowledged an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Who.
    pub by: String,
    /// Why / what is being done.
    pub comment: String,
    /// When (Unix ms).
    pub at: i64,
}

/// One firing of an alert, from start to resolve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Record id.
    pub id: u64,
    /// Alertmanager fingerprint of the labels, as 16 hex digits.
    pub fingerprint: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations when it fired.
    pub annotations: BTreeMap<String, String>,
    /// Value when it fired.
    pub value: f64,
    /// Latest value seen.
    pub last_value: f64,
    /// When it started firing (Unix ms).
    pub started_at: i64,
    /// When it resolved (Unix ms), if it has.
    pub resolved_at: Option<i64>,
    /// `rule` when the condition cleared, or the person who resolved it by hand.
    pub resolved_by: Option<String>,
    /// Acknowledgement, if any.
    pub acknowledged: Option<Acknowledgement>,
}

/// Why a history operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// No such record.
    #[error("alert record {0} not found")]
    NotFound(u64),
    /// The store failed.
    #[error("alert history storage: {0}")]
    Storage(#[from] StorageError),
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Records active at or after this time (Unix ms).
    pub from: Option<i64>,
    /// Records that started at or before this time (Unix ms).
    pub to: Option<i64>,
    /// Only alerts whose `instance` label is this host (with or without port).
    pub host: Option<String>,
    /// Only records still open.
    pub open_only: bool,
}

/// The history store. Its methods read and write the store (a durable write is an fsync): call
/// them from a blocking thread, not from async tasks.
pub struct AlertHistory {
    store: KeyValueStore,
    open: Mutex<HashMap<String, u64>>,
}

impl AlertHistory {
    /// Opens the history in `store`.
    pub fn open(store: KeyValueStore) -> Result<Self, HistoryError> {
        let history = AlertHistory {
            store,
            open: Mutex::new(HashMap::new()),
        };
        let open = history
            .list(&HistoryQuery {
                open_only: true,
                ..HistoryQuery::default()
            })?
            .into_iter()
            .map(|r| (r.fingerprint, r.id))
            .collect();
        *history.open.lock().unwrap_or_else(|p| p.into_inner()) = open;
        Ok(history)
    }

    /// Writes a record; `flush: false` leaves it to the next durable commit of the database
    /// (the notification queued right after), keeping fsyncs off the alerting path.
    fn write(&self, record: &AlertRecord, flush: bool) -> Result<(), HistoryError> {
        let bytes = serde_json::to_vec(record).expect("records serialize to JSON");
        let commit = if flush { Commit::Durable } else { Commit::Lazy };
        let mut txn = self.store.write(commit)?;
        txn.put(ALERT_HISTORY, record.id, &bytes)?;
        txn.commit()?;
        Ok(())
    }

    /// One record.
    pub fn get(&self, id: u64) -> Result<AlertRecord, HistoryError> {
        let bytes = self
            .store
            .read()?
            .get(ALERT_HISTORY, id)?
            .ok_or(HistoryError::NotFound(id))?;
        serde_json::from_slice(&bytes).map_err(|_| HistoryError::NotFound(id))
    }

    /// Records an alert the rules report: opens a record when it starts firing, updates the
    /// value, closes it when it resolves. A change the store refuses is not remembered as made,
    /// so the next report tries it again.
    pub fn observe(
        &self,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
        value: f64,
        started_at: i64,
        resolved_at: Option<i64>,
    ) -> Result<(), HistoryError> {
        let fp = format!("{:016x}", fingerprint(labels));
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut record = match open.get(&fp) {
            Some(id) => self.get(*id)?,
            None if resolved_at.is_some() => return Ok(()),
            None => {
                let id = self
                    .store
                    .read()?
                    .last_key(ALERT_HISTORY)?
                    .map_or(1, |k| k + 1);
                AlertRecord {
                    id,
                    fingerprint: fp.clone(),
                    labels: labels.clone(),
                    annotations: annotations.clone(),
                    value,
                    last_value: value,
                    started_at,
                    resolved_at: None,
                    resolved_by: None,
                    acknowledged: None,
                }
            }
        };
        record.last_value = value;
        if let Some(at) = resolved_at {
            record.resolved_at = Some(at);
            record.resolved_by = Some("rule".to_owned());
        }
        self.write(&record, false)?;
        if resolved_at.is_some() {
            open.remove(&fp);
        } else {
            open.insert(fp, record.id);
        }
        Ok(())
    }

    /// Lists records, newest first.
    pub fn list(&self, query: &HistoryQuery) -> Result<Vec<AlertRecord>, HistoryError> {
        let mut out = Vec::new();
        for (_, bytes) in self.store.read()?.entries(ALERT_HISTORY)?.into_iter().rev() {
            let Ok(record) = serde_json::from_slice::<AlertRecord>(&bytes) else {
                continue;
            };
            let host_matches = query.host.as_deref().is_none_or(|host| {
                let instance = record.labels.get("instance").map_or("", String::as_str);
                instance == host || instance.rsplit_once(':').is_some_and(|(h, _)| h == host)
            });
            let in_range = query
                .from
                .is_none_or(|from| record.resolved_at.is_none_or(|r| r >= from))
                && query.to.is_none_or(|to| record.started_at <= to);
            if host_matches && in_range && (!query.open_only || record.resolved_at.is_none()) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Acknowledges a record.
    pub fn acknowledge(
        &self,
        id: u64,
        by: &str,
        comment: &str,
        now: i64,
    ) -> Result<AlertRecord, HistoryError> {
        let mut record = self.get(id)?;
        record.acknowledged = Some(Acknowledgement {
            by: by.to_owned(),
            comment: comment.to_owned(),
            at: now,
        });
        self.write(&record, true)?;
        Ok(record)
    }

    /// Resolves records by hand: the given ids, or every open record when `ids` is empty.
    /// Returns the records resolved.
    pub fn resolve(
        &self,
        ids: &[u64],
        by: &str,
        now: i64,
    ) -> Result<Vec<AlertRecord>, HistoryError> {
        let ids: Vec<u64> = if ids.is_empty() {
            self.open
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .copied()
                .collect()
        } else {
            ids.to_vec()
        };
        let mut resolved = Vec::new();
        for id in ids {
            let mut record = self.get(id)?;
            if record.resolved_at.is_some() {
                continue;
            }
            record.resolved_at = Some(now);
            record.resolved_by = Some(by.to_owned());
            self.write(&record, true)?;
            self.open
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&record.fingerprint);
            resolved.push(record);
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::{Storage, StorageOptions};

    fn labels(instance: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("alertname".into(), "Cpu".into()),
            ("instance".into(), instance.into()),
        ])
    }

    #[test]
    fn a_firing_the_disk_refused_is_not_left_half_open() {
        let dir = tempfile::tempdir().unwrap();
        let full = StorageOptions {
            min_free_bytes: Some(u64::MAX),
            ..StorageOptions::default()
        };
        let history = AlertHistory::open(Storage::open(dir.path(), full).unwrap().key_value());
        let history = history.unwrap();
        let none = BTreeMap::new();
        let refused = history.observe(&labels("a:9100"), &none, 91.0, 1000, None);
        assert!(
            matches!(refused, Err(HistoryError::Storage(_))),
            "{refused:?}"
        );
        let resolved = history.observe(&labels("a:9100"), &none, 70.0, 1000, Some(5000));
        assert!(resolved.is_ok(), "nothing open to close: {resolved:?}");
        assert!(
            history.resolve(&[], "ana", 6000).unwrap().is_empty(),
            "no record is open"
        );
        assert!(history.list(&HistoryQuery::default()).unwrap().is_empty());
    }

    #[test]
    fn records_firing_resolve_ack_and_manual_resolve_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            let storage = Storage::open(dir.path(), StorageOptions::default()).unwrap();
            AlertHistory::open(storage.key_value()).unwrap()
        };
        let none = BTreeMap::new();
        {
            let history = open();
            history
                .observe(&labels("a:9100"), &none, 91.0, 1000, None)
                .unwrap();
            history
                .observe(&labels("a:9100"), &none, 95.0, 1000, None)
                .unwrap();
            history
                .observe(&labels("b:9100"), &none, 85.0, 2000, None)
                .unwrap();
            history
                .observe(&labels("a:9100"), &none, 70.0, 1000, Some(5000))
                .unwrap();
        }
        let history = open();
        let all = history.list(&HistoryQuery::default()).unwrap();
        assert_eq!(all.len(), 2);
        let a = all
            .iter()
            .find(|r| r.labels["instance"] == "a:9100")
            .unwrap();
        assert_eq!(
            (a.value, a.last_value, a.resolved_at),
            (91.0, 70.0, Some(5000))
        );
        assert_eq!(a.resolved_by.as_deref(), Some("rule"));
        let by_host = history
            .list(&HistoryQuery {
                host: Some("b".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(by_host.len(), 1);
        let later = history
            .list(&HistoryQuery {
                from: Some(6000),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(later.len(), 1, "a resolved before 6000");
        let acked = history
            .acknowledge(by_host[0].id, "ana", "looking", 7000)
            .unwrap();
        assert_eq!(acked.acknowledged.unwrap().by, "ana");
        let resolved = history.resolve(&[], "ana", 8000).unwrap();
        assert_eq!(resolved.len(), 1, "bulk resolve closes every open record");
        assert_eq!(resolved[0].resolved_by.as_deref(), Some("ana"));
        assert!(
            history
                .list(&HistoryQuery {
                    open_only: true,
                    ..Default::default()
                })
                .unwrap()
                .is_empty()
        );
        history
            .observe(&labels("a:9100"), &none, 99.0, 9000, None)
            .unwrap();
        assert_eq!(
            history.list(&HistoryQuery::default()).unwrap().len(),
            3,
            "a new firing opens a new record"
        );
    }
}
