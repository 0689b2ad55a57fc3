//! Scraping: targets from the configuration, one loop per target, the exposition parser, and
//! relabelling.

pub mod parse;
