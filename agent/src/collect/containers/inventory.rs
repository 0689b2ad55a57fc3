//! The containers and images Docker reported, kept current by the event stream and read by every
//! scrape without a call to Docker.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

/// A container's lifecycle state, as Docker names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerState {
    /// Created but never started.
    Created,
    /// Running.
    Running,
    /// Frozen with `docker pause`.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Stopped.
    Exited,
    /// Failed to stop or be removed.
    Dead,
}

impl ContainerState {
    /// Every state, in the order the state metric lists them.
    pub(crate) const ALL: [ContainerState; 7] = [
        ContainerState::Created,
        ContainerState::Running,
        ContainerState::Paused,
        ContainerState::Restarting,
        ContainerState::Removing,
        ContainerState::Exited,
        ContainerState::Dead,
    ];

    /// Docker's name for the state.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
        }
    }
}

/// The result of a container's health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// Checks have not yet passed.
    Starting,
    /// The last checks passed.
    Healthy,
    /// The check failed too many times in a row.
    Unhealthy,
}

impl Health {
    /// Every status, in the order the health metric lists them.
    pub(crate) const ALL: [Health; 3] = [Health::Starting, Health::Healthy, Health::Unhealthy];

    /// Docker's name for the status.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// What Docker says about one container.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ContainerInfo {
    /// The full 64-hex-digit id.
    pub id: String,
    /// The name without Docker's leading slash.
    pub name: String,
    /// The image as the container was created from it (`Config.Image`), e.g. `nginx:1.27`.
    pub image: String,
    /// The container's Docker labels.
    pub labels: BTreeMap<String, String>,
    /// Its lifecycle state.
    pub state: ContainerState,
    /// When it was last started, in seconds since the epoch, if ever.
    pub started_at: Option<f64>,
    /// Restarts done by its restart policy.
    pub restart_count: u64,
    /// Its health check status, if it has a health check.
    pub health: Option<Health>,
    /// The host pid of its init process while running or paused.
    pub pid: Option<u32>,
    /// Whether it shares the host's network namespace (its interfaces are the host's).
    pub host_network: bool,
    /// The container's writable layer (overlay's upper directory), when the storage driver
    /// names one.
    pub writable_layer: Option<PathBuf>,
}

/// One image in Docker's local store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageInfo {
    /// The image id (`sha256:...`).
    pub id: String,
    /// Its `repository:tag` references; empty for a dangling image.
    pub repo_tags: Vec<String>,
    /// Its size on disk in bytes.
    pub size_bytes: u64,
}

/// A container as a scrape sees it: what Docker said plus a number that changes whenever Docker
/// reported anything new about it, so the scrape knows to reopen its cgroup files.
#[derive(Debug)]
pub(crate) struct Entry {
    /// What Docker said.
    pub info: ContainerInfo,
    /// Distinct for every update of this container.
    pub generation: u64,
}

/// What one scrape reads.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// Whether the agent is connected to Docker.
    pub docker_up: bool,
    /// Every known container, sorted by name.
    pub containers: Arc<Vec<Arc<Entry>>>,
    /// Every image.
    pub images: Arc<Vec<ImageInfo>>,
}

#[derive(Debug, Default)]
struct State {
    docker_up: bool,
    containers: HashMap<String, Arc<Entry>>,
    /// `containers` sorted by name, rebuilt on every change rather than on every scrape.
    by_name: Arc<Vec<Arc<Entry>>>,
    images: Arc<Vec<ImageInfo>>,
    next_generation: u64,
}

impl State {
    fn entry(&mut self, info: ContainerInfo) -> Arc<Entry> {
        self.next_generation += 1;
        Arc::new(Entry {
            info,
            generation: self.next_generation,
        })
    }

    fn sort_by_name(&mut self) {
        let mut by_name: Vec<_> = self.containers.values().cloned().collect();
        by_name.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        self.by_name = Arc::new(by_name);
    }
}

/// The shared inventory: written by Docker discovery, read by scrapes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inventory {
    state: Arc<RwLock<State>>,
}

impl Inventory {
    /// An empty inventory; Docker counts as down until discovery connects.
    pub(crate) fn new() -> Self {
        Inventory::default()
    }

    /// A copy of the current inventory, cheap enough for every scrape.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Snapshot {
            docker_up: state.docker_up,
            containers: state.by_name.clone(),
            images: state.images.clone(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records whether Docker answers.
    pub(crate) fn set_docker_up(&self, up: bool) {
        self.write().docker_up = up;
    }

    /// Replaces every container with a fresh full listing.
    pub(crate) fn replace_containers(&self, containers: Vec<ContainerInfo>) {
        let mut state = self.write();
        let fresh = containers
            .into_iter()
            .map(|info| (info.id.clone(), state.entry(info)))
            .collect();
        state.containers = fresh;
        state.sort_by_name();
    }

    /// Adds a container or replaces what was known about it.
    pub(crate) fn upsert_container(&self, info: ContainerInfo) {
        let mut state = self.write();
        let entry = state.entry(info);
        state.containers.insert(entry.info.id.clone(), entry);
        state.sort_by_name();
    }

    /// Forgets a removed container.
    pub(crate) fn remove_container(&self, id: &str) {
        let mut state = self.write();
        if state.containers.remove(id).is_some() {
            state.sort_by_name();
        }
    }

    /// Replaces the image list.
    pub(crate) fn replace_images(&self, images: Vec<ImageInfo>) {
        self.write().images = Arc::new(images);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A running container named `name` for tests.
    pub(crate) fn container(id: &str, name: &str) -> ContainerInfo {
        ContainerInfo {
            id: id.to_owned(),
            name: name.to_owned(),
            image: "busybox".to_owned(),
            labels: BTreeMap::new(),
            state: ContainerState::Running,
            started_at: Some(1_700_000_000.0),
            restart_count: 0,
            health: None,
            pid: Some(1),
            host_network: false,
            writable_layer: None,
        }
    }

    #[test]
    fn snapshot_is_sorted_and_every_update_gets_a_new_generation() {
        let inventory = Inventory::new();
        inventory.replace_containers(vec![container("b", "web"), container("a", "db")]);
        let first = inventory.snapshot();
        let names: Vec<_> = first
            .containers
            .iter()
            .map(|e| e.info.name.as_str())
            .collect();
        assert_eq!(names, ["db", "web"]);
        inventory.upsert_container(container("a", "db"));
        let second = inventory.snapshot();
        assert_ne!(
            first.containers[0].generation,
            second.containers[0].generation
        );
        assert_eq!(
            first.containers[1].generation,
            second.containers[1].generation
        );
        inventory.remove_container("b");
        assert_eq!(inventory.snapshot().containers.len(), 1);
        assert!(!inventory.snapshot().docker_up);
    }
}
