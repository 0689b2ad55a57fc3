//! The durability tick: one transaction that writes the tick's write-ahead record, new series,
//! chunks cut since the last tick (at most a bounded number, so cuts stay staggered), changed
//! metadata, and drops write-ahead records no open chunk needs any more.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use redb::{Database, Durability, WriteTransaction};

use super::head::{CHUNK_SAMPLES, SealedChunk};
use super::interface::Metadata;
use super::options::{StorageError, StorageStats, db_err, default_reserve};
use super::schema::{self, CHUNKS, META, METADATA, PERSISTED, SERIES_BATCHES, WAL, window_of};
use super::series_batch;
use super::storage::Shared;
use super::{maintain, wal};
use crate::labels::Labels;

/// Most series whose cut chunks one tick writes; the rest wait for the next tick, so a mass
/// cut (say after a restart) never becomes one huge transaction.
const MAX_SERIES_PER_TICK: usize = 20_000;

/// Ticks between truncations of the `wal` table. Finding the oldest record still needed walks
/// every series, while records stay needed for as long as an open chunk (minutes to hours), so
/// dropping them some seconds later keeps the table about the same size for a quarter of the
/// walks.
const TRUNCATE_EVERY: u64 = 32;

/// A write transaction that is on disk when `commit` returns and reopens quickly after a crash.
pub fn durable_txn(db: &Database) -> Result<WriteTransaction, StorageError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_durability(Durability::Immediate).map_err(db_err)?;
    txn.set_quick_repair(true);
    Ok(txn)
}

/// Refuses to write while the filesystem holding the database is nearly full: a write that
/// fails half way would make redb refuse reads too until it is reopened.
pub fn check_free_space(shared: &Shared) -> Result<(), StorageError> {
    let dir = shared.path.parent().unwrap_or(&shared.path);
    let stat = rustix::fs::statvfs(dir).map_err(|e| StorageError::Io {
        context: format!("checking free space on {}", dir.display()),
        source: e.into(),
    })?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let reserve = shared
        .options
        .min_free_bytes
        .unwrap_or_else(|| default_reserve(stat.f_blocks.saturating_mul(stat.f_frsize)));
    if free < reserve {
        return Err(StorageError::DiskFull(format!(
            "{free} bytes free on {}, keeping {reserve} free (storage.min_free_bytes)",
            dir.display(),
        )));
    }
    Ok(())
}

/// What one tick writes, taken from the head.
#[derive(Default)]
struct Batch {
    records: Vec<(u64, Vec<u8>)>,
    series: Vec<NewSeries>,
    new_ids: Vec<u64>,
    chunks: Vec<(u64, Vec<SealedChunk>)>,
    metadata: Vec<(String, Metadata)>,
    truncate_below: u64,
    next_id: u64,
    next_seq: u64,
}

/// A series created since the last tick, to be written to a series batch.
struct NewSeries {
    id: u64,
    source: Arc<str>,
    first_t: i64,
    labels: Arc<Labels>,
}

impl Batch {
    fn is_empty(&self, wal_floor: u64) -> bool {
        self.records.is_empty()
            && self.series.is_empty()
            && self.chunks.is_empty()
            && self.metadata.is_empty()
            && self.truncate_below <= wal_floor
    }
}

/// Runs one durability tick now.
pub fn tick(shared: &Shared) -> Result<(), StorageError> {
    let _writer = shared.writer();
    tick_locked(shared)
}

/// Cuts every open chunk and writes them all out, in bounded transactions.
pub fn flush_head(shared: &Shared) -> Result<(), StorageError> {
    let _writer = shared.writer();
    {
        let mut head = shared.head();
        let head = &mut *head;
        for (&id, series) in head.series.iter_mut() {
            if series.seal() {
                head.sealed_ids.insert(id);
            }
        }
    }
    loop {
        tick_locked(shared)?;
        let head = shared.head();
        if head.sealed_ids.is_empty() && head.unwritten.is_empty() && head.wal.is_empty() {
            // One more tick drops the write-ahead records the chunks just written replaced.
            let mut head = head;
            head.truncate_now = true;
            drop(head);
            return tick_locked(shared);
        }
    }
}

