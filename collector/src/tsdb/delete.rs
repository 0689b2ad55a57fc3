//! Series deletion by matchers over a time range (the shape of Prometheus's
//! `/api/v1/admin/tsdb/delete_series`): samples in the range go from the day files, the raw
//! chunks and the head; a series left with nothing is forgotten.
//!
//! Disk first, then memory: the day files are rewritten, then one transaction rewrites the
//! chunks and writes what the head keeps of each series as chunks; only once it commits does
//! the head let go of its copy. A failure anywhere leaves memory as it was, agreeing with what
//! a restart would read (a deletion that failed half way is completed by repeating it).

use std::sync::Arc;

use redb::{ReadableTable, WriteTransaction};

use super::chunk::ChunkEncoder;
use super::dayfile::DayFile;
use super::flush::{check_free_space, durable_txn};
use super::head::Head;
use super::interface::Sample;
use super::maintain::{corrupt, rewrite_day};
use super::options::{StorageError, StorageStats, db_err};
use super::schema::{CHUNKS, PERSISTED, SERIES_BATCHES, WINDOW_MS, day_of, window_of};
use super::series_batch;
use super::storage::Storage;
use super::{chunk, lookup};
use crate::labels::Matcher;

/// What the deletion does to one matching series.
struct Cut {
    id: u64,
    /// Whether the range covers every sample the series ever had: it is forgotten.
    whole: bool,
    /// Its newest timestamp: everything up to it is settled on disk once the deletion commits.
    last_t: i64,
    /// What the head keeps of it, as chunks spanning less than a window each.
    kept: Vec<(i64, Vec<u8>)>,
}

