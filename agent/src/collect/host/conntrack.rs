//! Connection tracking table size and statistics, as node_exporter's `conntrack` collector.

use std::path::Path;

use super::{hexadecimal, number};
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// The statistics node_exporter exposes: the column name in `/proc/net/stat/nf_conntrack`'s
/// header (also the family name's suffix) and the help.
const STATISTICS: [(&str, &str); 8] = [
    (
        "drop",
        "Number of packets dropped due to conntrack failure.",
    ),
    (
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    ("found", "Number of searched entries which were successful."),
    (
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    ("insert", "Number of entries inserted into the list."),
    (
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    (
        "invalid",
        "Number of packets seen which can not be tracked.",
    ),
    (
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

/// `node_nf_conntrack_entries`, `node_nf_conntrack_entries_limit` and
/// `node_nf_conntrack_stat_*` (summed over CPUs). Hosts without the nf_conntrack module have none
/// of these files: the collector then writes nothing, as node_exporter.
pub(super) struct Conntrack {
    count: KeptFile,
    max: KeptFile,
    statistics: KeptFile,
}

impl Conntrack {
    pub(super) fn new(proc_root: &Path) -> Self {
        Conntrack {
            count: KeptFile::new(proc_root.join("sys/net/netfilter/nf_conntrack_count")),
            max: KeptFile::new(proc_root.join("sys/net/netfilter/nf_conntrack_max")),
            statistics: KeptFile::new(proc_root.join("net/stat/nf_conntrack")),
        }
    }

    /// Sums each statistic's column over the per-CPU lines; the columns are found by name, since
    /// kernels have added and removed some over time.
    fn statistics(&self) -> Result<[f64; STATISTICS.len()], CollectError> {
        let text = self.statistics.read()?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .split_ascii_whitespace()
            .collect();
        let mut columns = [None; STATISTICS.len()];
        for (slot, (column, _)) in columns.iter_mut().zip(STATISTICS) {
            *slot = header.iter().position(|name| *name == column);
        }
        let mut sums = [0.0; STATISTICS.len()];
        for line in lines {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            for (sum, column) in sums.iter_mut().zip(columns) {
                if let Some(column) = column {
                    *sum += hexadecimal(self.statistics.path(), fields.get(column).copied())?;
                }
            }
        }
        Ok(sums)
    }
}

impl Collector for Conntrack {
    fn name(&self) -> &'static str {
        "conntrack"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let Ok(count) = self.count.read() else {
            return Ok(());
        };
        let count = number(self.count.path(), count.split_ascii_whitespace().next())?;
        let max = self.max.read()?;
        let max = number(self.max.path(), max.split_ascii_whitespace().next())?;
        out.family(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            MetricType::Gauge,
        )
        .sample(&[], count);
        out.family(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            MetricType::Gauge,
        )
        .sample(&[], max);
        let sums = self.statistics()?;
        let mut name = String::with_capacity(48);
        for ((suffix, help), sum) in STATISTICS.into_iter().zip(sums) {
            name.clear();
            name.push_str("node_nf_conntrack_stat_");
            name.push_str(suffix);
            // node_exporter types these running counts as gauges.
            out.family(&name, help, MetricType::Gauge).sample(&[], sum);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn table_size_and_statistics_summed_over_cpus() {
        let text = scrape_one(&Conntrack::new(&fixture("proc")));
        for line in [
            "node_nf_conntrack_entries 33",
            "node_nf_conntrack_entries_limit 262144",
            "node_nf_conntrack_stat_found 3",
            "node_nf_conntrack_stat_invalid 17",
            "node_nf_conntrack_stat_ignore 10",
            "node_nf_conntrack_stat_insert 4",
            "node_nf_conntrack_stat_insert_failed 1",
            "node_nf_conntrack_stat_drop 2",
            "node_nf_conntrack_stat_early_drop 7",
            "node_nf_conntrack_stat_search_restart 16",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn hosts_without_conntrack_get_no_families() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(scrape_one(&Conntrack::new(dir.path())), "");
    }
}
