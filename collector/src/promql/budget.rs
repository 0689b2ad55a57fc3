//! What one query may hold and how long it may run: samples in memory, a deadline and a flag
//! set when nobody waits for the result any more.
//!
//! The budget counts what evaluation holds *at once*, as Prometheus's `--query.max-samples`
//! does: every node of the expression charges what it allocates while it builds its result
//! (points, series and their labels, per-step working tables), and when it returns, everything
//! it charged but its result is released (see [`Budget::settle`]). Memory other than points is
//! charged in sample-sized units of [`SAMPLE_BYTES`], so a query of few points and huge labels,
//! or of many series with one point each, is bounded too.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::error::{EvalError, EvalResult};
use crate::labels::Labels;

/// The size of one sample (a timestamp and a value): the unit in which memory is charged.
pub(crate) const SAMPLE_BYTES: usize = 16;

/// What a series costs beyond its points and label text: the series' own struct, its label
/// set's header and offsets, and the allocators' bookkeeping of both buffers.
const SERIES_OVERHEAD_BYTES: usize = 96;

/// How many samples may be charged between two looks at the clock and the cancel flag; a
/// look costs a clock read, charging is on the path of every point.
const CHECK_EVERY: usize = 1 << 14;

/// Limits shared by every evaluator of one query.
pub(crate) struct Budget {
    deadline: Instant,
    max_samples: usize,
    held: Cell<usize>,
    since_check: Cell<usize>,
    cancelled: Option<Arc<AtomicBool>>,
}

impl Budget {
    /// A budget of `max_samples` held at once until `deadline`, stopping early once
    /// `cancelled` is set.
    pub fn new(deadline: Instant, max_samples: usize, cancelled: Option<Arc<AtomicBool>>) -> Self {
        Budget {
            deadline,
            max_samples,
            held: Cell::new(0),
            since_check: Cell::new(0),
            cancelled,
        }
    }

    /// Samples held now.
    pub fn held(&self) -> usize {
        self.held.get()
    }

    /// Charges `samples` more, failing when the query would hold more than allowed; looks at
    /// the deadline and the cancel flag every [`CHECK_EVERY`] samples.
    pub fn take(&self, samples: usize) -> EvalResult<()> {
        let held = self.held.get().saturating_add(samples);
        self.held.set(held);
        if held > self.max_samples {
            return Err(EvalError::TooManySamples("query execution"));
        }
        let since = self.since_check.get().saturating_add(samples);
        if since >= CHECK_EVERY {
            self.since_check.set(0);
            self.check_deadline()
        } else {
            self.since_check.set(since);
            Ok(())
        }
    }

    /// Charges `bytes` of working memory, rounded up to whole samples.
    pub fn take_bytes(&self, bytes: usize) -> EvalResult<()> {
        self.take(bytes.div_ceil(SAMPLE_BYTES))
    }

    /// Gives back `samples` charged earlier whose memory is freed.
    pub fn release(&self, samples: usize) {
        self.held.set(self.held.get().saturating_sub(samples));
    }

    /// Ends a node's evaluation: what it charged on top of `before` is freed but `result`,
    /// which its parent now holds. Fails when the result alone breaks the limit (a node that
    /// built it without charging as it went).
    pub fn settle(&self, before: usize, result: usize) -> EvalResult<()> {
        self.held.set(before);
        self.take(result)
    }

    /// Fails once the deadline has passed or the query was cancelled.
    pub fn check_deadline(&self) -> EvalResult<()> {
        if self
            .cancelled
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(EvalError::Canceled("expression evaluation"));
        }
        if Instant::now() > self.deadline {
            return Err(EvalError::Timeout("expression evaluation"));
        }
        Ok(())
    }
}

/// What a series' labels and bookkeeping cost, in samples.
pub(crate) fn series_samples(labels: &Labels) -> usize {
    let text: usize = labels
        .iter()
        .map(|l| l.name.len() + l.value.len() + 4)
        .sum();
    (SERIES_OVERHEAD_BYTES + text).div_ceil(SAMPLE_BYTES)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn budget(max: usize) -> Budget {
        Budget::new(Instant::now() + Duration::from_secs(60), max, None)
    }

    #[test]
    fn taking_past_the_limit_fails_with_prometheus_words() {
        let b = budget(10);
        b.take(10).unwrap();
        let error = b.take(1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "query processing would load too many samples into memory in query execution"
        );
    }

    #[test]
    fn settling_frees_what_a_node_used_but_its_result() {
        let b = budget(100);
        b.take(5).unwrap();
        let before = b.held();
        b.take(90).unwrap();
        b.settle(before, 20).unwrap();
        assert_eq!(b.held(), 25);
        // What was freed may be charged again.
        b.take(70).unwrap();
        assert!(b.settle(before, 96).is_err(), "a result above the limit");
    }

    #[test]
    fn working_memory_is_charged_in_whole_samples() {
        let b = budget(100);
        b.take_bytes(17).unwrap();
        assert_eq!(b.held(), 2);
        b.release(2);
        assert_eq!(b.held(), 0);
    }

    #[test]
    fn a_cancelled_query_stops_at_the_next_look() {
        let flag = Arc::new(AtomicBool::new(false));
        let b = Budget::new(
            Instant::now() + Duration::from_secs(60),
            usize::MAX,
            Some(flag.clone()),
        );
        b.take(CHECK_EVERY).unwrap();
        flag.store(true, Ordering::Relaxed);
        b.take(CHECK_EVERY - 1).unwrap();
        assert!(matches!(b.take(1), Err(EvalError::Canceled(_))));
    }

    #[test]
    fn an_expired_query_times_out() {
        let b = Budget::new(Instant::now(), usize::MAX, None);
        std::thread::sleep(Duration::from_millis(2));
        assert!(matches!(b.check_deadline(), Err(EvalError::Timeout(_))));
    }

    #[test]
    fn long_labels_cost_more_than_short_ones() {
        let short = Labels::from_pairs([("a", "b")]);
        let long = Labels::from_pairs([("a", "b".repeat(16 * 1000))]);
        assert!(series_samples(&long) >= series_samples(&short) + 1000);
    }
}
