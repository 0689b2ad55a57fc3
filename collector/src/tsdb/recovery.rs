//! Opening: creating the tables on first use, checking the format version (upgrading older
//! stores), and rebuilding the head (series, postings, persisted times, metadata, windows and days on disk) before
//! replaying the write-ahead records not yet in chunks.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use rustc_hash::FxHashMap;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::dayfile::{self, DayWriter, Span};
use super::flush;
use super::head::Head;
use super::index::Postings;
use super::label_ids::LabelsHash;
use super::options::{StorageError, db_err};
use super::schema::{
    self, CHUNKS, FORMAT_BEFORE_BATCHES, FORMAT_BEFORE_DAY_FILES, FORMAT_VERSION, LEGACY_BLOCKS,
    LEGACY_SERIES, META, METADATA, PERSISTED, SERIES_BATCHES, STATE, SeriesRecord, WAL, WINDOW_MS,
};
use super::series_batch::{self, Batch, SERIES_PER_BATCH};
use super::wal;
use crate::labels::Labels;

/// Creates missing tables and checks the format version, upgrading a format-1 store (groups
/// in a table) by moving its groups into day files in `blocks_dir`, and a format-2 store (one
/// entry per series, raw write-ahead records) by compressing both.
pub fn init_tables(db: &Database, blocks_dir: &Path) -> Result<(), StorageError> {
    let txn = flush::durable_txn(db)?;
    let found = {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        let found = meta
            .get("format_version")
            .map_err(db_err)?
            .map(|v| v.value());
        if found.is_none() {
            meta.insert("format_version", FORMAT_VERSION)
                .map_err(db_err)?;
        }
        txn.open_table(SERIES_BATCHES).map_err(db_err)?;
        txn.open_table(PERSISTED).map_err(db_err)?;
        txn.open_table(CHUNKS).map_err(db_err)?;
        txn.open_table(WAL).map_err(db_err)?;
        txn.open_table(METADATA).map_err(db_err)?;
        txn.open_table(STATE).map_err(db_err)?;
        found.unwrap_or(FORMAT_VERSION)
    };
    txn.commit().map_err(db_err)?;
    match found {
        FORMAT_VERSION => Ok(()),
        FORMAT_BEFORE_BATCHES => upgrade_to_batches(db),
        FORMAT_BEFORE_DAY_FILES => {
            upgrade_to_day_files(db, blocks_dir)?;
            upgrade_to_batches(db)
        }
        found => Err(StorageError::FormatVersion {
            found,
            expected: FORMAT_VERSION,
        }),
    }
}

/// Copies each day's groups from format 1's table into a day file, then drops the table and
/// records format 2. Interrupted, it starts over: day files are replaced whole.
fn upgrade_to_day_files(db: &Database, blocks_dir: &Path) -> Result<(), StorageError> {
    let read = db.begin_read().map_err(db_err)?;
    let mut days = 0;
    match read.open_table(LEGACY_BLOCKS) {
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(db_err(e)),
        Ok(groups) => {
            let mut writer: Option<DayWriter> = None;
            for entry in groups.iter().map_err(db_err)? {
                let (key, bytes) = entry.map_err(db_err)?;
                let (day, first_id) = key.value();
                if writer.as_ref().is_none_or(|w| w.day() != day) {
                    if let Some(done) = writer.take() {
                        done.finish()?;
                    }
                    writer = Some(DayWriter::create(blocks_dir, day)?);
                    days += 1;
                }
                if let Some(writer) = writer.as_mut() {
                    // Format 1's bound: a group holds chunks that started in its day.
                    let span = Span {
                        min_t: day,
                        max_t: day.saturating_add(schema::DAY_MS + 2 * WINDOW_MS),
                    };
                    writer.push(first_id, bytes.value(), span)?;
                }
            }
            if let Some(done) = writer {
                done.finish()?;
            }
        }
    }
    drop(read);
    let txn = flush::durable_txn(db)?;
    drop_and_record_version(txn, LEGACY_BLOCKS, FORMAT_BEFORE_BATCHES)?;
    tracing::info!(
        days,
        "moved compacted days from the database file into day files"
    );
    Ok(())
}

