//! Process and thread counts and their limits, like node_exporter's `processes` collector.
//!
//! Counts only: reading every `/proc/PID/stat` for per-state counts would cost more than the
//! rest of a scrape together on a busy host.

use std::path::{Path, PathBuf};

use rustix::fs::{Dir, Mode, OFlags};

use super::{number, parse_error};
use crate::collect::kept_file::KeptFile;
use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_processes_pids`, `node_processes_threads` and their `max_` limits.
pub(super) struct Processes {
    proc_root: PathBuf,
    loadavg: KeptFile,
    pid_max: KeptFile,
    threads_max: KeptFile,
}

impl Processes {
    pub(super) fn new(proc_root: &Path) -> Self {
        Processes {
            proc_root: proc_root.to_owned(),
            loadavg: KeptFile::new(proc_root.join("loadavg")),
            pid_max: KeptFile::new(proc_root.join("sys/kernel/pid_max")),
            threads_max: KeptFile::new(proc_root.join("sys/kernel/threads-max")),
        }
    }

    /// Processes are the numeric directories of /proc. rustix's `Dir` rather than
    /// `std::fs::read_dir`: no allocation per entry, and a busy host has thousands.
    fn count_pids(&self) -> Result<f64, CollectError> {
        let read_error = |source: rustix::io::Errno| CollectError::Read {
            path: self.proc_root.display().to_string(),
            source: source.into(),
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&self.proc_root, flags, Mode::empty()).map_err(read_error)?;
        let mut count = 0;
        for entry in Dir::new(fd).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let name = entry.file_name().to_bytes();
            if !name.is_empty() && name.iter().all(u8::is_ascii_digit) {
                count += 1;
            }
        }
        Ok(f64::from(count))
    }

    /// The fourth field of /proc/loadavg is `running/total` scheduling entities, i.e. threads.
    fn count_threads(&self) -> Result<f64, CollectError> {
        let text = self.loadavg.read()?;
        let field = text.split_ascii_whitespace().nth(3);
        let total = field
            .and_then(|f| f.split_once('/'))
            .map(|(_, total)| total);
        if total.is_none() {
            return Err(parse_error(self.loadavg.path(), "no running/total field"));
        }
        number(self.loadavg.path(), total)
    }
}

impl Collector for Processes {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let single =
            |file: &KeptFile| number(file.path(), file.read()?.split_ascii_whitespace().next());
        let values = [
            ("node_processes_pids", "Number of PIDs", self.count_pids()?),
            (
                "node_processes_threads",
                "Allocated threads in system",
                self.count_threads()?,
            ),
            (
                "node_processes_max_processes",
                "Number of max PIDs limit",
                single(&self.pid_max)?,
            ),
            (
                "node_processes_max_threads",
                "Limit of threads in the system",
                single(&self.threads_max)?,
            ),
        ];
        for (name, help, value) in values {
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
    fn counts_pid_directories_and_threads() {
        let text = scrape_one(&Processes::new(&fixture("proc")));
        // The fixture has /proc/1, /proc/42 and /proc/43, and "2/321" in loadavg.
        assert!(text.contains("node_processes_pids 3\n"), "{text}");
        assert!(text.contains("node_processes_threads 321\n"));
        assert!(text.contains("node_processes_max_processes 4194304\n"));
        assert!(text.contains("node_processes_max_threads 62768\n"));
    }
}
