//! Scraping: targets from the configuration, one loop per target, the exposition parser, and
//! relabelling.

mod fetch;
mod file_sd;
mod ingest;
mod manager;
mod metrics;
pub mod parse;
mod refusal;
pub mod relabel;
mod scrape_loop;
pub mod target;

pub(crate) use ingest::MAX_AHEAD_MS;
pub use ingest::{
    IngestError, IngestFailure, IngestOutcome, IngestRules, LabelLimitError, LabelLimits,
    SeriesCache,
};
pub use manager::{ApplyError, ClientError, ScrapeManager, TargetView, check_jobs};
pub use scrape_loop::TargetStatus;
