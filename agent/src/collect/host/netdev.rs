//! Network device counters from `/proc/net/dev` and each device's `rx_nohandler` in sysfs, as
//! node_exporter's `netdev` collector.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::DeviceFilterConfig;
use crate::collect::kept_file::KeptFile;
use crate::collect::net_dev::{COUNTERS, read_interfaces};
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// Docker creates one `veth*` per container and one `br-*` per network: left out by default so
/// a busy Docker host does not multiply the series count (a common node_exporter complaint).
pub(super) const DEFAULT_DEVICES_EXCLUDE: &str = r"^(veth.*|br-.*)$";

/// The statistics in /proc/net/dev's column order, named as node_exporter names them
/// (`receive_bytes` becomes `node_network_receive_bytes_total`).
const STATISTICS: [&str; COUNTERS] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// `node_network_{receive,transmit}_*_total{device}` for each device not excluded.
pub(super) struct Netdev {
    dev: KeptFile,
    class_net: PathBuf,
    filter: DeviceFilterConfig,
    /// `statistics/rx_nohandler` of each device seen at the last scrape: /proc/net/dev has no
    /// column for it (node_exporter reads it over netlink).
    nohandler: Mutex<HashMap<String, KeptFile>>,
}

impl Netdev {
    pub(super) fn new(proc_root: &Path, sys_root: &Path, filter: DeviceFilterConfig) -> Self {
        Netdev {
            dev: KeptFile::new(proc_root.join("net/dev")),
            class_net: sys_root.join("class/net"),
            filter,
            nohandler: Mutex::new(HashMap::new()),
        }
    }

    /// Writes `node_network_receive_nohandler_total` for the devices (sorted) whose sysfs
    /// counter can be read, forgetting the files of devices that are gone.
    fn write_nohandler(&self, devices: &[(String, [u64; COUNTERS])], out: &mut Exposition) {
        let mut files = self
            .nohandler
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        files.retain(|name, _| {
            devices
                .binary_search_by(|(device, _)| device.as_str().cmp(name))
                .is_ok()
        });
        let mut family = out.family(
            "node_network_receive_nohandler_total",
            "Network device statistic receive_nohandler.",
            MetricType::Counter,
        );
        let mut buf = Vec::new();
        for (device, _) in devices {
            let file = files.entry(device.clone()).or_insert_with(|| {
                KeptFile::new(self.class_net.join(device).join("statistics/rx_nohandler"))
            });
            // Devices without the attribute (older kernels) simply have no sample.
            if let Ok(value) = file.read_u64(&mut buf) {
                family.sample(&[("device", device)], value as f64);
            }
        }
    }
}

impl Collector for Netdev {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // Docker hosts list a veth per container here, all excluded by default: the filter
        // runs before anything is parsed or copied.
        let mut devices: Vec<(String, [u64; COUNTERS])> = Vec::new();
        read_interfaces(
            &self.dev,
            &mut Vec::new(),
            |name| !self.filter.devices_exclude.is_match(name),
            |name, counters| devices.push((name.to_owned(), *counters)),
        )?;
        devices.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut name = String::with_capacity(64);
        let mut help = String::with_capacity(64);
        for (column, statistic) in STATISTICS.into_iter().enumerate() {
            name.clear();
            name.push_str("node_network_");
            name.push_str(statistic);
            name.push_str("_total");
            help.clear();
            help.push_str("Network device statistic ");
            help.push_str(statistic);
            help.push('.');
            let mut family = out.family(&name, &help, MetricType::Counter);
            for (device, counters) in &devices {
                family.sample(&[("device", device)], counters[column] as f64);
            }
        }
        self.write_nohandler(&devices, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HostConfig, fixture, scrape_one};
    use super::*;

    #[test]
    fn counters_per_device_without_docker_bridges_and_veths() {
        let text = scrape_one(&Netdev::new(
            &fixture("proc"),
            &fixture("sys"),
            HostConfig::default().netdev,
        ));
        assert!(text.contains("node_network_receive_bytes_total{device=\"eth0\"} 98765432\n"));
        assert!(text.contains("node_network_receive_nohandler_total{device=\"eth0\"} 5\n"));
        assert!(text.contains("node_network_receive_nohandler_total{device=\"lo\"} 0\n"));
        assert!(text.contains("node_network_transmit_carrier_total{device=\"eth0\"} 11\n"));
        assert!(text.contains("node_network_receive_packets_total{device=\"lo\"} 789\n"));
        assert!(!text.contains("veth1a2b"));
        assert!(!text.contains("br-0123abcd"));
    }

    #[test]
    fn the_exclusion_is_configurable() {
        let config: HostConfig = toml::from_str("[netdev]\ndevices_exclude = \"^lo$\"").unwrap();
        let text = scrape_one(&Netdev::new(
            &fixture("proc"),
            &fixture("sys"),
            config.netdev,
        ));
        assert!(text.contains("{device=\"veth1a2b\"}"));
        assert!(!text.contains("{device=\"lo\"}"));
    }
}
