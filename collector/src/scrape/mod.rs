//! Scraping: targets from the configuration, one loop per target, the exposition parser, and
//! relabelling.

mod ingest;
pub mod parse;
pub mod relabel;
pub mod target;

pub use ingest::{IngestError, IngestOutcome, IngestRules, SeriesCache};
