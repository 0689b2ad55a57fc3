//! The head: every live series in memory with its labels, its open chunk and the chunks cut
//! from it that are not yet on disk, plus the postings index and the samples of the current
//! write-ahead tick.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::chunk::{self, ChunkEncoder};
use super::dayfile::DayFile;
use super::index::Postings;
use super::interface::{Metadata, Sample};
use super::label_ids::{LabelIds, LabelsHash};
use super::live::LiveIds;
use super::schema::WINDOW_MS;
use super::series_map::SeriesMap;
use super::wal::WalWriter;
use crate::labels::Labels;

/// Samples per chunk before it is cut (about 30 minutes at a 15 s scrape interval).
pub const CHUNK_SAMPLES: u16 = 120;

/// A series held in memory.
#[derive(Debug)]
pub struct MemSeries {
    /// The series' identity.
    pub labels: Arc<Labels>,
    /// The source that created it.
    pub source: Arc<str>,
    /// The first timestamp ever appended (a lower bound after deletions).
    pub first_t: i64,
    /// The newest timestamp stored anywhere; `i64::MIN` when none yet.
    pub last_t: i64,
    /// Bits of the newest value, to accept an identical repeat silently.
    pub last_v: u64,
    /// The newest timestamp already in `chunks` or `blocks` on disk.
    pub persisted_t: i64,
    /// The chunk being appended to (boxed: a loaded or idle series has none, and the map of
    /// series holds every series' fields inline).
    pub open: Option<Box<OpenChunk>>,
    /// Cut chunks waiting for the next durability tick, oldest first.
    pub sealed: Vec<SealedChunk>,
    /// Whether no chunk was opened since the series was created or loaded.
    fresh: bool,
}

/// The chunk a series appends to.
#[derive(Debug)]
pub struct OpenChunk {
    /// The encoder holding the samples.
    pub encoder: ChunkEncoder,
    /// Timestamp of the first sample.
    pub first_t: i64,
    /// A write-ahead piece at or before the one holding the first sample (the first piece of
    /// its tick); older pieces are not needed for it.
    pub first_seq: u64,
    /// Samples after which the chunk is cut (staggered for a series' first chunk).
    pub limit: u16,
}

/// A chunk cut from a series, not yet on disk.
#[derive(Debug, Clone)]
pub struct SealedChunk {
    /// Timestamp of the first sample.
    pub first_t: i64,
    /// Timestamp of the last sample.
    pub last_t: i64,
    /// The encoded chunk.
    pub bytes: Arc<[u8]>,
    /// A write-ahead piece at or before the one holding the first sample.
    pub first_seq: u64,
}

impl MemSeries {
    /// A series with no samples yet.
    pub fn new(labels: Arc<Labels>, source: Arc<str>, first_t: i64) -> Self {
        MemSeries {
            labels,
            source,
            first_t,
            last_t: i64::MIN,
            last_v: 0,
            persisted_t: i64::MIN,
            open: None,
            sealed: Vec::new(),
            fresh: true,
        }
    }

    /// Appends a sample newer than `last_t`; returns whether a chunk was cut to make room.
    pub fn push(&mut self, id: u64, t: i64, v: f64, seq: u64) -> bool {
        let mut cut = false;
        if let Some(open) = &self.open
            && (open.encoder.len() >= usize::from(open.limit)
                || t.saturating_sub(open.first_t) >= WINDOW_MS)
        {
            cut = self.seal();
        }
        let first_chunk = std::mem::replace(&mut self.fresh, false);
        let open = self.open.get_or_insert_with(|| {
            Box::new(OpenChunk {
                encoder: ChunkEncoder::new(),
                first_t: t,
                first_seq: seq,
                limit: if first_chunk {
                    staggered_limit(id)
                } else {
                    CHUNK_SAMPLES
                },
            })
        });
        open.encoder.push(t, v);
        self.last_t = t;
        self.last_v = v.to_bits();
        cut
    }

    /// Cuts the open chunk (if any) into the sealed list; returns whether one was cut.
    pub fn seal(&mut self) -> bool {
        let Some(open) = self.open.take() else {
            return false;
        };
        self.sealed.push(SealedChunk {
            first_t: open.first_t,
            last_t: self.last_t,
            bytes: open.encoder.bytes().into(),
            first_seq: open.first_seq,
        });
        true
    }

