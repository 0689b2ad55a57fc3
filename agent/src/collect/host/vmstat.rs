//! Paging and OOM counters from `/proc/vmstat`, as node_exporter's `vmstat` collector.

use std::path::Path;

use super::number;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// The fields node_exporter exposes by default (its `^(oom_kill|pgpg|pswp|pg.*fault).*`).
fn is_exposed(field: &str) -> bool {
    field.starts_with("oom_kill")
        || field.starts_with("pgpg")
        || field.starts_with("pswp")
        || (field.starts_with("pg") && field.contains("fault"))
}

/// `node_vmstat_<field>`, untyped as in node_exporter.
pub(super) struct Vmstat {
    vmstat: KeptFile,
}

impl Vmstat {
    pub(super) fn new(proc_root: &Path) -> Self {
        Vmstat {
            vmstat: KeptFile::new(proc_root.join("vmstat")),
        }
    }
}

impl Collector for Vmstat {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = self.vmstat.read()?;
        for line in text.lines() {
            let mut fields = line.split_ascii_whitespace();
            let Some(field) = fields.next().filter(|f| is_exposed(f)) else {
                continue;
            };
            let value = number(self.vmstat.path(), fields.next())?;
            let name = format!("node_vmstat_{field}");
            let help = format!("/proc/vmstat information field {field}.");
            out.family(&name, &help, MetricType::Untyped)
                .sample(&[], value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn exposes_node_exporters_default_fields_only() {
        let text = scrape_one(&Vmstat::new(&fixture("proc")));
        for name in [
            "pgfault",
            "pgmajfault",
            "pgpgin",
            "pgpgout",
            "pswpin",
            "pswpout",
            "oom_kill",
        ] {
            assert!(text.contains(&format!("\nnode_vmstat_{name} ")), "{name}");
        }
        assert!(!text.contains("nr_free_pages"));
    }
}
