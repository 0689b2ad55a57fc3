//! Names block devices by their major:minor numbers, as `/dev/<name>` like cAdvisor's `device`
//! label, from `/sys/dev/block/<major>:<minor>/uevent`.

use std::collections::HashMap;
use std::path::PathBuf;

/// A cache of device names; a device's name does not change while it exists.
#[derive(Debug)]
pub(crate) struct BlockDevices {
    sys_root: PathBuf,
    names: HashMap<(u32, u32), String>,
}

impl BlockDevices {
    /// Looks devices up under `<sys_root>/dev/block`.
    pub(crate) fn new(sys_root: PathBuf) -> Self {
        BlockDevices {
            sys_root,
            names: HashMap::new(),
        }
    }

    /// Looks up the name of device `major:minor` unless already known: `/dev/<DEVNAME>`, or
    /// `major:minor` when sysfs does not know it (a device removed since).
    pub(crate) fn learn(&mut self, major: u32, minor: u32) {
        let sys_root = &self.sys_root;
        self.names.entry((major, minor)).or_insert_with(|| {
            let uevent = sys_root.join(format!("dev/block/{major}:{minor}/uevent"));
            std::fs::read_to_string(uevent)
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|line| line.strip_prefix("DEVNAME="))
                        .map(|name| format!("/dev/{name}"))
                })
                .unwrap_or_else(|| format!("{major}:{minor}"))
        });
    }

    /// The name of a device passed to [`BlockDevices::learn`] before (empty otherwise).
    pub(crate) fn name(&self, major: u32, minor: u32) -> &str {
        self.names.get(&(major, minor)).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_uevent_with_numbers_as_fallback() {
        let sys = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cgroup-v2/sys");
        let mut devices = BlockDevices::new(sys);
        for (major, minor) in [(8, 16), (8, 0), (259, 7)] {
            devices.learn(major, minor);
        }
        assert_eq!(devices.name(8, 16), "/dev/sdb");
        assert_eq!(devices.name(8, 0), "/dev/sda");
        assert_eq!(devices.name(259, 7), "259:7");
    }
}
