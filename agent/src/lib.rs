//! osprey-agent: exposes a node's host and container metrics in the Prometheus text format.
//!
//! Data flows one way: [`collect`] gathers families at scrape time into an [`expose::Exposition`],
//! which [`http`] serves on `/metrics`, behind the TLS and authentication of [`osprey_web`].

pub mod collect;
pub mod config;
pub mod expose;
pub mod http;
