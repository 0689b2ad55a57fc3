//! What every Osprey binary reports about itself: its build, and the `process_*` family that
//! Prometheus's client libraries expose, registered in the binary's prometheus-client registry.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::sync::{Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;
use rustix::fs::{Dir, Mode, OFlags};
use rustix::process::{Resource, getrlimit};

/// Registers `{prefix}_build_info{version}`: a constant 1 labelled by this build's version.
/// `help` is given without its final period, which the registry adds, as to every help text.
pub fn register_build_info(registry: &mut Registry, prefix: &str, help: &str) {
    let info = Family::<[(&'static str, &'static str); 1], Gauge>::default();
    info.get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
        .set(1);
    registry.register(format!("{prefix}_build_info"), help, info);
}

/// Registers the `process_*` family of this process; where `/proc/self` cannot be read (not
/// Linux), logs why once and registers nothing, so `/metrics` still answers.
pub fn register_process_metrics(registry: &mut Registry) {
    match ProcessCollector::new() {
        Ok(collector) => registry.register_collector(Box::new(collector)),
        Err(error) => tracing::warn!(%error, "process metrics are unavailable"),
    }
}

/// Why the process's own figures could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessMetricsError {
    /// A file under /proc could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file was read but a field was missing or not a number.
    #[error("parsing {path}: no {field}")]
    Parse {
        /// The file.
        path: &'static str,
        /// The field looked for.
        field: &'static str,
    },
}

/// The running process's CPU time, memory, file descriptors and start time, read on every
/// scrape under the names the Go and Java client libraries use (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, ...), so dashboards built for those work unchanged.
///
/// Read from `/proc/self` rather than through sysinfo, the design's crate for process facts:
/// on the CI machine sysinfo's refresh of this one process (stat, statm, uptime) plus its
/// open-files and limits calls took about 250 us a scrape, against an agent scrape of about
/// 1.1 ms of CPU. Here `/proc/self/stat` stays open and is re-read with one pread (10 us against
/// 35 us to open it again), `/proc/self/fd` stays open and is listed again after a rewind (the
/// larger cost, growing with the descriptors: about 50 us for the agent's hundred, most of them
/// the procfs files it keeps open), and the descriptor limit is one getrlimit(2).
#[derive(Debug)]
pub struct ProcessCollector {
    ticks_per_second: f64,
    page_size: u64,
    /// Fixed for the life of the process, so computed once.
    start_time_seconds: f64,
    kept: Mutex<Kept>,
}

/// The files re-read on every scrape.
#[derive(Debug)]
struct Kept {
    stat: File,
    /// `/proc/self/fd`; its own descriptor is among those counted, as the Go client's
    /// transient one is (this one and `stat` make the count one higher than Go's).
    fds: Dir,
}

impl ProcessCollector {
    /// A collector for the current process; fails where `/proc/self` is not there to read.
    pub fn new() -> Result<Self, ProcessMetricsError> {
        let ticks_per_second = rustix::param::clock_ticks_per_second() as f64;
        let proc_stat = std::fs::read_to_string("/proc/stat").map_err(read_error("/proc/stat"))?;
        let boot_time = boot_time(&proc_stat)?;
        let stat = File::open(STAT).map_err(read_error(STAT))?;
        let start_ticks = read_stat(&stat)?.start_ticks;
        let fds = rustix::fs::open(
            FDS,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(Dir::new)
        .map_err(|errno| read_error(FDS)(errno.into()))?;
        Ok(ProcessCollector {
            ticks_per_second,
            page_size: rustix::param::page_size() as u64,
            start_time_seconds: boot_time as f64 + start_ticks as f64 / ticks_per_second,
            kept: Mutex::new(Kept { stat, fds }),
        })
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let stat = match read_stat(&kept.stat) {
            Ok(stat) => stat,
            Err(error) => {
                tracing::debug!(%error, "process metrics skipped on this scrape");
                return Ok(());
            }
        };
        encode_one(
            &mut encoder,
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            ConstCounter::new(stat.cpu_ticks as f64 / self.ticks_per_second),
        )?;
        if let Some(open) = count_entries(&mut kept.fds) {
            encode_one(
                &mut encoder,
                "process_open_fds",
                "Number of open file descriptors.",
                ConstGauge::new(open),
            )?;
        }
        if let Some(max) = getrlimit(Resource::Nofile).current {
            encode_one(
                &mut encoder,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                ConstGauge::new(max),
            )?;
        }
        encode_one(
            &mut encoder,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            ConstGauge::new(stat.virtual_bytes),
        )?;
        // Unlimited reads as the largest u64, as the Go client library writes it.
        let address_space = getrlimit(Resource::As).current.unwrap_or(u64::MAX);
        encode_one(
            &mut encoder,
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            ConstGauge::new(address_space as f64),
        )?;
        encode_one(
            &mut encoder,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            ConstGauge::new(stat.resident_pages * self.page_size),
        )?;
        encode_one(
            &mut encoder,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            ConstGauge::new(self.start_time_seconds),
        )
    }
}

/// Writes one unlabelled family: its descriptor, then its one sample.
fn encode_one(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

const STAT: &str = "/proc/self/stat";
const FDS: &str = "/proc/self/fd";

fn read_error(path: &'static str) -> impl Fn(std::io::Error) -> ProcessMetricsError {
    move |source| ProcessMetricsError::Read { path, source }
}

/// Reads the kept `/proc/self/stat` again from its start; the kernel writes it anew each time.
fn read_stat(file: &File) -> Result<Stat, ProcessMetricsError> {
    let mut buf = vec![0; 1024];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(read) => len += read,
            Err(source) => return Err(ProcessMetricsError::Read { path: STAT, source }),
        }
    }
    Stat::parse(&String::from_utf8_lossy(&buf[..len]))
}

