//! Neighbour table size per device from `/proc/net/arp`, as node_exporter's `arp` collector.

use std::collections::BTreeMap;
use std::path::Path;

use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_arp_entries{device}`.
pub(super) struct Arp {
    arp: KeptFile,
}

impl Arp {
    pub(super) fn new(proc_root: &Path) -> Self {
        Arp {
            arp: KeptFile::new(proc_root.join("net/arp")),
        }
    }
}

impl Collector for Arp {
    fn name(&self) -> &'static str {
        "arp"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = self.arp.read()?;
        let mut entries: BTreeMap<&str, f64> = BTreeMap::new();
        // A header line, then `IP type flags address mask device` per entry.
        for line in text.lines().skip(1) {
            let device = line
                .split_ascii_whitespace()
                .nth(5)
                .ok_or_else(|| self.arp.parse_error(format!("short line {line:?}")))?;
            *entries.entry(device).or_default() += 1.0;
        }
        let mut family = out.family(
            "node_arp_entries",
            "ARP entries by device",
            MetricType::Gauge,
        );
        for (device, count) in entries {
            family.sample(&[("device", device)], count);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn entries_are_counted_per_device() {
        let text = scrape_one(&Arp::new(&fixture("proc")));
        assert!(
            text.contains("\nnode_arp_entries{device=\"docker0\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("\nnode_arp_entries{device=\"eth0\"} 2\n"),
            "{text}"
        );
    }
}
