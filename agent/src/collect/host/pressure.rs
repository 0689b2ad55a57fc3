//! Pressure stall information from `/proc/pressure`, as node_exporter's `pressure` collector.

use std::fs::File;
use std::io::{BufReader, ErrorKind};
use std::path::{Path, PathBuf};

use procfs::{CpuPressure, FromBufRead, IoPressure, MemoryPressure, PressureRecord};

use super::parse_error;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_pressure_{cpu,io,memory}_{waiting,stalled}_seconds_total`, when the kernel has PSI.
pub(super) struct Pressure {
    dir: PathBuf,
}

impl Pressure {
    pub(super) fn new(proc_root: &Path) -> Self {
        Pressure {
            dir: proc_root.join("pressure"),
        }
    }

    /// Reads one resource's file; `None` when the kernel has no PSI.
    fn read<T: FromBufRead>(&self, resource: &str) -> Result<Option<T>, CollectError> {
        let path = self.dir.join(resource);
        let file = match File::open(&path) {
            Ok(file) => file,
            // Kernels built without CONFIG_PSI, or booted with psi=0.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Unsupported) => {
                return Ok(None);
            }
            Err(source) => {
                return Err(CollectError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        T::from_buf_read(BufReader::new(file))
            .map(Some)
            .map_err(|e| parse_error(&path, e.to_string()))
    }
}

/// A family name and help text for the `some` and the `full` line of one resource.
type Names = [(&'static str, &'static str); 2];

fn write(out: &mut Exposition, names: Names, some: &PressureRecord, full: &PressureRecord) {
    for ((name, help), record) in names.iter().zip([some, full]) {
        out.family(name, help, MetricType::Counter)
            .sample(&[], record.total as f64 / 1e6);
    }
}

impl Collector for Pressure {
    fn name(&self) -> &'static str {
        "pressure"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        if let Some(cpu) = self.read::<CpuPressure>("cpu")? {
            let names = [
                (
                    "node_pressure_cpu_waiting_seconds_total",
                    "Total time in seconds that processes have waited for CPU time",
                ),
                (
                    "node_pressure_cpu_stalled_seconds_total",
                    "Total time in seconds no process could make progress due to CPU congestion",
                ),
            ];
            write(out, names, &cpu.some, &cpu.full);
        }
        if let Some(io) = self.read::<IoPressure>("io")? {
            let names = [
                (
                    "node_pressure_io_waiting_seconds_total",
                    "Total time in seconds that processes have waited due to IO congestion",
                ),
                (
                    "node_pressure_io_stalled_seconds_total",
                    "Total time in seconds no process could make progress due to IO congestion",
                ),
            ];
            write(out, names, &io.some, &io.full);
        }
        if let Some(memory) = self.read::<MemoryPressure>("memory")? {
            let names = [
                (
                    "node_pressure_memory_waiting_seconds_total",
                    "Total time in seconds that processes have waited for memory",
                ),
                (
                    "node_pressure_memory_stalled_seconds_total",
                    "Total time in seconds no process could make progress due to memory congestion",
                ),
            ];
            write(out, names, &memory.some, &memory.full);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{fixture, scrape_one};
    use super::*;

    #[test]
    fn totals_are_converted_to_seconds() {
        let text = scrape_one(&Pressure::new(&fixture("proc")));
        assert!(text.contains("node_pressure_cpu_waiting_seconds_total 1.234567\n"));
        assert!(text.contains("node_pressure_io_stalled_seconds_total 1\n"));
        assert!(text.contains("node_pressure_memory_waiting_seconds_total 3\n"));
        assert!(text.contains("node_pressure_memory_stalled_seconds_total 1.5\n"));
    }

    #[test]
    fn a_kernel_without_psi_gives_no_families_and_no_error() {
        let text = scrape_one(&Pressure::new(Path::new("/nonexistent")));
        assert_eq!(text, "");
    }
}
