//! The collector's HTTP API.

pub mod federate;
pub mod lifecycle;
pub mod targets;
