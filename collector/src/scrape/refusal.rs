//! What scraping refuses: whole scrapes past a limit, and single samples the store would not
//! take. Each kind has a counter under Prometheus's name and is logged per target when it
//! starts and then at most once a minute, with how many there were in between.

use crate::vocab::Throttle;

/// Why a scrape, or a sample of it, was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A sample of a series listed earlier in the same scrape.
    Duplicate,
    /// A sample stamped too far after the scrape.
    OutOfBounds,
    /// A sample not newer than its series' newest.
    OutOfOrder,
    /// A scrape with more samples than `sample_limit`.
    SampleLimit,
    /// A scrape whose body is larger than `body_size_limit`.
    BodySizeLimit,
    /// A scrape with a series past `label_limit`, `label_name_length_limit` or
    /// `label_value_length_limit`.
    LabelLimit,
    /// A scrape that would create more series than the store allows the target.
    SeriesLimit,
}

impl Refusal {
    /// Every kind, in the order of [`ScrapeMetrics`](super::metrics::ScrapeMetrics)' counters.
    pub const ALL: [Refusal; 7] = [
        Refusal::Duplicate,
        Refusal::OutOfBounds,
        Refusal::OutOfOrder,
        Refusal::SampleLimit,
        Refusal::BodySizeLimit,
        Refusal::LabelLimit,
        Refusal::SeriesLimit,
    ];

    /// Its position in [`Refusal::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name (without `_total`) and help of the counter of these refusals.
    pub fn counter(self) -> (&'static str, &'static str) {
        match self {
            Refusal::Duplicate => (
                "prometheus_target_scrapes_sample_duplicate_timestamp",
                "Samples dropped because their series was listed earlier in the same scrape",
            ),
            Refusal::OutOfBounds => (
                "prometheus_target_scrapes_sample_out_of_bounds",
                "Samples dropped because their timestamp is more than 10 minutes after the scrape",
            ),
            Refusal::OutOfOrder => (
                "prometheus_target_scrapes_sample_out_of_order",
                "Samples dropped because they are not newer than their series' newest sample",
            ),
            Refusal::SampleLimit => (
                "prometheus_target_scrapes_exceeded_sample_limit",
                "Scrapes that hit the sample limit and were rejected",
            ),
            Refusal::BodySizeLimit => (
                "prometheus_target_scrapes_exceeded_body_size_limit",
                "Scrapes that hit the body size limit and were rejected",
            ),
            Refusal::LabelLimit => (
                "prometheus_target_scrape_pool_exceeded_label_limits",
                "Scrapes rejected because a series passed the label limits",
            ),
            Refusal::SeriesLimit => (
                "osprey_target_scrapes_exceeded_series_limit",
                "Scrapes rejected because the target would create more series than storage \
                 allows (max_series_per_source, max_series)",
            ),
        }
    }

    /// What the log says about it.
    fn message(self) -> &'static str {
        match self {
            Refusal::Duplicate => "samples dropped: series listed twice in one scrape",
            Refusal::OutOfBounds => {
                "samples dropped: timestamp more than 10 minutes after the scrape"
            }
            Refusal::OutOfOrder => "samples dropped: not newer than their series' newest sample",
            Refusal::SampleLimit
            | Refusal::BodySizeLimit
            | Refusal::LabelLimit
            | Refusal::SeriesLimit => "scrapes rejected: limit exceeded",
        }
    }
}

/// One target's refusals as the log tells them.
#[derive(Debug, Default)]
pub struct RefusalLog {
    throttles: [Throttle; Refusal::ALL.len()],
}

impl RefusalLog {
    /// Records `count` refusals of one kind by `target`; `error` says why a scrape was refused.
    pub fn record(&mut self, target: &str, refusal: Refusal, count: u64, error: Option<&str>) {
        let Some(count) = self.throttles[refusal.index()].count(count) else {
            return;
        };
        let message = refusal.message();
        match error {
            Some(error) => {
                tracing::warn!(
                    target,
                    count,
                    error,
                    "{message}; logged at most once a minute"
                );
            }
            None => tracing::warn!(target, count, "{message}; logged at most once a minute"),
        }
    }
}
