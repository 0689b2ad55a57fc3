//! Network device properties from `/sys/class/net`, as node_exporter's `netclass` collector.

use std::path::{Path, PathBuf};

use super::{AttributeDir, DeviceFilterConfig};
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
}

impl Netclass {
    pub(super) fn new(sys_root: &Path, filter: DeviceFilterConfig) -> Self {
        Netclass {
            class_net: sys_root.join("class/net"),
            filter,
        }
    }

    /// Reads one device's attributes; `None` if the device vanished meanwhile.
    fn device(&self, name: String) -> Option<Device> {
        let dir = AttributeDir::open(&self.class_net.join(&name)).ok()?;
        let mut buf = [0u8; 256];
        let mut attribute = |file: &str| dir.read(file, &mut buf).map(str::to_owned);
        let info = INFO_ATTRIBUTES.map(|file| attribute(file).unwrap_or_default());
        let mut number = |file: &str| dir.read(file, &mut buf)?.parse::<f64>().ok();
        Some(Device {
            info,
            numbers: NUMERIC_ATTRIBUTES.map(|(file, .., factor)| number(file).map(|v| v * factor)),
            transmit_queue_length: number("tx_queue_len"),
            name,
        })
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
        let devices: Vec<Device> = names
            .into_iter()
            .filter_map(|name| self.device(name))
            .collect();

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
