//! Network device properties from `/sys/class/net`, as node_exporter's `netclass` collector.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::DeviceFilterConfig;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// The string attributes on `node_network_info`, in node_exporter's label order.
const INFO_ATTRIBUTES: [&str; 5] = ["address", "broadcast", "duplex", "ifalias", "operstate"];

/// The numeric attributes: sysfs file, family name, help, type, and the factor to the unit.
const NUMERIC_ATTRIBUTES: [(&str, &str, &str, MetricType, f64); 6] = [
    (
        "carrier",
        "node_network_carrier",
        "Network device property: carrier",
        MetricType::Gauge,
        1.0,
    ),
    (
        "carrier_changes",
        "node_network_carrier_changes_total",
        "Network device property: carrier_changes_total",
        MetricType::Counter,
        1.0,
    ),
    (
        "carrier_down_count",
        "node_network_carrier_down_changes_total",
        "Network device property: carrier_down_changes_total",
        MetricType::Counter,
        1.0,
    ),
    (
        "carrier_up_count",
        "node_network_carrier_up_changes_total",
        "Network device property: carrier_up_changes_total",
        MetricType::Counter,
        1.0,
    ),
    (
        "mtu",
        "node_network_mtu_bytes",
        "Network device property: mtu_bytes",
        MetricType::Gauge,
        1.0,
    ),
    // The kernel reports Mbit/s; node_exporter converts to bytes per second.
    (
        "speed",
        "node_network_speed_bytes",
        "Network device property: speed_bytes",
        MetricType::Gauge,
        125_000.0,
    ),
];

/// One device's attributes; an attribute the kernel refuses (e.g. speed of a down link) is absent.
struct Device {
    name: String,
    info: [String; INFO_ATTRIBUTES.len()],
    numbers: [Option<f64>; NUMERIC_ATTRIBUTES.len()],
    transmit_queue_length: Option<f64>,
}

/// `node_network_info`, `node_network_up`, MTU, speed, carrier and queue length per device.
pub(super) struct Netclass {
    class_net: PathBuf,
    filter: DeviceFilterConfig,
    /// Open attribute files per device present at the last scrape.
    files: Mutex<HashMap<String, DeviceFiles>>,
}

impl Netclass {
    pub(super) fn new(sys_root: &Path, filter: DeviceFilterConfig) -> Self {
        Netclass {
            class_net: sys_root.join("class/net"),
            filter,
            files: Mutex::new(HashMap::new()),
        }
    }

    /// Reads one device's attributes through its kept files.
    fn device(name: String, files: &DeviceFiles) -> Device {
        let text = |file: &KeptFile| file.read().ok().map(|t| t.trim_end().to_owned());
        let number = |file: &KeptFile| text(file)?.parse::<f64>().ok();
        Device {
            info: files.info.each_ref().map(|f| text(f).unwrap_or_default()),
            numbers: std::array::from_fn(|i| {
                number(&files.numbers[i]).map(|v| v * NUMERIC_ATTRIBUTES[i].4)
            }),
            transmit_queue_length: number(&files.transmit_queue_length),
            name,
        }
    }
}

/// The attribute files of one device, kept open across scrapes.
struct DeviceFiles {
    info: [KeptFile; INFO_ATTRIBUTES.len()],
    numbers: [KeptFile; NUMERIC_ATTRIBUTES.len()],
    transmit_queue_length: KeptFile,
}

impl DeviceFiles {
    fn new(dir: &Path) -> Self {
        DeviceFiles {
            info: INFO_ATTRIBUTES.map(|file| KeptFile::new(dir.join(file))),
            numbers: NUMERIC_ATTRIBUTES.map(|(file, ..)| KeptFile::new(dir.join(file))),
            transmit_queue_length: KeptFile::new(dir.join("tx_queue_len")),
        }
    }
}

impl Collector for Netclass {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let entries = std::fs::read_dir(&self.class_net).map_err(|source| CollectError::Read {
            path: self.class_net.display().to_string(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !self.filter.devices_exclude.is_match(name))
            .collect();
        names.sort_unstable();
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.retain(|name, _| names.binary_search(name).is_ok());
        let devices: Vec<Device> = names
            .into_iter()
            .map(|name| {
                let device_files = files
                    .entry(name.clone())
                    .or_insert_with(|| DeviceFiles::new(&self.class_net.join(&name)));
                Self::device(name, device_files)
            })
            .collect();
        drop(files);

        let mut family = out.family(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            MetricType::Gauge,
        );
        for device in &devices {
            let [address, broadcast, duplex, ifalias, operstate] = &device.info;
            family.sample(
                &[
                    ("address", address),
                    ("broadcast", broadcast),
                    ("device", &device.name),
                    ("duplex", duplex),
                    ("ifalias", ifalias),
                    ("operstate", operstate),
                ],
                1.0,
            );
        }
        let mut family = out.family(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            MetricType::Gauge,
        );
        for device in &devices {
            let up = device.info[4] == "up";
            family.sample(&[("device", &device.name)], if up { 1.0 } else { 0.0 });
        }
        for (i, (_, name, help, kind, _)) in NUMERIC_ATTRIBUTES.iter().enumerate() {
            let mut family = out.family(name, help, *kind);
            for device in &devices {
                if let Some(value) = device.numbers[i] {
                    family.sample(&[("device", &device.name)], value);
                }
            }
        }
        let mut family = out.family(
            "node_network_transmit_queue_length",
            "Network device property: transmit_queue_length",
            MetricType::Gauge,
        );
        for device in &devices {
            if let Some(value) = device.transmit_queue_length {
                family.sample(&[("device", &device.name)], value);
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
    fn properties_per_device_in_node_exporter_units() {
        let netclass = Netclass::new(&fixture("sys"), HostConfig::default().netdev);
        let text = scrape_one(&netclass);
        assert!(
            text.contains("node_network_up{device=\"eth0\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("node_network_speed_bytes{device=\"eth0\"} 125000000\n"));
        assert!(text.contains("node_network_mtu_bytes{device=\"lo\"} 65536\n"));
        assert!(!text.contains("node_network_speed_bytes{device=\"lo\"}"));
        assert!(
            text.contains(",device=\"eth0\",duplex=\"full\",ifalias=\"\",operstate=\"up\"} 1\n")
        );
        assert!(
            !text.contains("veth9"),
            "veth devices are excluded by default"
        );
    }
}
