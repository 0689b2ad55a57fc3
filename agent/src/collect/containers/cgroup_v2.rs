//! Reads a container's counters from its cgroup v2 directory (cpu.stat, memory.*, io.stat,
//! pids.current), with the same derivations cAdvisor makes (working set = current - inactive_file).

use std::path::Path;

use super::cgroup::{CgroupCounters, CgroupLimits, DeviceIo, memory_limit};
use crate::collect::CollectError;
use crate::collect::kept_file::{KeptFile, keyed_values};

/// The open files of one container's v2 cgroup.
#[derive(Debug)]
pub(crate) struct Reader {
    cpu_stat: KeptFile,
    memory_current: KeptFile,
    memory_peak: Option<KeptFile>,
    memory_stat: KeptFile,
    memory_events: Option<KeptFile>,
    memory_swap_current: Option<KeptFile>,
    io_stat: Option<KeptFile>,
    pids_current: Option<KeptFile>,
    limits: CgroupLimits,
}

impl Reader {
    /// Opens the files of the cgroup directory `dir`.
    pub(crate) fn open(dir: &Path, buf: &mut Vec<u8>) -> Result<Reader, CollectError> {
        let limits = read_limits(dir, buf)?;
        Ok(Reader {
            cpu_stat: KeptFile::open(&dir.join("cpu.stat"))?,
            memory_current: KeptFile::open(&dir.join("memory.current"))?,
            memory_peak: KeptFile::open_optional(&dir.join("memory.peak"))?,
            memory_stat: KeptFile::open(&dir.join("memory.stat"))?,
            memory_events: KeptFile::open_optional(&dir.join("memory.events"))?,
            memory_swap_current: KeptFile::open_optional(&dir.join("memory.swap.current"))?,
            io_stat: KeptFile::open_optional(&dir.join("io.stat"))?,
            pids_current: KeptFile::open_optional(&dir.join("pids.current"))?,
            limits,
        })
    }

    /// The limits read at open time.
    pub(crate) fn limits(&self) -> CgroupLimits {
        self.limits
    }

    /// Reads every counter into `out`.
    pub(crate) fn read(
        &self,
        buf: &mut Vec<u8>,
        out: &mut CgroupCounters,
    ) -> Result<(), CollectError> {
        for (key, value) in keyed_values(self.cpu_stat.read_into(buf)?) {
            match key {
                "usage_usec" => out.cpu_usage_seconds = value as f64 / 1e6,
                "user_usec" => out.cpu_user_seconds = value as f64 / 1e6,
                "system_usec" => out.cpu_system_seconds = value as f64 / 1e6,
                "nr_periods" => out.cfs_periods = value,
                "nr_throttled" => out.cfs_throttled_periods = value,
                "throttled_usec" => out.cfs_throttled_seconds = value as f64 / 1e6,
                _ => {}
            }
        }
        out.memory_usage_bytes = self.memory_current.read_u64(buf)?;
        out.memory_max_usage_bytes = match &self.memory_peak {
            Some(file) => Some(file.read_u64(buf)?),
            None => None,
        };
        let mut inactive_file = 0;
        for (key, value) in keyed_values(self.memory_stat.read_into(buf)?) {
            match key {
                "anon" => out.memory_rss_bytes = value,
                "file" => out.memory_cache_bytes = value,
                "file_mapped" => out.memory_mapped_file_bytes = value,
                "inactive_file" => inactive_file = value,
                _ => {}
            }
        }
        out.memory_working_set_bytes = out.memory_usage_bytes.saturating_sub(inactive_file);
        if let Some(file) = &self.memory_events {
            for (key, value) in keyed_values(file.read_into(buf)?) {
                match key {
                    "max" => out.memory_failcnt = value,
                    "oom_kill" => out.oom_kills = value,
                    _ => {}
                }
            }
        }
        if let Some(file) = &self.memory_swap_current {
            out.memory_swap_bytes = file.read_u64(buf)?;
        }
        if let Some(file) = &self.pids_current {
            out.pids = file.read_u64(buf)?;
        }
        out.devices.clear();
        if let Some(file) = &self.io_stat {
            read_io_stat(file, buf, &mut out.devices)?;
        }
        Ok(())
    }
}

/// Reads `memory.max` (`max` or bytes) and `cpu.max` (`$MAX $PERIOD`, `$MAX` may be `max`).
fn read_limits(dir: &Path, buf: &mut Vec<u8>) -> Result<CgroupLimits, CollectError> {
    let mut limits = CgroupLimits::default();
    if let Some(file) = KeptFile::open_optional(&dir.join("memory.max"))? {
        let text = file.read_into(buf)?.trim();
        if text != "max" {
            let bytes = text
                .parse()
                .map_err(|_| file.parse_error(format!("expected bytes or max, found {text:?}")))?;
            limits.memory_limit_bytes = memory_limit(bytes);
        }
    }
    if let Some(file) = KeptFile::open_optional(&dir.join("cpu.max"))? {
        let text = file.read_into(buf)?;
        let mut fields = text.split_ascii_whitespace();
        let (quota, period) = (fields.next(), fields.next().map(str::parse));
        let Some(Ok(period)) = period else {
            return Err(file.parse_error(format!("expected \"$MAX $PERIOD\", found {text:?}")));
        };
        limits.cpu_period_micros = period;
        limits.cpu_quota_micros = quota.and_then(|q| q.parse().ok());
    }
    Ok(limits)
}

