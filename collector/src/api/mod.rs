//! The HTTP API: `app(state)` combines the routers of each API family and the web UI.

pub mod alerts_admin;
mod error;
pub mod export;
pub mod federate;
pub mod lifecycle;
pub mod prometheus;
pub mod routes;
pub mod rules;
pub mod security;
mod state;
pub mod targets;
pub mod ui;

use axum::Router;

pub use error::{ApiError, ErrorType};
pub use state::{ApiState, MetadataSource, NoMetadata};

/// The collector's HTTP routes.
pub fn app(state: ApiState) -> Router {
    Router::new()
        .merge(prometheus::router(state.clone()))
        .merge(export::router(state))
        .merge(ui::router())
}
