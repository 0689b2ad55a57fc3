//! Reads a container's network counters from `/proc/<pid>/net/dev` of its init process, which
//! shows the interfaces of the container's network namespace.

use std::path::Path;

use crate::collect::CollectError;
use crate::collect::kept_file::KeptFile;
use crate::collect::net_dev::read_interfaces;

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
    namespace: Option<u64>,
}

impl NetDevReader {
    /// Opens `<proc_root>/<pid>/net/dev` and notes the inode of the process's network namespace
    /// (`<proc_root>/<pid>/ns/net`), which the open file keeps alive and so unique.
    pub(crate) fn open(proc_root: &Path, pid: u32) -> Result<Self, CollectError> {
        let process = proc_root.join(pid.to_string());
        Ok(NetDevReader {
            file: KeptFile::open(&process.join("net/dev"))?,
            namespace: rustix::fs::stat(process.join("ns/net"))
                .ok()
                .map(|stat| stat.st_ino),
        })
    }

    /// The inode of the network namespace, when it could be read: containers with the same one
    /// share their interfaces.
    pub(crate) fn namespace(&self) -> Option<u64> {
        self.namespace
    }

    /// Reads the counters of every interface except loopback into `out` (as cAdvisor, which
    /// leaves `lo` out because its traffic never leaves the container). The entries of `out` are
    /// overwritten in place, so the interface names of the last scrape are not allocated again.
    pub(crate) fn read(
        &self,
        buf: &mut Vec<u8>,
        out: &mut Vec<InterfaceCounters>,
    ) -> Result<(), CollectError> {
        let mut count = 0;
        let result = read_interfaces(
            &self.file,
            buf,
            |name| name != "lo",
            |name, counters| {
                if count == out.len() {
                    out.push(InterfaceCounters::default());
                }
                let interface = &mut out[count];
                if interface.name != name {
                    name.clone_into(&mut interface.name);
                }
                // Columns: receive bytes packets errs drop fifo frame compressed multicast,
                // then transmit bytes packets errs drop fifo colls carrier compressed.
                interface.receive_bytes = counters[0];
                interface.receive_packets = counters[1];
                interface.receive_errors = counters[2];
                interface.receive_dropped = counters[3];
                interface.transmit_bytes = counters[8];
                interface.transmit_packets = counters[9];
                interface.transmit_errors = counters[10];
                interface.transmit_dropped = counters[11];
                count += 1;
            },
        );
        out.truncate(count);
        result
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
}
