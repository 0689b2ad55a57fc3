//! Logging a failure that repeats on every durability tick (a full disk fails twice a second)
//! once when it starts, once a minute while it lasts, and once when it ends.

use std::time::{Duration, Instant};

/// How often a failure that goes on is logged again.
const REPEAT_EVERY: Duration = Duration::from_secs(60);

/// The state of one repeating operation's failures.
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    /// When the current run of failures was last logged, and how many it holds so far.
    failing: Option<(Instant, u64)>,
}

impl FailureLog {
    /// Records one outcome of `what`, logging as the module says.
    pub(crate) fn record<E: std::fmt::Display>(&mut self, what: &str, outcome: Result<(), E>) {
        match (outcome, &mut self.failing) {
            (Ok(()), None) => {}
            (Ok(()), Some((_, failures))) => {
                tracing::info!(failures = *failures, "{what} works again");
                self.failing = None;
            }
            (Err(error), None) => {
                tracing::warn!(%error, "{what} failed; retrying, and logging again once a minute while it fails");
                self.failing = Some((Instant::now(), 1));
            }
            (Err(error), Some((logged, failures))) => {
                *failures += 1;
                if logged.elapsed() >= REPEAT_EVERY {
                    tracing::warn!(%error, failures = *failures, "{what} still failing");
                    *logged = Instant::now();
                }
            }
        }
    }

    /// Failures in the current run, 0 when the last attempt worked.
    #[cfg(test)]
    fn failures(&self) -> u64 {
        self.failing.map_or(0, |(_, n)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_is_counted_and_ends_with_a_success() {
        let mut log = FailureLog::default();
        log.record("write", Ok::<(), String>(()));
        assert_eq!(log.failures(), 0);
        for _ in 0..5 {
            log.record("write", Err("disk full"));
        }
        assert_eq!(log.failures(), 5);
        log.record("write", Ok::<(), &str>(()));
        assert_eq!(log.failures(), 0);
    }
}
