//! Shared by the collector's integration tests: finding peers and waiting for things.

#![allow(dead_code)]

pub mod app;
pub mod receivers;
pub mod store;

use std::path::Path;
use std::time::{Duration, Instant};

pub use osprey::net::free_port;
pub use osprey::peer_present;

/// Polls `check` every 50 ms until it returns `Some` or `timeout` passes.
pub async fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Files directly inside `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}
