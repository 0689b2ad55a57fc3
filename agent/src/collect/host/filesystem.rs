//! Mounted filesystems' size, free space and inodes, as node_exporter's `filesystem` collector.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;

use super::Pattern;
use super::statvfs::{Outcome, Statvfs, Usage};
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// node_exporter's default: kernel and container mount points are left out.
const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";

/// node_exporter's default: pseudo and read-only image filesystems are left out.
const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|erofs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

/// The `[host.filesystem]` section of the agent's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesystemConfig {
    /// Mount points matching this are left out.
    pub mount_points_exclude: Pattern,
    /// Filesystem types matching this are left out.
    pub fs_types_exclude: Pattern,
    /// How long one statvfs call may take before its mount is reported stale and skipped.
    pub statvfs_timeout_seconds: f64,
}

impl Default for FilesystemConfig {
    fn default() -> Self {
        FilesystemConfig {
            mount_points_exclude: Pattern::new(DEFAULT_MOUNT_POINTS_EXCLUDE),
            fs_types_exclude: Pattern::new(DEFAULT_FS_TYPES_EXCLUDE),
            statvfs_timeout_seconds: 1.0,
        }
    }
}

/// One line of mountinfo: the labels node_exporter puts on each filesystem series.
#[derive(Debug, Clone, PartialEq)]
struct Mount {
    device: String,
    fstype: String,
    mountpoint: String,
    readonly: bool,
}

/// `node_filesystem_*{device,fstype,mountpoint}` for each mount not excluded.
pub(super) struct Filesystem {
    /// Init's mount table (the host's view), then our own if init's is not readable.
    mountinfo: [KeptFile; 2],
    config: FilesystemConfig,
    statvfs: Statvfs,
    /// The mounts as last read, kept until the kernel flags a mount change.
    table: Mutex<Option<MountTable>>,
}

/// The included mounts, and which of the two mountinfo files they came from.
struct MountTable {
    mounts: Vec<Mount>,
    source: usize,
}

impl Filesystem {
    pub(super) fn new(proc_root: &Path, config: FilesystemConfig) -> Self {
        // Validated to be positive and finite when the configuration was read.
        let timeout = Duration::from_secs_f64(config.statvfs_timeout_seconds);
        Filesystem {
            mountinfo: [
                KeptFile::new(proc_root.join("1/mountinfo")),
                KeptFile::new(proc_root.join("self/mountinfo")),
            ],
            config,
            statvfs: Statvfs::new(timeout),
            table: Mutex::new(None),
        }
    }

    /// The included mounts. Generating mountinfo costs the kernel some microseconds per mount,
    /// and each container adds a few, so the table is read again only when poll(2) on it
    /// reports a mount or unmount since the last read.
    fn mounts(&self) -> Result<Vec<Mount>, CollectError> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        match &*table {
            Some(kept) if !self.mountinfo[kept.source].changed() => Ok(kept.mounts.clone()),
            _ => {
                // The change is reported once: a failed read must not leave the old table.
                *table = None;
                let (mounts, source) = self.read_mounts()?;
                *table = Some(MountTable {
                    mounts: mounts.clone(),
                    source,
                });
                Ok(mounts)
            }
        }
    }

    /// Reads and filters the mount table, from init's mountinfo if readable, else ours.
    fn read_mounts(&self) -> Result<(Vec<Mount>, usize), CollectError> {
        let (text, source) = match self.mountinfo[0].read() {
            Ok(text) => (text, 0),
            Err(_) => (self.mountinfo[1].read()?, 1),
        };
        let mut mounts: Vec<Mount> = text
            .lines()
            .filter_map(parse_mountinfo_line)
            .filter(|m| {
                !self.config.mount_points_exclude.is_match(&m.mountpoint)
                    && !self.config.fs_types_exclude.is_match(&m.fstype)
            })
            .collect();
        // A filesystem mounted twice at the same place would give duplicate series.
        mounts.sort_by(|a, b| (&a.mountpoint, &a.device).cmp(&(&b.mountpoint, &b.device)));
        mounts.dedup_by(|a, b| a.mountpoint == b.mountpoint && a.device == b.device);
        Ok((mounts, source))
    }
}

