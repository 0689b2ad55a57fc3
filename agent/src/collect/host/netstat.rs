//! Protocol counters from `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`, as
//! node_exporter's `netstat` collector with its default field selection.

use std::path::Path;

use regex::Regex;

use super::kept_file::KeptFile;
use super::{number, parse_error};
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// node_exporter's default `--collector.netstat.fields`.
const FIELDS: &str = r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// `node_netstat_<Protocol>_<Field>`, untyped as in node_exporter.
pub(super) struct Netstat {
    /// Files of header/value line pairs: `TcpExt: A B` then `TcpExt: 1 2`.
    paired: [KeptFile; 2],
    /// The IPv6 file of `Ip6InOctets 123` lines.
    snmp6: KeptFile,
    fields: Regex,
}

impl Netstat {
    pub(super) fn new(proc_root: &Path) -> Self {
        Netstat {
            paired: [
                KeptFile::new(proc_root.join("net/netstat")),
                KeptFile::new(proc_root.join("net/snmp")),
            ],
            snmp6: KeptFile::new(proc_root.join("net/snmp6")),
            fields: Regex::new(FIELDS).expect("built-in pattern compiles"),
        }
    }

    /// Adds the selected `(Protocol_Field, value)` pairs of a paired file.
    fn read_paired(
        &self,
        file: &KeptFile,
        out: &mut Vec<(String, f64)>,
    ) -> Result<(), CollectError> {
        let text = file.read()?;
        let path = file.path();
        let mut lines = text.lines();
        while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
            let (Some((protocol, names)), Some((_, values))) =
                (names.split_once(':'), values.split_once(':'))
            else {
                return Err(parse_error(path, "expected `Protocol: ...` line pairs"));
            };
            let mut values = values.split_ascii_whitespace();
            for name in names.split_ascii_whitespace() {
                let value = values.next();
                let key = format!("{protocol}_{name}");
                if self.fields.is_match(&key) {
                    out.push((key, number(path, value)?));
                }
            }
        }
        Ok(())
    }

    /// Adds the selected pairs of snmp6, where `Icmp6InMsgs` means protocol `Icmp6`.
    fn read_snmp6(&self, out: &mut Vec<(String, f64)>) -> Result<(), CollectError> {
        // A kernel booted with ipv6.disable=1 has no snmp6.
        let Ok(text) = self.snmp6.read() else {
            return Ok(());
        };
        for line in text.lines() {
            let mut fields = line.split_ascii_whitespace();
            let Some(name) = fields.next() else { continue };
            let Some(six) = name.find('6') else { continue };
            let key = format!("{}_{}", &name[..=six], &name[six + 1..]);
            if self.fields.is_match(&key) {
                out.push((key, number(self.snmp6.path(), fields.next())?));
            }
        }
        Ok(())
    }
}

impl Collector for Netstat {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut values = Vec::with_capacity(64);
        for path in &self.paired {
            self.read_paired(path, &mut values)?;
        }
        self.read_snmp6(&mut values)?;
        values.sort_by(|a, b| a.0.cmp(&b.0));
        values.dedup_by(|a, b| a.0 == b.0);
        for (key, value) in values {
            let name = format!("node_netstat_{key}");
            let help = format!("Statistic {}.", key.replace('_', ""));
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
    fn selected_fields_of_all_three_files() {
        let text = scrape_one(&Netstat::new(&fixture("proc")));
        assert!(text.contains("# HELP node_netstat_Tcp_InSegs Statistic TcpInSegs.\n"));
        assert!(
            text.contains("# TYPE node_netstat_Tcp_InSegs untyped\nnode_netstat_Tcp_InSegs 5000\n")
        );
        assert!(text.contains("\nnode_netstat_TcpExt_ListenDrops 3\n"));
        assert!(text.contains("\nnode_netstat_Ip6_InOctets 123456\n"));
        assert!(text.contains("\nnode_netstat_Udp_InErrors 2\n"));
        assert!(!text.contains("TcpExt_TW "), "not in the default selection");
        assert!(
            !text.contains("Ip6_InReceives"),
            "not in the default selection"
        );
    }
}