/// Rewrites format 2's one entry per series as batches of consecutive series and compresses
/// its write-ahead records (each stays one piece under its sequence number), then drops the
/// old table and records the current version, all in one transaction: interrupted, nothing
/// changed.
fn upgrade_to_batches(db: &Database) -> Result<(), StorageError> {
    let txn = flush::durable_txn(db)?;
    let mut series = 0;
    {
        let legacy = txn.open_table(LEGACY_SERIES).map_err(db_err)?;
        let mut batches = txn.open_table(SERIES_BATCHES).map_err(db_err)?;
        let mut records: Vec<(u64, Vec<u8>)> = Vec::with_capacity(SERIES_PER_BATCH);
        let mut entries = legacy.iter().map_err(db_err)?.peekable();
        while entries.peek().is_some() {
            records.clear();
            for entry in entries.by_ref().take(SERIES_PER_BATCH) {
                let (id, bytes) = entry.map_err(db_err)?;
                records.push((id.value(), bytes.value().to_vec()));
            }
            let decoded = records
                .iter()
                .map(|(id, bytes)| {
                    let record = SeriesRecord::decode_from(&mut bytes.as_slice());
                    record
                        .map(|r| (*id, r))
                        .ok_or_else(|| StorageError::Corrupt {
                            table: "series",
                            detail: format!("series {id}"),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            series += decoded.len();
            let key = decoded[0].0;
            let members = decoded
                .iter()
                .map(|(id, r)| (*id, r.source, r.first_t, &r.labels));
            batches
                .insert(key, series_batch::encode(key, members).as_slice())
                .map_err(db_err)?;
        }
        let mut wal = txn.open_table(WAL).map_err(db_err)?;
        let raw: Vec<(u64, Vec<u8>)> = wal
            .iter()
            .map_err(db_err)?
            .map(|entry| entry.map(|(seq, bytes)| (seq.value(), bytes.value().to_vec())))
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        for (seq, record) in raw {
            wal.insert(seq, wal::compress(&record).as_slice())
                .map_err(db_err)?;
        }
    }
    drop_and_record_version(txn, LEGACY_SERIES, FORMAT_VERSION)?;
    tracing::info!(series, "stored the series registry in compressed batches");
    Ok(())
}

/// Ends an upgrade: drops the table the old format kept, records `version` and commits.
fn drop_and_record_version(
    txn: redb::WriteTransaction,
    legacy: impl redb::TableHandle,
    version: u64,
) -> Result<(), StorageError> {
    txn.delete_table(legacy).map_err(db_err)?;
    txn.open_table(META)
        .map_err(db_err)?
        .insert("format_version", version)
        .map_err(db_err)?;
    txn.commit().map_err(db_err)
}

/// A series as read back from `series_batches` and `persisted`.
struct LoadedSeries {
    id: u64,
    /// Hashed here, on the reading thread.
    hash: LabelsHash,
    labels: Arc<Labels>,
    source: Arc<str>,
    first_t: i64,
    persisted_t: Option<i64>,
}

/// Series decoded per message from the reading thread.
const LOAD_BATCH: usize = 4096;

/// Reads `series_batches` and `persisted` side by side (both in ascending id order),
/// decompressing and decoding on this thread, and sends the series in batches; stops early
/// when the receiver is gone. Returns how many series each source holds.
fn read_series(
    db: &Database,
    batches: &SyncSender<Vec<LoadedSeries>>,
) -> Result<FxHashMap<Arc<str>, u64>, StorageError> {
    let txn = db.begin_read().map_err(db_err)?;
    let stored = txn.open_table(SERIES_BATCHES).map_err(db_err)?;
    let persisted = txn.open_table(PERSISTED).map_err(db_err)?;
    let mut persisted = persisted.iter().map_err(db_err)?.peekable();
    // Few distinct sources, each shared by many series: one allocation per source.
    let mut sources: FxHashMap<Box<str>, (Arc<str>, u64)> = FxHashMap::default();
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    'batches: for entry in stored.iter().map_err(db_err)? {
        let (key, bytes) = entry.map_err(db_err)?;
        let stored_batch = Batch::open(key.value(), bytes.value())?;
        for member in stored_batch.members() {
            let (id, record) = member?;
            let (source, count) = match sources.get_mut(record.source) {
                Some(known) => known,
                None => sources
                    .entry(record.source.into())
                    .or_insert_with(|| (Arc::from(record.source), 0)),
            };
            *count += 1;
            let source = source.clone();
            let persisted_t = persisted_time(&mut persisted, id)?;
            batch.push(LoadedSeries {
                id,
                hash: LabelsHash::of(&record.labels),
                labels: Arc::new(record.labels),
                source,
                first_t: record.first_t,
                persisted_t,
            });
            if batch.len() == LOAD_BATCH
                && batches
                    .send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(LOAD_BATCH),
                    ))
                    .is_err()
            {
                break 'batches;
            }
        }
    }
    let _ = batches.send(batch);
    Ok(sources.into_values().collect())
}

/// Builds the postings of the series it receives (in ascending id order).
fn index_series(batches: Receiver<Vec<(u64, Arc<Labels>)>>) -> Postings {
    let mut postings = Postings::default();
    for (id, labels) in batches.into_iter().flatten() {
        postings.add(id, &labels);
    }
    postings
}

/// Loads the series registry into `head` with three threads in a pipeline: one reads, decodes
/// and counts series per source, this one fills the head's maps, one builds the postings.
fn load_series(db: &Database, head: &mut Head) -> Result<(), StorageError> {
    std::thread::scope(|scope| -> Result<(), StorageError> {
        let (batches, decoded) = sync_channel(4);
        let reader = scope.spawn(move || read_series(db, &batches));
        let (to_index, indexing) = sync_channel(4);
        let indexer = scope.spawn(move || index_series(indexing));
        for batch in decoded {
            let mut labels = Vec::with_capacity(batch.len());
            for series in batch {
                let id = series.id;
                labels.push((id, series.labels.clone()));
                let loaded = head.insert_unindexed(
                    id,
                    series.hash,
                    series.labels,
                    series.source,
                    series.first_t,
                );
                if let Some(t) = series.persisted_t {
                    loaded.persisted_t = t;
                    loaded.last_t = t;
                    head.max_t = head.max_t.max(t);
                }
                head.next_id = head.next_id.max(id + 1);
            }
            // The indexer only stops early by panicking, which the join below re-raises.
            let _ = to_index.send(labels);
        }
        drop(to_index);
        head.postings = indexer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        head.per_source = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok(())
    })
}

/// The `persisted` time of series `id`, advancing `persisted` (ascending ids) past it.
fn persisted_time(
    persisted: &mut std::iter::Peekable<redb::Range<'_, u64, i64>>,
    id: u64,
) -> Result<Option<i64>, StorageError> {
    loop {
        let key = match persisted.peek() {
            None => return Ok(None),
            Some(Ok((key, _))) => key.value(),
            Some(Err(_)) => {
                return Err(db_err(
                    persisted.next().and_then(Result::err).expect("peeked"),
                ));
            }
        };
        if key > id {
            return Ok(None);
        }
        let (_, t) = persisted.next().expect("peeked").map_err(db_err)?;
        if key == id {
            return Ok(Some(t.value()));
        }
    }
}

/// Rebuilds the head: series and postings, persisted times, metadata, raw windows, the day
/// files in `blocks_dir`, then the samples of the write-ahead records not yet in chunks.
pub fn load(db: &Database, blocks_dir: &Path, head: &mut Head) -> Result<(), StorageError> {
    let txn = db.begin_read().map_err(db_err)?;
    let meta = txn.open_table(META).map_err(db_err)?;
    let get = |key: &str| -> Result<u64, StorageError> {
        Ok(meta.get(key).map_err(db_err)?.map_or(0, |v| v.value()))
    };
    head.next_id = get("next_series_id")?;
    head.wal_seq = get("next_wal_seq")?;
    head.max_t = i64::MIN;
    // At most this many series: no batch holds more, no id is used twice.
    let batch_count = txn
        .open_table(SERIES_BATCHES)
        .map_err(db_err)?
        .len()
        .map_err(db_err)?;
    let bound = batch_count
        .saturating_mul(SERIES_PER_BATCH as u64)
        .min(head.next_id);
    let capacity = usize::try_from(bound).unwrap_or(0);
    head.series.reserve(capacity);
    head.by_labels.reserve(capacity);
    load_series(db, head)?;
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
    for file in dayfile::open_all(blocks_dir)? {
        head.days.insert(file.day(), Arc::new(file));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{MatchOp, Matcher};
    use crate::tsdb::interface::{Querier, Sample};
    use crate::tsdb::{Storage, StorageOptions, group};

    /// Writes what formats 1 and 2 share into a new database file: the version, series 0
    /// (`up{job="node"}`) in the one-entry-per-series table, its persisted time `persisted_t`.
    fn write_legacy(dir: &Path, version: u64, first_t: i64, persisted_t: Option<i64>) -> Database {
        let db = Database::create(dir.join(crate::tsdb::DB_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert("format_version", version).unwrap();
            meta.insert("next_series_id", 1).unwrap();
            let labels = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
            let mut record = Vec::new();
            schema::encode_series_into(&mut record, "node", first_t, &labels);
            txn.open_table(LEGACY_SERIES)
                .unwrap()
                .insert(0, record.as_slice())
                .unwrap();
            if let Some(t) = persisted_t {
                txn.open_table(PERSISTED).unwrap().insert(0, t).unwrap();
            }
        }
        txn.commit().unwrap();
        db
    }

    /// A format-1 database file: one series whose day lives in the `blocks` table.
    fn write_format_1(dir: &Path, samples: &[Sample]) {
        let last = samples[samples.len() - 1].t;
        let db = write_legacy(dir, FORMAT_BEFORE_DAY_FILES, samples[0].t, Some(last));
        let txn = db.begin_write().unwrap();
        {
            let mut blocks = txn.open_table(LEGACY_BLOCKS).unwrap();
            for (first, bytes) in group::build(vec![(0, samples.to_vec())]) {
                blocks
                    .insert((schema::day_of(samples[0].t), first), bytes.as_slice())
                    .unwrap();
            }
        }
        txn.commit().unwrap();
    }

    /// A format-2 database file: one series whose samples are in one raw write-ahead record.
    fn write_format_2(dir: &Path, samples: &[Sample]) {
        let db = write_legacy(dir, FORMAT_BEFORE_BATCHES, samples[0].t, None);
        let mut writer = wal::WalWriter::default();
        for s in samples {
            writer.push(0, s.t, s.v);
        }
        let txn = db.begin_write().unwrap();
        {
            let mut records = txn.open_table(WAL).unwrap();
            // Format 2 kept a tick's record whole.
            let record = writer.take().concat();
            records.insert(7, record.as_slice()).unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("next_wal_seq", 8)
                .unwrap();
        }
        txn.commit().unwrap();
    }

    fn options() -> StorageOptions {
        StorageOptions {
            retention_time: None,
            background_compaction: false,
            min_free_bytes: Some(0),
            ..StorageOptions::default()
        }
    }

    fn samples() -> Vec<Sample> {
        (0..500)
            .map(|i| Sample {
                t: 1_699_920_000_000 + i * 15_000,
                v: (i % 7) as f64,
            })
            .collect()
    }

    /// Opens the store in `dir`, checks it serves `samples` for `up`, closes it, and checks its
    /// database file is at the current version with neither legacy table left.
    fn assert_upgraded(dir: &Path, samples: &[Sample]) {
        let storage = Storage::open(dir, options()).unwrap();
        let all = [Matcher::new(MatchOp::Equal, "__name__", "up").unwrap()];
        let found = storage.select(&all, i64::MIN, i64::MAX).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].labels,
            Labels::from_pairs([("__name__", "up"), ("job", "node")])
        );
        assert_eq!(found[0].samples, samples);
        storage.close().unwrap();
        let db = Database::open(dir.join(crate::tsdb::DB_FILE)).unwrap();
        let txn = db.begin_read().unwrap();
        let version = txn
            .open_table(META)
            .unwrap()
            .get("format_version")
            .unwrap()
            .map(|v| v.value());
        assert_eq!(version, Some(FORMAT_VERSION));
        assert!(txn.open_table(LEGACY_BLOCKS).is_err(), "the table is gone");
        assert!(txn.open_table(LEGACY_SERIES).is_err(), "the table is gone");
        let batches = txn.open_table(SERIES_BATCHES).unwrap();
        assert_eq!(batches.len().unwrap(), 1);
    }

    #[test]
    fn a_format_1_store_is_upgraded_to_day_files_and_keeps_its_samples() {
        let dir = tempfile::tempdir().unwrap();
        let samples = samples();
        write_format_1(dir.path(), &samples);
        assert_upgraded(dir.path(), &samples);
        let day_files = std::fs::read_dir(dir.path().join(dayfile::BLOCKS_DIR))
            .unwrap()
            .count();
        assert_eq!(day_files, 1);
    }

    #[test]
    fn a_format_2_store_is_upgraded_to_series_batches_and_replays_its_raw_records() {
        let dir = tempfile::tempdir().unwrap();
        let samples = samples();
        write_format_2(dir.path(), &samples);
        assert_upgraded(dir.path(), &samples);
    }
}
