//! Reads a container's counters from the cgroup v1 controllers (cpuacct, cpu, memory, blkio,
//! pids), with the same derivations cAdvisor makes (working set = usage - total_inactive_file).

use std::path::{Path, PathBuf};

use super::cgroup::{CgroupCounters, CgroupLimits, DeviceIo, memory_limit};
use crate::collect::CollectError;
use crate::collect::kept_file::{KeptFile, decimal, keyed_values};

/// `cpuacct.stat` counts in USER_HZ, which the kernel fixes at 100 for every userspace ABI.
const USER_HZ: f64 = 100.0;

/// The open files of one container's v1 cgroup.
#[derive(Debug)]
pub(crate) struct Reader {
    cpuacct_usage: KeptFile,
    cpuacct_usage_percpu: Option<KeptFile>,
    cpuacct_stat: KeptFile,
    cpu_stat: Option<KeptFile>,
    memory_usage: KeptFile,
    memory_max_usage: Option<KeptFile>,
    memory_stat: KeptFile,
    memory_failcnt: Option<KeptFile>,
    memory_oom_control: Option<KeptFile>,
    blkio_bytes: Option<KeptFile>,
    blkio_ops: Option<KeptFile>,
    pids_current: Option<KeptFile>,
    limits: CgroupLimits,
}