/// Reads io.stat: one line per device, `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N`.
fn read_io_stat(
    file: &KeptFile,
    buf: &mut Vec<u8>,
    devices: &mut Vec<DeviceIo>,
) -> Result<(), CollectError> {
    for line in file.read_into(buf)?.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(device) = fields.next() else {
            continue;
        };
        let parsed = device
            .split_once(':')
            .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
        let Some((major, minor)) = parsed else {
            return Err(file.parse_error(format!("bad device in line {line:?}")));
        };
        let mut io = DeviceIo {
            major,
            minor,
            ..DeviceIo::default()
        };
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse() else {
                return Err(file.parse_error(format!("bad field {field:?}")));
            };
            match key {
                "rbytes" => io.read_bytes = value,
                "wbytes" => io.write_bytes = value,
                "rios" => io.reads = value,
                "wios" => io.writes = value,
                _ => {}
            }
        }
        devices.push(io);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::containers::cgroup::{CgroupReader, open_recorded};

    /// Written by hand in the formats of the kernel's Documentation/admin-guide/cgroup-v2.rst,
    /// laid out as the systemd cgroup driver places a container
    /// (`/system.slice/docker-<id>.scope`), with a 128 MiB limit and `--cpus 1.5`.
    const FIXTURE_PID: u32 = 4242;
    const FIXTURE_ID: &str = "/system.slice/docker-\
        3f4e1b2c9d8a7f6e5d4c3b2a19087f6e5d4c3b2a19087f6e5d4c3b2a1908aa11.scope";

    fn open_fixture() -> (CgroupReader, String) {
        open_recorded("cgroup-v2", FIXTURE_PID)
    }

    #[test]
    fn fixture_tree_gives_the_systemd_scope_id_and_limits() {
        let (reader, id) = open_fixture();
        assert_eq!(id, FIXTURE_ID);
        assert_eq!(
            reader.limits(),
            CgroupLimits {
                memory_limit_bytes: Some(128 << 20),
                cpu_quota_micros: Some(150_000),
                cpu_period_micros: 100_000,
            }
        );
    }

    #[test]
    fn fixture_tree_gives_the_documented_counters() {
        let (reader, _) = open_fixture();
        let mut counters = CgroupCounters::default();
        reader.read(&mut Vec::new(), &mut counters).unwrap();
        let expected = CgroupCounters {
            cpu_usage_seconds: 1_813.529_462,
            // cgroup v2 has no per-CPU usage.
            cpu_usage_per_cpu_seconds: Vec::new(),
            cpu_user_seconds: 1_532.210_931,
            cpu_system_seconds: 281.318_531,
            cfs_periods: 60_114,
            cfs_throttled_periods: 1_408,
            cfs_throttled_seconds: 97.315_208,
            memory_usage_bytes: 73_400_320,
            memory_max_usage_bytes: Some(83_886_080),
            memory_working_set_bytes: 73_400_320 - 9_510_912,
            memory_rss_bytes: 41_549_824,
            memory_cache_bytes: 27_262_976,
            memory_mapped_file_bytes: 5_242_880,
            memory_swap_bytes: 1_048_576,
            memory_failcnt: 12,
            oom_kills: 1,
            pids: 7,
            devices: vec![
                DeviceIo {
                    major: 8,
                    minor: 16,
                    read_bytes: 1_459_200,
                    write_bytes: 314_773_504,
                    reads: 192,
                    writes: 353,
                },
                DeviceIo {
                    major: 8,
                    minor: 0,
                    read_bytes: 90_430_464,
                    write_bytes: 299_008_000,
                    reads: 8_950,
                    writes: 1_252,
                },
            ],
        };
        assert_eq!(counters, expected);
    }

    #[test]
    fn unlimited_cpu_max_and_memory_max_read_as_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.max"), "max\n").unwrap();
        std::fs::write(dir.path().join("cpu.max"), "max 100000\n").unwrap();
        let limits = read_limits(dir.path(), &mut Vec::new()).unwrap();
        assert_eq!(
            limits,
            CgroupLimits {
                memory_limit_bytes: None,
                cpu_quota_micros: None,
                cpu_period_micros: 100_000,
            }
        );
    }

    #[test]
    fn malformed_limits_and_io_stat_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cpu.max"), "max\n").unwrap();
        let error = read_limits(dir.path(), &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("cpu.max"), "{error}");
        let path = dir.path().join("io.stat");
        std::fs::write(&path, "8:0 rbytes=lots\n").unwrap();
        let file = KeptFile::open(&path).unwrap();
        let error = read_io_stat(&file, &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("io.stat"), "{error}");
    }
}
