//! Background upkeep: compacting a day's raw chunks into bit-packed groups, and
//! retention by time and by size. Work is split into bounded transactions so appends' durability
//! ticks are never held up for long.

use std::collections::BTreeMap;

use redb::ReadableTable;

use super::flush::{check_free_space, durable_txn};
use super::interface::Sample;
use super::options::{StorageError, StorageStats, db_err};
use super::schema::{BLOCKS, CHUNKS, DAY_MS, GROUP_ID_SPAN, PERSISTED, SERIES, WINDOW_MS, day_of};
use super::storage::Shared;
use super::{chunk, group};
use crate::vocab::now_ms;

/// Series ids per compaction transaction: one aligned run, so groups never straddle batches.
const COMPACT_IDS_PER_TXN: u64 = GROUP_ID_SPAN;

/// Keys deleted per retention transaction.
const DELETES_PER_TXN: usize = 50_000;

/// Compacts every day whose raw windows are all older than two windows before the newest
/// sample (with `all`, every day), oldest first.
pub fn compact(shared: &Shared, all: bool) -> Result<(), StorageError> {
    let mut done_before = i64::MIN;
    loop {
        let day = {
            let head = shared.head();
            let horizon = if all {
                i64::MAX
            } else {
                head.max_t.saturating_sub(2 * WINDOW_MS)
            };
            let Some(&window) = head.raw_windows.range(done_before..).next() else {
                return Ok(());
            };
            let day = day_of(window);
            if day.saturating_add(DAY_MS) > horizon {
                return Ok(());
            }
            day
        };
        compact_day(shared, day)?;
        done_before = day.saturating_add(DAY_MS);
    }
}

fn compact_day(shared: &Shared, day: i64) -> Result<(), StorageError> {
    let day_end = day.saturating_add(DAY_MS);
    let (windows, id_end) = {
        let mut head = shared.head();
        // Readers must look at this day's blocks before the first batch moves chunks there.
        head.block_days.insert(day);
        let windows: Vec<i64> = head.raw_windows.range(day..day_end).copied().collect();
        (windows, head.next_id)
    };
    let mut from_id = 0;
    while from_id < id_end {
        let to_id = from_id.saturating_add(COMPACT_IDS_PER_TXN);
        compact_batch(shared, day, &windows, from_id, to_id)?;
        from_id = to_id;
    }
    let _writer = shared.writer();
    let txn = shared.db.begin_write().map_err(db_err)?;
    let chunks = txn.open_table(CHUNKS).map_err(db_err)?;
    let mut empty = Vec::new();
    for &window in &windows {
        let next = window.saturating_add(WINDOW_MS);
        if chunks
            .range((window, 0, i64::MIN)..(next, 0, i64::MIN))
            .map_err(db_err)?
            .next()
            .is_none()
        {
            empty.push(window);
        }
    }
    drop(chunks);
    txn.abort().map_err(db_err)?;
    let mut head = shared.head();
    for window in empty {
        head.raw_windows.remove(&window);
    }
    Ok(())
}

fn compact_batch(
    shared: &Shared,
    day: i64,
    windows: &[i64],
    from_id: u64,
    to_id: u64,
) -> Result<(), StorageError> {
    let _writer = shared.writer();
    check_free_space(shared)?;
    let txn = durable_txn(&shared.db)?;
    let series_done;
    {
        let mut chunks = txn.open_table(CHUNKS).map_err(db_err)?;
        let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
        let mut by_series: BTreeMap<u64, Vec<Sample>> = BTreeMap::new();
        let mut keys = Vec::new();
        for &window in windows {
            let range = (window, from_id, i64::MIN)..(window, to_id, i64::MIN);
            for entry in chunks.range(range).map_err(db_err)? {
                let (key, bytes) = entry.map_err(db_err)?;
                let key = key.value();
                let samples = by_series.entry(key.1).or_default();
                chunk::decode_into(bytes.value(), samples).map_err(|e| corrupt("chunks", e))?;
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Ok(());
        }
        for key in keys {
            chunks.remove(key).map_err(db_err)?;
        }
        // Groups never cross aligned id runs, so the batch's groups are exactly these.
        let old: Vec<((i64, u64), Vec<u8>)> = blocks
            .range((day, from_id)..(day, to_id))
            .map_err(db_err)?
            .map(|e| e.map(|(k, v)| (k.value(), v.value().to_vec())))
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        for (key, bytes) in old {
            for (id, samples) in group::decode_all(&bytes).map_err(|e| corrupt("blocks", e))? {
                by_series.entry(id).or_default().extend(samples);
            }
            blocks.remove(key).map_err(db_err)?;
        }
        let mut series = Vec::with_capacity(by_series.len());
        for (id, mut samples) in by_series {
            samples.sort_by_key(|s| s.t);
            samples.dedup_by_key(|s| s.t);
            series.push((id, samples));
        }
        series_done = series.len() as u64;
        for (first, bytes) in group::build(series) {
            blocks
                .insert((day, first), bytes.as_slice())
                .map_err(db_err)?;
        }
    }
    txn.commit().map_err(db_err)?;
    StorageStats::add(&shared.stats.blocks_written, series_done);
    Ok(())
}

/// A decoding failure found while rewriting stored data.
pub(crate) fn corrupt(table: &'static str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        table,
        detail: e.to_string(),
    }
}

/// How far past the wall clock the newest sample may stand and still anchor retention.
const RETENTION_CLOCK_SKEW_MS: i64 = 60 * 60 * 1000;

