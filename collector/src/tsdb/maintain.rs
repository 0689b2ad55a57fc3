//! Background upkeep: compacting a day's raw chunks into the day's file of bit-packed groups,
//! and retention by time and by size (whole day files deleted). Work is split into bounded transactions so appends' durability
//! ticks are never held up for long.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use redb::{ReadOnlyTable, ReadableDatabase};

use super::dayfile::{self, DayFile, DayWriter, Span};
use super::flush::{check_free_space, durable_txn};
use super::head::Head;
use super::interface::Sample;
use super::options::{StorageError, StorageStats, db_err};
use super::schema::{CHUNKS, DAY_MS, GROUP_ID_SPAN, PERSISTED, SERIES_BATCHES, WINDOW_MS, day_of};
use super::series_batch;
use super::storage::Shared;
use super::{chunk, group};
use crate::vocab::now_ms;

/// Keys deleted per retention transaction.
const DELETES_PER_TXN: usize = 50_000;

/// Settled windows (ending two windows before the newest sample) a day still being written may
/// gather before a pass moves its chunks into the day's file. Raw chunks cost several times
/// what a day file does, and the database file keeps its high-water mark, so the fewer hours
/// they pile up, the smaller the data directory; each early pass rewrites the day's file, so
/// the more, the less the file is rewritten (with two, about every three hours: each sample
/// is written out four or five times over its day, about what a leveled compaction writes).
const EARLY_WINDOWS: usize = 2;

/// Compacts, oldest first, every day whose raw windows are all settled, and a day still being
/// written once [`EARLY_WINDOWS`] of its windows are (with `all`, every day).
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
            let day_end = day.saturating_add(DAY_MS);
            let settled = head
                .raw_windows
                .range(day..day_end)
                .take_while(|w| w.saturating_add(WINDOW_MS) <= horizon)
                .count();
            if day_end > horizon && settled < EARLY_WINDOWS {
                return Ok(());
            }
            day
        };
        compact_day(shared, day)?;
        done_before = day.saturating_add(DAY_MS);
    }
}

fn compact_day(shared: &Shared, day: i64) -> Result<(), StorageError> {
    let _maintenance = shared.maintenance();
    check_free_space(shared)?;
    let day_end = day.saturating_add(DAY_MS);
    // The chunks as of now; ticks may add more meanwhile, which stay for the next pass.
    let (windows, id_end, old, snapshot) = {
        let head = shared.head();
        let windows: Vec<i64> = head.raw_windows.range(day..day_end).copied().collect();
        let snapshot = shared.db.begin_read().map_err(db_err)?;
        (
            windows,
            head.next_id,
            head.days.get(&day).cloned(),
            snapshot,
        )
    };
    let merged = snapshot.open_table(CHUNKS).map_err(db_err)?;
    let mut writer = DayWriter::create(&shared.blocks_dir, day)?;
    let mut series_done = 0;
    let mut from_id = 0;
    while from_id < id_end {
        let run = from_id..from_id.saturating_add(GROUP_ID_SPAN);
        series_done += compact_run(&mut writer, &merged, &windows, old.as_deref(), run.clone())?;
        from_id = run.end;
    }
    let new = writer.finish()?;
    {
        let mut head = shared.head();
        match new {
            Some(file) => head.days.insert(day, Arc::new(file)),
            None => head.days.remove(&day),
        };
    }
    StorageStats::add(&shared.stats.blocks_written, series_done);
    // The day file holds them now: drop the chunks it merged (readers meanwhile see both,
    // identical samples, and keep one).
    for &window in &windows {
        delete_merged(shared, &merged, window)?;
    }
    forget_empty_windows(shared, &windows)
}

