//! Where a container's cgroup lives and what its counters are, whichever cgroup version
//! (v1 or the v2 unified hierarchy) and driver (cgroupfs or systemd) the host uses.

use std::path::{Path, PathBuf};

use super::{cgroup_v1, cgroup_v2};
use crate::collect::CollectError;
use crate::collect::kept_file::KeptFile;

/// The cgroup hierarchy the host runs, with the directory it is mounted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hierarchy {
    /// Legacy or hybrid mode: one mount per controller under `<root>/<controller>`.
    V1 {
        /// Usually `/sys/fs/cgroup`.
        root: PathBuf,
    },
    /// The unified hierarchy: every controller's files in one directory per cgroup.
    V2 {
        /// Usually `/sys/fs/cgroup`.
        root: PathBuf,
    },
}

impl Hierarchy {
    /// Looks at `<sys_root>/fs/cgroup`: a `cgroup.controllers` file at its top means v2.
    pub(crate) fn detect(sys_root: &Path) -> Hierarchy {
        let root = sys_root.join("fs/cgroup");
        if root.join("cgroup.controllers").is_file() {
            Hierarchy::V2 { root }
        } else {
            Hierarchy::V1 { root }
        }
    }
}

/// The counters of one container's cgroup at one scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CgroupCounters {
    /// CPU time used, all CPUs together.
    pub cpu_usage_seconds: f64,
    /// CPU time used on each CPU, in CPU order; empty unless asked for and given (cgroup v1's
    /// `cpuacct.usage_percpu`; v2 has no per-CPU figure).
    pub cpu_usage_per_cpu_seconds: Vec<f64>,
    /// CPU time spent in user mode.
    pub cpu_user_seconds: f64,
    /// CPU time spent in kernel mode.
    pub cpu_system_seconds: f64,
    /// CFS enforcement periods that elapsed.
    pub cfs_periods: u64,
    /// CFS periods in which the cgroup was throttled.
    pub cfs_throttled_periods: u64,
    /// Total time the cgroup was throttled.
    pub cfs_throttled_seconds: f64,
    /// Memory charged to the cgroup, page cache included.
    pub memory_usage_bytes: u64,
    /// The highest memory usage recorded (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`
    /// from Linux 5.19), when the kernel records it.
    pub memory_max_usage_bytes: Option<u64>,
    /// Usage minus inactive file pages: what the kernel cannot easily reclaim.
    pub memory_working_set_bytes: u64,
    /// Anonymous memory (v1 `total_rss`, v2 `anon`).
    pub memory_rss_bytes: u64,
    /// Page cache (v1 `total_cache`, v2 `file`).
    pub memory_cache_bytes: u64,
    /// Page cache mapped into processes.
    pub memory_mapped_file_bytes: u64,
    /// Swap used, where swap accounting is on.
    pub memory_swap_bytes: u64,
    /// Times the memory limit was hit (v1 `memory.failcnt`, v2 `max` in memory.events).
    pub memory_failcnt: u64,
    /// Processes killed by the OOM killer inside the cgroup.
    pub oom_kills: u64,
    /// Tasks in the cgroup.
    pub pids: u64,
    /// Block I/O per device.
    pub devices: Vec<DeviceIo>,
}

/// Block I/O of one cgroup on one device, counted since the cgroup was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DeviceIo {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Read operations.
    pub reads: u64,
    /// Write operations.
    pub writes: u64,
}

/// Limits set on a container, read once when its cgroup is opened (Docker reports changes with an
/// `update` event, which reopens it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CgroupLimits {
    /// The memory limit, or `None` when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// CPU time allowed per period in microseconds, or `None` when unlimited.
    pub cpu_quota_micros: Option<u64>,
    /// The CFS period in microseconds.
    pub cpu_period_micros: u64,
}

/// Limits at or above this are the kernel's "no limit" (v1 reports PAGE_COUNTER_MAX pages).
const UNLIMITED_BYTES: u64 = 1 << 62;

/// Turns a memory limit as read into `None` when it means "no limit".
pub(crate) fn memory_limit(bytes: u64) -> Option<u64> {
    (bytes < UNLIMITED_BYTES).then_some(bytes)
}

/// An open cgroup of one container, for whichever hierarchy the host runs.
#[derive(Debug)]
pub(crate) enum CgroupReader {
    /// cgroup v1 files.
    V1(cgroup_v1::Reader),
    /// cgroup v2 files.
    V2(cgroup_v2::Reader),
}

