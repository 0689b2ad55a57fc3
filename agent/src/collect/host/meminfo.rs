//! Every line of `/proc/meminfo`, named as node_exporter's `meminfo` collector names them.
//!
//! Parsed by hand rather than with procfs's `Meminfo`: node_exporter exposes every line the
//! kernel prints (new kernels add lines), while procfs's struct only knows a fixed set.

use std::path::Path;

use super::{number, parse_error};
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_memory_<Key>_bytes` for each `kB` line, `node_memory_<Key>` for the page counts.
pub(super) struct Meminfo {
    meminfo: KeptFile,
}

impl Meminfo {
    pub(super) fn new(proc_root: &Path) -> Self {
        Meminfo {
            meminfo: KeptFile::new(proc_root.join("meminfo")),
        }
    }
}

/// node_exporter's name for a meminfo key: `Active(anon)` becomes `Active_anon`.
fn metric_name(key: &str, in_kilobytes: bool) -> String {
    let mut name = String::with_capacity(key.len() + 20);
    name.push_str("node_memory_");
    for c in key.chars() {
        match c {
            '(' => name.push('_'),
            ')' => {}
            c => name.push(c),
        }
    }
    if in_kilobytes {
        name.push_str("_bytes");
    }
    name
}

impl Collector for Meminfo {
    fn name(&self) -> &'static str {
        "meminfo"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = self.meminfo.read()?;
        for line in text.lines() {
            let Some((key, rest)) = line.split_once(':') else {
                return Err(parse_error(
                    self.meminfo.path(),
                    format!("no colon in {line:?}"),
                ));
            };
            let mut fields = rest.split_ascii_whitespace();
            let value = number(self.meminfo.path(), fields.next())?;
            let in_kilobytes = fields.next() == Some("kB");
            let name = metric_name(key, in_kilobytes);
            let help = format!(
                "Memory information field {}.",
                &name["node_memory_".len()..]
            );
            let value = if in_kilobytes { value * 1024.0 } else { value };
            out.family(&name, &help, MetricType::Gauge)
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
    fn names_follow_node_exporter() {
        assert_eq!(metric_name("MemTotal", true), "node_memory_MemTotal_bytes");
        assert_eq!(
            metric_name("Active(anon)", true),
            "node_memory_Active_anon_bytes"
        );
        assert_eq!(
            metric_name("HugePages_Total", false),
            "node_memory_HugePages_Total"
        );
    }

    #[test]
    fn every_line_becomes_a_family_in_bytes() {
        let path = fixture("proc");
        let text = scrape_one(&Meminfo::new(&path));
        let source = std::fs::read_to_string(path.join("meminfo")).unwrap();
        assert_eq!(text.matches("# TYPE ").count(), source.lines().count());
        let kb: f64 = source
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_ascii_whitespace().next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(text.contains(&format!("node_memory_MemTotal_bytes {}\n", kb * 1024.0)));
    }
}
