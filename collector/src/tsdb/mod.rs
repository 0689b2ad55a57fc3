//! The time-series store: a redb database for what is being written, a file per compacted day.
//!
//! [`Storage`] keeps a series registry with a postings index and an in-memory head of open
//! chunks; every tick (500 ms by default) one durable transaction writes the tick's samples as a
//! write-ahead record together with the chunks cut since the last tick, and a background thread
//! compacts each finished day's chunks into an immutable day file of bit-packed groups
//! (timestamps shared by series scraped together) and applies retention by deleting whole
//! files. The on-disk format is written down in `FORMAT.md` beside
//! this file. Other stages use it only through [`Appendable`] and [`Querier`] (and
//! [`MemoryStorage`] in their unit tests); the alerting stages keep their own small tables
//! through [`KeyValueStore`], never the database itself.

mod append;
mod backup;
pub mod block;
pub mod chunk;
pub mod codec;
mod dayfile;
mod deflate;
mod delete;
mod flush;
pub mod group;
mod head;
mod index;
mod interface;
mod keyvalue;
mod label_ids;
mod live;
mod lookup;
mod maintain;
mod memory;
mod options;
mod read;
mod recovery;
mod schema;
mod series_batch;
mod series_map;
mod storage;
mod wal;

pub use backup::BackupReport;
pub use interface::{
    AppendError, Appendable, Appender, Committed, Metadata, Querier, QueryError, STALE_NAN_BITS,
    Sample, Series, SeriesLimit, SeriesRef, is_stale_nan,
};
pub use keyvalue::{
    ALERT_HISTORY, ALERT_STATE, Commit, Entry, KeyValueStore, NOTIFICATION_LOG, NOTIFICATION_QUEUE,
    ReadTxn, SILENCES, Table, TableKey, WriteTxn,
};
pub use memory::MemoryStorage;
pub use options::{StorageError, StorageOptions, StorageStats};
pub use storage::{DB_FILE, Storage};
