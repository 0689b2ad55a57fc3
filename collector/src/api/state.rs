//! What API handlers share: the query engine and where metric metadata comes from.

use std::sync::Arc;

use crate::promql::Engine;
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

/// State shared by the API handlers.
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