impl Storage {
    /// Deletes the samples in `[start, end]` of every series matching all `matchers`; returns
    /// how many series matched. Durable when it returns.
    pub fn delete_series(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<usize, StorageError> {
        if start > end {
            return Ok(0);
        }
        let shared = &*self.shared;
        let _maintenance = shared.maintenance();
        check_free_space(shared)?;
        let (ids, days) = {
            let head = shared.head();
            let mut ids: Vec<u64> = lookup::select(&head, matchers, i64::MIN, i64::MAX)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            ids.sort_unstable();
            let days: Vec<Arc<DayFile>> = head
                .days
                .range(day_of(start.saturating_sub(WINDOW_MS))..=day_of(end))
                .map(|(_, file)| file.clone())
                .collect();
            (ids, days)
        };
        if ids.is_empty() {
            return Ok(0);
        }
        for file in days {
            let matched = |id: &u64| ids.binary_search(id).is_ok();
            rewrite_day(
                shared,
                &file,
                |group_ids| {
                    let from = ids.partition_point(|&id| id < group_ids.start);
                    ids.get(from).is_some_and(|id| group_ids.contains(id))
                },
                |id, s| s.t < start || s.t > end || !matched(&id),
            )?;
        }
        // Appends to these series wait while their head is replaced (a short transaction).
        let _writer = shared.writer();
        let mut head = shared.head();
        let head = &mut *head;
        let cuts: Vec<Cut> = ids
            .iter()
            .filter_map(|&id| cut(head, id, start, end))
            .collect();
        let windows: Vec<i64> = head
            .raw_windows
            .range(window_of(start).saturating_sub(WINDOW_MS)..=window_of(end))
            .copied()
            .collect();
        let txn = durable_txn(&shared.db)?;
        let new_windows = write_cuts(&txn, &cuts, &windows, start, end)?;
        txn.commit().map_err(db_err)?;
        head.raw_windows.extend(new_windows);
        let mut forgotten = 0;
        for cut in &cuts {
            if cut.whole {
                head.remove(cut.id);
                forgotten += 1;
            } else if let Some(series) = head.series.get_mut(&cut.id) {
                // Its samples are all in chunks now: replay skips everything up to last_t.
                series.open = None;
                series.sealed.clear();
                series.persisted_t = series.persisted_t.max(cut.last_t);
                if start <= series.first_t {
                    series.first_t = series.first_t.max(end.saturating_add(1));
                }
                head.sealed_ids.remove(&cut.id);
            }
        }
        StorageStats::add(&shared.stats.series_removed, forgotten);
        StorageStats::set(&shared.stats.series_active, head.series.len() as u64);
        Ok(cuts.len())
    }
}

/// What deleting `[start, end]` leaves of series `id`'s head.
fn cut(head: &Head, id: u64, start: i64, end: i64) -> Option<Cut> {
    let series = head.series.get(&id)?;
    let mut samples = Vec::new();
    series.head_samples(i64::MIN, i64::MAX, &mut samples);
    let kept = outside(&samples, start, end);
    Some(Cut {
        id,
        whole: start <= series.first_t && end >= series.last_t,
        last_t: series.last_t,
        kept: by_window(&kept)
            .into_iter()
            .map(|piece| {
                let mut encoder = ChunkEncoder::new();
                for s in piece {
                    encoder.push(s.t, s.v);
                }
                (piece[0].t, encoder.bytes())
            })
            .collect(),
    })
}

/// Rewrites the chunks of `windows` without the range's samples of the cut series, adds what
/// their heads keep, and updates or removes their records; returns the windows chunks were
/// written to.
fn write_cuts(
    txn: &WriteTransaction,
    cuts: &[Cut],
    windows: &[i64],
    start: i64,
    end: i64,
) -> Result<Vec<i64>, StorageError> {
    let mut chunks = txn.open_table(CHUNKS).map_err(db_err)?;
    let mut persisted = txn.open_table(PERSISTED).map_err(db_err)?;
    let mut new_windows = Vec::new();
    let mut gone = Vec::new();
    for cut in cuts {
        let id = cut.id;
        for &window in windows {
            let range = (window, id, i64::MIN)..=(window, id, i64::MAX);
            let found: Vec<((i64, u64, i64), Vec<u8>)> = chunks
                .range(range)
                .map_err(db_err)?
                .map(|e| e.map(|(k, v)| (k.value(), v.value().to_vec())))
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            for (key, bytes) in found {
                let samples = chunk::decode(&bytes).map_err(|e| corrupt("chunks", e))?;
                let kept = outside(&samples, start, end);
                if kept.len() == samples.len() {
                    continue;
                }
                chunks.remove(key).map_err(db_err)?;
                if let Some(first) = kept.first() {
                    let key = (window_of(first.t), id, first.t);
                    chunks
                        .insert(key, chunk::encode(&kept).as_slice())
                        .map_err(db_err)?;
                    new_windows.push(key.0);
                }
            }
        }
        if cut.whole {
            gone.push(id);
            persisted.remove(id).map_err(db_err)?;
            continue;
        }
        for (first_t, bytes) in &cut.kept {
            let key = (window_of(*first_t), id, *first_t);
            chunks.insert(key, bytes.as_slice()).map_err(db_err)?;
            new_windows.push(key.0);
        }
        persisted.insert(id, cut.last_t).map_err(db_err)?;
    }
    series_batch::remove(&mut txn.open_table(SERIES_BATCHES).map_err(db_err)?, &gone)?;
    Ok(new_windows)
}

/// Splits time-ordered samples into runs spanning less than a window each.
fn by_window(samples: &[Sample]) -> Vec<&[Sample]> {
    let mut pieces = Vec::new();
    let mut rest = samples;
    while let Some(first) = rest.first() {
        let n = rest.partition_point(|s| s.t - first.t < WINDOW_MS);
        pieces.push(&rest[..n]);
        rest = &rest[n..];
    }
    pieces
}

fn outside(samples: &[Sample], start: i64, end: i64) -> Vec<Sample> {
    samples
        .iter()
        .filter(|s| s.t < start || s.t > end)
        .copied()
        .collect()
}