impl CgroupReader {
    /// Finds the cgroup of process `pid` through `<proc_root>/<pid>/cgroup` (which covers both
    /// drivers and any `--cgroup-parent`), opens its files and reads its limits; `per_cpu` adds
    /// the per-CPU usage where the hierarchy has it. Returns the
    /// reader and the cgroup path, which is the `id` label as cAdvisor writes it
    /// (`/docker/<id>` with cgroupfs, `/system.slice/docker-<id>.scope` with systemd).
    pub(crate) fn open(
        hierarchy: &Hierarchy,
        proc_root: &Path,
        pid: u32,
        per_cpu: bool,
        buf: &mut Vec<u8>,
    ) -> Result<(CgroupReader, String), CollectError> {
        let membership = KeptFile::open(&proc_root.join(pid.to_string()).join("cgroup"))?;
        let text = membership.read_into(buf)?.to_owned();
        match hierarchy {
            Hierarchy::V1 { root } => {
                let path = v1_path(&text, "cpuacct")
                    .ok_or_else(|| membership.parse_error("no cpuacct controller line"))?;
                let reader = cgroup_v1::Reader::open(root, &path, per_cpu, buf)?;
                Ok((CgroupReader::V1(reader), path))
            }
            Hierarchy::V2 { root } => {
                let path = v2_path(&text)
                    .ok_or_else(|| membership.parse_error("no unified (0::) line"))?;
                let reader =
                    cgroup_v2::Reader::open(&root.join(path.trim_start_matches('/')), buf)?;
                Ok((CgroupReader::V2(reader), path))
            }
        }
    }

    /// The limits read when the cgroup was opened.
    pub(crate) fn limits(&self) -> CgroupLimits {
        match self {
            CgroupReader::V1(reader) => reader.limits(),
            CgroupReader::V2(reader) => reader.limits(),
        }
    }

    /// Reads the current counters into `out`.
    pub(crate) fn read(
        &self,
        buf: &mut Vec<u8>,
        out: &mut CgroupCounters,
    ) -> Result<(), CollectError> {
        match self {
            CgroupReader::V1(reader) => reader.read(buf, out),
            CgroupReader::V2(reader) => reader.read(buf, out),
        }
    }
}

/// The path of `controller` in a v1 `/proc/<pid>/cgroup` (`N:cpu,cpuacct:/docker/<id>`).
fn v1_path(membership: &str, controller: &str) -> Option<String> {
    membership.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_owned())
    })
}

/// The path in a v2 `/proc/<pid>/cgroup` (`0::/system.slice/docker-<id>.scope`).
fn v2_path(membership: &str) -> Option<String> {
    membership
        .lines()
        .find_map(|line| line.strip_prefix("0::").map(str::to_owned))
}

/// Opens the cgroup tree recorded under `agent/tests/fixtures/{name}` for the container process
/// `pid`, per-CPU usage on; gives the reader and the container's id.
#[cfg(test)]
pub(super) fn open_recorded(name: &str, pid: u32) -> (CgroupReader, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let hierarchy = Hierarchy::detect(&root.join("sys"));
    CgroupReader::open(&hierarchy, &root.join("proc"), pid, true, &mut Vec::new()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_path_is_found_for_separate_and_comounted_controllers_and_both_drivers() {
        let cgroupfs =
            "4:memory:/docker/abc\n2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n0::/docker/abc\n";
        assert_eq!(v1_path(cgroupfs, "cpuacct").as_deref(), Some("/docker/abc"));
        let systemd = "3:cpu,cpuacct:/system.slice/docker-abc.scope\n1:name=systemd:/system.slice/docker-abc.scope\n";
        assert_eq!(
            v1_path(systemd, "cpuacct").as_deref(),
            Some("/system.slice/docker-abc.scope")
        );
        assert_eq!(v1_path("1:name=systemd:/x\n", "cpuacct"), None);
    }

    #[test]
    fn v2_path_is_the_unified_line() {
        assert_eq!(
            v2_path("0::/system.slice/docker-abc.scope\n").as_deref(),
            Some("/system.slice/docker-abc.scope")
        );
        assert_eq!(v2_path("garbage"), None);
    }

    #[test]
    fn hierarchy_is_detected_from_the_fixture_trees() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        assert!(matches!(
            Hierarchy::detect(&fixtures.join("cgroup-v1/sys")),
            Hierarchy::V1 { .. }
        ));
        assert!(matches!(
            Hierarchy::detect(&fixtures.join("cgroup-v2/sys")),
            Hierarchy::V2 { .. }
        ));
    }

    #[test]
    fn limits_at_the_kernel_maximum_mean_unlimited() {
        assert_eq!(memory_limit(9_223_372_036_854_771_712), None);
        assert_eq!(memory_limit(67_108_864), Some(67_108_864));
    }
}
