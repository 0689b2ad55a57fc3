//! The container collector: at each scrape, reads the cgroup and network counters of every
//! container in the inventory, keeping each container's files open from one scrape to the next.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use super::block_devices::BlockDevices;
use super::cgroup::{CgroupCounters, CgroupLimits, CgroupReader, Hierarchy};
use super::families::write_families;
use super::inventory::{Entry, Inventory};
use super::netns::{InterfaceCounters, NetDevReader};
use super::writable_layer::{LayerUsage, LayerUsages};
use super::{LabelAllowList, NamePatterns};
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, LabelPrefix};

/// Fixed inputs of the collector.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The host's cgroup hierarchy.
    pub hierarchy: Hierarchy,
    /// Where the host's procfs is mounted.
    pub proc_root: PathBuf,
    /// Names to include (all when empty).
    pub include: NamePatterns,
    /// Names to leave out.
    pub exclude: NamePatterns,
    /// Docker labels that become metric labels.
    pub labels: LabelAllowList,
    /// Whether CPU usage is read (and written) per CPU.
    pub per_cpu_usage: bool,
    /// The writable layers' latest measurements (empty when not measured).
    pub layers: LayerUsages,
}

/// Container metrics in cAdvisor's names, plus Osprey's container, Docker and image metrics.
#[derive(Debug)]
pub struct ContainerCollector {
    inventory: Inventory,
    settings: Settings,
    tracking: Mutex<Tracking>,
}

#[derive(Debug)]
struct Tracking {
    /// The included containers of the last scrape, in the inventory's order (by name).
    containers: Vec<Tracked>,
    /// This scrape's network namespaces by inode, each with the index in `containers` of the
    /// first container that read its interfaces.
    namespaces: HashMap<u64, usize>,
    devices: BlockDevices,
    buf: Vec<u8>,
}

/// The interfaces already read in this scrape, so that containers sharing a network namespace
/// (`--network container:NAME`, pods) read its `net/dev` once.
struct ReadNamespaces<'a> {
    /// The containers measured so far in this scrape.
    earlier: &'a [Tracked],
    /// Namespace inode to the index in `earlier` of the container that read it.
    first_reader: &'a mut HashMap<u64, usize>,
}

impl ReadNamespaces<'_> {
    /// The interfaces of namespace `inode` if a container read them earlier in this scrape.
    fn interfaces(&self, inode: u64) -> Option<&Vec<InterfaceCounters>> {
        let index = *self.first_reader.get(&inode)?;
        Some(&self.earlier.get(index)?.measured.as_ref()?.interfaces)
    }

    /// Records that the container measured next read the interfaces of namespace `inode`.
    fn read_next(&mut self, inode: u64) {
        self.first_reader.insert(inode, self.earlier.len());
    }
}

/// One container's labels, open files and latest counters.
#[derive(Debug)]
pub(crate) struct Tracked {
    /// What Docker said about the container when this was made; a newer report (another
    /// generation) makes a new `Tracked`, which reopens the files.
    pub entry: Arc<Entry>,
    /// The allow-listed `container_label_*` pairs, `image` and `name`.
    common_labels: Vec<(String, String)>,
    /// Osprey's labels for the container: `container_id`, then the common labels.
    pub osprey_labels: LabelPrefix,
    sources: Option<Sources>,
    /// This scrape's counters, when the container runs and its files could be read.
    pub measured: Option<Measured>,
    /// Whether a failure to read this container was already logged as a warning.
    warned: bool,
}

#[derive(Debug)]
struct Sources {
    cgroup: CgroupReader,
    cgroup_id: String,
    net: Option<NetDevReader>,
}

/// What one scrape read for one container.
#[derive(Debug, Default)]
pub(crate) struct Measured {
    /// The cgroup path, cAdvisor's `id` label.
    pub cgroup_id: String,
    /// cAdvisor's labels for the container: `id` (the cgroup path), then the common labels.
    pub cadvisor_labels: LabelPrefix,
    /// Limits read when the cgroup was opened.
    pub limits: CgroupLimits,
    /// Cgroup counters.
    pub cgroup: CgroupCounters,
    /// Network counters per interface.
    pub interfaces: Vec<InterfaceCounters>,
    /// The writable layer's latest measurement, when there is one.
    pub layer: Option<LayerUsage>,
}

impl ContainerCollector {
    pub(crate) fn new(inventory: Inventory, settings: Settings, sys_root: PathBuf) -> Self {
        ContainerCollector {
            inventory,
            settings,
            tracking: Mutex::new(Tracking {
                containers: Vec::new(),
                namespaces: HashMap::new(),
                devices: BlockDevices::new(sys_root),
                buf: Vec::new(),
            }),
        }
    }

