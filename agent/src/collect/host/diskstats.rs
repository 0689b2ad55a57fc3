//! Block device I/O counters from `/proc/diskstats`, as node_exporter's `diskstats` collector.

use std::path::{Path, PathBuf};

use procfs::{DiskStat, DiskStats, FromBufRead as _};

use super::{DeviceFilterConfig, parse_error};
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// node_exporter's default: partitions, RAM disks, loop and floppy devices are left out.
pub(super) const DEFAULT_DEVICES_EXCLUDE: &str =
    r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// Where udev keeps what it learnt of each device (`b<major>:<minor>`), node_exporter's default.
pub(super) const UDEV_DATA: &str = "/run/udev/data";

/// The `node_disk_info` labels taken from udev's data, with their udev property: node_exporter
/// writes them empty when udev has no data (a container, a host without udev).
const UDEV_LABELS: [(&str, &str); 5] = [
    ("path", "ID_PATH"),
    ("wwn", "ID_WWN"),
    ("model", "ID_MODEL"),
    ("serial", "ID_SERIAL_SHORT"),
    ("revision", "ID_REVISION"),
];

/// The kernel counts sectors of 512 bytes in /proc/diskstats, whatever the device's block size.
const SECTOR_BYTES: f64 = 512.0;

/// How one family's value comes out of a /proc/diskstats line.
type Field = fn(&DiskStat) -> Option<f64>;

/// The families, in node_exporter's order, with their help text and field.
const FAMILIES: [(&str, &str, MetricType, Field); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        MetricType::Counter,
        |d| Some(d.reads as f64),
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        MetricType::Counter,
        |d| Some(d.merged as f64),
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        MetricType::Counter,
        |d| Some(d.sectors_read as f64 * SECTOR_BYTES),
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricType::Counter,
        |d| Some(d.time_reading as f64 / 1000.0),
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        MetricType::Counter,
        |d| Some(d.writes as f64),
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        MetricType::Counter,
        |d| Some(d.writes_merged as f64),
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        MetricType::Counter,
        |d| Some(d.sectors_written as f64 * SECTOR_BYTES),
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricType::Counter,
        |d| Some(d.time_writing as f64 / 1000.0),
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        MetricType::Gauge,
        |d| Some(d.in_progress as f64),
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricType::Counter,
        |d| Some(d.time_in_progress as f64 / 1000.0),
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricType::Counter,
        |d| Some(d.weighted_time_in_progress as f64 / 1000.0),
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        MetricType::Counter,
        |d| d.discards.map(|v| v as f64),
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        MetricType::Counter,
        |d| d.discards_merged.map(|v| v as f64),
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricType::Counter,
        |d| d.sectors_discarded.map(|v| v as f64),
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricType::Counter,
        |d| d.time_discarding.map(|v| v as f64 / 1000.0),
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully.",
        MetricType::Counter,
        |d| d.flushes.map(|v| v as f64),
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricType::Counter,
        |d| d.time_flushing.map(|v| v as f64 / 1000.0),
    ),
];

/// `node_disk_*{device}` for each block device not excluded.
pub(super) struct Diskstats {
    diskstats: KeptFile,
    udev_data: PathBuf,
    filter: DeviceFilterConfig,
}

impl Diskstats {
    pub(super) fn new(proc_root: &Path, udev_data: &Path, filter: DeviceFilterConfig) -> Self {
        Diskstats {
            diskstats: KeptFile::new(proc_root.join("diskstats")),
            udev_data: udev_data.to_owned(),
            filter,
        }
    }

    /// The udev-derived `node_disk_info` label values of a device, empty where unknown.
    fn udev_values(&self, major: &str, minor: &str) -> [String; UDEV_LABELS.len()] {
        let path = self.udev_data.join(format!("b{major}:{minor}"));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        UDEV_LABELS.map(|(_, property)| {
            let value = text.lines().find_map(|line| {
                let (key, value) = line.strip_prefix("E:")?.split_once('=')?;
                (key == property).then_some(value)
            });
            value.unwrap_or_default().to_owned()
        })
    }
}

impl Collector for Diskstats {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = self.diskstats.read()?;
        let DiskStats(mut disks) = DiskStats::from_buf_read(text.as_bytes())
            .map_err(|e| parse_error(self.diskstats.path(), e.to_string()))?;
        disks.retain(|d| !self.filter.devices_exclude.is_match(&d.name));
        let mut family = out.family(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            MetricType::Gauge,
        );
        for disk in &disks {
            let (major, minor) = (disk.major.to_string(), disk.minor.to_string());
            let udev = self.udev_values(&major, &minor);
            let mut labels = vec![
                ("device", disk.name.as_str()),
                ("major", &major),
                ("minor", &minor),
            ];
            labels.extend(
                UDEV_LABELS
                    .iter()
                    .zip(&udev)
                    .map(|((name, _), value)| (*name, value.as_str())),
            );
            family.sample(&labels, 1.0);
        }
        for (name, help, kind, field) in FAMILIES {
            if disks.iter().all(|d| field(d).is_none()) {
                continue;
            }
            let mut family = out.family(name, help, kind);
            for disk in &disks {
                if let Some(value) = field(disk) {
                    family.sample(&[("device", &disk.name)], value);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HostConfig, fixture, scrape_one};
    use super::*;

    #[test]
    fn whole_disks_are_reported_in_bytes_and_seconds() {
        let udev = fixture("run/udev/data");
        let disks = Diskstats::new(&fixture("proc"), &udev, HostConfig::default().diskstats);
        let text = scrape_one(&disks);
        assert!(
            text.contains(
                "node_disk_info{device=\"vda\",major=\"254\",minor=\"0\",path=\"pci-0000:00:05.0\",\
             wwn=\"\",model=\"\",serial=\"osprey-disk-1\",revision=\"\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",path=\"\",wwn=\"\",model=\"\",\
             serial=\"\",revision=\"\"} 1\n"
        ), "{text}");
        // vda: 800000 sectors read, 2500 ms writing, 3000 ms doing I/O, 60 flushes.
        assert!(text.contains("node_disk_read_bytes_total{device=\"vda\"} 409600000\n"));
        assert!(text.contains("node_disk_write_time_seconds_total{device=\"vda\"} 2.5\n"));
        assert!(text.contains("node_disk_io_time_seconds_total{device=\"vda\"} 3\n"));
        assert!(text.contains("node_disk_flush_requests_total{device=\"vda\"} 60\n"));
        assert!(text.contains("node_disk_reads_completed_total{device=\"sda\"} 100\n"));
        // sda is from an old kernel without discard and flush columns.
        assert!(!text.contains("node_disk_flush_requests_total{device=\"sda\"}"));
        assert!(!text.contains("vda1"), "partitions are excluded by default");
        assert!(
            !text.contains("loop0"),
            "loop devices are excluded by default"
        );
    }
}
