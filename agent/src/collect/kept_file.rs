//! A procfs, sysfs or cgroup file kept open and re-read from offset 0 on every scrape.
//!
//! The kernel regenerates these files on each read from the start (seq_file and sysfs
//! attributes restart at offset 0), so one pread(2) replaces open, read and close: about 2 us
//! instead of 10 us per file, and a scrape touches some eighty host files plus about ten per
//! container.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};

use crate::collect::CollectError;

/// Initial buffer size; the largest common file, /proc/net/snmp6 or a big /proc/stat, fits in
/// a few pages.
const INITIAL_CAPACITY: usize = 4096;

/// A read shorter than asked and ending below this many bytes holds the whole file. A seq_file
/// read stops short either at the end or when the next record would overflow its one-page
/// buffer, and no record of a file read here is half a page long; single-record files (most
/// cgroup files, /proc/stat) come whole in one read. This saves the second, empty read.
const WHOLE_BELOW: usize = INITIAL_CAPACITY / 2;

/// A file kept open between scrapes.
#[derive(Debug)]
pub(crate) struct KeptFile {
    path: PathBuf,
    fd: Mutex<Option<OwnedFd>>,
}

impl KeptFile {
    /// Names the file; it is opened on the first read.
    pub(crate) fn new(path: PathBuf) -> Self {
        KeptFile {
            path,
            fd: Mutex::new(None),
        }
    }

    /// Opens `path` now, so that a missing file is an error at once.
    pub(crate) fn open(path: &Path) -> Result<Self, CollectError> {
        let file = KeptFile::new(path.to_path_buf());
        let opened = file.open_fd()?;
        *file.fd.lock().unwrap_or_else(PoisonError::into_inner) = Some(opened);
        Ok(file)
    }

    /// Opens `path`, or returns `None` when it does not exist (a controller this kernel lacks).
    pub(crate) fn open_optional(path: &Path) -> Result<Option<Self>, CollectError> {
        match Self::open(path) {
            Ok(file) => Ok(Some(file)),
            Err(CollectError::Read { source, .. }) if source.kind() == ErrorKind::NotFound => {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The file's path, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The whole current content as a new string.
    pub(crate) fn read(&self) -> Result<String, CollectError> {
        let mut buf = Vec::new();
        self.read_into(&mut buf)?;
        String::from_utf8(buf).map_err(|_| self.parse_error("not UTF-8"))
    }

    /// Reads the whole current content into `buf`, replacing what it held, and returns it as
    /// text. A read failing with `ENODEV` reopens the file once: the device behind a sysfs file
    /// may have been replaced by another of the same name. Other errors keep the file open (a
    /// network device's `speed` fails with `EINVAL` while it has no link, on every scrape).
    pub(crate) fn read_into<'b>(&self, buf: &'b mut Vec<u8>) -> Result<&'b str, CollectError> {
        let mut fd = self.fd.lock().unwrap_or_else(PoisonError::into_inner);
        for _ in 0..2 {
            let opened = match fd.take() {
                Some(opened) => opened,
                None => self.open_fd()?,
            };
            match read_from_start(&opened, buf) {
                Ok(()) => {
                    *fd = Some(opened);
                    return std::str::from_utf8(buf).map_err(|_| self.parse_error("not UTF-8"));
                }
                Err(rustix::io::Errno::NODEV) => {}
                Err(error) => {
                    *fd = Some(opened);
                    return Err(self.error(error));
                }
            }
        }
        Err(self.error(rustix::io::Errno::NODEV))
    }

    /// Whether the kernel flagged the file as changed since this was last asked: poll(2)
    /// reporting `POLLPRI`, as `/proc/<pid>/mountinfo` does once after each mount or unmount in
    /// its namespace. True when the file is not open yet (nothing was read from it). Files that
    /// flag no changes (regular files, most of procfs) never report one.
    pub(crate) fn changed(&self) -> bool {
        let fd = self.fd.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(opened) = fd.as_ref() else {
            return true;
        };
        let mut fds = [PollFd::new(opened, PollFlags::PRI)];
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&now)) {
            Ok(_) => fds[0].revents().intersects(PollFlags::PRI | PollFlags::ERR),
            // A failed poll says nothing about the content: report a change to have it read again.
            Err(_) => true,
        }
    }

    /// Reads a file holding one unsigned number.
    pub(crate) fn read_u64(&self, buf: &mut Vec<u8>) -> Result<u64, CollectError> {
        let text = self.read_into(buf)?.trim();
        text.parse()
            .map_err(|_| self.parse_error(format!("expected a number, found {text:?}")))
    }

    /// A parse error naming this file.
    pub(crate) fn parse_error(&self, message: impl Into<String>) -> CollectError {
        CollectError::Parse {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    fn open_fd(&self) -> Result<OwnedFd, CollectError> {
        rustix::fs::open(&self.path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|error| self.error(error))
    }

    fn error(&self, errno: rustix::io::Errno) -> CollectError {
        CollectError::Read {
            path: self.path.display().to_string(),
            source: errno.into(),
        }
    }
}

fn read_from_start(fd: &OwnedFd, buf: &mut Vec<u8>) -> Result<(), rustix::io::Errno> {
    buf.clear();
    buf.reserve(INITIAL_CAPACITY);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        let asked = buf.capacity() - buf.len();
        let offset = buf.len() as u64;
        let read = rustix::io::pread(fd, rustix::buffer::spare_capacity(&mut *buf), offset)?;
        if read == 0 || (read < asked && buf.len() < WHOLE_BELOW) {
            return Ok(());
        }
    }
}