/// What a clean close writes: [`flush_head`] when the open chunks hold, on average, at least
/// a quarter of a full chunk, otherwise one tick. Below that, a chunk per series costs more
/// than the samples take in the compressed write-ahead records (a chunk's key, its value's
/// fixed part and the series' `persisted` entry come to some 60 bytes in half-full B-tree
/// pages, a sample in a record to 3 to 6 bytes), and replaying so few samples per series
/// costs the next open little. A store stopped after a scrape or two of many new series (or
/// soon after a restart) is the case this keeps small.
pub fn close(shared: &Shared) -> Result<(), StorageError> {
    let (open_chunks, open_samples) = {
        let head = shared.head();
        head.series
            .values()
            .filter_map(|s| s.open.as_ref())
            .fold((0, 0), |(chunks, samples), open| {
                (chunks + 1, samples + open.encoder.len())
            })
    };
    if open_samples >= open_chunks * usize::from(CHUNK_SAMPLES / 4) {
        flush_head(shared)
    } else {
        tick(shared)
    }
}

/// A tick for a caller already holding the writer lock.
pub(crate) fn tick_locked(shared: &Shared) -> Result<(), StorageError> {
    let (batch, wal_floor) = take_batch(shared);
    if batch.is_empty(wal_floor) {
        return Ok(());
    }
    let written = check_free_space(shared).and_then(|()| write(shared, &batch));
    let mut head = shared.head();
    if let Err(e) = written {
        // Keep everything for the next tick; appends are refused meanwhile.
        head.new_series.splice(0..0, batch.new_ids);
        head.dirty_metadata
            .extend(batch.metadata.into_iter().map(|(name, _)| name));
        StorageStats::add(&shared.stats.write_failures, 1);
        StorageStats::set(&shared.stats.writes_blocked, 1);
        shared.blocked.store(true, Ordering::Release);
        return Err(e);
    }
    shared.blocked.store(false, Ordering::Release);
    StorageStats::set(&shared.stats.writes_blocked, 0);
    StorageStats::add(&shared.stats.wal_commits, 1);
    let written_seqs: BTreeSet<u64> = batch.records.iter().map(|(seq, _)| *seq).collect();
    head.unwritten
        .retain(|(seq, _)| !written_seqs.contains(seq));
    head.wal_floor = head.wal_floor.max(batch.truncate_below);
    let mut chunk_count = 0;
    for (id, chunks) in &batch.chunks {
        chunk_count += chunks.len() as u64;
        for chunk in chunks {
            head.raw_windows.insert(window_of(chunk.first_t));
        }
        let Some(series) = head.series.get_mut(id) else {
            continue;
        };
        series.sealed.drain(..chunks.len().min(series.sealed.len()));
        if let Some(last) = chunks.last() {
            series.persisted_t = series.persisted_t.max(last.last_t);
        }
        if series.sealed.is_empty() {
            head.sealed_ids.remove(id);
        }
    }
    StorageStats::add(&shared.stats.chunks_written, chunk_count);
    if let Ok(bytes) = maintain::bytes_on_disk(shared, &head) {
        StorageStats::set(&shared.stats.file_bytes, bytes);
    }
    Ok(())
}

fn take_batch(shared: &Shared) -> (Batch, u64) {
    let mut head = shared.head();
    let head = &mut *head;
    if !head.wal.is_empty() {
        // The tick's samples were pushed under the first piece's number, which stays at or
        // below the piece actually holding each, so open chunks keep every piece they need.
        for piece in head.wal.take() {
            head.unwritten.push((head.wal_seq, piece));
            head.wal_seq += 1;
        }
        shared.taken.notify_all();
    }
    let new_ids = std::mem::take(&mut head.new_series);
    // Encoded in `write`, after the head's lock is released.
    let series = new_ids
        .iter()
        .filter_map(|id| {
            let s = head.series.get(id)?;
            Some(NewSeries {
                id: *id,
                source: s.source.clone(),
                first_t: s.first_t,
                labels: s.labels.clone(),
            })
        })
        .collect();
    let chunks = head
        .sealed_ids
        .iter()
        .take(MAX_SERIES_PER_TICK)
        .filter_map(|id| Some((*id, head.series.get(id)?.sealed.clone())))
        .collect();
    let metadata = std::mem::take(&mut head.dirty_metadata)
        .into_iter()
        .filter_map(|name| {
            let m = head.metadata.get(&name)?.clone();
            Some((name, m))
        })
        .collect();
    head.ticks += 1;
    let truncate_below = if head.ticks.is_multiple_of(TRUNCATE_EVERY) || head.truncate_now {
        head.truncate_now = false;
        head.oldest_needed_seq()
    } else {
        head.wal_floor
    };
    let batch = Batch {
        records: head.unwritten.clone(),
        series,
        new_ids,
        chunks,
        metadata,
        truncate_below,
        next_id: head.next_id,
        next_seq: head.wal_seq,
    };
    (batch, head.wal_floor)
}

