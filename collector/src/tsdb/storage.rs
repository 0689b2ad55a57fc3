//! The storage handle: opens the database (rebuilding the head, see `recovery`), owns the state
//! appenders, readers and maintenance share, and runs the background thread that makes appends
//! durable every tick, compacts older windows and applies retention.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use redb::{Database, ReadableDatabase};

use super::dayfile::BLOCKS_DIR;
use super::head::Head;
use super::interface::Metadata;
use super::keyvalue::{self, KeyValueStore};
use super::live::LiveIds;
use super::options::{StorageError, StorageOptions, StorageStats, db_err};
use super::recovery::{init_tables, load};
use super::schema::STATE;
use super::{flush, maintain};
use crate::vocab::FailureLog;

/// The database file inside the data directory.
pub const DB_FILE: &str = "osprey.redb";

/// How often the background thread looks at compaction and retention.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(10);

/// The time-series store on redb; see the module docs of [`crate::tsdb`].
pub struct Storage {
    pub(crate) shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

/// State shared by the storage handle, appenders, readers and the background thread.
pub(crate) struct Shared {
    pub db: Arc<Database>,
    /// The database file (the head, the series, the alerting tables).
    pub path: PathBuf,
    /// The folder of day files.
    pub blocks_dir: PathBuf,
    pub options: StorageOptions,
    pub head: Mutex<Head>,
    /// The head's live series ids, for appenders checking handles without its lock.
    pub live: Arc<LiveIds>,
    /// Held for the whole of every write transaction this store makes, before `head`.
    pub writer: Mutex<()>,
    /// Held by compaction, retention, deletion and backup, before `writer`: the day files
    /// change only under it.
    pub maintenance: Mutex<()>,
    /// Shared with the registry that reports them.
    pub stats: Arc<StorageStats>,
    /// Set while the disk refuses writes: appends fail until a tick succeeds again.
    pub blocked: AtomicBool,
    /// Threads other than appenders waiting for `head`; appenders step aside for them.
    waiting: AtomicUsize,
    signal: Mutex<Signal>,
    wake: Condvar,
    /// Notified (with `head`) each time a tick takes the pending write-ahead samples.
    pub taken: Condvar,
}

/// What the background thread is asked to do.
#[derive(Debug, Default)]
struct Signal {
    stop: bool,
    flush_now: bool,
}

impl Shared {
    /// The head, even if a thread panicked while holding it (its data stays consistent).
    pub fn head(&self) -> MutexGuard<'_, Head> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let head = self.head.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        head
    }

    fn signal(&self) -> MutexGuard<'_, Signal> {
        self.signal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the background thread for a tick now rather than at the end of the interval.
    pub fn flush_soon(&self) {
        self.signal().flush_now = true;
        self.wake.notify_all();
    }

    /// The head for an appender: the mutex is not fair, and an appender looping at full speed
    /// would otherwise starve the durability tick (and so lose more than a tick on a crash).
    pub fn head_for_append(&self) -> MutexGuard<'_, Head> {
        for _ in 0..100_000 {
            if self.waiting.load(Ordering::Acquire) == 0 {
                break;
            }
            std::thread::yield_now();
        }
        self.head.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive right to write to the database.
    pub fn writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive right to change the day files.
    pub fn maintenance(&self) -> MutexGuard<'_, ()> {
        self.maintenance
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Storage {
    /// Opens (creating if needed) the store in `dir`, recovering from a crash if there was one.
    pub fn open(dir: impl AsRef<Path>, options: StorageOptions) -> Result<Storage, StorageError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(db_err)?;
        let blocks_dir = dir.join(BLOCKS_DIR);
        init_tables(&db, &blocks_dir)?;
        keyvalue::create_tables(&db)?;
        let mut head = Head::default();
        load(&db, &blocks_dir, &mut head)?;
        let background = options.background_compaction;
        let shared = Arc::new(Shared {
            db: Arc::new(db),
            path,
            blocks_dir,
            options,
            live: head.live.clone(),
            head: Mutex::new(head),
            writer: Mutex::new(()),
            maintenance: Mutex::new(()),
            stats: Arc::default(),
            blocked: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
            taken: Condvar::new(),
        });
        StorageStats::set(
            &shared.stats.series_active,
            shared.head().series.len() as u64,
        );
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name("tsdb-flush".into())
            .spawn(move || run_background(&worker_shared, background))
            .map_err(|source| StorageError::Io {
                context: "starting the storage thread".into(),
                source,
            })?;
        Ok(Storage {
            shared,
            worker: Some(worker),
        })
    }

    /// Counters for the collector's own metrics.
    pub fn stats(&self) -> &StorageStats {
        &self.shared.stats
    }

