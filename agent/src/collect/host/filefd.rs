//! Open file handles system-wide from `/proc/sys/fs/file-nr`, as node_exporter's `filefd`.

use std::path::Path;

use super::number;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_filefd_allocated` and `node_filefd_maximum`.
pub(super) struct Filefd {
    file_nr: KeptFile,
}

impl Filefd {
    pub(super) fn new(proc_root: &Path) -> Self {
        Filefd {
            file_nr: KeptFile::new(proc_root.join("sys/fs/file-nr")),
        }
    }
}

impl Collector for Filefd {
    fn name(&self) -> &'static str {
        "filefd"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // Three numbers: allocated, allocated but unused (always 0 since Linux 2.6), maximum.
        let text = self.file_nr.read()?;
        let mut fields = text.split_ascii_whitespace();
        let allocated = number(self.file_nr.path(), fields.next())?;
        let maximum = number(self.file_nr.path(), fields.nth(1))?;
        out.family(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            MetricType::Gauge,
        )
        .sample(&[], allocated);
        out.family(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            MetricType::Gauge,
        )
        .sample(&[], maximum);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn reads_allocated_and_maximum() {
        let text = scrape_one(&Filefd::new(&fixture("proc")));
        assert!(text.contains("node_filefd_allocated 2048\n"));
        assert!(text.contains("node_filefd_maximum 9.223372036854776e18\n"));
    }
}