fn write(shared: &Shared, batch: &Batch) -> Result<(), StorageError> {
    let txn = durable_txn(&shared.db)?;
    {
        let mut wal = txn.open_table(WAL).map_err(db_err)?;
        for (seq, piece) in &batch.records {
            wal.insert(*seq, wal::compress(piece).as_slice())
                .map_err(db_err)?;
        }
        wal.retain_in(..batch.truncate_below, |_, _| false)
            .map_err(db_err)?;
        let members: Vec<series_batch::Member<'_>> = batch
            .series
            .iter()
            .map(|new| (new.id, &*new.source, new.first_t, &*new.labels))
            .collect();
        series_batch::insert(
            &mut txn.open_table(SERIES_BATCHES).map_err(db_err)?,
            &members,
        )?;
        let mut chunks = txn.open_table(CHUNKS).map_err(db_err)?;
        let mut persisted = txn.open_table(PERSISTED).map_err(db_err)?;
        for (id, sealed) in &batch.chunks {
            for chunk in sealed {
                let key = (window_of(chunk.first_t), *id, chunk.first_t);
                chunks.insert(key, &*chunk.bytes).map_err(db_err)?;
            }
            if let Some(last) = sealed.last() {
                persisted.insert(*id, last.last_t).map_err(db_err)?;
            }
        }
        let mut metadata = txn.open_table(METADATA).map_err(db_err)?;
        for (name, m) in &batch.metadata {
            metadata
                .insert(name.as_str(), schema::encode_metadata(m).as_slice())
                .map_err(db_err)?;
        }
        let mut meta = txn.open_table(META).map_err(db_err)?;
        meta.insert("next_series_id", batch.next_id)
            .map_err(db_err)?;
        meta.insert("next_wal_seq", batch.next_seq)
            .map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use redb::{ReadableDatabase, ReadableTableMetadata};

    use super::*;
    use crate::labels::{Labels, MatchOp, Matcher};
    use crate::tsdb::{Appendable, Querier, Storage, StorageOptions};

    const SERIES: usize = 50;

    fn open(dir: &Path) -> Storage {
        let options = StorageOptions {
            retention_time: None,
            background_compaction: false,
            min_free_bytes: Some(0),
            ..StorageOptions::default()
        };
        Storage::open(dir, options).unwrap()
    }

    /// Appends samples `from..to` (15 s apart) to each of the test's series.
    fn fill(storage: &Storage, from: i64, to: i64) {
        for i in from..to {
            let mut app = storage.appender("");
            for s in 0..SERIES {
                let labels = Labels::from_pairs([("__name__", "m"), ("s", &s.to_string())]);
                app.append(&labels, 1_700_000_000_000 + i * 15_000, i as f64)
                    .unwrap();
            }
            app.commit().unwrap();
        }
    }

    /// Samples per series the store in `dir` serves after reopening.
    fn reopened_counts(dir: &Path) -> Vec<usize> {
        let storage = open(dir);
        let all = [Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()];
        let found = storage.select(&all, i64::MIN, i64::MAX).unwrap();
        found.iter().map(|s| s.samples.len()).collect()
    }

    /// Entries in `chunks` and `wal` of the closed store in `dir`.
    fn stored(dir: &Path) -> (u64, u64) {
        let db = Database::open(dir.join(crate::tsdb::DB_FILE)).unwrap();
        let txn = db.begin_read().unwrap();
        let chunks = txn.open_table(CHUNKS).unwrap().len().unwrap();
        let records = txn.open_table(WAL).unwrap().len().unwrap();
        (chunks, records)
    }

    #[test]
    fn a_clean_close_keeps_a_sparse_head_in_the_records_and_writes_a_full_one_as_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
        fill(&storage, 0, 2);
        storage.close().unwrap();
        let (chunks, records) = stored(dir.path());
        // Only chunks cut early by their series' staggered first limit are written.
        assert!(chunks < SERIES as u64, "{chunks} chunks");
        assert!(records > 0);
        assert_eq!(reopened_counts(dir.path()), vec![2; SERIES]);

        let storage = open(dir.path());
        fill(&storage, 2, 200);
        storage.close().unwrap();
        let (chunks, records) = stored(dir.path());
        assert!(chunks >= 2 * SERIES as u64, "{chunks} chunks");
        assert_eq!(records, 0, "every record was replaced by chunks");
        assert_eq!(reopened_counts(dir.path()), vec![200; SERIES]);
    }
}
