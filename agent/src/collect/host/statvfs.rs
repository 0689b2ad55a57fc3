//! Filesystem usage through statvfs(2) on a worker thread, so a hung mount cannot hang a scrape.
//!
//! A statvfs on a dead NFS server blocks in the kernel, uninterruptibly. The call runs on a
//! worker thread and the scrape waits at most the configured timeout; a mount whose call has not
//! returned is reported stale and skipped until that call returns, and a fresh worker takes over
//! the other mounts (the blocked one exits once the kernel lets it go).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What statvfs says about one mounted filesystem, in bytes and inodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Usage {
    pub(super) size: f64,
    pub(super) free: f64,
    pub(super) avail: f64,
    pub(super) files: f64,
    pub(super) files_free: f64,
}

/// The outcome of asking about one mount point.
#[derive(Debug)]
pub(super) enum Outcome {
    /// The numbers.
    Usage(Usage),
    /// statvfs failed (e.g. permission denied).
    Failed(io::Error),
    /// statvfs did not return in time, now or on an earlier scrape.
    Stale,
}

/// The function that asks the kernel; tests substitute a slow one.
type StatFn = fn(&Path) -> io::Result<Usage>;

struct Request {
    path: PathBuf,
    reply: mpsc::SyncSender<io::Result<Usage>>,
}

/// Runs statvfs calls on a worker thread with a deadline and remembers mounts that hung.
pub(super) struct Statvfs {
    timeout: Duration,
    stat: StatFn,
    worker: Mutex<Option<mpsc::Sender<Request>>>,
    /// Mount points whose call has been sent but has not returned yet.
    in_flight: Arc<Mutex<HashSet<PathBuf>>>,
}

impl Statvfs {
    /// Asks the kernel, waiting at most `timeout` per mount.
    pub(super) fn new(timeout: Duration) -> Self {
        Self::with_stat(timeout, kernel_statvfs)
    }

    fn with_stat(timeout: Duration, stat: StatFn) -> Self {
        Statvfs {
            timeout,
            stat,
            worker: Mutex::new(None),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// The usage of the filesystem mounted at `path`, or why there is none.
    pub(super) fn usage(&self, path: &Path) -> Outcome {
        {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !in_flight.insert(path.to_owned()) {
                return Outcome::Stale;
            }
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
        let request = Request {
            path: path.to_owned(),
            reply,
        };
        let sent = match worker.as_ref() {
            Some(sender) => sender.send(request).map_err(|e| e.0),
            None => Err(request),
        };
        if let Err(request) = sent {
            match self.spawn_worker() {
                Ok(sender) => {
                    // A new worker's receiver is alive, so this send cannot fail.
                    let _ = sender.send(request);
                    *worker = Some(sender);
                }
                Err(error) => {
                    self.forget(path);
                    return Outcome::Failed(error);
                }
            }
        }
        match answer.recv_timeout(self.timeout) {
            Ok(Ok(usage)) => Outcome::Usage(usage),
            Ok(Err(error)) => Outcome::Failed(error),
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(mountpoint = %path.display(), timeout = ?self.timeout,
                    "statvfs did not return in time; skipping this mount until it does");
                // The worker is stuck in the kernel: the next mount gets a new one.
                *worker = None;
                Outcome::Stale
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.forget(path);
                *worker = None;
                Outcome::Failed(io::Error::other("statvfs worker exited"))
            }
        }
    }

    fn forget(&self, path: &Path) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        in_flight.remove(path);
    }

    fn spawn_worker(&self) -> io::Result<mpsc::Sender<Request>> {
        let (sender, requests) = mpsc::channel::<Request>();
        let in_flight = Arc::clone(&self.in_flight);
        let stat = self.stat;
        std::thread::Builder::new()
            .name("statvfs".to_owned())
            .stack_size(64 * 1024)
            .spawn(move || {
                for request in requests {
                    let result = stat(&request.path);
                    in_flight
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&request.path);
                    // The scrape may have given up waiting; then nobody needs the answer.
                    let _ = request.reply.send(result);
                }
            })?;
        Ok(sender)
    }
}

/// statvfs(2). Sizes use `f_bsize` like node_exporter (Go's statfs), which Linux sets equal to
/// the fragment size on every common filesystem.
fn kernel_statvfs(path: &Path) -> io::Result<Usage> {
    let stat = rustix::fs::statvfs(path)?;
    let block = stat.f_bsize as f64;
    Ok(Usage {
        size: stat.f_blocks as f64 * block,
        free: stat.f_bfree as f64 * block,
        avail: stat.f_bavail as f64 * block,
        files: stat.f_files as f64,
        files_free: stat.f_ffree as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    static FIRST_CALL_ON_HUNG: AtomicBool = AtomicBool::new(true);

    /// Hangs for two seconds on the first call for `/hung`, answers at once otherwise.
    fn slow_on_hung(path: &Path) -> io::Result<Usage> {
        if path == Path::new("/hung") && FIRST_CALL_ON_HUNG.swap(false, Ordering::SeqCst) {
            std::thread::sleep(Duration::from_secs(2));
        }
        Ok(Usage {
            size: 1.0,
            free: 1.0,
            avail: 1.0,
            files: 1.0,
            files_free: 1.0,
        })
    }

    #[test]
    fn a_hung_mount_is_skipped_and_the_others_still_answer() {
        let statvfs = Statvfs::with_stat(Duration::from_millis(100), slow_on_hung);
        let started = Instant::now();
        assert!(matches!(statvfs.usage(Path::new("/")), Outcome::Usage(_)));
        assert!(matches!(statvfs.usage(Path::new("/hung")), Outcome::Stale));
        assert!(matches!(
            statvfs.usage(Path::new("/home")),
            Outcome::Usage(_)
        ));
        // The next scrape does not wait for the hung mount again.
        assert!(matches!(statvfs.usage(Path::new("/hung")), Outcome::Stale));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        // Once the kernel returns, the mount is asked again.
        std::thread::sleep(Duration::from_millis(2200));
        assert!(matches!(
            statvfs.usage(Path::new("/hung")),
            Outcome::Usage(_)
        ));
    }

    #[test]
    fn the_root_filesystem_has_a_size() {
        let statvfs = Statvfs::new(Duration::from_secs(5));
        match statvfs.usage(Path::new("/")) {
            Outcome::Usage(usage) => assert!(usage.size > 0.0 && usage.avail <= usage.size),
            other => panic!("{other:?}"),
        }
    }
}
