//! Memory queued in UDP sockets from `/proc/net/udp` and `udp6`, as node_exporter's
//! `udp_queues` collector.

use std::path::Path;

use super::hexadecimal;
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_udp_queues{ip,queue}`: bytes waiting in the send (`tx`) and receive (`rx`) queues of
/// all UDP sockets, per IP version.
pub(super) struct UdpQueues {
    tables: [(&'static str, KeptFile); 2],
}

impl UdpQueues {
    pub(super) fn new(proc_root: &Path) -> Self {
        UdpQueues {
            tables: [
                ("v4", KeptFile::new(proc_root.join("net/udp"))),
                ("v6", KeptFile::new(proc_root.join("net/udp6"))),
            ],
        }
    }
}

/// Sums the `tx_queue:rx_queue` column (the fifth, hexadecimal) of a socket table.
fn queued_bytes(file: &KeptFile, text: &str) -> Result<(f64, f64), CollectError> {
    let (mut tx, mut rx) = (0.0, 0.0);
    for line in text.lines().skip(1) {
        let queues = line.split_ascii_whitespace().nth(4);
        let (tx_queue, rx_queue) = match queues.and_then(|q| q.split_once(':')) {
            Some((tx_queue, rx_queue)) => (Some(tx_queue), Some(rx_queue)),
            None => (None, None),
        };
        tx += hexadecimal(file.path(), tx_queue)?;
        rx += hexadecimal(file.path(), rx_queue)?;
    }
    Ok((tx, rx))
}

impl Collector for UdpQueues {
    fn name(&self) -> &'static str {
        "udp_queues"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut sums = Vec::with_capacity(self.tables.len());
        for (ip, file) in &self.tables {
            match file.read() {
                Ok(text) => sums.push((*ip, queued_bytes(file, &text)?)),
                // udp6 is absent when IPv6 is disabled.
                Err(_) if *ip == "v6" => {}
                Err(error) => return Err(error),
            }
        }
        let mut family = out.family(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
            MetricType::Gauge,
        );
        for (ip, (tx, rx)) in sums {
            family.sample(&[("ip", ip), ("queue", "rx")], rx);
            family.sample(&[("ip", ip), ("queue", "tx")], tx);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn queues_are_summed_per_ip_version() {
        let text = scrape_one(&UdpQueues::new(&fixture("proc")));
        for line in [
            "node_udp_queues{ip=\"v4\",queue=\"rx\"} 768",
            "node_udp_queues{ip=\"v4\",queue=\"tx\"} 16",
            "node_udp_queues{ip=\"v6\",queue=\"rx\"} 0",
            "node_udp_queues{ip=\"v6\",queue=\"tx\"} 32",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn a_garbled_queue_column_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("net")).unwrap();
        std::fs::write(dir.path().join("net/udp"), "header\n 1: a b 07 zz:00\n").unwrap();
        let mut out = Exposition::new(crate::expose::Format::Text004);
        let error = UdpQueues::new(dir.path()).collect(&mut out).unwrap_err();
        assert!(error.to_string().contains("net/udp"), "{error}");
    }
}
