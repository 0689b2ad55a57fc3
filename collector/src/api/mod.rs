//! The collector's HTTP API.

pub mod rules;
