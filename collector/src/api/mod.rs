//! The collector's HTTP API.

pub mod alerts_admin;
pub mod rules;