/// Parses `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw`
/// (proc(5)); lines that do not fit are skipped. Hand-written: procfs's `MountInfo` builds two
/// hash maps of options per line, and a Docker host has hundreds of mounts.
fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let mut fields = before.split(' ');
    let mountpoint = fields.nth(4)?;
    let options = fields.next()?;
    let mut after = after.split(' ');
    let fstype = after.next()?;
    let device = after.next()?;
    Some(Mount {
        device: unescape(device),
        fstype: fstype.to_owned(),
        mountpoint: unescape(mountpoint),
        readonly: options.split(',').any(|o| o == "ro"),
    })
}

/// Undoes the kernel's octal escapes in mountinfo (`\040` for a space).
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            let text = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(text, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Collector for Filesystem {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mounts = self.mounts()?;
        let usages: Vec<Option<Usage>> = mounts
            .iter()
            .map(|m| match self.statvfs.usage(Path::new(&m.mountpoint)) {
                Outcome::Usage(usage) => Some(usage),
                Outcome::Failed(error) => {
                    tracing::debug!(mountpoint = m.mountpoint, %error, "statvfs failed");
                    None
                }
                Outcome::Stale => None,
            })
            .collect();
        type Field = fn(&Usage) -> f64;
        let families: [(&str, &str, Field); 5] = [
            (
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
                |u| u.avail,
            ),
            (
                "node_filesystem_files",
                "Filesystem total file nodes.",
                |u| u.files,
            ),
            (
                "node_filesystem_files_free",
                "Filesystem total free file nodes.",
                |u| u.files_free,
            ),
            (
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
                |u| u.free,
            ),
            (
                "node_filesystem_size_bytes",
                "Filesystem size in bytes.",
                |u| u.size,
            ),
        ];
        for (name, help, field) in families {
            let mut family = out.family(name, help, MetricType::Gauge);
            for (mount, usage) in mounts.iter().zip(&usages) {
                if let Some(usage) = usage {
                    family.sample(&labels(mount), field(usage));
                }
            }
        }
        let mut family = out.family(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            MetricType::Gauge,
        );
        for (mount, usage) in mounts.iter().zip(&usages) {
            family.sample(&labels(mount), if usage.is_some() { 0.0 } else { 1.0 });
        }
        let mut family = out.family(
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            MetricType::Gauge,
        );
        for mount in &mounts {
            family.sample(&labels(mount), if mount.readonly { 1.0 } else { 0.0 });
        }
        Ok(())
    }
}

fn labels(mount: &Mount) -> [(&str, &str); 3] {
    [
        ("device", &mount.device),
        ("fstype", &mount.fstype),
        ("mountpoint", &mount.mountpoint),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    #[test]
    fn default_exclusions_keep_real_filesystems_only() {
        let filesystem = Filesystem::new(&fixture("proc"), FilesystemConfig::default());
        let mounts = filesystem.mounts().unwrap();
        let points: Vec<&str> = mounts.iter().map(|m| m.mountpoint.as_str()).collect();
        assert_eq!(points, ["/", "/mnt/backup disk", "/run"]);
        assert_eq!(
            mounts[1],
            Mount {
                device: "/dev/vdb".into(),
                fstype: "ext4".into(),
                mountpoint: "/mnt/backup disk".into(),
                readonly: true,
            }
        );
        assert!(!mounts[0].readonly);
    }

    #[test]
    fn unescape_decodes_octal_and_keeps_stray_backslashes() {
        assert_eq!(unescape(r"/a\040b\011c"), "/a b\tc");
        assert_eq!(unescape(r"/a\x"), r"/a\x");
    }
}