    /// Samples held in memory (sealed and open) within `[start, end]`, appended to `out`.
    pub fn head_samples(&self, start: i64, end: i64, out: &mut Vec<Sample>) {
        let mut all = Vec::new();
        for sealed in &self.sealed {
            if sealed.last_t >= start && sealed.first_t <= end {
                chunk::decode_into(&sealed.bytes, &mut all).expect("head chunks are well formed");
            }
        }
        if let Some(open) = &self.open
            && open.first_t <= end
            && self.last_t >= start
        {
            chunk::decode_into(&open.encoder.bytes(), &mut all)
                .expect("head chunks are well formed");
        }
        out.extend(all.into_iter().filter(|s| s.t >= start && s.t <= end));
    }

    /// The oldest write-ahead record this series still needs.
    pub fn oldest_seq(&self) -> Option<u64> {
        let sealed = self.sealed.first().map(|c| c.first_seq);
        let open = self.open.as_ref().map(|c| c.first_seq);
        sealed.into_iter().chain(open).min()
    }
}

/// The first chunk a series opens after being created or loaded is cut after 1..=CHUNK_SAMPLES
/// samples depending on its id, so series that start together (one scrape, one restart) do not
/// all cut chunks in the same tick.
fn staggered_limit(id: u64) -> u16 {
    let spread = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    1 + (spread % u64::from(CHUNK_SAMPLES)) as u16
}

/// Whether `t, v` may follow a series' newest sample `last_t, last_v` (an identical repeat is
/// accepted and later dropped).
pub fn in_order(last_t: i64, last_v: u64, t: i64, v: f64) -> bool {
    t > last_t || (t == last_t && v.to_bits() == last_v)
}

/// What [`Head::push`] did with a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Stored as the series' newest sample.
    Stored,
    /// Dropped: it repeats the newest sample exactly.
    Repeat,
    /// Refused: not newer than the newest sample.
    OutOfOrder,
    /// Dropped: the series was removed.
    Gone,
}

/// All in-memory state, guarded by one mutex in the storage.
#[derive(Debug, Default)]
pub struct Head {
    /// Live series by id.
    pub series: SeriesMap<MemSeries>,
    /// The ids in `series`, readable without this head's lock.
    pub live: Arc<LiveIds>,
    /// Id by label set.
    pub by_labels: LabelIds,
    /// Label pair -> ids.
    pub postings: Postings,
    /// Live series per source.
    pub per_source: FxHashMap<Arc<str>, u64>,
    /// The id the next new series gets.
    pub next_id: u64,
    /// Series created since the last tick (not yet in the `series` table).
    pub new_series: Vec<u64>,
    /// Samples appended since the last tick.
    pub wal: WalWriter,
    /// Pieces taken from `wal` and not yet written (kept while the disk refuses writes), by
    /// sequence number, uncompressed.
    pub unwritten: Vec<(u64, Vec<u8>)>,
    /// Sequence number of the first piece of the record being built in `wal`.
    pub wal_seq: u64,
    /// Records below this sequence number are gone from the `wal` table.
    pub wal_floor: u64,
    /// Ticks taken so far; the oldest record still needed is worked out every few ticks
    /// (it walks every series) or when `truncate_now` asks for it.
    pub ticks: u64,
    /// Whether the next tick must drop every record no series needs (a flush asks for it).
    pub truncate_now: bool,
    /// Ids of series with sealed chunks.
    pub sealed_ids: BTreeSet<u64>,
    /// HELP/TYPE/UNIT by metric name.
    pub metadata: BTreeMap<String, Metadata>,
    /// Metric names whose metadata changed since the last tick.
    pub dirty_metadata: BTreeSet<String>,
    /// Newest timestamp appended to any series.
    pub max_t: i64,
    /// Window starts present in the `chunks` table (or about to be).
    pub raw_windows: BTreeSet<i64>,
    /// The day files, by day start (see `dayfile.rs`); readers take their own handle, so a
    /// file compaction replaces or retention deletes stays readable until they finish.
    pub days: BTreeMap<i64, Arc<DayFile>>,
}

impl Head {
    /// The id of the series labelled `labels`, whose hash is `hash`.
    pub fn find(&self, hash: LabelsHash, labels: &Labels) -> Option<u64> {
        self.by_labels
            .get(hash, labels, |id| self.series.get(&id).map(|s| &*s.labels))
    }

