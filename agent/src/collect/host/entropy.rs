//! The kernel's entropy pool, as node_exporter's `entropy` collector.

use std::path::Path;

use super::number;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_entropy_available_bits` and `node_entropy_pool_size_bits`.
pub(super) struct Entropy {
    available: KeptFile,
    pool_size: KeptFile,
}

impl Entropy {
    pub(super) fn new(proc_root: &Path) -> Self {
        Entropy {
            available: KeptFile::new(proc_root.join("sys/kernel/random/entropy_avail")),
            pool_size: KeptFile::new(proc_root.join("sys/kernel/random/poolsize")),
        }
    }
}

impl Collector for Entropy {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        for (file, name, help) in [
            (
                &self.available,
                "node_entropy_available_bits",
                "Bits of available entropy.",
            ),
            (
                &self.pool_size,
                "node_entropy_pool_size_bits",
                "Bits of entropy pool.",
            ),
        ] {
            let value = number(file.path(), file.read()?.split_ascii_whitespace().next())?;
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
    fn reads_both_files() {
        let text = scrape_one(&Entropy::new(&fixture("proc")));
        assert!(text.contains("node_entropy_available_bits 256\n"));
        assert!(text.contains("node_entropy_pool_size_bits 256\n"));
    }
}
