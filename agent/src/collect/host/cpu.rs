//! Per-CPU time by mode from `/proc/stat`, as node_exporter's `cpu` collector.

use std::path::Path;

use super::{number, parse_error};
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// The modes of a `cpuN` line of /proc/stat, in the kernel's order.
const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// `node_cpu_seconds_total{cpu,mode}` and `node_cpu_guest_seconds_total{cpu,mode}`.
pub(super) struct Cpu {
    stat: KeptFile,
    ticks_per_second: f64,
}

impl Cpu {
    pub(super) fn new(proc_root: &Path) -> Self {
        // SAFETY: sysconf only reads a constant of the C library.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Cpu {
            stat: KeptFile::new(proc_root.join("stat")),
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
        }
    }
}

/// One `cpuN` line: the CPU number and its ticks per mode, then guest and guest_nice.
struct CpuLine<'a> {
    cpu: &'a str,
    ticks: [f64; 10],
}

fn cpu_lines<'a>(path: &Path, text: &'a str) -> Result<Vec<CpuLine<'a>>, CollectError> {
    let mut lines = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        let mut fields = rest.split_ascii_whitespace();
        // The aggregate `cpu  ...` line has a space where the CPU number would be.
        if !rest.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let cpu = fields.next().unwrap_or_default();
        let mut ticks = [0.0; 10];
        for (i, slot) in ticks.iter_mut().enumerate() {
            // Old kernels lack the trailing columns; only the first four are mandatory.
            match fields.next() {
                Some(field) => *slot = number(path, Some(field))?,
                None if i >= 4 => break,
                None => return Err(parse_error(path, format!("short line {line:?}"))),
            }
        }
        lines.push(CpuLine { cpu, ticks });
    }
    Ok(lines)
}

impl Collector for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = self.stat.read()?;
        let lines = cpu_lines(self.stat.path(), &text)?;
        let mut family = out.family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            MetricType::Counter,
        );
        for line in &lines {
            for (mode, ticks) in MODES.iter().zip(&line.ticks) {
                family.sample(
                    &[("cpu", line.cpu), ("mode", mode)],
                    ticks / self.ticks_per_second,
                );
            }
        }
        let mut family = out.family(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            MetricType::Counter,
        );
        for line in &lines {
            for (mode, ticks) in ["user", "nice"].iter().zip(&line.ticks[8..]) {
                family.sample(
                    &[("cpu", line.cpu), ("mode", mode)],
                    ticks / self.ticks_per_second,
                );
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
    fn every_cpu_gets_every_mode_in_seconds() {
        let mut cpu = Cpu::new(&fixture("proc"));
        cpu.ticks_per_second = 100.0;
        let text = scrape_one(&cpu);
        // Fixture: "cpu1 3456 12 2345 987654 321 0 45 7 5 0".
        assert!(text.contains("node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 34.56\n"));
        assert!(text.contains("node_cpu_seconds_total{cpu=\"1\",mode=\"steal\"} 0.07\n"));
        assert!(text.contains("node_cpu_guest_seconds_total{cpu=\"1\",mode=\"user\"} 0.05\n"));
        assert_eq!(text.matches("node_cpu_seconds_total{").count(), 2 * 8);
        assert!(!text.contains("cpu=\"\""));
    }
}
