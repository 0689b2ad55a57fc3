//! The one parser of `/proc/net/dev` (the host's) and `/proc/<pid>/net/dev` (a container's):
//! two header lines, then `name: ` and sixteen counters per interface.

use crate::collect::CollectError;
use crate::collect::kept_file::{KeptFile, decimal};

/// How many counters each interface line holds: receive bytes, packets, errs, drop, fifo,
/// frame, compressed, multicast, then transmit bytes, packets, errs, drop, fifo, colls,
/// carrier, compressed.
pub(crate) const COUNTERS: usize = 16;

/// Reads `file` into `buf` and calls `each` with the name and counters of every interface that
/// `wanted` accepts, in the file's order; the counters of the others are not parsed (a Docker
/// host lists a `veth` per container that its own metrics leave out). A line that is not
/// `name: ` and sixteen numbers is an error naming the file.
pub(crate) fn read_interfaces(
    file: &KeptFile,
    buf: &mut Vec<u8>,
    wanted: impl Fn(&str) -> bool,
    mut each: impl FnMut(&str, &[u64; COUNTERS]),
) -> Result<(), CollectError> {
    // The first two lines are column headers.
    for line in file.read_into(buf)?.lines().skip(2) {
        let Some((name, values)) = line.split_once(':') else {
            return Err(file.parse_error(format!("bad line {line:?}")));
        };
        if !wanted(name.trim()) {
            continue;
        }
        let mut counters = [0u64; COUNTERS];
        let mut count = 0;
        for (slot, field) in counters.iter_mut().zip(values.split_ascii_whitespace()) {
            *slot = decimal(field.as_bytes())
                .ok_or_else(|| file.parse_error(format!("bad number in {line:?}")))?;
            count += 1;
        }
        if count < COUNTERS {
            return Err(file.parse_error(format!("short line {line:?}")));
        }
        each(name.trim(), &counters);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(text: &str) -> (tempfile::TempDir, KeptFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        std::fs::write(&path, text).unwrap();
        let file = KeptFile::open(&path).unwrap();
        (dir, file)
    }

    #[test]
    fn every_interface_comes_with_its_sixteen_counters_in_order() {
        let (_dir, file) = file_with(
            "h1\nh2\n    lo: 1 2 0 0 0 0 0 0 1 2 0 0 0 0 0 0\n  eth0: 10 11 12 13 14 15 16 17 20 21 22 23 24 25 26 27\n",
        );
        let mut seen = Vec::new();
        read_interfaces(
            &file,
            &mut Vec::new(),
            |_| true,
            |name, counters| {
                seen.push((name.to_owned(), counters[0], counters[8], counters[15]));
            },
        )
        .unwrap();
        assert_eq!(
            seen,
            [("lo".to_owned(), 1, 1, 0), ("eth0".to_owned(), 10, 20, 27)]
        );
    }

    #[test]
    fn truncated_or_garbled_lines_are_errors_naming_the_file() {
        let (_dir, file) = file_with("h1\nh2\n  eth0: 1 2 3\n");
        let error = read_interfaces(&file, &mut Vec::new(), |_| true, |_, _| {}).unwrap_err();
        assert!(error.to_string().contains("short line"), "{error}");
        let (_dir, file) = file_with("h1\nh2\n  eth0 1 2 3\n");
        let error = read_interfaces(&file, &mut Vec::new(), |_| true, |_, _| {}).unwrap_err();
        assert!(error.to_string().contains("/dev"), "{error}");
    }
}
