//! What the routes share: the query engine and where metric metadata comes from for the query
//! API, and the running parts of the collector the other routes read or change.

use std::sync::Arc;

use osprey_web::Security;

use super::lifecycle::LifecycleState;
use super::tsdb_admin::TsdbAdminState;
use crate::labels::Labels;
use crate::notify::Notifier;
use crate::promql::Engine;
use crate::remote_write::Receiver;
use crate::rules::RuleManager;
use crate::scrape::ScrapeManager;
use crate::tsdb::Metadata;

/// Lists HELP/TYPE/UNIT per metric family for `/api/v1/metadata`.
pub trait MetadataSource: Send + Sync {
    /// Every known metric family with its metadata, sorted by name.
    fn all_metadata(&self) -> Vec<(String, Metadata)> {
        Vec::new()
    }
}

/// A metadata source that knows nothing (until storage offers a metadata read).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetadata;

impl MetadataSource for NoMetadata {}

/// Everything the collector's routes need; [`super::app`] builds the router from it.
#[derive(Clone)]
pub struct AppState {
    /// The query API's engine and metadata; the engine's store also serves `/federate`.
    pub query: ApiState,
    /// The configuration's `external_labels`, which `/federate` adds to the series it serves.
    pub external_labels: Labels,
    /// Stores remote-write pushes (`POST /api/v1/write`).
    pub remote_write: Arc<Receiver>,
    /// The scrape loops, for `/api/v1/targets`.
    pub scrape: Arc<ScrapeManager>,
    /// Health, readiness, reloads and the collector's own metrics.
    pub lifecycle: LifecycleState,
    /// The rule groups, for `/api/v1/rules` and `/api/v1/alerts`.
    pub rules: RuleManager,
    /// Alert history and silences.
    pub notifier: Notifier,
    /// The store and its data directory, for deleting series and taking snapshots.
    pub tsdb: TsdbAdminState,
    /// The web config every route is served under (TLS is the listener's business).
    pub security: Arc<Security>,
}

/// State shared by the query API's handlers.
#[derive(Clone)]
pub struct ApiState {
    /// Evaluates queries and reads series.
    pub engine: Engine,
    /// Serves `/api/v1/metadata`.
    pub metadata: Arc<dyn MetadataSource>,
}

impl ApiState {
    /// State over an engine, with no metadata.
    pub fn new(engine: Engine) -> ApiState {
        ApiState {
            engine,
            metadata: Arc::new(NoMetadata),
        }
    }
}

impl MetadataSource for crate::tsdb::Storage {
    fn all_metadata(&self) -> Vec<(String, Metadata)> {
        crate::tsdb::Storage::all_metadata(self)
    }
}
