//! Per-CPU packet processing from `/proc/net/softnet_stat`, as node_exporter's `softnet`.

use std::path::Path;

use super::hexadecimal;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// The columns node_exporter 1.5 exposes: index in the line, family name, help.
const COLUMNS: [(usize, &str, &str); 3] = [
    (1, "node_softnet_dropped_total", "Number of dropped packets"),
    (
        0,
        "node_softnet_processed_total",
        "Number of processed packets",
    ),
    (
        2,
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
    ),
];

/// `node_softnet_{processed,dropped,times_squeezed}_total{cpu}`.
pub(super) struct Softnet {
    softnet_stat: KeptFile,
}

impl Softnet {
    pub(super) fn new(proc_root: &Path) -> Self {
        Softnet {
            softnet_stat: KeptFile::new(proc_root.join("net/softnet_stat")),
        }
    }
}

impl Collector for Softnet {
    fn name(&self) -> &'static str {
        "softnet"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // One line of hexadecimal counters per online CPU; node_exporter 1.5 numbers the CPUs
        // by line.
        let text = self.softnet_stat.read()?;
        let mut rows = Vec::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            let mut row = [0.0; COLUMNS.len()];
            for (slot, (column, _, _)) in row.iter_mut().zip(COLUMNS) {
                let field = fields.get(column).copied();
                *slot = hexadecimal(self.softnet_stat.path(), field)?;
            }
            rows.push(row);
        }
        for (index, (_, name, help)) in COLUMNS.into_iter().enumerate() {
            let mut family = out.family(name, help, MetricType::Counter);
            for (cpu, row) in rows.iter().enumerate() {
                family.sample(&[("cpu", itoa::Buffer::new().format(cpu))], row[index]);
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
    fn counters_per_cpu_from_hexadecimal_columns() {
        let text = scrape_one(&Softnet::new(&fixture("proc")));
        assert!(text.contains("\nnode_softnet_processed_total{cpu=\"0\"} 299641\n"));
        assert!(text.contains("\nnode_softnet_processed_total{cpu=\"1\"} 916354\n"));
        assert!(text.contains("\nnode_softnet_dropped_total{cpu=\"1\"} 41\n"));
        assert!(text.contains("\nnode_softnet_times_squeezed_total{cpu=\"1\"} 10\n"));
    }

    #[test]
    fn a_short_line_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("net")).unwrap();
        std::fs::write(dir.path().join("net/softnet_stat"), "0000000a 00000000\n").unwrap();
        let mut out = Exposition::new(crate::expose::Format::Text004);
        let error = Softnet::new(dir.path()).collect(&mut out).unwrap_err();
        assert!(error.to_string().contains("softnet_stat"), "{error}");
    }
}
