//! Load averages from `/proc/loadavg`, as node_exporter's `loadavg` collector.
//!
//! Parsed by hand: procfs's `LoadAverage` holds `f32`, which would print 0.15 as 0.15000000596.

use std::path::Path;

use super::number;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_load1`, `node_load5`, `node_load15`.
pub(super) struct Loadavg {
    loadavg: KeptFile,
}

impl Loadavg {
    pub(super) fn new(proc_root: &Path) -> Self {
        Loadavg {
            loadavg: KeptFile::new(proc_root.join("loadavg")),
        }
    }
}

impl Collector for Loadavg {
    fn name(&self) -> &'static str {
        "loadavg"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = self.loadavg.read()?;
        let mut fields = text.split_ascii_whitespace();
        for (name, help) in [
            ("node_load1", "1m load average."),
            ("node_load5", "5m load average."),
            ("node_load15", "15m load average."),
        ] {
            let value = number(self.loadavg.path(), fields.next())?;
            out.family(name, help, MetricType::Gauge).sample(&[], value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn reads_the_three_averages() {
        let text = scrape_one(&Loadavg::new(&fixture("proc")));
        assert!(text.contains("node_load1 0.25\n"));
        assert!(text.contains("node_load5 0.5\n"));
        assert!(text.contains("node_load15 1.75\n"));
    }
}