/// Iterates the `key value` lines of a flat keyed file (cpu.stat, memory.stat, memory.events).
/// Lines whose value is not a number are skipped. A byte scan rather than `lines` and
/// `split_once`, whose per-line searches cost a microsecond per container on v1's seventy-line
/// memory.stat.
pub(crate) fn keyed_values(text: &str) -> impl Iterator<Item = (&str, u64)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let end = rest.bytes().position(|byte| byte == b'\n');
            // Splitting at ASCII bytes keeps both sides valid UTF-8.
            let line = &rest[..end.unwrap_or(rest.len())];
            rest = end.map_or("", |end| &rest[end + 1..]);
            let Some(space) = line.bytes().position(|byte| byte == b' ') else {
                continue;
            };
            if let Some(value) = decimal(line.as_bytes()[space + 1..].trim_ascii()) {
                return Some((&line[..space], value));
            }
        }
        None
    })
}

/// Parses unsigned decimal digits (what procfs, sysfs and cgroup files hold): `str::parse` with
/// neither sign nor UTF-8 handling. `None` for anything else, including an empty field or a
/// number beyond u64.
pub(crate) fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |number, &byte| {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        number.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_current_content_and_grows_for_long_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.stat");
        std::fs::write(&path, "cache 1\nrss 2\n").unwrap();
        let file = KeptFile::open(&path).unwrap();
        let mut buf = Vec::new();
        assert_eq!(file.read_into(&mut buf).unwrap(), "cache 1\nrss 2\n");
        let long = "x 1\n".repeat(3000);
        std::fs::write(&path, &long).unwrap();
        assert_eq!(file.read_into(&mut buf).unwrap(), long);
        std::fs::write(&path, "22\n").unwrap();
        assert_eq!(file.read().unwrap(), "22\n");
    }

    #[test]
    fn procfs_files_are_regenerated_on_each_read() {
        // /proc/uptime counts in hundredths of a second.
        let file = KeptFile::new(PathBuf::from("/proc/uptime"));
        let first = file.read().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let second = file.read().unwrap();
        assert_ne!(first, second, "the uptime must have moved");
    }

    #[test]
    fn multi_page_procfs_file_is_read_whole() {
        // /proc/self/smaps is a seq_file of many pages whose read stops at each page; the stack
        // mapping comes near its end.
        let text = KeptFile::new(PathBuf::from("/proc/self/smaps"))
            .read()
            .unwrap();
        assert!(text.len() > 2 * INITIAL_CAPACITY, "{}", text.len());
        assert!(text.contains("[stack]"), "{text}");
    }

    #[test]
    fn missing_file_is_a_read_error_naming_it_or_none_when_optional() {
        let file = KeptFile::new(PathBuf::from("/nonexistent/file"));
        let error = file.read().unwrap_err().to_string();
        assert!(error.contains("/nonexistent/file"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        assert!(
            KeptFile::open_optional(&dir.path().join("pids.current"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_failing_attribute_stays_open_for_the_next_scrape() {
        // Loopback has no link speed: the attribute exists and its read fails with EINVAL.
        let file = KeptFile::open(Path::new("/sys/class/net/lo/speed")).unwrap();
        let error = file.read().unwrap_err().to_string();
        assert!(error.contains("Invalid argument"), "{error}");
        let fd = file.fd.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(
            fd.is_some(),
            "the file must not be reopened on every scrape"
        );
    }

    #[test]
    fn mount_table_reports_a_change_only_until_read() {
        let file = KeptFile::new(PathBuf::from("/proc/self/mountinfo"));
        assert!(file.changed(), "a file never read counts as changed");
        // Other programs on the host may mount meanwhile (a container starting): one of a few
        // read-then-ask rounds must see no change.
        let quiet = (0..20).any(|_| {
            file.read().unwrap();
            !file.changed()
        });
        assert!(quiet, "every round reported a change");
    }

    #[test]
    fn bad_number_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.max");
        std::fs::write(&path, "lots\n").unwrap();
        let error = KeptFile::open(&path)
            .unwrap()
            .read_u64(&mut Vec::new())
            .unwrap_err();
        assert!(error.to_string().contains("\"lots\""), "{error}");
    }

    #[test]
    fn keyed_values_skip_lines_that_are_not_numbers() {
        let text = "usage_usec 10\nbad line x\nnr_periods 3\nempty \nnegative -1\nlast 7";
        let pairs: Vec<_> = keyed_values(text).collect();
        assert_eq!(
            pairs,
            vec![("usage_usec", 10), ("nr_periods", 3), ("last", 7)]
        );
    }

    #[test]
    fn decimal_reads_what_str_parse_reads_for_unsigned_digits() {
        for text in ["0", "42", "18446744073709551615", "007"] {
            assert_eq!(decimal(text.as_bytes()), text.parse().ok(), "{text}");
        }
        for text in ["", "18446744073709551616", "-1", "+1", "1x", " 1"] {
            assert_eq!(decimal(text.as_bytes()), None, "{text:?}");
        }
    }
}
