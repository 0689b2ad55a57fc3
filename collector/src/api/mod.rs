//! The HTTP API: `app(state)` builds every route the collector serves, under the web config.

pub mod alerts_admin;
mod catch_panic;
mod error;
pub mod export;
pub mod federate;
pub mod lifecycle;
pub mod prometheus;
pub mod protocol_errors;
pub mod routes;
pub mod rules;
pub mod security;
mod state;
pub mod targets;
pub mod tsdb_admin;
pub mod ui;

use axum::Router;

pub use error::{ApiError, ErrorType};
pub use state::{ApiState, AppState, MetadataSource, NoMetadata};

/// Every route of the collector, with authentication and the admin check of
/// `state.security` applied, and a panic in any handler answered as a generic 500.
pub fn app(state: AppState) -> Router {
    let AppState {
        query,
        external_labels,
        remote_write,
        scrape,
        lifecycle,
        rules,
        notifier,
        tsdb,
        security,
    } = state;
    let routes = Router::new()
        .merge(federate::router(
            query.engine.querier().clone(),
            &external_labels,
        ))
        .merge(crate::remote_write::router(remote_write))
        .merge(prometheus::router(query.clone()))
        .merge(export::router(query))
        .merge(targets::router(scrape))
        .merge(lifecycle::router(lifecycle))
        .merge(rules::router(rules))
        .merge(alerts_admin::router(notifier))
        .merge(tsdb_admin::router(tsdb))
        .merge(ui::router());
    security::secure(routes, &security).layer(axum::middleware::from_fn(catch_panic::catch_panic))
}
