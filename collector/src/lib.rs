//! osprey-collector: scrapes agents, stores series in redb, answers PromQL, evaluates alert rules.
//!
//! Data flows one way: `scrape -> parse -> tsdb <- promql <- {api, rules -> notify}`.

pub mod alerting;
pub mod api;
pub mod check_config;
pub mod config;
pub mod exposition;
pub mod import;
pub mod labels;
pub mod notify;
pub mod promql;
pub mod remote_write;
pub mod rules;
pub mod scrape;
pub mod server;
pub mod tsdb;
pub mod vocab;