    fn included(&self, name: &str) -> bool {
        (self.settings.include.is_empty() || self.settings.include.matches(name))
            && !self.settings.exclude.matches(name)
    }
}

impl Collector for ContainerCollector {
    fn name(&self) -> &'static str {
        "containers"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let snapshot = self.inventory.snapshot();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs() as f64);
        let mut guard = self.tracking.lock().unwrap_or_else(PoisonError::into_inner);
        let Tracking {
            containers,
            namespaces,
            devices,
            buf,
        } = &mut *guard;
        namespaces.clear();
        // Containers left in `previous` are gone or changed: dropping them closes their files.
        let mut previous = Previous::new(std::mem::take(containers));
        for entry in snapshot.containers.iter() {
            if !self.included(&entry.info.name) {
                continue;
            }
            let mut tracked = previous
                .take(entry.generation)
                .unwrap_or_else(|| Tracked::new(entry, &self.settings.labels));
            let read = ReadNamespaces {
                earlier: containers,
                first_reader: namespaces,
            };
            tracked.measure(&self.settings, buf, read);
            containers.push(tracked);
        }
        drop(previous);
        write_families(out, &snapshot, containers, devices, now);
        Ok(())
    }
}

/// The containers tracked at the last scrape, taken one by one as this scrape finds them again.
struct Previous {
    containers: Vec<Option<Tracked>>,
    /// Where the next container is expected: both scrapes list containers in the same order, so
    /// the search starts here and only a container added or removed since makes it look further.
    next: usize,
}

impl Previous {
    fn new(containers: Vec<Tracked>) -> Self {
        Previous {
            containers: containers.into_iter().map(Some).collect(),
            next: 0,
        }
    }

    /// Takes the container tracked for inventory generation `generation` (generations are
    /// unique: the same one means the same container with nothing new reported about it).
    fn take(&mut self, generation: u64) -> Option<Tracked> {
        let found = |slot: &Option<Tracked>| {
            slot.as_ref()
                .is_some_and(|tracked| tracked.entry.generation == generation)
        };
        let index = (self.next..self.containers.len())
            .chain(0..self.next)
            .find(|&index| found(&self.containers[index]))?;
        self.next = index + 1;
        self.containers[index].take()
    }
}

impl Tracked {
    fn new(entry: &Arc<Entry>, labels: &LabelAllowList) -> Tracked {
        let info = &entry.info;
        let mut common_labels = labels.metric_labels(&info.labels);
        common_labels.push(("image".to_owned(), info.image.clone()));
        common_labels.push(("name".to_owned(), info.name.clone()));
        let osprey_labels = label_prefix(("container_id", &info.id), &common_labels);
        Tracked {
            entry: entry.clone(),
            common_labels,
            osprey_labels,
            sources: None,
            measured: None,
            warned: false,
        }
    }

    /// Opens the container's files if needed and reads them; a failure leaves this scrape
    /// without counters for the container and retries the open on the next scrape.
    fn measure(&mut self, settings: &Settings, buf: &mut Vec<u8>, read: ReadNamespaces<'_>) {
        let entry = Arc::clone(&self.entry);
        let Some(pid) = entry.info.pid else {
            self.sources = None;
            self.measured = None;
            return;
        };
        if let Err(error) = self.try_measure(pid, entry.info.host_network, settings, buf, read) {
            // Expected for a moment when a container stops before Docker's event arrives; worth
            // a warning once (it also means the host's /proc or /sys is not visible).
            if self.warned {
                tracing::debug!(container = %entry.info.name, %error, "cannot read container counters");
            } else {
                tracing::warn!(container = %entry.info.name, %error, "cannot read container counters");
                self.warned = true;
            }
            self.sources = None;
            self.measured = None;
        }
    }

    fn try_measure(
        &mut self,
        pid: u32,
        host_network: bool,
        settings: &Settings,
        buf: &mut Vec<u8>,
        read: ReadNamespaces<'_>,
    ) -> Result<(), CollectError> {
        let sources = match self.sources.take() {
            Some(sources) => sources,
            None => Sources::open(settings, pid, host_network, buf)?,
        };
        let mut measured = self.measured.take().unwrap_or_default();
        if measured.cgroup_id != sources.cgroup_id {
            measured.cgroup_id.clone_from(&sources.cgroup_id);
            measured.cadvisor_labels =
                label_prefix(("id", &sources.cgroup_id), &self.common_labels);
        }
        sources.read(buf, &mut measured, read)?;
        measured.layer = settings.layers.get(&self.entry.info.id);
        self.sources = Some(sources);
        self.measured = Some(measured);
        Ok(())
    }
}