    /// Registers the `osprey_tsdb_*` families, read from [`Storage::stats`] on each scrape.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(Arc::clone(&self.shared.stats)));
    }

    /// The tables the alerting stages keep next to the samples.
    pub fn key_value(&self) -> KeyValueStore {
        KeyValueStore::new(self.shared.clone())
    }

    /// The path of the database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Bytes the store takes on disk (the day files and the database file): what the retention
    /// size budget counts.
    pub fn used_bytes(&self) -> Result<u64, StorageError> {
        maintain::used_bytes(&self.shared)
    }

    /// HELP/TYPE/UNIT last recorded for `metric`.
    pub fn metadata(&self, metric: &str) -> Option<Metadata> {
        self.shared.head().metadata.get(metric).cloned()
    }

    /// Every metric's metadata, sorted by metric name.
    pub fn all_metadata(&self) -> Vec<(String, Metadata)> {
        let head = self.shared.head();
        head.metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Reads a value another module stored with [`Storage::put_state`].
    pub fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let txn = self.shared.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(STATE).map_err(db_err)?;
        Ok(table.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    /// Stores (or with `None`, removes) a small value durably.
    pub fn put_state(&self, key: &str, value: Option<&[u8]>) -> Result<(), StorageError> {
        let _writer = self.shared.writer();
        flush::check_free_space(&self.shared)?;
        let txn = flush::durable_txn(&self.shared.db)?;
        {
            let mut table = txn.open_table(STATE).map_err(db_err)?;
            match value {
                Some(v) => table.insert(key, v).map(drop),
                None => table.remove(key).map(drop),
            }
            .map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    /// Writes everything appended so far durably now, without waiting for the next tick.
    pub fn sync(&self) -> Result<(), StorageError> {
        flush::tick(&self.shared)
    }

    /// Cuts every open chunk and writes it, so the write-ahead table empties; used by imports
    /// and by tests and benchmarks that measure the compacted size.
    pub fn flush_head(&self) -> Result<(), StorageError> {
        flush::flush_head(&self.shared)
    }

    /// Compacts every window old enough (or, with `all`, every window) into blocks and applies
    /// retention; the background thread does this on its own every few seconds.
    pub fn compact(&self, all: bool) -> Result<(), StorageError> {
        maintain::compact(&self.shared, all)?;
        maintain::apply_retention(&self.shared)
    }

    /// Stops the background thread and makes everything appended durable: the head is
    /// written out as chunks when its open chunks are full enough to be worth one each (then
    /// reopening replays nothing); otherwise its samples stay in the write-ahead records,
    /// which reopening replays.
    pub fn close(mut self) -> Result<(), StorageError> {
        self.stop_worker();
        flush::close(&self.shared)
    }

    /// Compacts the database file of the closed store in `dir`, returning its free pages to the
    /// filesystem (redb can only do this with the file to itself).
    pub fn shrink_closed(dir: impl AsRef<Path>) -> Result<(), StorageError> {
        Database::open(dir.as_ref().join(DB_FILE))
            .map_err(db_err)?
            .compact()
            .map_err(db_err)?;
        Ok(())
    }

    fn stop_worker(&mut self) {
        self.shared.signal().stop = true;
        self.shared.wake.notify_all();
        if let Some(worker) = self.worker.take()
            && worker.join().is_err()
        {
            tracing::error!("the storage thread panicked");
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        if self.worker.is_some() {
            self.stop_worker();
            if let Err(e) = flush::tick(&self.shared) {
                tracing::error!("final storage write failed: {e}");
            }
        }
    }
}

fn run_background(shared: &Shared, maintenance: bool) {
    let mut last_maintenance = Instant::now();
    let mut writes = FailureLog::default();
    let mut maintenance_runs = FailureLog::default();
    loop {
        let signal = shared.signal();
        let (mut signal, _) = shared
            .wake
            .wait_timeout_while(signal, shared.options.flush_interval, |s| {
                !s.stop && !s.flush_now
            })
            .unwrap_or_else(PoisonError::into_inner);
        if signal.stop {
            return;
        }
        signal.flush_now = false;
        drop(signal);
        writes.record("storage write", flush::tick(shared));
        if maintenance && last_maintenance.elapsed() >= MAINTENANCE_EVERY {
            last_maintenance = Instant::now();
            maintenance_runs.record(
                "storage maintenance",
                maintain::compact(shared, false).and(maintain::apply_retention(shared)),
            );
        }
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// Whether writes are currently refused (disk full or a failed write).
pub(crate) fn writes_blocked(shared: &Shared) -> bool {
    shared.blocked.load(Ordering::Acquire)
}
