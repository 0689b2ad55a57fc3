//! The HTTP API: `app(state)` combines the routers of each API family.

pub mod alerts_admin;
mod error;
pub mod federate;
pub mod lifecycle;
pub mod prometheus;
pub mod rules;
mod state;
pub mod targets;

use axum::Router;

pub use error::{ApiError, ErrorType};
pub use state::{ApiState, MetadataSource, NoMetadata};

/// The collector's HTTP routes.
pub fn app(state: ApiState) -> Router {
    Router::new().merge(prometheus::router(state))
}
