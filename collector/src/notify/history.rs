//! Alert history in the store: every firing and resolve with times, value and labels, and what
//! people did about it.
//!
//! The semantics, as the README states them:
//! - acknowledging a firing alert mutes its repeat notifications, until a time or until it
//!   resolves; a new alert in its group and its resolve are still notified;
//! - resolving a firing alert by hand ends its record (with who did it) and holds the alert
//!   resolved while its rule still reports the same firing: no new record, no notification
//!   but the resolved one; once the condition clears (or the rule reports a new firing, with
//!   a new start) the hold ends;
//! - resolved records older than the retention are pruned; open and held ones are kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::tsdb::{ALERT_HISTORY, Commit, KeyValueStore, StorageError};

/// Who acknowledged an alert, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// Who.
    pub by: String,
    /// Why / what is being done.
    pub comment: String,
    /// When (Unix ms).
    pub at: i64,
    /// Until when repeats are muted (Unix ms); `None`: until the alert resolves.
    #[serde(default)]
    pub until: Option<i64>,
}

impl Acknowledgement {
    /// Whether it mutes repeats at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.until.is_none_or(|until| now < until)
    }
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
    /// When the rule reported the condition cleared (Unix ms). A record resolved by hand has
    /// none while the condition still holds: the alert is held resolved until then.
    #[serde(default)]
    pub condition_cleared_at: Option<i64>,
    /// Acknowledgement, if any.
    pub acknowledged: Option<Acknowledgement>,
}

/// Where a record stands, as the history is filtered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordState {
    /// Not resolved, not acknowledged.
    Firing,
    /// Not resolved, acknowledged.
    Acknowledged,
    /// Resolved, by its rule or by hand.
    Resolved,
}

impl RecordState {
    /// The name used in the API and the CSV export.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Firing => "firing",
            RecordState::Acknowledged => "acknowledged",
            RecordState::Resolved => "resolved",
        }
    }
}

impl AlertRecord {
    /// Where the record stands.
    pub fn state(&self) -> RecordState {
        match (self.resolved_at, &self.acknowledged) {
            (Some(_), _) => RecordState::Resolved,
            (None, Some(_)) => RecordState::Acknowledged,
            (None, None) => RecordState::Firing,
        }
    }

    fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// Whether it was resolved by hand and its condition has not cleared since.
    fn is_held(&self) -> bool {
        self.resolved_at.is_some()
            && self.resolved_by.as_deref() != Some(RESOLVED_BY_RULE)
            && self.condition_cleared_at.is_none()
    }
}

/// What `resolved_by` says when the rule's condition cleared.
const RESOLVED_BY_RULE: &str = "rule";

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

/// Which records to list; every field given must match.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Records active at or after this time (Unix ms).
    pub from: Option<i64>,
    /// Records that started at or before this time (Unix ms).
    pub to: Option<i64>,
    /// Only alerts whose `instance` label is this host (with or without port).
    pub host: Option<String>,
    /// Only alerts with this `severity` label.
    pub severity: Option<String>,
    /// Only records in this state.
    pub state: Option<RecordState>,
}

impl HistoryQuery {
    fn matches(&self, record: &AlertRecord) -> bool {
        let host_matches = self.host.as_deref().is_none_or(|host| {
            let instance = record.label("instance");
            instance == host || instance.rsplit_once(':').is_some_and(|(h, _)| h == host)
        });
        let in_range = (self.from).is_none_or(|from| record.resolved_at.is_none_or(|r| r >= from))
            && self.to.is_none_or(|to| record.started_at <= to);
        host_matches
            && in_range
            && (self.severity.as_deref()).is_none_or(|s| record.label("severity") == s)
            && self.state.is_none_or(|s| record.state() == s)
    }
}

/// What the history says about an alert the rules report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Notify as reported.
    Notify,
    /// Resolved by hand at this time (Unix ms) while the same firing goes on: notify it as
    /// resolved then.
    HeldResolved(i64),
}

/// An alert the history follows: its open record, or the record resolved by hand that holds it.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    id: u64,
    /// The start of the firing the record is about (Unix ms).
    started_at: i64,
    /// Until when repeats are muted (`i64::MAX`: until it resolves), when acknowledged.
    acked_until: Option<i64>,
    /// When it was resolved by hand, if it was.
    held_since: Option<i64>,
}

impl Tracked {
    fn of(record: &AlertRecord) -> Tracked {
        Tracked {
            id: record.id,
            started_at: record.started_at,
            acked_until: (record.acknowledged.as_ref()).map(|a| a.until.unwrap_or(i64::MAX)),
            held_since: record.is_held().then_some(record.resolved_at).flatten(),
        }
    }
}

/// The history store. Its methods read and write the store (a durable write is an fsync): call
/// them from a blocking thread, not from async tasks.
pub struct AlertHistory {
    store: KeyValueStore,
    /// Open and held records by fingerprint.
    tracked: Mutex<HashMap<u64, Tracked>>,
    retention_ms: AtomicI64,
}

impl AlertHistory {
    /// Opens the history in `store`, keeping resolved records 90 days until told otherwise.
    pub fn open(store: KeyValueStore) -> Result<Self, HistoryError> {
        let history = AlertHistory {
            store,
            tracked: Mutex::new(HashMap::new()),
            retention_ms: AtomicI64::new(90 * 24 * 3600 * 1000),
        };
        let tracked = (history.records()?.into_iter())
            .filter(|r| r.resolved_at.is_none() || r.is_held())
            .filter_map(|r| {
                Some((
                    u64::from_str_radix(&r.fingerprint, 16).ok()?,
                    Tracked::of(&r),
                ))
            })
            .collect();
        *history.tracked() = tracked;
        Ok(history)
    }