    /// Registers a series labelled `labels` (whose hash is `hash`) under a fresh id.
    pub fn create(&mut self, hash: LabelsHash, labels: Labels, source: &str, first_t: i64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        // The series of one source share one copy of its name.
        let source = match self.per_source.get_key_value(source) {
            Some((shared, _)) => shared.clone(),
            None => source.into(),
        };
        self.insert_hashed(id, hash, labels, source, first_t);
        self.new_series.push(id);
        id
    }

    /// Registers series `id`, as tests build a head.
    #[cfg(test)]
    pub fn insert(&mut self, id: u64, labels: Labels, source: Arc<str>, first_t: i64) {
        self.insert_hashed(id, LabelsHash::of(&labels), labels, source, first_t);
    }

    /// Registers a series just created, with its postings.
    fn insert_hashed(
        &mut self,
        id: u64,
        hash: LabelsHash,
        labels: Labels,
        source: Arc<str>,
        first_t: i64,
    ) {
        let labels = Arc::new(labels);
        self.postings.add(id, &labels);
        *self.per_source.entry(source.clone()).or_default() += 1;
        self.insert_unindexed(id, hash, labels, source, first_t);
    }

    /// [`Head::insert`] without adding to the postings and the per-source counts (loading
    /// builds those on other threads); returns the new series.
    pub fn insert_unindexed(
        &mut self,
        id: u64,
        hash: LabelsHash,
        labels: Arc<Labels>,
        source: Arc<str>,
        first_t: i64,
    ) -> &mut MemSeries {
        let series = &self.series;
        self.by_labels
            .insert(hash, &labels, id, |id| series.get(&id).map(|s| &*s.labels));
        self.live.insert(id);
        self.series
            .entry(id)
            .insert_entry(MemSeries::new(labels, source, first_t))
            .into_mut()
    }

    /// Forgets a series entirely.
    pub fn remove(&mut self, id: u64) -> Option<MemSeries> {
        let series = self.series.remove(&id)?;
        self.live.remove(id);
        self.postings.remove(id, &series.labels);
        let labels = &series.labels;
        self.by_labels.remove(LabelsHash::of(labels), labels, id);
        if let Some(count) = self.per_source.get_mut(&series.source) {
            *count -= 1;
            if *count == 0 {
                self.per_source.remove(&series.source);
            }
        }
        self.sealed_ids.remove(&id);
        Some(series)
    }

    /// Appends a sample to series `id` if it is newer than the series' last one.
    pub fn push(&mut self, id: u64, t: i64, v: f64) -> Pushed {
        let seq = self.wal_seq;
        let Some(series) = self.series.get_mut(&id) else {
            return Pushed::Gone;
        };
        if t <= series.last_t {
            return if in_order(series.last_t, series.last_v, t, v) {
                Pushed::Repeat
            } else {
                Pushed::OutOfOrder
            };
        }
        if series.push(id, t, v, seq) {
            self.sealed_ids.insert(id);
        }
        self.wal.push(id, t, v);
        self.max_t = self.max_t.max(t);
        Pushed::Stored
    }

    /// The oldest write-ahead record any series still needs, or the current one.
    pub fn oldest_needed_seq(&self) -> u64 {
        self.series
            .values()
            .filter_map(MemSeries::oldest_seq)
            .min()
            .unwrap_or(self.wal_seq)
            .min(self.wal_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_by_count_after_a_staggered_first_chunk() {
        let mut head = Head::default();
        let labels = Labels::from_pairs([("a", "b")]);
        let id = head.create(LabelsHash::of(&labels), labels, "", 0);
        let first_limit = staggered_limit(id);
        for i in 0..(i64::from(first_limit) + i64::from(CHUNK_SAMPLES)) {
            head.push(id, i * 1000, i as f64);
        }
        let series = &head.series[&id];
        assert_eq!(series.sealed.len(), 1);
        assert_eq!(series.sealed[0].last_t, (i64::from(first_limit) - 1) * 1000);
        let mut all = Vec::new();
        series.head_samples(i64::MIN, i64::MAX, &mut all);
        assert_eq!(all.len(), usize::from(first_limit + CHUNK_SAMPLES));
    }

    #[test]
    fn staggered_limits_spread_over_the_range() {
        let limits: BTreeSet<u16> = (0..1000).map(staggered_limit).collect();
        assert!(limits.len() > 100, "only {} distinct limits", limits.len());
        assert!(limits.iter().all(|&l| (1..=CHUNK_SAMPLES).contains(&l)));
    }
}