/// Writes the groups of one aligned run of series ids: the day's chunks of the run merged with
/// what the old day file holds of it (whose groups are copied as they are when no chunk adds
/// to them). Returns how many series were rewritten.
fn compact_run(
    writer: &mut DayWriter,
    chunks: &ReadOnlyTable<(i64, u64, i64), &[u8]>,
    windows: &[i64],
    old: Option<&DayFile>,
    run: Range<u64>,
) -> Result<u64, StorageError> {
    let mut by_series: BTreeMap<u64, Vec<Sample>> = BTreeMap::new();
    for &window in windows {
        let range = (window, run.start, i64::MIN)..(window, run.end, i64::MIN);
        for entry in chunks.range(range).map_err(db_err)? {
            let (key, bytes) = entry.map_err(db_err)?;
            let samples = by_series.entry(key.value().1).or_default();
            chunk::decode_into(bytes.value(), samples).map_err(|e| corrupt("chunks", e))?;
        }
    }
    let Some(old) = old else {
        return write_run(writer, by_series);
    };
    if by_series.is_empty() {
        for at in old.groups_in(run) {
            writer.push(old.first_id(at), &old.read_group(at)?, old.span())?;
        }
        return Ok(0);
    }
    for at in old.groups_in(run) {
        let members = group::decode_all(&old.read_group(at)?).map_err(|e| corrupt("blocks", e))?;
        for (id, samples) in members {
            by_series.entry(id).or_default().extend(samples);
        }
    }
    write_run(writer, by_series)
}

/// Writes the groups of the merged samples of a run's series; returns how many series.
fn write_run(
    writer: &mut DayWriter,
    by_series: BTreeMap<u64, Vec<Sample>>,
) -> Result<u64, StorageError> {
    let series: Vec<(u64, Vec<Sample>)> = by_series
        .into_iter()
        .map(|(id, mut samples)| {
            samples.sort_by_key(|s| s.t);
            samples.dedup_by_key(|s| s.t);
            (id, samples)
        })
        .collect();
    let rewritten = series.len() as u64;
    push_groups(writer, series)?;
    Ok(rewritten)
}

/// Packs series (ascending ids, time-ordered samples) into groups and appends them.
fn push_groups(
    writer: &mut DayWriter,
    series: Vec<(u64, Vec<Sample>)>,
) -> Result<(), StorageError> {
    let Some(span) = series
        .iter()
        .filter_map(|(_, samples)| Span::of(samples))
        .reduce(Span::union)
    else {
        return Ok(());
    };
    for (first, bytes) in group::build(series) {
        writer.push(first, &bytes, span)?;
    }
    Ok(())
}

/// Replaces `file` with a copy holding only the samples `keep` accepts, of the groups whose id
/// range `may_change` accepts; other groups are copied as they are. When nothing changes the
/// file stays; when nothing is left it goes.
pub(super) fn rewrite_day(
    shared: &Shared,
    file: &DayFile,
    may_change: impl Fn(Range<u64>) -> bool,
    keep: impl Fn(u64, &Sample) -> bool,
) -> Result<(), StorageError> {
    let mut writer = DayWriter::create(&shared.blocks_dir, file.day())?;
    let mut changed = false;
    let groups = file.groups_in(0..u64::MAX);
    for at in groups.clone() {
        let first = file.first_id(at);
        let next = if at + 1 < groups.end {
            file.first_id(at + 1)
        } else {
            u64::MAX
        };
        let bytes = file.read_group(at)?;
        if !may_change(first..next) {
            writer.push(first, &bytes, file.span())?;
            continue;
        }
        let mut members = group::decode_all(&bytes).map_err(|e| corrupt("blocks", e))?;
        let mut dropped = false;
        for (id, samples) in &mut members {
            let before = samples.len();
            samples.retain(|s| keep(*id, s));
            dropped |= samples.len() != before;
        }
        if dropped {
            changed = true;
            push_groups(&mut writer, members)?;
        } else {
            writer.push(first, &bytes, file.span())?;
        }
    }
    if !changed {
        return writer.abandon();
    }
    let rewritten = writer.finish()?;
    let mut head = shared.head();
    match rewritten {
        Some(new) => head.days.insert(file.day(), Arc::new(new)),
        None => head.days.remove(&file.day()),
    };
    Ok(())
}