/// Drops data older than the retention time, then the oldest days while the database uses
/// more than the retention size, then the series left without samples.
///
/// The retention time counts back from the newest sample, as Prometheus's does, but never from
/// further ahead than an hour past the wall clock: one sample stamped years ahead (a target with
/// a broken clock, a backfill with a wrong unit) must not make every other sample "too old".
pub fn apply_retention(shared: &Shared) -> Result<(), StorageError> {
    if let Some(keep) = shared.options.retention_time {
        let keep = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        let newest = shared
            .head()
            .max_t
            .min(now_ms().saturating_add(RETENTION_CLOCK_SKEW_MS));
        let cutoff = newest.saturating_sub(keep);
        drop_before(shared, cutoff)?;
    }
    if let Some(budget) = shared.options.retention_size {
        while used_bytes(shared)? > budget {
            let oldest = {
                let head = shared.head();
                let window = head.raw_windows.first().copied();
                let day = head.block_days.first().copied();
                match (window, day) {
                    (Some(w), Some(d)) => w.min(d),
                    (Some(x), None) | (None, Some(x)) => x,
                    (None, None) => break,
                }
            };
            // Everything that starts in the oldest day goes.
            drop_before(
                shared,
                day_of(oldest).saturating_add(DAY_MS + 2 * WINDOW_MS - 1),
            )?;
        }
    }
    Ok(())
}

/// Bytes redb has allocated in the file (the file itself never shrinks; freed pages are
/// reused, so keeping this under the budget keeps the file near it).
pub fn used_bytes(shared: &Shared) -> Result<u64, StorageError> {
    let txn = shared.db.begin_write().map_err(db_err)?;
    let stats = txn.stats().map_err(db_err)?;
    txn.abort().map_err(db_err)?;
    Ok(stats.allocated_pages() * stats.page_size() as u64)
}

/// Removes every raw chunk and block whose samples all lie before `cutoff`, then series whose
/// newest sample does.
fn drop_before(shared: &Shared, cutoff: i64) -> Result<(), StorageError> {
    let (windows, days) = {
        let head = shared.head();
        let windows: Vec<i64> = head
            .raw_windows
            .iter()
            .copied()
            .take_while(|w| w.saturating_add(2 * WINDOW_MS) <= cutoff)
            .collect();
        let days: Vec<i64> = head
            .block_days
            .iter()
            .copied()
            .take_while(|d| d.saturating_add(DAY_MS + WINDOW_MS) <= cutoff)
            .collect();
        (windows, days)
    };
    for &window in &windows {
        let next = window.saturating_add(WINDOW_MS);
        while delete_some(shared, |txn| {
            let mut table = txn.open_table(CHUNKS).map_err(db_err)?;
            let mut n = 0;
            table
                .retain_in((window, 0, i64::MIN)..(next, 0, i64::MIN), |_, _| {
                    n += 1;
                    n > DELETES_PER_TXN
                })
                .map_err(db_err)?;
            Ok(n > DELETES_PER_TXN)
        })? {}
        shared.head().raw_windows.remove(&window);
        StorageStats::add(&shared.stats.retention_drops, 1);
    }
    for &day in &days {
        while delete_some(shared, |txn| {
            let mut table = txn.open_table(BLOCKS).map_err(db_err)?;
            let mut n = 0;
            table
                .retain_in((day, 0)..(day.saturating_add(DAY_MS), 0), |_, _| {
                    n += 1;
                    n > DELETES_PER_TXN
                })
                .map_err(db_err)?;
            Ok(n > DELETES_PER_TXN)
        })? {}
        shared.head().block_days.remove(&day);
        StorageStats::add(&shared.stats.retention_drops, 1);
    }
    let kept_from = {
        let head = shared.head();
        let window = head.raw_windows.first().copied().unwrap_or(i64::MAX);
        window.min(head.block_days.first().copied().unwrap_or(i64::MAX))
    };
    drop_empty_series(shared, kept_from)
}

/// Runs one bounded deleting transaction; returns whether more remains.
fn delete_some(
    shared: &Shared,
    work: impl FnOnce(&redb::WriteTransaction) -> Result<bool, StorageError>,
) -> Result<bool, StorageError> {
    let _writer = shared.writer();
    let txn = durable_txn(&shared.db)?;
    let more = work(&txn)?;
    txn.commit().map_err(db_err)?;
    Ok(more)
}

/// Removes series whose newest sample is before `kept_from` (the oldest data left on disk) and
/// that hold nothing in memory; series that never got a sample stay.
fn drop_empty_series(shared: &Shared, kept_from: i64) -> Result<(), StorageError> {
    let _writer = shared.writer();
    let gone: Vec<u64> = {
        let head = shared.head();
        head.series
            .iter()
            .filter(|(_, s)| {
                s.last_t != i64::MIN
                    && s.last_t < kept_from
                    && s.open.is_none()
                    && s.sealed.is_empty()
            })
            .map(|(&id, _)| id)
            .collect()
    };
    if gone.is_empty() {
        return Ok(());
    }
    for ids in gone.chunks(DELETES_PER_TXN) {
        let txn = durable_txn(&shared.db)?;
        {
            let mut series = txn.open_table(SERIES).map_err(db_err)?;
            let mut persisted = txn.open_table(PERSISTED).map_err(db_err)?;
            for &id in ids {
                series.remove(id).map_err(db_err)?;
                persisted.remove(id).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)?;
        let mut head = shared.head();
        for &id in ids {
            head.remove(id);
        }
        StorageStats::add(&shared.stats.series_removed, ids.len() as u64);
        StorageStats::set(&shared.stats.series_active, head.series.len() as u64);
    }
    Ok(())
}
