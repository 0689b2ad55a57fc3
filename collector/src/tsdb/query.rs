//! The read interface storage offers to PromQL and the HTTP API.

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
