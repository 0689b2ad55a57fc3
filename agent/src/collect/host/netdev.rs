//! Network device counters from `/proc/net/dev`, as node_exporter's `netdev` collector.

use std::path::Path;

use procfs::FromBufRead as _;
use procfs::net::{DeviceStatus, InterfaceDeviceStatus};

use super::{DeviceFilterConfig, parse_error};
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// Docker creates one `veth*` per container and one `br-*` per network: left out by default so
/// a busy Docker host does not multiply the series count (a common node_exporter complaint).
pub(super) const DEFAULT_DEVICES_EXCLUDE: &str = r"^(veth.*|br-.*)$";

/// How one counter comes out of a /proc/net/dev line.
type Field = fn(&DeviceStatus) -> u64;

/// The statistics, named as node_exporter names them (`receive_bytes` becomes
/// `node_network_receive_bytes_total`).
const STATISTICS: [(&str, Field); 16] = [
    ("receive_bytes", |d| d.recv_bytes),
    ("receive_packets", |d| d.recv_packets),
    ("receive_errs", |d| d.recv_errs),
    ("receive_drop", |d| d.recv_drop),
    ("receive_fifo", |d| d.recv_fifo),
    ("receive_frame", |d| d.recv_frame),
    ("receive_compressed", |d| d.recv_compressed),
    ("receive_multicast", |d| d.recv_multicast),
    ("transmit_bytes", |d| d.sent_bytes),
    ("transmit_packets", |d| d.sent_packets),
    ("transmit_errs", |d| d.sent_errs),
    ("transmit_drop", |d| d.sent_drop),
    ("transmit_fifo", |d| d.sent_fifo),
    ("transmit_colls", |d| d.sent_colls),
    ("transmit_carrier", |d| d.sent_carrier),
    ("transmit_compressed", |d| d.sent_compressed),
];

/// `node_network_{receive,transmit}_*_total{device}` for each device not excluded.
pub(super) struct Netdev {
    dev: KeptFile,
    filter: DeviceFilterConfig,
}

impl Netdev {
    pub(super) fn new(proc_root: &Path, filter: DeviceFilterConfig) -> Self {
        Netdev {
            dev: KeptFile::new(proc_root.join("net/dev")),
            filter,
        }
    }
}

impl Collector for Netdev {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = self.dev.read()?;
        let InterfaceDeviceStatus(devices) = InterfaceDeviceStatus::from_buf_read(text.as_bytes())
            .map_err(|e| parse_error(self.dev.path(), e.to_string()))?;
        let mut devices: Vec<&DeviceStatus> = devices
            .values()
            .filter(|d| !self.filter.devices_exclude.is_match(&d.name))
            .collect();
        devices.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        let mut name = String::with_capacity(64);
        let mut help = String::with_capacity(64);
        for (statistic, field) in STATISTICS {
            name.clear();
            name.push_str("node_network_");
            name.push_str(statistic);
            name.push_str("_total");
            help.clear();
            help.push_str("Network device statistic ");
            help.push_str(statistic);
            help.push('.');
            let mut family = out.family(&name, &help, MetricType::Counter);
            for device in &devices {
                family.sample(&[("device", &device.name)], field(device) as f64);
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
    fn counters_per_device_without_docker_bridges_and_veths() {
        let text = scrape_one(&Netdev::new(&fixture("proc"), HostConfig::default().netdev));
        assert!(text.contains("node_network_receive_bytes_total{device=\"eth0\"} 98765432\n"));
        assert!(text.contains("node_network_transmit_carrier_total{device=\"eth0\"} 11\n"));
        assert!(text.contains("node_network_receive_packets_total{device=\"lo\"} 789\n"));
        assert!(!text.contains("veth1a2b"));
        assert!(!text.contains("br-0123abcd"));
    }

    #[test]
    fn the_exclusion_is_configurable() {
        let config: HostConfig = toml::from_str("[netdev]\ndevices_exclude = \"^lo$\"").unwrap();
        let text = scrape_one(&Netdev::new(&fixture("proc"), config.netdev));
        assert!(text.contains("{device=\"veth1a2b\"}"));
        assert!(!text.contains("{device=\"lo\"}"));
    }
}
