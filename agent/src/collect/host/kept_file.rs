//! A procfs or sysfs file opened once and re-read from offset 0 on every scrape.
//!
//! The kernel regenerates these files on each read from the start (seq_file and sysfs
//! attributes restart at offset 0), so one pread(2) replaces open, read and close: a scrape
//! touches some eighty such files, and the saved path lookups are a large part of its cost.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};

use crate::collect::CollectError;

/// Initial buffer size; the largest common file, /proc/net/snmp6 or a big /proc/stat, fits in
/// a few pages.
const INITIAL_CAPACITY: usize = 4096;

/// A file kept open between scrapes.
#[derive(Debug)]
pub(super) struct KeptFile {
    path: PathBuf,
    fd: Mutex<Option<OwnedFd>>,
}

impl KeptFile {
    /// Names the file; it is opened on the first read.
    pub(super) fn new(path: PathBuf) -> Self {
        KeptFile {
            path,
            fd: Mutex::new(None),
        }
    }

    /// The file's path, for messages.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The whole current content. A failed read reopens the file once: the device behind a
    /// sysfs file may have been replaced by another of the same name.
    pub(super) fn read(&self) -> Result<String, CollectError> {
        let mut fd = self.fd.lock().unwrap_or_else(PoisonError::into_inner);
        let mut last_error = None;
        for _ in 0..2 {
            if fd.is_none() {
                let flags = OFlags::RDONLY | OFlags::CLOEXEC;
                match rustix::fs::open(&self.path, flags, Mode::empty()) {
                    Ok(opened) => *fd = Some(opened),
                    Err(error) => return Err(self.error(error)),
                }
            }
            match fd.as_ref().map(read_from_start) {
                Some(Ok(bytes)) => {
                    return String::from_utf8(bytes).map_err(|_| CollectError::Parse {
                        path: self.path.display().to_string(),
                        message: "not UTF-8".to_owned(),
                    });
                }
                Some(Err(error)) => {
                    *fd = None;
                    last_error = Some(error);
                }
                None => {}
            }
        }
        Err(self.error(last_error.unwrap_or(rustix::io::Errno::IO)))
    }

    fn error(&self, errno: rustix::io::Errno) -> CollectError {
        CollectError::Read {
            path: self.path.display().to_string(),
            source: errno.into(),
        }
    }
}

fn read_from_start(fd: &OwnedFd) -> Result<Vec<u8>, rustix::io::Errno> {
    let mut bytes = Vec::with_capacity(INITIAL_CAPACITY);
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.capacity());
        }
        let offset = bytes.len() as u64;
        let read = rustix::io::pread(fd, rustix::buffer::spare_capacity(&mut bytes), offset)?;
        if read == 0 {
            return Ok(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_see_new_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        std::fs::write(&path, "1\n").unwrap();
        let file = KeptFile::new(path.clone());
        assert_eq!(file.read().unwrap(), "1\n");
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
    fn a_missing_file_is_a_read_error_naming_it() {
        let file = KeptFile::new(PathBuf::from("/nonexistent/file"));
        let error = file.read().unwrap_err().to_string();
        assert!(error.contains("/nonexistent/file"), "{error}");
    }
}
