//! The store as tests that drive it themselves open it.

use std::time::Duration;

use osprey_collector::tsdb::StorageOptions;

/// Nothing expires, nothing is flushed or compacted behind the test's back, and no free-space
/// floor refuses appends on a full test machine.
pub fn options() -> StorageOptions {
    StorageOptions {
        retention_time: None,
        flush_interval: Duration::from_secs(3600),
        background_compaction: false,
        min_free_bytes: Some(0),
        ..StorageOptions::default()
    }
}