impl Sources {
    fn open(
        settings: &Settings,
        pid: u32,
        host_network: bool,
        buf: &mut Vec<u8>,
    ) -> Result<Sources, CollectError> {
        let (cgroup, cgroup_id) = CgroupReader::open(
            &settings.hierarchy,
            &settings.proc_root,
            pid,
            settings.per_cpu_usage,
            buf,
        )?;
        // A container on the host's network sees the host's interfaces: counting them per
        // container would count the host's traffic again.
        let net = if host_network {
            None
        } else {
            Some(NetDevReader::open(&settings.proc_root, pid)?)
        };
        Ok(Sources {
            cgroup,
            cgroup_id,
            net,
        })
    }

    fn read(
        &self,
        buf: &mut Vec<u8>,
        measured: &mut Measured,
        mut read: ReadNamespaces<'_>,
    ) -> Result<(), CollectError> {
        measured.limits = self.cgroup.limits();
        self.cgroup.read(buf, &mut measured.cgroup)?;
        let Some(net) = &self.net else {
            measured.interfaces.clear();
            return Ok(());
        };
        // The same counters cAdvisor reads through each container's own pid, read once.
        let shared = net.namespace().and_then(|inode| read.interfaces(inode));
        match shared {
            Some(interfaces) => measured.interfaces.clone_from(interfaces),
            None => {
                net.read(buf, &mut measured.interfaces)?;
                if let Some(inode) = net.namespace() {
                    read.read_next(inode);
                }
            }
        }
        Ok(())
    }
}

/// A container's label prefix: `first`, then the common labels.
fn label_prefix(first: (&str, &str), common: &[(String, String)]) -> LabelPrefix {
    let mut labels = vec![first];
    labels.extend(common.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    LabelPrefix::new(&labels)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::collect::containers::inventory::tests::container;
    use crate::expose::{Exposition, Format};

    #[test]
    fn containers_sharing_a_network_namespace_read_its_interfaces_once() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cgroup-v2");
        let proc = tempfile::tempdir().unwrap();
        let net_dev = |eth0_received: u64| {
            format!(
                "Inter-|   Receive\n face |bytes\n  eth0: {eth0_received} 1 0 0 0 0 0 0 2 1 0 0 0 0 0 0\n"
            )
        };
        // Process 2 joined the namespace of process 1 (`--network container:app`); its own
        // net/dev (different here, the same in life) must not be read.
        for (pid, received) in [(1, 100), (2, 999)] {
            let dir = proc.path().join(pid.to_string());
            std::fs::create_dir_all(dir.join("net")).unwrap();
            std::fs::create_dir_all(dir.join("ns")).unwrap();
            std::fs::copy(fixtures.join("proc/4242/cgroup"), dir.join("cgroup")).unwrap();
            std::fs::write(dir.join("net/dev"), net_dev(received)).unwrap();
        }
        std::fs::write(proc.path().join("1/ns/net"), "").unwrap();
        std::os::unix::fs::symlink("../../1/ns/net", proc.path().join("2/ns/net")).unwrap();
        let inventory = Inventory::new();
        let mut app = container("a1", "app");
        app.pid = Some(1);
        let mut sidecar = container("b2", "sidecar");
        sidecar.pid = Some(2);
        inventory.replace_containers(vec![app, sidecar]);
        let settings = Settings {
            hierarchy: Hierarchy::detect(&fixtures.join("sys")),
            proc_root: proc.path().to_owned(),
            include: NamePatterns::default(),
            exclude: NamePatterns::default(),
            labels: LabelAllowList::default(),
            per_cpu_usage: false,
            layers: LayerUsages::default(),
        };
        let collector = ContainerCollector::new(inventory, settings, fixtures.join("sys"));
        let mut out = Exposition::new(Format::Text004);
        collector.collect(&mut out).unwrap();
        let received: Vec<_> = out
            .finish()
            .lines()
            .filter(|line| line.starts_with("container_network_receive_bytes_total{"))
            .map(|line| line.rsplit_once(' ').unwrap().1.to_owned())
            .collect();
        assert_eq!(received, ["100", "100"]);
    }

    #[test]
    fn previous_containers_are_found_by_generation_after_others_come_and_go() {
        let labels = LabelAllowList::default();
        let last_scrape = (1..=4)
            .map(|generation| {
                let info = container(&generation.to_string(), "c");
                Tracked::new(&Arc::new(Entry { info, generation }), &labels)
            })
            .collect();
        let mut previous = Previous::new(last_scrape);
        // Since then generation 2 was removed, 9 started and 4 was updated (now 5).
        for (generation, kept) in [(1, true), (9, false), (3, true), (5, false)] {
            let taken = previous.take(generation).map(|t| t.entry.generation);
            assert_eq!(taken, kept.then_some(generation), "generation {generation}");
        }
        assert!(previous.take(1).is_none(), "a container is taken once");
    }
}