    /// How long resolved records are kept.
    pub fn set_retention(&self, retention: Duration) {
        let ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        self.retention_ms.store(ms, Ordering::Relaxed);
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Tracked>> {
        self.tracked.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Every readable record, oldest first.
    fn records(&self) -> Result<Vec<AlertRecord>, HistoryError> {
        let entries = self.store.read()?.entries(ALERT_HISTORY)?;
        Ok((entries.into_iter())
            .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
            .collect())
    }

    /// Records an alert the rules report (`resolved_at` set once its condition cleared): opens
    /// a record when it starts firing, updates the value, closes it when it resolves, and says
    /// whether a hand resolve holds it. A change the store refuses is not remembered as made,
    /// so the next report tries it again.
    pub fn observe(
        &self,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
        value: f64,
        started_at: i64,
        resolved_at: Option<i64>,
    ) -> Result<Observed, HistoryError> {
        let fp = super::payload::fingerprint(labels);
        let mut tracked = self.tracked();
        let known = tracked.get(&fp).copied();
        if let Some(Tracked {
            id,
            started_at: held_start,
            held_since: Some(held_since),
            ..
        }) = known
        {
            if held_start == started_at {
                if let Some(cleared) = resolved_at {
                    let mut record = self.get(id)?;
                    record.condition_cleared_at = Some(cleared);
                    self.write(&record, false)?;
                    tracked.remove(&fp);
                }
                return Ok(Observed::HeldResolved(held_since));
            }
            // A firing with another start: the held one cleared unseen (a restart between).
            tracked.remove(&fp);
        }
        let mut record = match known.filter(|t| t.held_since.is_none()) {
            Some(open) => self.get(open.id)?,
            None if resolved_at.is_some() => return Ok(Observed::Notify),
            None => {
                let id = (self.store.read()?.last_key(ALERT_HISTORY)?).map_or(1, |k| k + 1);
                AlertRecord {
                    id,
                    fingerprint: format!("{fp:016x}"),
                    labels: labels.clone(),
                    annotations: annotations.clone(),
                    value,
                    last_value: value,
                    started_at,
                    resolved_at: None,
                    resolved_by: None,
                    condition_cleared_at: None,
                    acknowledged: None,
                }
            }
        };
        record.last_value = value;
        if let Some(at) = resolved_at {
            record.resolved_at = Some(at);
            record.resolved_by = Some(RESOLVED_BY_RULE.to_owned());
            record.condition_cleared_at = Some(at);
        }
        self.write(&record, false)?;
        if resolved_at.is_some() {
            tracked.remove(&fp);
        } else {
            tracked.insert(fp, Tracked::of(&record));
        }
        Ok(Observed::Notify)
    }

    /// Whether an acknowledgement mutes the repeats of the alert with this fingerprint at
    /// `now`.
    pub fn is_acknowledged(&self, fingerprint: u64, now: i64) -> bool {
        (self.tracked().get(&fingerprint)).is_some_and(|t| t.acked_until.is_some_and(|u| now < u))
    }

    /// Lists records, newest first.
    pub fn list(&self, query: &HistoryQuery) -> Result<Vec<AlertRecord>, HistoryError> {
        let mut records = self.records()?;
        records.retain(|r| query.matches(r));
        records.reverse();
        Ok(records)
    }

    /// Acknowledges a record (until `until`, or until it resolves).
    pub fn acknowledge(
        &self,
        id: u64,
        acknowledgement: Acknowledgement,
    ) -> Result<AlertRecord, HistoryError> {
        let mut tracked = self.tracked();
        let mut record = self.get(id)?;
        record.acknowledged = Some(acknowledgement);
        self.write(&record, true)?;
        if let Some(open) = tracked.values_mut().find(|t| t.id == id) {
            *open = Tracked::of(&record);
        }
        Ok(record)
    }

    /// Resolves records by hand: the given ids, or every open record when `ids` is empty; each
    /// is held resolved until its condition clears. Returns the records resolved.
    pub fn resolve(
        &self,
        ids: &[u64],
        by: &str,
        now: i64,
    ) -> Result<Vec<AlertRecord>, HistoryError> {
        let mut tracked = self.tracked();
        let ids: Vec<u64> = if ids.is_empty() {
            (tracked.values())
                .filter(|t| t.held_since.is_none())
                .map(|t| t.id)
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
            if let Some(open) = tracked.values_mut().find(|t| t.id == id) {
                *open = Tracked::of(&record);
            }
            resolved.push(record);
        }
        Ok(resolved)
    }

    /// Drops the resolved records older than the retention at `now`; open records and records
    /// holding an alert resolved by hand are kept.
    pub fn prune(&self, now: i64) -> Result<(), HistoryError> {
        let horizon = now.saturating_sub(self.retention_ms.load(Ordering::Relaxed));
        let mut txn = self.store.write(Commit::Durable)?;
        txn.retain(ALERT_HISTORY, |bytes| {
            serde_json::from_slice::<AlertRecord>(bytes)
                .is_ok_and(|r| r.is_held() || r.resolved_at.is_none_or(|at| at >= horizon))
        })?;
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
