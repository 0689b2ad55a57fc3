//! The interface storage offers: appending batches (scrapes, imports, rules) and reading series
//! (PromQL, the HTTP API). Other stages depend on these traits, never on the redb types.

use std::sync::Arc;

use crate::labels::{Labels, Matcher};

/// The bit pattern Prometheus uses for a staleness marker (a NaN that is not any other NaN).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `value` is the staleness marker rather than an ordinary value or NaN.
pub fn is_stale_nan(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// One sample: a timestamp in milliseconds since the Unix epoch and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; may be NaN, an infinity or the staleness marker.
    pub v: f64,
}

/// A series with its samples in a time range, in ascending time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' identity.
    pub labels: Labels,
    /// Samples in ascending time order, no two at the same time.
    pub samples: Vec<Sample>,
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The underlying database failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// The read would touch more series or samples than allowed.
    #[error("query would load too many samples: {0}")]
    TooManySamples(String),
}

/// Reads series by label matchers over a closed time range `[start, end]` in milliseconds.
pub trait Querier: Send + Sync {
    /// Every series matching all `matchers` with at least one sample in `[start, end]`, with
    /// those samples, sorted by labels.
    fn select(&self, matchers: &[Matcher], start: i64, end: i64)
    -> Result<Vec<Series>, QueryError>;

    /// The label sets of the series matching all `matchers` in the range, sorted, without
    /// reading their samples: what `/api/v1/series` lists. A store may count a series whose
    /// stored time span overlaps the range though no sample falls inside it (as Prometheus
    /// counts a series by its chunks).
    fn select_labels(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<Arc<Labels>>, QueryError> {
        let found = self.select(matchers, start, end)?;
        Ok(found.into_iter().map(|s| Arc::new(s.labels)).collect())
    }

    /// Sorted label names of the series matching `matchers` (all series if empty) in the range.
    fn label_names(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError>;

    /// Sorted distinct values of label `name` over series matching `matchers` in the range.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError>;
}

/// A storage-assigned handle for a series, valid for the life of the storage it came from; lets
/// a scrape loop skip label hashing for series it has seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesRef(pub u64);

/// HELP, TYPE and UNIT of a metric family, as exposed by a target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `counter`, `gauge`, `histogram`, `summary`, `unknown`, ...
    pub kind: String,
    /// The HELP text.
    pub help: String,
    /// The UNIT (OpenMetrics), empty if none.
    pub unit: String,
}

/// Why samples could not be appended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Creating the series would exceed a series limit.
    #[error("series limit reached: {0}")]
    SeriesLimit(SeriesLimit),
    /// The sample is not newer than the newest sample of the existing series `series`; the
    /// handle is still good for the samples that follow.
    #[error("out of order sample for {labels}")]
    OutOfOrder {
        /// The series, which exists.
        series: SeriesRef,
        /// Its labels, for the message.
        labels: String,
    },
    /// The database could not write (disk full, I/O error); nothing of the batch was kept.
    #[error("storage write failed: {0}")]
    Storage(String),
    /// The handle does not name a live series (it was deleted); append by labels instead.
    #[error("unknown series reference")]
    UnknownRef,
}

/// The series limit that refused a new series, with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeriesLimit {
    /// The store holds its most series (`max_series`).
    #[error("the store holds {0} series, its most (storage max_series)")]
    Store(u64),
    /// The source holds its most series (`max_series_per_source`).
    #[error("this target would create more than {0} series (storage max_series_per_source)")]
    Source(u64),
}

/// What a committed batch did not keep, beyond exact repeats of a series' newest sample and
/// staleness markers a series' own timestamps overtook (both dropped silently).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    /// Samples dropped because they were not newer than their series' newest sample.
    pub out_of_order: u64,
}

/// Opens batches of appends; one batch per scrape or import chunk.
pub trait Appendable: Send + Sync {
    /// A new batch on behalf of `source` (a scrape target's identity, counted for per-target
    /// series limits; empty for imports and rules).
    fn appender(&self, source: &str) -> Box<dyn Appender + '_>;

    /// A batch for the few series a scrape writes about its own target (`up`,
    /// `scrape_duration_seconds`, ...): counted under `source` like the others, but never
    /// refused by a series limit, so that a target at its limit still reports being down.
    fn report_appender(&self, source: &str) -> Box<dyn Appender + '_> {
        self.appender(source)
    }

    /// Whether appends are refused right now (the disk is nearly full or the last durable
    /// write failed); they resume by themselves once a write succeeds.
    fn writes_blocked(&self) -> bool {
        false
    }
}

/// One batch of appends; nothing is visible to queries before [`Appender::commit`].
pub trait Appender {
    /// Appends a sample to the series with these labels, creating the series if needed.
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError>;

    /// Appends a sample to a series known by its handle; fails only if the handle names no live
    /// series. A store may check the sample's order at [`Appender::commit`] instead, where one
    /// not newer than the series' newest sample is dropped and counted as out of order (an
    /// exact repeat of the newest sample is dropped silently).
    fn append_ref(&mut self, series: SeriesRef, t: i64, v: f64) -> Result<(), AppendError>;

    /// Appends a sample to a series known by its handle, or by its labels when a deletion has
    /// ended the handle since (the series then starts again).
    fn append_ref_or_labels(
        &mut self,
        series: SeriesRef,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<(), AppendError> {
        match self.append_ref(series, t, v) {
            Err(AppendError::UnknownRef) => self.append(labels, t, v).map(|_| ()),
            other => other,
        }
    }

    /// Records HELP/TYPE/UNIT for a metric family name.
    fn set_metadata(&mut self, metric: &str, metadata: Metadata);

    /// Makes the batch visible and durable as the store promises (within one second), and says
    /// which samples it dropped.
    fn commit(self: Box<Self>) -> Result<Committed, AppendError>;

    /// Discards the batch.
    fn rollback(self: Box<Self>);
}
