//! What a storage is told when it opens, what it counts while it runs, and how it fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Settings for [`super::Storage::open`].
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// Drop samples older than this, measured back from the newest sample; `None` keeps all.
    pub retention_time: Option<Duration>,
    /// Drop the oldest days while the store takes more bytes than this on disk (day files plus
    /// the database file); `None` for no limit.
    pub retention_size: Option<u64>,
    /// Most series the store holds; creating one more fails with `SeriesLimit`.
    pub max_series: u64,
    /// Most series one source (scrape target) may create.
    pub max_series_per_source: u64,
    /// How often appended samples are written durably (the most a kill -9 can lose).
    pub flush_interval: Duration,
    /// Most samples appended but not yet durable; a commit past this waits for the next tick
    /// to take them, so a writer faster than the disk slows down instead of widening what a
    /// crash can lose.
    pub max_unsynced_samples: usize,
    /// Whether a background thread compacts older windows and applies retention.
    pub background_compaction: bool,
    /// Refuse writes while the filesystem has less free space than this, so a full disk never
    /// fails a write half way (which would also stop reads until reopening). `None`: a share of
    /// the filesystem's size, see [`default_reserve`].
    pub min_free_bytes: Option<u64>,
    /// Page cache size for redb. Chunks are read once per query and the operating system caches
    /// the file too, so a small cache costs queries little (a 6-hour panel over 1,600 series,
    /// all of whose pages fit in 16 MiB, took about 3% longer with 4 MiB, within run-to-run
    /// spread); at 200k series 16 MiB kept 25 MB more resident than 4 MiB, redb's write buffer
    /// (up to half the cache) included.
    pub cache_bytes: usize,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            retention_time: Some(Duration::from_secs(15 * 24 * 3600)),
            retention_size: None,
            max_series: 5_000_000,
            max_series_per_source: 200_000,
            flush_interval: Duration::from_millis(500),
            max_unsynced_samples: 500_000,
            background_compaction: true,
            min_free_bytes: None,
            cache_bytes: 4 << 20,
        }
    }
}

/// The free space kept by default on a filesystem of `size_bytes`: 2% of it, at least 4 MiB
/// (more than one durability tick or compaction step writes) and at most 64 MiB, so a small
/// data filesystem still stores most of its size and a large one does not idle gigabytes.
pub(crate) fn default_reserve(size_bytes: u64) -> u64 {
    (size_bytes / 50).clamp(4 << 20, 64 << 20)
}

/// Counters the collector's own `/metrics` reports; all monotonic except where noted.
#[derive(Debug, Default)]
pub struct StorageStats {
    /// Samples accepted by committed batches.
    pub samples_appended: AtomicU64,
    /// Series created.
    pub series_created: AtomicU64,
    /// Series removed by retention or deletion.
    pub series_removed: AtomicU64,
    /// Series currently held (a gauge).
    pub series_active: AtomicU64,
    /// Series creations refused by the total limit.
    pub series_limit_hits: AtomicU64,
    /// Series creations refused by the per-source limit.
    pub source_limit_hits: AtomicU64,
    /// Samples refused because they were not newer than the series' last sample.
    pub out_of_order_samples: AtomicU64,
    /// Durable write-ahead commits.
    pub wal_commits: AtomicU64,
    /// Durability ticks that could not write (disk full or I/O error).
    pub write_failures: AtomicU64,
    /// 1 while writes are refused for lack of disk space or after an I/O error (a gauge).
    pub writes_blocked: AtomicU64,
    /// Batches refused because writes were blocked.
    pub appends_refused: AtomicU64,
    /// Raw chunks written.
    pub chunks_written: AtomicU64,
    /// Series-days compacted into blocks.
    pub blocks_written: AtomicU64,
    /// Days or windows dropped by retention.
    pub retention_drops: AtomicU64,
    /// Bytes of the database file and the day files (a gauge, updated by the background thread).
    pub file_bytes: AtomicU64,
}

impl StorageStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set(gauge: &AtomicU64, n: u64) {
        gauge.store(n, Ordering::Relaxed);
    }
}

/// The figures as `osprey_tsdb_*` families, read on each scrape of the collector's `/metrics`.
impl Collector for StorageStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter, Gauge};
        let families: [(&str, MetricType, &str, &AtomicU64); 14] = [
            (
                "samples_appended",
                Counter,
                "Samples accepted by committed batches.",
                &self.samples_appended,
            ),
            (
                "series_created",
                Counter,
                "Series created.",
                &self.series_created,
            ),
            (
                "series_removed",
                Counter,
                "Series removed by retention or deletion.",
                &self.series_removed,
            ),
            (
                "series_active",
                Gauge,
                "Series currently held.",
                &self.series_active,
            ),
            (
                "series_limit_hits",
                Counter,
                "Series creations refused by the total series limit.",
                &self.series_limit_hits,
            ),
            (
                "source_series_limit_hits",
                Counter,
                "Series creations refused by the per-target series limit.",
                &self.source_limit_hits,
            ),
            (
                "out_of_order_samples",
                Counter,
                "Samples refused for not being newer than their series' last sample.",
                &self.out_of_order_samples,
            ),
            (
                "wal_commits",
                Counter,
                "Durable write-ahead commits.",
                &self.wal_commits,
            ),
            (
                "write_failures",
                Counter,
                "Durability ticks that could not write (disk full or I/O error).",
                &self.write_failures,
            ),
            (
                "writes_blocked",
                Gauge,
                "1 while writes are refused for lack of disk space or after an I/O error.",
                &self.writes_blocked,
            ),
            (
                "appends_refused",
                Counter,
                "Batches refused because writes were blocked.",
                &self.appends_refused,
            ),
            (
                "chunks_written",
                Counter,
                "Raw chunks written.",
                &self.chunks_written,
            ),
            (
                "retention_drops",
                Counter,
                "Days or windows dropped by retention.",
                &self.retention_drops,
            ),
            (
                "file_bytes",
                Gauge,
                "Bytes of the database file and the day files on disk.",
                &self.file_bytes,
            ),
        ];
        for (name, kind, help, value) in families {
            let value = value.load(Ordering::Relaxed);
            let name = format!("osprey_tsdb_{name}");
            // A counter's descriptor is named without `_total`, which the encoder appends.
            let metric = encoder.encode_descriptor(&name, help, None, kind)?;
            match kind {
                Counter => ConstCounter::new(value).encode(metric)?,
                _ => ConstGauge::new(value).encode(metric)?,
            }
        }
        Ok(())
    }
}

/// Why opening, maintaining or backing up the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database reported an error.
    #[error("database: {0}")]
    Database(#[from] redb::Error),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database was written by an incompatible version.
    #[error("database format version {found}, this build reads version {expected}")]
    FormatVersion {
        /// The version on disk.
        found: u64,
        /// The version this build understands.
        expected: u64,
    },
    /// Stored bytes could not be decoded.
    #[error("corrupt data in table {table}: {detail}")]
    Corrupt {
        /// The table holding the bad bytes.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The filesystem is too full to write safely.
    #[error("disk full: {0}")]
    DiskFull(String),
}

/// Converts any redb error into a [`StorageError`].
pub(crate) fn db_err(e: impl Into<redb::Error>) -> StorageError {
    StorageError::Database(e.into())
}