impl Reader {
    /// Opens the files of cgroup `path` (as in /proc/<pid>/cgroup) under the v1 mount `root`;
    /// `per_cpu` adds `cpuacct.usage_percpu`.
    pub(crate) fn open(
        root: &Path,
        path: &str,
        per_cpu: bool,
        buf: &mut Vec<u8>,
    ) -> Result<Reader, CollectError> {
        let dir = |controller: &str| -> PathBuf {
            root.join(controller).join(path.trim_start_matches('/'))
        };
        let (cpuacct, cpu, memory, blkio) =
            (dir("cpuacct"), dir("cpu"), dir("memory"), dir("blkio"));
        let limits = CgroupLimits {
            memory_limit_bytes: memory_limit(
                KeptFile::open(&memory.join("memory.limit_in_bytes"))?.read_u64(buf)?,
            ),
            cpu_quota_micros: match KeptFile::open_optional(&cpu.join("cpu.cfs_quota_us"))? {
                // -1 means no quota; it does not parse as u64, so it reads as `None`.
                Some(file) => file.read_into(buf)?.trim().parse().ok(),
                None => None,
            },
            cpu_period_micros: match KeptFile::open_optional(&cpu.join("cpu.cfs_period_us"))? {
                Some(file) => file.read_u64(buf)?,
                None => 0,
            },
        };
        Ok(Reader {
            cpuacct_usage: KeptFile::open(&cpuacct.join("cpuacct.usage"))?,
            cpuacct_usage_percpu: match per_cpu {
                true => KeptFile::open_optional(&cpuacct.join("cpuacct.usage_percpu"))?,
                false => None,
            },
            cpuacct_stat: KeptFile::open(&cpuacct.join("cpuacct.stat"))?,
            // Throttling counters stay 0 without a quota; cAdvisor leaves them out then, and
            // skipping the read saves a tenth of a container's scrape cost.
            cpu_stat: match limits.cpu_quota_micros {
                Some(_) => KeptFile::open_optional(&cpu.join("cpu.stat"))?,
                None => None,
            },
            memory_usage: KeptFile::open(&memory.join("memory.usage_in_bytes"))?,
            memory_max_usage: KeptFile::open_optional(&memory.join("memory.max_usage_in_bytes"))?,
            memory_stat: KeptFile::open(&memory.join("memory.stat"))?,
            // Without a limit the limit is never hit: the count stays 0.
            memory_failcnt: match limits.memory_limit_bytes {
                Some(_) => KeptFile::open_optional(&memory.join("memory.failcnt"))?,
                None => None,
            },
            memory_oom_control: KeptFile::open_optional(&memory.join("memory.oom_control"))?,
            blkio_bytes: KeptFile::open_optional(
                &blkio.join("blkio.throttle.io_service_bytes_recursive"),
            )?,
            blkio_ops: KeptFile::open_optional(
                &blkio.join("blkio.throttle.io_serviced_recursive"),
            )?,
            pids_current: KeptFile::open_optional(&dir("pids").join("pids.current"))?,
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
        out.cpu_usage_seconds = self.cpuacct_usage.read_u64(buf)? as f64 / 1e9;
        out.cpu_usage_per_cpu_seconds.clear();
        if let Some(file) = &self.cpuacct_usage_percpu {
            // Nanoseconds per possible CPU, separated by spaces.
            for field in file.read_into(buf)?.split_ascii_whitespace() {
                let nanoseconds = decimal(field.as_bytes())
                    .ok_or_else(|| file.parse_error(format!("bad number {field:?}")))?;
                out.cpu_usage_per_cpu_seconds.push(nanoseconds as f64 / 1e9);
            }
        }
        for (key, ticks) in keyed_values(self.cpuacct_stat.read_into(buf)?) {
            match key {
                "user" => out.cpu_user_seconds = ticks as f64 / USER_HZ,
                "system" => out.cpu_system_seconds = ticks as f64 / USER_HZ,
                _ => {}
            }
        }
        if let Some(file) = &self.cpu_stat {
            for (key, value) in keyed_values(file.read_into(buf)?) {
                match key {
                    "nr_periods" => out.cfs_periods = value,
                    "nr_throttled" => out.cfs_throttled_periods = value,
                    "throttled_time" => out.cfs_throttled_seconds = value as f64 / 1e9,
                    _ => {}
                }
            }
        }
        self.read_memory(buf, out)?;
        out.pids = read_optional_u64(&self.pids_current, buf)?;
        out.devices.clear();
        if let Some(file) = &self.blkio_bytes {
            read_blkio(file, buf, &mut out.devices, |io, op, value| match op {
                "Read" => io.read_bytes = value,
                "Write" => io.write_bytes = value,
                _ => {}
            })?;
        }
        if let Some(file) = &self.blkio_ops {
            read_blkio(file, buf, &mut out.devices, |io, op, value| match op {
                "Read" => io.reads = value,
                "Write" => io.writes = value,
                _ => {}
            })?;
        }
        Ok(())
    }

    fn read_memory(&self, buf: &mut Vec<u8>, out: &mut CgroupCounters) -> Result<(), CollectError> {
        out.memory_usage_bytes = self.memory_usage.read_u64(buf)?;
        out.memory_max_usage_bytes = match &self.memory_max_usage {
            Some(file) => Some(file.read_u64(buf)?),
            None => None,
        };
        let mut inactive_file = 0;
        let text = self.memory_stat.read_into(buf)?;
        // The hierarchical `total_*` lines come after the cgroup's own, whose keys never contain
        // `total_`: starting there halves the lines to split.
        let totals = text.find("total_").map_or(text, |start| &text[start..]);
        for (key, value) in keyed_values(totals) {
            match key {
                "total_inactive_file" => inactive_file = value,
                "total_rss" => out.memory_rss_bytes = value,
                "total_cache" => out.memory_cache_bytes = value,
                "total_mapped_file" => out.memory_mapped_file_bytes = value,
                "total_swap" => out.memory_swap_bytes = value,
                _ => {}
            }
        }
        out.memory_working_set_bytes = out.memory_usage_bytes.saturating_sub(inactive_file);
        out.memory_failcnt = read_optional_u64(&self.memory_failcnt, buf)?;
        if let Some(file) = &self.memory_oom_control {
            out.oom_kills = keyed_values(file.read_into(buf)?)
                .find(|(key, _)| *key == "oom_kill")
                .map_or(0, |(_, value)| value);
        }
        Ok(())
    }
}

fn read_optional_u64(file: &Option<KeptFile>, buf: &mut Vec<u8>) -> Result<u64, CollectError> {
    match file {
        Some(file) => file.read_u64(buf),
        None => Ok(0),
    }
}

/// Reads a blkio file of `MAJ:MIN Operation value` lines (and a final `Total value`), calling
/// `set` for each device line.
fn read_blkio(
    file: &KeptFile,
    buf: &mut Vec<u8>,
    devices: &mut Vec<DeviceIo>,
    set: impl Fn(&mut DeviceIo, &str, u64),
) -> Result<(), CollectError> {
    for line in file.read_into(buf)?.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(device), Some(op), Some(value)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some((major, minor)) = device.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor), Ok(value)) = (major.parse(), minor.parse(), value.parse())
        else {
            return Err(file.parse_error(format!("bad line {line:?}")));
        };
        let index = match devices
            .iter()
            .position(|d| d.major == major && d.minor == minor)
        {
            Some(index) => index,
            None => {
                devices.push(DeviceIo {
                    major,
                    minor,
                    ..DeviceIo::default()
                });
                devices.len() - 1
            }
        };
        set(&mut devices[index], op, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::containers::cgroup::{CgroupReader, open_recorded};

    /// Recorded with tests/fixtures/record-cgroup-v1.sh from a container run as
    /// `docker run --memory 64m --cpus 0.5 --device-write-bps /dev/vda:1gb` that wrote 8 MiB with
    /// fsync and counted to 200000 in a shell loop. `memory.max_usage_in_bytes` and
    /// `cpuacct.usage_percpu` were added by hand later (in the kernel's format), with values
    /// consistent with the recorded ones.
    const FIXTURE_PID: u32 = 19838;

    fn open_fixture() -> (CgroupReader, String) {
        open_recorded("cgroup-v1", FIXTURE_PID)
    }

    #[test]
    fn recorded_tree_gives_the_cadvisor_id_and_limits() {
        let (reader, id) = open_fixture();
        assert_eq!(
            id,
            "/docker/e2726244f643fcd628082a5aa247420d05f75d594127d16cd05bb5e77097bece"
        );
        assert_eq!(
            reader.limits(),
            CgroupLimits {
                memory_limit_bytes: Some(64 << 20),
                cpu_quota_micros: Some(50_000),
                cpu_period_micros: 100_000,
            }
        );
    }

    #[test]
    fn recorded_tree_gives_the_recorded_counters() {
        let (reader, _) = open_fixture();
        let mut counters = CgroupCounters::default();
        reader.read(&mut Vec::new(), &mut counters).unwrap();
        let expected = CgroupCounters {
            cpu_usage_seconds: 0.339_095_722,
            cpu_usage_per_cpu_seconds: vec![0.2, 0.139_095_722],
            cpu_user_seconds: 0.32,
            cpu_system_seconds: 0.01,
            cfs_periods: 13,
            cfs_throttled_periods: 0,
            cfs_throttled_seconds: 0.0,
            memory_usage_bytes: 8_949_760,
            memory_max_usage_bytes: Some(9_216_000),
            memory_working_set_bytes: 8_949_760,
            memory_rss_bytes: 53_248,
            memory_cache_bytes: 8_392_704,
            memory_mapped_file_bytes: 0,
            memory_swap_bytes: 0,
            memory_failcnt: 0,
            oom_kills: 0,
            pids: 1,
            devices: vec![DeviceIo {
                major: 254,
                minor: 0,
                read_bytes: 0,
                write_bytes: 8_404_992,
                reads: 0,
                writes: 7,
            }],
        };
        assert_eq!(counters, expected);
    }

    #[test]
    fn unlimited_quota_and_memory_read_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let cg = |c: &str| dir.path().join(c).join("docker/x");
        for c in ["cpuacct", "cpu", "memory"] {
            std::fs::create_dir_all(cg(c)).unwrap();
        }
        std::fs::write(
            cg("memory").join("memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .unwrap();
        std::fs::write(cg("cpu").join("cpu.cfs_quota_us"), "-1\n").unwrap();
        std::fs::write(cg("cpu").join("cpu.cfs_period_us"), "100000\n").unwrap();
        for (c, f) in [
            ("cpuacct", "cpuacct.usage"),
            ("cpuacct", "cpuacct.stat"),
            ("memory", "memory.usage_in_bytes"),
            ("memory", "memory.stat"),
        ] {
            std::fs::write(cg(c).join(f), "0\n").unwrap();
        }
        let reader = Reader::open(dir.path(), "/docker/x", false, &mut Vec::new()).unwrap();
        assert_eq!(reader.limits().memory_limit_bytes, None);
        assert_eq!(reader.limits().cpu_quota_micros, None);
    }

    #[test]
    fn garbage_in_a_counter_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blkio.throttle.io_service_bytes_recursive");
        std::fs::write(&path, "8:0 Read many\n").unwrap();
        let file = KeptFile::open(&path).unwrap();
        let error = read_blkio(&file, &mut Vec::new(), &mut Vec::new(), |_, _, _| {}).unwrap_err();
        assert!(error.to_string().contains("blkio.throttle"), "{error}");
    }
}