/// Deletes the chunks of `window` that `merged` (the snapshot compaction read) holds, in
/// bounded transactions; chunks written since stay.
fn delete_merged(
    shared: &Shared,
    merged: &ReadOnlyTable<(i64, u64, i64), &[u8]>,
    window: i64,
) -> Result<(), StorageError> {
    let range = (window, 0, i64::MIN)..(window.saturating_add(WINDOW_MS), 0, i64::MIN);
    while delete_some(shared, |txn| {
        let mut table = txn.open_table(CHUNKS).map_err(db_err)?;
        let (mut n, mut failed) = (0, None);
        table
            .retain_in(range.clone(), |key, _| {
                if n >= DELETES_PER_TXN || failed.is_some() {
                    return true;
                }
                match merged.get(key) {
                    Ok(found) => {
                        n += usize::from(found.is_some());
                        found.is_none()
                    }
                    Err(e) => {
                        failed = Some(e);
                        true
                    }
                }
            })
            .map_err(db_err)?;
        match failed {
            Some(e) => Err(db_err(e)),
            None => Ok(n >= DELETES_PER_TXN),
        }
    })? {}
    Ok(())
}

/// Forgets the windows among `windows` that hold no chunk any more.
fn forget_empty_windows(shared: &Shared, windows: &[i64]) -> Result<(), StorageError> {
    // No tick may add a chunk between the look and the forgetting.
    let _writer = shared.writer();
    let txn = shared.db.begin_read().map_err(db_err)?;
    let chunks = txn.open_table(CHUNKS).map_err(db_err)?;
    let mut empty = Vec::new();
    for &window in windows {
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
    let mut head = shared.head();
    for window in empty {
        head.raw_windows.remove(&window);
    }
    Ok(())
}

/// A decoding failure found while rewriting stored data.
pub(crate) fn corrupt(table: &'static str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        table,
        detail: e.to_string(),
    }
}

/// How far the retention cutoff may pass a day file's oldest sample before the file is rewritten
/// without the samples that fell out: a store keeps at most this much more than its retention
/// time, and a day file is rewritten at most a few times on its way out.
const TRIM_STEP_MS: i64 = 6 * 60 * 60 * 1000;

/// How far past the wall clock the newest sample may stand and still anchor retention.
const RETENTION_CLOCK_SKEW_MS: i64 = 60 * 60 * 1000;

/// Drops data older than the retention time, then the oldest days while the database uses
/// more than the retention size, then the series left without samples.
///
/// The retention time counts back from the newest sample, as Prometheus's does, but never from
/// further ahead than an hour past the wall clock: one sample stamped years ahead (a target with
/// a broken clock, a backfill with a wrong unit) must not make every other sample "too old".
pub fn apply_retention(shared: &Shared) -> Result<(), StorageError> {
    let _maintenance = shared.maintenance();
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
                let day = head.days.keys().next().copied();
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

/// Bytes the store takes on disk: the day files and the database file (which never shrinks
/// while open: its freed pages are reused, and it stays about a day of raw chunks large).
pub fn used_bytes(shared: &Shared) -> Result<u64, StorageError> {
    bytes_on_disk(shared, &shared.head())
}

/// [`used_bytes`] for a caller holding the head.
pub fn bytes_on_disk(shared: &Shared, head: &Head) -> Result<u64, StorageError> {
    let file = std::fs::metadata(&shared.path).map_err(|source| StorageError::Io {
        context: format!("reading the size of {}", shared.path.display()),
        source,
    })?;
    let days: u64 = head.days.values().map(|f| f.bytes()).sum();
    Ok(file.len() + days)
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
        let days: Vec<Arc<DayFile>> = head
            .days
            .values()
            .take_while(|f| f.span().min_t < cutoff)
            .cloned()
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
    for file in days {
        let span = file.span();
        if span.max_t < cutoff {
            // Readers still holding the file finish with it; its space returns when they do.
            shared.head().days.remove(&file.day());
            dayfile::remove(&file)?;
            StorageStats::add(&shared.stats.retention_drops, 1);
        } else if cutoff.saturating_sub(span.min_t) >= TRIM_STEP_MS {
            rewrite_day(shared, &file, |_| true, |_, s| s.t >= cutoff)?;
            StorageStats::add(&shared.stats.retention_drops, 1);
        }
    }
    let kept_from = {
        let head = shared.head();
        let window = head.raw_windows.first().copied().unwrap_or(i64::MAX);
        window.min(
            head.days
                .values()
                .next()
                .map_or(i64::MAX, |f| f.span().min_t),
        )
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
            series_batch::remove(&mut txn.open_table(SERIES_BATCHES).map_err(db_err)?, ids)?;
            let mut persisted = txn.open_table(PERSISTED).map_err(db_err)?;
            for &id in ids {
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
