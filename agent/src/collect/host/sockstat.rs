//! Socket counts from `/proc/net/sockstat` and `sockstat6`, as node_exporter's `sockstat`.

use std::path::Path;

use super::number;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_sockstat_sockets_used` and `node_sockstat_<PROTOCOL>_<state>`.
pub(super) struct Sockstat {
    sockstat: KeptFile,
    sockstat6: KeptFile,
    page_size: f64,
}

impl Sockstat {
    pub(super) fn new(proc_root: &Path) -> Self {
        Sockstat {
            sockstat: KeptFile::new(proc_root.join("net/sockstat")),
            sockstat6: KeptFile::new(proc_root.join("net/sockstat6")),
            page_size: rustix::param::page_size() as f64,
        }
    }

    /// Writes one file's families: `TCP: inuse 5 orphan 0 mem 3` gives `node_sockstat_TCP_inuse`
    /// and the others, plus `node_sockstat_TCP_mem_bytes` (mem is counted in pages).
    fn write_file(
        &self,
        path: &Path,
        text: &str,
        out: &mut Exposition,
    ) -> Result<(), CollectError> {
        for line in text.lines() {
            let Some((protocol, pairs)) = line.split_once(':') else {
                continue;
            };
            let mut fields = pairs.split_ascii_whitespace();
            while let Some(state) = fields.next() {
                let value = number(path, fields.next())?;
                if protocol == "sockets" {
                    out.family(
                        "node_sockstat_sockets_used",
                        "Number of IPv4 sockets in use.",
                        MetricType::Gauge,
                    )
                    .sample(&[], value);
                    continue;
                }
                let mut states = vec![(state.to_owned(), value)];
                if state == "mem" {
                    states.push(("mem_bytes".to_owned(), value * self.page_size));
                }
                for (state, value) in states {
                    let name = format!("node_sockstat_{protocol}_{state}");
                    let help = format!("Number of {protocol} sockets in state {state}.");
                    out.family(&name, &help, MetricType::Gauge)
                        .sample(&[], value);
                }
            }
        }
        Ok(())
    }
}

impl Collector for Sockstat {
    fn name(&self) -> &'static str {
        "sockstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        self.write_file(self.sockstat.path(), &self.sockstat.read()?, out)?;
        // Absent when IPv6 is disabled.
        if let Ok(text) = self.sockstat6.read() {
            self.write_file(self.sockstat6.path(), &text, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn states_per_protocol_and_memory_in_bytes() {
        let mut sockstat = Sockstat::new(&fixture("proc"));
        sockstat.page_size = 4096.0;
        let text = scrape_one(&sockstat);
        assert!(text.contains("\nnode_sockstat_sockets_used 77\n"));
        assert!(text.contains("\nnode_sockstat_TCP_tw 1912\n"));
        assert!(text.contains("\nnode_sockstat_TCP_mem 35\n"));
        assert!(text.contains("\nnode_sockstat_TCP_mem_bytes 143360\n"));
        assert!(text.contains("\nnode_sockstat_FRAG6_memory 0\n"));
        assert!(text.contains("\nnode_sockstat_TCP6_inuse 4\n"));
    }
}