/// The entries of the kept `/proc/self/fd` listed again from the start, `.` and `..` aside.
fn count_entries(dir: &mut Dir) -> Option<usize> {
    dir.rewind();
    let mut count = 0;
    for entry in dir {
        let entry = entry.ok()?;
        let name = entry.file_name();
        count += usize::from(name != c"." && name != c"..");
    }
    Some(count)
}

/// `btime` of /proc/stat: when the system booted, in Unix seconds.
fn boot_time(proc_stat: &str) -> Result<u64, ProcessMetricsError> {
    proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
        .ok_or(ProcessMetricsError::Parse {
            path: "/proc/stat",
            field: "btime",
        })
}

/// The fields of /proc/self/stat this module reports.
#[derive(Debug, PartialEq)]
struct Stat {
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
    /// When the process started, in clock ticks after boot.
    start_ticks: u64,
    virtual_bytes: u64,
    resident_pages: u64,
}

impl Stat {
    fn parse(text: &str) -> Result<Stat, ProcessMetricsError> {
        // The command name (field 2) is in parentheses and may itself hold spaces and ')', so
        // the fields are counted from after the last ')', where field 3 starts.
        let after_name = text.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after_name.split_ascii_whitespace().collect();
        let field = |number: usize, name: &'static str| {
            fields
                .get(number - 3)
                .and_then(|f| f.parse::<u64>().ok())
                .ok_or(ProcessMetricsError::Parse {
                    path: STAT,
                    field: name,
                })
        };
        Ok(Stat {
            cpu_ticks: field(14, "utime")? + field(15, "stime")?,
            start_ticks: field(22, "starttime")?,
            virtual_bytes: field(23, "vsize")?,
            resident_pages: field(24, "rss")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::prometheus_text;

    use super::*;

    fn text(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_text::encode(&mut out, registry).unwrap();
        out
    }

    fn value(text: &str, name: &str) -> f64 {
        let line = text
            .lines()
            .find(|l| l.split(' ').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 900 0 0 0 25 17 0 0 20 0 9 0 \
                    123456 87842816 2322 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1";
        let stat = Stat::parse(line).unwrap();
        assert_eq!(
            stat,
            Stat {
                cpu_ticks: 42,
                start_ticks: 123456,
                virtual_bytes: 87842816,
                resident_pages: 2322,
            }
        );
        assert!(Stat::parse("4242 (short) S 1 2").is_err());
    }

    #[test]
    fn process_family_has_the_client_library_names_and_plausible_values() {
        let mut registry = Registry::default();
        register_process_metrics(&mut registry);
        let text = text(&registry);
        assert!(
            text.contains("# TYPE process_cpu_seconds_total counter\n"),
            "{text}"
        );
        assert!(value(&text, "process_cpu_seconds_total") >= 0.0);
        assert!(value(&text, "process_open_fds") >= 3.0);
        assert!(value(&text, "process_max_fds") >= value(&text, "process_open_fds"));
        assert!(value(&text, "process_resident_memory_bytes") > 1e5);
        assert!(
            value(&text, "process_virtual_memory_bytes")
                >= value(&text, "process_resident_memory_bytes")
        );
        let limit = getrlimit(Resource::As)
            .current
            .map_or(u64::MAX as f64, |l| l as f64);
        assert_eq!(value(&text, "process_virtual_memory_max_bytes"), limit);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value(&text, "process_start_time_seconds");
        assert!(started > now - 3600.0 && started <= now + 1.0, "{started}");
    }

    #[test]
    fn build_info_is_one_labelled_by_version() {
        let mut registry = Registry::default();
        register_build_info(&mut registry, "osprey_test", "Build");
        let expected = format!(
            "# HELP osprey_test_build_info Build.\n# TYPE osprey_test_build_info gauge\n\
             osprey_test_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(text(&registry), expected);
    }
}
