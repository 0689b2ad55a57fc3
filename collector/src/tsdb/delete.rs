//! Series deletion by matchers over a time range (the shape of Prometheus's
//! `/api/v1/admin/tsdb/delete_series`): samples in the range go from the head, the raw chunks
//! and the blocks; a series left with nothing is forgotten.

use redb::ReadableTable;

use super::chunk::ChunkEncoder;
use super::flush::{check_free_space, durable_txn, tick_locked};
use super::head::SealedChunk;
use super::interface::Sample;
use super::maintain::corrupt;
use super::options::{StorageError, StorageStats, db_err};
use super::schema::{BLOCKS, CHUNKS, PERSISTED, SERIES, WINDOW_MS, day_of, group_range, window_of};
use super::storage::{Shared, Storage};
use super::{chunk, group, lookup};
use crate::labels::Matcher;

impl Storage {
    /// Deletes the samples in `[start, end]` of every series matching all `matchers`; returns
    /// how many series matched. Durable when it returns.
    pub fn delete_series(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<usize, StorageError> {
        let shared = &*self.shared;
        let _writer = shared.writer();
        check_free_space(shared)?;
        let ids = trim_head(shared, matchers, start, end);
        // Write what is left of those series' head, so replaying the write-ahead records
        // after a restart cannot bring deleted samples back.
        while !shared.head().sealed_ids.is_empty() {
            tick_locked(shared)?;
        }
        let (windows, days) = {
            let head = shared.head();
            let windows: Vec<i64> = head
                .raw_windows
                .range(window_of(start).saturating_sub(WINDOW_MS)..=window_of(end))
                .copied()
                .collect();
            let days: Vec<i64> = head
                .block_days
                .range(day_of(start.saturating_sub(WINDOW_MS))..=day_of(end))
                .copied()
                .collect();
            (windows, days)
        };
        let txn = durable_txn(&shared.db)?;
        let mut new_windows = Vec::new();
        let mut forget = Vec::new();
        {
            let mut chunks = txn.open_table(CHUNKS).map_err(db_err)?;
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            let mut series_table = txn.open_table(SERIES).map_err(db_err)?;
            let mut persisted = txn.open_table(PERSISTED).map_err(db_err)?;
            for &(id, whole, last_t) in &ids {
                for &window in &windows {
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
                for &day in &days {
                    let found = blocks
                        .range(group_range(day, id))
                        .map_err(db_err)?
                        .next_back()
                        .transpose()
                        .map_err(db_err)?
                        .map(|(k, v)| (k.value(), v.value().to_vec()));
                    let Some((key, bytes)) = found else {
                        continue;
                    };
                    let mut members =
                        group::decode_all(&bytes).map_err(|e| corrupt("blocks", e))?;
                    let Some(member) = members.iter_mut().find(|m| m.0 == id) else {
                        continue;
                    };
                    let kept = outside(&member.1, start, end);
                    if kept.len() == member.1.len() {
                        continue;
                    }
                    member.1 = kept;
                    blocks.remove(key).map_err(db_err)?;
                    for (first, g) in group::build(members) {
                        blocks.insert((day, first), g.as_slice()).map_err(db_err)?;
                    }
                }
                if whole {
                    series_table.remove(id).map_err(db_err)?;
                    persisted.remove(id).map_err(db_err)?;
                    forget.push(id);
                } else {
                    // Everything up to the series' last sample is now settled on disk, even if
                    // the deletion emptied its head: replay must skip all of it.
                    persisted.insert(id, last_t).map_err(db_err)?;
                }
            }
        }
        txn.commit().map_err(db_err)?;
        let mut head = shared.head();
        head.raw_windows.extend(new_windows);
        for &(id, _, last_t) in &ids {
            if let Some(series) = head.series.get_mut(&id) {
                series.persisted_t = series.persisted_t.max(last_t);
            }
        }
        for &id in &forget {
            head.remove(id);
        }
        StorageStats::add(&shared.stats.series_removed, forget.len() as u64);
        StorageStats::set(&shared.stats.series_active, head.series.len() as u64);
        Ok(ids.len())
    }
}

/// Removes the range from the head copies of matching series and seals what is left; returns
/// the ids with whether the range covered all their samples, and their newest timestamps.
fn trim_head(shared: &Shared, matchers: &[Matcher], start: i64, end: i64) -> Vec<(u64, bool, i64)> {
    let mut head = shared.head();
    let head = &mut *head;
    let ids: Vec<u64> = lookup::select(head, matchers, i64::MIN, i64::MAX)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut matched = Vec::new();
    for id in ids {
        let Some(series) = head.series.get_mut(&id) else {
            continue;
        };
        let whole = start <= series.first_t && end >= series.last_t;
        matched.push((id, whole, series.last_t));
        let mut samples = Vec::new();
        series.head_samples(i64::MIN, i64::MAX, &mut samples);
        let kept = outside(&samples, start, end);
        series.open = None;
        series.sealed.clear();
        // Chunks keep the rule that none spans more than a window.
        for piece in by_window(&kept) {
            let mut encoder = ChunkEncoder::new();
            for s in piece {
                encoder.push(s.t, s.v);
            }
            series.sealed.push(SealedChunk {
                first_t: piece[0].t,
                last_t: piece[piece.len() - 1].t,
                bytes: encoder.bytes().into(),
                first_seq: head.wal_seq,
            });
        }
        if series.sealed.is_empty() {
            head.sealed_ids.remove(&id);
        } else {
            head.sealed_ids.insert(id);
        }
        if start <= series.first_t {
            series.first_t = series.first_t.max(end.saturating_add(1));
        }
    }
    matched
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
