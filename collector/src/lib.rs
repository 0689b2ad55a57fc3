//! osprey-collector: scrapes agents, stores series in redb, answers PromQL, evaluates alert rules.
//!
//! Data flows one way: `scrape -> parse -> tsdb <- promql <- {api, rules -> notify}`.

pub mod api;
pub mod labels;
pub mod notify;
pub mod rules;
pub mod tsdb;
