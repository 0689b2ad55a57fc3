//! Appending batches: series lookup and creation under the series limits, and handing
//! committed samples to the head (and so to the next durability tick). Samples by handle are
//! only collected until the commit, which takes the head's lock once for the whole batch and
//! checks their order there.

use std::sync::Arc;

use super::head::{Pushed, in_order};
use super::interface::{
    AppendError, Appendable, Appender, Committed, Metadata, SeriesLimit, SeriesRef, is_stale_nan,
};
use super::label_ids::LabelsHash;
use super::live::LiveSnapshot;
use super::options::StorageStats;
use super::storage::{Shared, Storage, writes_blocked};
use crate::labels::Labels;

impl Appendable for Storage {
    fn appender(&self, source: &str) -> Box<dyn Appender + '_> {
        Box::new(StorageAppender::new(&self.shared, source, true))
    }

    fn report_appender(&self, source: &str) -> Box<dyn Appender + '_> {
        Box::new(StorageAppender::new(&self.shared, source, false))
    }

    fn writes_blocked(&self) -> bool {
        writes_blocked(&self.shared)
    }
}

struct StorageAppender<'a> {
    shared: &'a Arc<Shared>,
    source: Box<str>,
    /// Whether the series limits apply to the series this batch creates.
    limited: bool,
    live: LiveSnapshot,
    pending: Vec<(u64, i64, f64)>,
    metadata: Vec<(String, Metadata)>,
}

impl<'a> StorageAppender<'a> {
    fn new(shared: &'a Arc<Shared>, source: &str, limited: bool) -> Self {
        StorageAppender {
            shared,
            source: source.into(),
            limited,
            live: shared.live.snapshot(),
            pending: Vec::new(),
            metadata: Vec::new(),
        }
    }

    fn refuse_if_blocked(&self) -> Result<(), AppendError> {
        if writes_blocked(self.shared) {
            StorageStats::add(&self.shared.stats.appends_refused, 1);
            return Err(AppendError::Storage(
                "writes are suspended: the last durable write failed (disk full?); \
                 retrying every tick"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether series `id` is live, looking again at the live ids if it is newer than this
    /// batch's view of them.
    fn is_live(&mut self, id: u64) -> bool {
        if let Some(live) = self.live.contains(id) {
            return live;
        }
        self.live = self.shared.live.snapshot();
        self.live.contains(id) == Some(true)
    }
}

impl Appender for StorageAppender<'_> {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        self.refuse_if_blocked()?;
        let shared = self.shared;
        let mut head = shared.head_for_append();
        let hash = LabelsHash::of(labels);
        if let Some(id) = head.find(hash, labels) {
            let series = &head.series[&id];
            if !in_order(series.last_t, series.last_v, t, v) {
                StorageStats::add(&shared.stats.out_of_order_samples, 1);
                return Err(AppendError::OutOfOrder {
                    series: SeriesRef(id),
                    labels: labels.to_string(),
                });
            }
            drop(head);
            self.pending.push((id, t, v));
            return Ok(SeriesRef(id));
        }
        let options = &shared.options;
        if self.limited && head.series.len() as u64 >= options.max_series {
            StorageStats::add(&shared.stats.series_limit_hits, 1);
            return Err(AppendError::SeriesLimit(SeriesLimit::Store(
                options.max_series,
            )));
        }
        let of_source = head.per_source.get(&*self.source).copied().unwrap_or(0);
        if self.limited && of_source >= options.max_series_per_source {
            StorageStats::add(&shared.stats.source_limit_hits, 1);
            return Err(AppendError::SeriesLimit(SeriesLimit::Source(
                options.max_series_per_source,
            )));
        }
        let id = head.create(hash, labels.clone(), &self.source, t);
        StorageStats::add(&shared.stats.series_created, 1);
        StorageStats::set(&shared.stats.series_active, head.series.len() as u64);
        drop(head);
        self.pending.push((id, t, v));
        Ok(SeriesRef(id))
    }

    fn append_ref(&mut self, series: SeriesRef, t: i64, v: f64) -> Result<(), AppendError> {
        self.refuse_if_blocked()?;
        if !self.is_live(series.0) {
            return Err(AppendError::UnknownRef);
        }
        self.pending.push((series.0, t, v));
        Ok(())
    }

    fn set_metadata(&mut self, metric: &str, metadata: Metadata) {
        self.metadata.push((metric.to_owned(), metadata));
    }

    fn commit(self: Box<Self>) -> Result<Committed, AppendError> {
        self.refuse_if_blocked()?;
        let stats = &self.shared.stats;
        let mut head = self.shared.head_for_append();
        let (mut accepted, mut refused) = (0, 0);
        for &(id, t, v) in &self.pending {
            match head.push(id, t, v) {
                Pushed::Stored => accepted += 1,
                Pushed::OutOfOrder if !is_stale_nan(v) => refused += 1,
                // A series removed since its sample was taken (a deletion or retention) ends
                // there, as it would have a moment later; a staleness marker its own timestamps
                // overtook has nothing left to end.
                Pushed::OutOfOrder | Pushed::Repeat | Pushed::Gone => {}
            }
        }
        for (metric, metadata) in self.metadata {
            if head.metadata.get(&metric) != Some(&metadata) {
                head.metadata.insert(metric.clone(), metadata);
                head.dirty_metadata.insert(metric);
            }
        }
        if head.wal.len() >= self.shared.options.max_unsynced_samples {
            self.shared.flush_soon();
            while head.wal.len() >= self.shared.options.max_unsynced_samples {
                head = self
                    .shared
                    .taken
                    .wait(head)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
        drop(head);
        StorageStats::add(&stats.samples_appended, accepted);
        StorageStats::add(&stats.out_of_order_samples, refused);
        Ok(Committed {
            out_of_order: refused,
        })
    }

    fn rollback(self: Box<Self>) {}
}
