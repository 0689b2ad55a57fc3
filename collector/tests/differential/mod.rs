//! Support for the differential test against a real Prometheus.

pub mod compare;
pub mod dataset;
pub mod osprey;
pub mod prometheus;
pub mod prometheus_blocks;
pub mod queries;
