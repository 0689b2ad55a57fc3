//! The disk space each running container's writable layer (its overlay upper directory) takes,
//! measured in the background every few minutes, as cAdvisor does with `du`, so that a scrape
//! only reads the last figure and no Docker call (`docker ps --size` takes seconds) is made.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::inventory::Inventory;

/// The last measurement of one writable layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerUsage {
    /// Bytes allocated to the layer's files (what `du` counts), hard links once.
    pub usage_bytes: u64,
    /// Size of the filesystem holding the layer (cAdvisor's `container_fs_limit_bytes`).
    pub limit_bytes: u64,
    /// The block device of that filesystem, as major and minor numbers.
    pub device: (u32, u32),
}

/// The latest measurement per container id, shared by the measuring task and the scrapes.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerUsages {
    by_container: Arc<Mutex<HashMap<String, LayerUsage>>>,
}

impl LayerUsages {
    /// The last measurement of container `id`'s layer, if one succeeded.
    pub(crate) fn get(&self, id: &str) -> Option<LayerUsage> {
        let map = self
            .by_container
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(id).copied()
    }

    /// Measures every running container's layer every `interval`, forever, one walk at a time
    /// on a blocking thread. A layer that cannot be read (the agent lacks access to Docker's
    /// data directory) is logged once and left without figures.
    pub(crate) async fn run(self, inventory: Inventory, interval: Duration) {
        let mut refused: HashSet<String> = HashSet::new();
        loop {
            let snapshot = inventory.snapshot();
            let mut fresh = HashMap::new();
            for entry in snapshot.containers.iter() {
                let info = &entry.info;
                let Some(layer) = info.writable_layer.clone().filter(|_| info.pid.is_some()) else {
                    continue;
                };
                let measured = tokio::task::spawn_blocking(move || measure(&layer)).await;
                match measured {
                    Ok(Ok(usage)) => {
                        fresh.insert(info.id.clone(), usage);
                    }
                    Ok(Err(error)) if refused.insert(info.id.clone()) => {
                        tracing::warn!(container = %info.name, %error, "cannot measure the writable layer; container_fs_usage_bytes left out");
                    }
                    _ => {}
                }
            }
            refused.retain(|id| snapshot.containers.iter().any(|e| &e.info.id == id));
            *self
                .by_container
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = fresh;
            tokio::time::sleep(interval).await;
        }
    }
}

/// Walks `layer` (without following links or crossing into other filesystems) and reads the
/// size of its filesystem.
pub(crate) fn measure(layer: &Path) -> std::io::Result<LayerUsage> {
    let top = std::fs::symlink_metadata(layer)?;
    let device = top.dev();
    let mut usage_bytes = top.blocks() * 512;
    let mut linked: HashSet<u64> = HashSet::new();
    let mut pending: Vec<PathBuf> = vec![layer.to_owned()];
    while let Some(dir) = pending.pop() {
        // A directory removed during the walk (the container deleting files) is skipped.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if metadata.dev() != device {
                continue;
            }
            if metadata.nlink() > 1 && !metadata.is_dir() && !linked.insert(metadata.ino()) {
                continue;
            }
            usage_bytes += metadata.blocks() * 512;
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    let stat = rustix::fs::statvfs(layer)?;
    Ok(LayerUsage {
        usage_bytes,
        limit_bytes: stat.f_blocks * stat.f_frsize,
        device: (rustix::fs::major(device), rustix::fs::minor(device)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_allocated_blocks_of_every_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("diff");
        std::fs::create_dir_all(layer.join("var/log")).unwrap();
        let empty = measure(&layer).unwrap();
        std::fs::write(layer.join("var/log/app.log"), vec![b'x'; 1 << 20]).unwrap();
        std::fs::hard_link(layer.join("var/log/app.log"), layer.join("again.log")).unwrap();
        let full = measure(&layer).unwrap();
        let grown = full.usage_bytes - empty.usage_bytes;
        // One MiB of data takes at least a MiB (plus at most a few blocks of metadata), and
        // the hard link is not counted a second time.
        assert!((1 << 20..(1 << 20) + 64 * 1024).contains(&grown), "{grown}");
        let stat = rustix::fs::statvfs(dir.path()).unwrap();
        assert_eq!(full.limit_bytes, stat.f_blocks * stat.f_frsize);
        let dev = std::fs::metadata(dir.path()).unwrap().dev();
        assert_eq!(
            full.device,
            (rustix::fs::major(dev), rustix::fs::minor(dev))
        );
    }

    #[test]
    fn a_missing_layer_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(measure(&dir.path().join("gone")).is_err());
    }
}
