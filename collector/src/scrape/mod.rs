//! Scraping: targets from the configuration, one loop per target, the exposition parser, and
//! relabelling.

mod fetch;
mod file_sd;
mod ingest;
mod manager;
pub mod parse;
pub mod relabel;
mod scrape_loop;
pub mod target;

use std::sync::atomic::{AtomicU64, Ordering};

pub use ingest::{IngestError, IngestOutcome, IngestRules, SeriesCache};
pub use manager::{ApplyError, ClientError, ScrapeManager, TargetView};
pub use scrape_loop::TargetStatus;

/// Counters over all scrapes since start, for the collector's own `/metrics`.
#[derive(Debug, Default)]
pub struct ScrapeStats {
    /// Scrapes attempted.
    pub scrapes: AtomicU64,
    /// Scrapes that failed.
    pub failures: AtomicU64,
    /// Samples appended from successful scrapes.
    pub samples: AtomicU64,
}

impl ScrapeStats {
    fn record(&self, ok: bool, samples: u64) {
        self.scrapes.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.samples.fetch_add(samples, Ordering::Relaxed);
    }
}

/// The process-wide scrape counters.
pub static STATS: ScrapeStats = ScrapeStats {
    scrapes: AtomicU64::new(0),
    failures: AtomicU64::new(0),
    samples: AtomicU64::new(0),
};
