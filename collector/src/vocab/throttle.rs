//! Logging something that repeats (a durability tick failing twice a second on a full disk,
//! samples a target drops at every scrape) when it starts and then at most once a minute, with
//! how often it happened meanwhile.

use std::time::{Duration, Instant};

/// How often something that goes on is logged again.
const REPEAT_EVERY: Duration = Duration::from_secs(60);

/// When something repeating was last logged, and how often it happened since.
#[derive(Debug, Default)]
pub struct Throttle {
    logged: Option<Instant>,
    unlogged: u64,
}

impl Throttle {
    /// Counts `n` more occurrences. When it is time to log (the first time, then once a minute)
    /// returns how many occurred since the last log, these included.
    pub fn count(&mut self, n: u64) -> Option<u64> {
        self.unlogged += n;
        if self.logged.is_some_and(|at| at.elapsed() < REPEAT_EVERY) {
            return None;
        }
        self.logged = Some(Instant::now());
        Some(std::mem::take(&mut self.unlogged))
    }
}

/// The failures of one repeating operation: logged when they start, once a minute while they
/// last (with their count), and once when they end.
#[derive(Debug, Default)]
pub struct FailureLog {
    /// The current run of failures, if any, and how many it holds so far.
    failing: Option<(Throttle, u64)>,
}

impl FailureLog {
    /// Records one outcome of `what`, logging as the type says.
    pub fn record<E: std::fmt::Display>(&mut self, what: &str, outcome: Result<(), E>) {
        match (outcome, &mut self.failing) {
            (Ok(()), None) => {}
            (Ok(()), Some((_, failures))) => {
                tracing::info!(failures = *failures, "{what} works again");
                self.failing = None;
            }
            (Err(error), failing) => {
                let (throttle, failures) = failing.get_or_insert_with(Default::default);
                *failures += 1;
                match throttle.count(1) {
                    None => {}
                    Some(_) if *failures == 1 => tracing::warn!(
                        %error,
                        "{what} failed; retrying, and logging again once a minute while it fails"
                    ),
                    Some(_) => {
                        tracing::warn!(%error, failures = *failures, "{what} still failing");
                    }
                }
            }
        }
    }

    /// Failures in the current run, 0 when the last attempt worked.
    #[cfg(test)]
    fn failures(&self) -> u64 {
        self.failing.as_ref().map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_logs_the_first_time_then_holds_the_count_back_for_a_minute() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.count(3), Some(3));
        assert_eq!(throttle.count(2), None);
        assert_eq!(throttle.count(1), None);
        throttle.logged = throttle.logged.map(|at| at - REPEAT_EVERY);
        assert_eq!(
            throttle.count(4),
            Some(7),
            "the held-back occurrences are told"
        );
        assert_eq!(throttle.count(1), None);
    }

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
