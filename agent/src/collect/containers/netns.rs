//! Reads a container's network counters from `/proc/<pid>/net/dev` of its init process, which
//! shows the interfaces of the container's network namespace.

use std::path::Path;

use crate::collect::CollectError;
use crate::collect::kept_file::KeptFile;

/// The counters of one interface inside a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InterfaceCounters {
    /// Interface name inside the container, e.g. `eth0`.
    pub name: String,
    /// Bytes received.
    pub receive_bytes: u64,
    /// Packets received.
    pub receive_packets: u64,
    /// Receive errors.
    pub receive_errors: u64,
    /// Received packets dropped.
    pub receive_dropped: u64,
    /// Bytes sent.
    pub transmit_bytes: u64,
    /// Packets sent.
    pub transmit_packets: u64,
    /// Transmit errors.
    pub transmit_errors: u64,
    /// Packets dropped on sending.
    pub transmit_dropped: u64,
}

/// `/proc/<pid>/net/dev` of a container's init process, kept open.
#[derive(Debug)]
pub(crate) struct NetDevReader {
    file: KeptFile,
}

impl NetDevReader {
    /// Opens `<proc_root>/<pid>/net/dev`.
    pub(crate) fn open(proc_root: &Path, pid: u32) -> Result<Self, CollectError> {
        let path = proc_root.join(pid.to_string()).join("net/dev");
        Ok(NetDevReader {
            file: KeptFile::open(&path)?,
        })
    }

    /// Reads the counters of every interface except loopback into `out` (as cAdvisor, which
    /// leaves `lo` out because its traffic never leaves the container).
    pub(crate) fn read(
        &self,
        buf: &mut Vec<u8>,
        out: &mut Vec<InterfaceCounters>,
    ) -> Result<(), CollectError> {
        out.clear();
        // The first two lines are column headers.
        for line in self.file.read_into(buf)?.lines().skip(2) {
            let Some((name, values)) = line.split_once(':') else {
                return Err(self.file.parse_error(format!("bad line {line:?}")));
            };
            let name = name.trim();
            if name == "lo" {
                continue;
            }
            let mut numbers = [0u64; 16];
            let mut count = 0;
            for (slot, field) in numbers.iter_mut().zip(values.split_ascii_whitespace()) {
                *slot = field
                    .parse()
                    .map_err(|_| self.file.parse_error(format!("bad number in {line:?}")))?;
                count += 1;
            }
            if count < numbers.len() {
                return Err(self.file.parse_error(format!("short line {line:?}")));
            }
            // Columns: receive bytes packets errs drop fifo frame compressed multicast,
            // then transmit bytes packets errs drop fifo colls carrier compressed.
            out.push(InterfaceCounters {
                name: name.to_owned(),
                receive_bytes: numbers[0],
                receive_packets: numbers[1],
                receive_errors: numbers[2],
                receive_dropped: numbers[3],
                transmit_bytes: numbers[8],
                transmit_packets: numbers[9],
                transmit_errors: numbers[10],
                transmit_dropped: numbers[11],
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    #[test]
    fn fixture_gives_eth0_without_loopback() {
        let reader = NetDevReader::open(&fixtures().join("cgroup-v2/proc"), 4242).unwrap();
        let mut interfaces = Vec::new();
        reader.read(&mut Vec::new(), &mut interfaces).unwrap();
        assert_eq!(
            interfaces,
            vec![InterfaceCounters {
                name: "eth0".to_owned(),
                receive_bytes: 48_213_597,
                receive_packets: 35_871,
                receive_errors: 0,
                receive_dropped: 3,
                transmit_bytes: 3_145_321,
                transmit_packets: 21_904,
                transmit_errors: 1,
                transmit_dropped: 0,
            }]
        );
    }

    #[test]
    fn recorded_v1_container_shows_its_eth0() {
        let reader = NetDevReader::open(&fixtures().join("cgroup-v1/proc"), 19838).unwrap();
        let mut interfaces = Vec::new();
        reader.read(&mut Vec::new(), &mut interfaces).unwrap();
        let names: Vec<_> = interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["eth0"]);
    }

    #[test]
    fn truncated_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("1/net")).unwrap();
        std::fs::write(dir.path().join("1/net/dev"), "h1\nh2\n  eth0: 1 2 3\n").unwrap();
        let reader = NetDevReader::open(dir.path(), 1).unwrap();
        let error = reader.read(&mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("short line"), "{error}");
    }
}
