//! Opening: creating the tables on first use, checking the format version, and rebuilding the
//! head (series, postings, persisted times, metadata, windows and days on disk) before
//! replaying the write-ahead records not yet in chunks.

use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::flush;
use super::head::Head;
use super::options::{StorageError, db_err};
use super::schema::{
    self, BLOCKS, CHUNKS, FORMAT_VERSION, META, METADATA, PERSISTED, SERIES, STATE, SeriesRecord,
    WAL, WINDOW_MS,
};
use super::wal;

/// Creates missing tables and checks the format version.
pub fn init_tables(db: &Database) -> Result<(), StorageError> {
    let txn = flush::durable_txn(db)?;
    {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        let found = meta
            .get("format_version")
            .map_err(db_err)?
            .map(|v| v.value());
        match found {
            None => {
                meta.insert("format_version", FORMAT_VERSION)
                    .map_err(db_err)?;
            }
            Some(FORMAT_VERSION) => {}
            Some(found) => {
                return Err(StorageError::FormatVersion {
                    found,
                    expected: FORMAT_VERSION,
                });
            }
        }
        txn.open_table(SERIES).map_err(db_err)?;
        txn.open_table(PERSISTED).map_err(db_err)?;
        txn.open_table(CHUNKS).map_err(db_err)?;
        txn.open_table(BLOCKS).map_err(db_err)?;
        txn.open_table(WAL).map_err(db_err)?;
        txn.open_table(METADATA).map_err(db_err)?;
        txn.open_table(STATE).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

/// Rebuilds the head: series and postings, persisted times, metadata, raw windows, then the
/// samples of the write-ahead records not yet in chunks.
pub fn load(db: &Database, head: &mut Head) -> Result<(), StorageError> {
    let txn = db.begin_read().map_err(db_err)?;
    let meta = txn.open_table(META).map_err(db_err)?;
    let get = |key: &str| -> Result<u64, StorageError> {
        Ok(meta.get(key).map_err(db_err)?.map_or(0, |v| v.value()))
    };
    head.next_id = get("next_series_id")?;
    head.wal_seq = get("next_wal_seq")?;
    head.max_t = i64::MIN;
    let mut sources: rustc_hash::FxHashMap<String, Arc<str>> = Default::default();
    for entry in txn
        .open_table(SERIES)
        .map_err(db_err)?
        .iter()
        .map_err(db_err)?
    {
        let (id, bytes) = entry.map_err(db_err)?;
        let record = SeriesRecord::decode(bytes.value()).ok_or_else(|| StorageError::Corrupt {
            table: "series",
            detail: format!("series {}", id.value()),
        })?;
        let source = sources
            .entry(record.source)
            .or_insert_with_key(|s| Arc::from(s.as_str()))
            .clone();
        head.insert(id.value(), record.labels, source, record.first_t);
        head.next_id = head.next_id.max(id.value() + 1);
    }
    for entry in txn
        .open_table(PERSISTED)
        .map_err(db_err)?
        .iter()
        .map_err(db_err)?
    {
        let (id, t) = entry.map_err(db_err)?;
        if let Some(series) = head.series.get_mut(&id.value()) {
            series.persisted_t = t.value();
            series.last_t = t.value();
            head.max_t = head.max_t.max(t.value());
        }
    }
    for entry in txn
        .open_table(METADATA)
        .map_err(db_err)?
        .iter()
        .map_err(db_err)?
    {
        let (name, bytes) = entry.map_err(db_err)?;
        if let Some(metadata) = schema::decode_metadata(bytes.value()) {
            head.metadata.insert(name.value().to_owned(), metadata);
        }
    }
    let chunks = txn.open_table(CHUNKS).map_err(db_err)?;
    let mut from = i64::MIN;
    while let Some(entry) = chunks.range((from, 0, i64::MIN)..).map_err(db_err)?.next() {
        let window = entry.map_err(db_err)?.0.value().0;
        head.raw_windows.insert(window);
        match window.checked_add(WINDOW_MS) {
            Some(next) => from = next,
            None => break,
        }
    }
    let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
    let mut from = i64::MIN;
    while let Some(entry) = blocks.range((from, 0)..).map_err(db_err)?.next() {
        let day = entry.map_err(db_err)?.0.value().0;
        head.block_days.insert(day);
        match day.checked_add(schema::DAY_MS) {
            Some(next) => from = next,
            None => break,
        }
    }
    for entry in txn
        .open_table(WAL)
        .map_err(db_err)?
        .iter()
        .map_err(db_err)?
    {
        let (seq, record) = entry.map_err(db_err)?;
        let seq = seq.value();
        wal::replay(record.value(), |id, t, v| {
            let Some(series) = head.series.get_mut(&id) else {
                return;
            };
            if t <= series.last_t {
                return;
            }
            if series.push(id, t, v, seq) {
                head.sealed_ids.insert(id);
            }
            head.max_t = head.max_t.max(t);
        })
        .map_err(|e| StorageError::Corrupt {
            table: "wal",
            detail: format!("record {seq}: {e}"),
        })?;
        head.wal_seq = head.wal_seq.max(seq + 1);
    }
    Ok(())
}
