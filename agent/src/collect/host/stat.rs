//! Kernel-wide counters from `/proc/stat`, as node_exporter's `stat` collector.

use std::path::Path;

use super::number;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// The /proc/stat keys exposed, with the family each becomes.
const FAMILIES: [(&str, &str, &str, MetricType); 6] = [
    (
        "btime",
        "node_boot_time_seconds",
        "Node boot time, in unixtime.",
        MetricType::Gauge,
    ),
    (
        "ctxt",
        "node_context_switches_total",
        "Total number of context switches.",
        MetricType::Counter,
    ),
    (
        "processes",
        "node_forks_total",
        "Total number of forks.",
        MetricType::Counter,
    ),
    (
        "intr",
        "node_intr_total",
        "Total number of interrupts serviced.",
        MetricType::Counter,
    ),
    (
        "procs_blocked",
        "node_procs_blocked",
        "Number of processes blocked waiting for I/O to complete.",
        MetricType::Gauge,
    ),
    (
        "procs_running",
        "node_procs_running",
        "Number of processes in runnable state.",
        MetricType::Gauge,
    ),
];

/// Boot time, context switches, forks, interrupts, running and blocked processes.
pub(super) struct Stat {
    stat: KeptFile,
}

impl Stat {
    pub(super) fn new(proc_root: &Path) -> Self {
        Stat {
            stat: KeptFile::new(proc_root.join("stat")),
        }
    }
}

impl Collector for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = self.stat.read()?;
        let mut values = [None; FAMILIES.len()];
        for line in text.lines() {
            let mut fields = line.split_ascii_whitespace();
            let Some(key) = fields.next() else { continue };
            if let Some(i) = FAMILIES.iter().position(|(k, ..)| *k == key) {
                // For `intr` the first number is the total; the rest are per-interrupt counts.
                values[i] = Some(number(self.stat.path(), fields.next())?);
            }
        }
        for ((_, name, help, kind), value) in FAMILIES.iter().zip(values) {
            if let Some(value) = value {
                out.family(name, help, *kind).sample(&[], value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn reads_kernel_counters() {
        let text = scrape_one(&Stat::new(&fixture("proc")));
        for line in [
            "node_boot_time_seconds 1763769600\n",
            "node_context_switches_total 9876543\n",
            "node_forks_total 45678\n",
            "node_intr_total 123456\n",
            "node_procs_blocked 1\n",
            "node_procs_running 3\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
