//! osprey-web: what both Osprey servers share about serving: who may connect (TLS and
//! authentication from the web-config file node_exporter and Prometheus read), the log setup,
//! and the figures each reports about itself (build info and the `process_*` family).
//!
//! Settings are checked once at startup into a [`Security`]; the server wraps its router in
//! [`Security::protect`] and, with TLS on, accepts through a [`TlsListener`].

mod auth;
mod config;
pub mod logging;
mod security;
pub mod self_metrics;
mod tls;

pub use auth::{Authenticator, Principal};
pub use config::{WebConfig, WebConfigError};
pub use security::{Security, SecurityError, SecuritySources};
pub use tls::TlsListener;
