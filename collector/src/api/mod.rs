//! The collector's HTTP API.

pub mod lifecycle;
pub mod targets;
