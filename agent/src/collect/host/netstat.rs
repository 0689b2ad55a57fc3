//! Protocol counters from `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`, as
//! node_exporter's `netstat` collector with its default field selection.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use regex::Regex;

use super::{number, parse_error};
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// node_exporter's default `--collector.netstat.fields`.
const FIELDS: &str = r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// One exposed field: its position on its line, and its family's name and help.
struct Selected {
    position: usize,
    name: String,
    help: String,
}

/// `node_netstat_<Protocol>_<Field>`, untyped as in node_exporter.
pub(super) struct Netstat {
    /// Files of header/value line pairs: `TcpExt: A B` then `TcpExt: 1 2`.
    paired: [KeptFile; 2],
    /// The IPv6 file of `Ip6InOctets 123` lines.
    snmp6: KeptFile,
    fields: Regex,
    /// The exposed fields per header line (or per snmp6 name), worked out once: the headers do
    /// not change while the kernel runs, and matching some 300 names each scrape is not free.
    selections: Mutex<HashMap<String, Vec<Selected>>>,
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
            selections: Mutex::new(HashMap::new()),
        }
    }

    /// The exposed fields among `Protocol_Field` keys, in line order.
    fn select(&self, keys: impl Iterator<Item = String>) -> Vec<Selected> {
        keys.enumerate()
            .filter(|(_, key)| self.fields.is_match(key))
            .map(|(position, key)| Selected {
                position,
                name: format!("node_netstat_{key}"),
                help: format!("Statistic {}.", key.replace('_', "")),
            })
            .collect()
    }
}

/// Splits `Protocol: A B C` into the protocol and its names.
fn header_parts(line: &str) -> Option<(&str, &str)> {
    line.split_once(':')
}

/// `Icmp6InMsgs` is protocol `Icmp6`, field `InMsgs`.
fn snmp6_key(name: &str) -> Option<String> {
    let six = name.find('6')?;
    Some(format!("{}_{}", &name[..=six], &name[six + 1..]))
}

impl Collector for Netstat {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let paired = [self.paired[0].read()?, self.paired[1].read()?];
        // A kernel booted with ipv6.disable=1 has no snmp6.
        let snmp6 = self.snmp6.read().unwrap_or_default();
        let mut selections = self
            .selections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (file, text) in self.paired.iter().zip(&paired) {
            for header in text.lines().step_by(2) {
                if !selections.contains_key(header) {
                    let Some((protocol, names)) = header_parts(header) else {
                        return Err(parse_error(file.path(), "expected `Protocol: ...` lines"));
                    };
                    let keys = names
                        .split_ascii_whitespace()
                        .map(|name| format!("{protocol}_{name}"));
                    selections.insert(header.to_owned(), self.select(keys));
                }
            }
        }
        for name in snmp6
            .lines()
            .filter_map(|l| l.split_ascii_whitespace().next())
        {
            if !selections.contains_key(name) {
                let selected = self.select(snmp6_key(name).into_iter());
                selections.insert(name.to_owned(), selected);
            }
        }

        let mut values: Vec<(&Selected, f64)> = Vec::with_capacity(64);
        for (file, text) in self.paired.iter().zip(&paired) {
            let mut lines = text.lines();
            while let (Some(header), Some(line)) = (lines.next(), lines.next()) {
                let numbers: Vec<&str> = line.split_ascii_whitespace().skip(1).collect();
                for selected in &selections[header] {
                    let field = numbers.get(selected.position).copied();
                    values.push((selected, number(file.path(), field)?));
                }
            }
        }
        for line in snmp6.lines() {
            let mut fields = line.split_ascii_whitespace();
            let Some(name) = fields.next() else { continue };
            for selected in &selections[name] {
                values.push((selected, number(self.snmp6.path(), fields.next())?));
            }
        }
        values.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        values.dedup_by(|a, b| a.0.name == b.0.name);
        for (selected, value) in values {
            out.family(&selected.name, &selected.help, MetricType::Untyped)
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
        let netstat = Netstat::new(&fixture("proc"));
        let text = scrape_one(&netstat);
        assert_eq!(
            scrape_one(&netstat),
            text,
            "the cached selection gives the same output"
        );
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
