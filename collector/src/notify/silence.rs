//! Silences: matchers and a time window during which matching alerts are not notified,
//! kept in the store.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::labels::{Labels, MatchOp, Matcher};
use crate::tsdb::{Commit, KeyValueStore, SILENCES, StorageError};

/// A matcher in Alertmanager's API form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    /// Label name.
    pub name: String,
    /// Value or regular expression.
    pub value: String,
    /// Regular expression?
    pub is_regex: bool,
    /// Equality (default) or inequality.
    #[serde(default = "default_true")]
    pub is_equal: bool,
}

fn default_true() -> bool {
    true
}

/// A silence matcher whose regular expression does not compile.
#[derive(Debug, thiserror::Error)]
#[error("matcher {name}: {source}")]
struct InvalidSilenceMatcher {
    name: String,
    source: regex::Error,
}

impl SilenceMatcher {
    fn to_matcher(&self) -> Result<Matcher, InvalidSilenceMatcher> {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher::new(op, &self.name, &self.value).map_err(|source| InvalidSilenceMatcher {
            name: self.name.clone(),
            source,
        })
    }
}

/// A silence (times in Unix ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// Identifier.
    pub id: String,
    /// All must match.
    pub matchers: Vec<SilenceMatcher>,
    /// Start.
    pub starts_at: i64,
    /// End (set to the expiry time when expired early).
    pub ends_at: i64,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// Whether it mutes at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// `pending`, `active` or `expired`, as Alertmanager reports.
    pub fn state(&self, now: i64) -> &'static str {
        if now < self.starts_at {
            "pending"
        } else if now < self.ends_at {
            "active"
        } else {
            "expired"
        }
    }
}

/// Why a silence operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SilenceError {
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// No such silence.
    #[error("silence {0} not found")]
    NotFound(String),
    /// The store failed.
    #[error("silence storage: {0}")]
    Storage(#[from] StorageError),
}

/// Every silence, cached in memory and written through to the store: call the methods that
/// change silences from a blocking thread, not from async tasks.
pub struct Silences {
    store: KeyValueStore,
    cache: Mutex<Vec<(Silence, Vec<Matcher>)>>,
}

impl Silences {
    /// Loads the silences kept in `store`.
    pub fn open(store: KeyValueStore) -> Result<Self, SilenceError> {
        let mut cache = Vec::new();
        for (_, bytes) in store.read()?.entries(SILENCES)? {
            if let Ok(silence) = serde_json::from_slice::<Silence>(&bytes)
                && let Ok(matchers) = silence
                    .matchers
                    .iter()
                    .map(SilenceMatcher::to_matcher)
                    .collect()
            {
                cache.push((silence, matchers));
            }
        }
        Ok(Silences {
            store,
            cache: Mutex::new(cache),
        })
    }

    fn save(&self, silence: &Silence) -> Result<(), SilenceError> {
        let bytes = serde_json::to_vec(silence).expect("silences serialize to JSON");
        let mut txn = self.store.write(Commit::Durable)?;
        txn.put(SILENCES, silence.id.as_str(), &bytes)?;
        txn.commit()?;
        Ok(())
    }

    /// Creates a silence; returns its id.
    pub fn create(&self, mut silence: Silence) -> Result<String, SilenceError> {
        if silence.matchers.is_empty() {
            return Err(SilenceError::Invalid(
                "at least one matcher is required".to_owned(),
            ));
        }
        if silence.ends_at <= silence.starts_at {
            return Err(SilenceError::Invalid(
                "end time must be after start time".to_owned(),
            ));
        }
        let matchers = silence
            .matchers
            .iter()
            .map(SilenceMatcher::to_matcher)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SilenceError::Invalid(e.to_string()))?;
        if matchers.iter().all(Matcher::matches_empty) {
            return Err(SilenceError::Invalid(
                "at least one matcher must not match the empty string".to_owned(),
            ));
        }
        silence.id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        self.save(&silence)?;
        let id = silence.id.clone();
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((silence, matchers));
        Ok(id)
    }

    /// Every silence, newest first.
    pub fn list(&self) -> Vec<Silence> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<Silence> = cache.iter().map(|(s, _)| s.clone()).collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.starts_at));
        all
    }

    /// Ends a silence now; it stays in force if the store refuses the change.
    pub fn expire(&self, id: &str, now: i64) -> Result<(), SilenceError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let (silence, _) = cache
            .iter_mut()
            .find(|(s, _)| s.id == id)
            .ok_or_else(|| SilenceError::NotFound(id.to_owned()))?;
        let mut expired = silence.clone();
        if expired.ends_at > now {
            expired.ends_at = now;
            expired.starts_at = expired.starts_at.min(now);
        }
        self.save(&expired)?;
        *silence = expired;
        Ok(())
    }

    /// Whether an active silence mutes alerts with these labels.
    pub fn is_silenced(&self, labels: &Labels, now: i64) -> bool {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.iter().any(|(s, matchers)| {
            s.is_active(now) && matchers.iter().all(|m| m.matches_labels(labels))
        })
    }
}
