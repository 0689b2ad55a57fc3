//! An in-memory store implementing the storage interface, for unit tests of the stages that
//! read and write through it (PromQL, scraping, rules) without a database on disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::interface::{
    AppendError, Appendable, Appender, Committed, Metadata, Querier, QueryError, Sample, Series,
    SeriesRef, is_stale_nan,
};
use crate::labels::{Labels, Matcher};

/// Series and metadata held in memory; a sample not newer than its series' newest is dropped.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    series: Vec<(Labels, Vec<Sample>)>,
    by_labels: HashMap<Labels, u64>,
    metadata: BTreeMap<String, Metadata>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// HELP/TYPE/UNIT recorded for `metric`, if any.
    pub fn metadata(&self, metric: &str) -> Option<Metadata> {
        self.lock().metadata.get(metric).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn matching<'a>(
        inner: &'a Inner,
        matchers: &'a [Matcher],
        start: i64,
        end: i64,
    ) -> impl Iterator<Item = (&'a Labels, Vec<Sample>)> + 'a {
        inner.series.iter().filter_map(move |(labels, samples)| {
            if !matchers.iter().all(|m| m.matches_labels(labels)) {
                return None;
            }
            let in_range: Vec<Sample> = samples
                .iter()
                .filter(|s| s.t >= start && s.t <= end)
                .copied()
                .collect();
            (!in_range.is_empty()).then_some((labels, in_range))
        })
    }
}

impl Appendable for MemoryStorage {
    fn appender(&self, _source: &str) -> Box<dyn Appender + '_> {
        Box::new(MemoryAppender {
            storage: self,
            pending: Vec::new(),
            metadata: Vec::new(),
        })
    }
}

struct MemoryAppender<'a> {
    storage: &'a MemoryStorage,
    pending: Vec<(SeriesRef, Sample)>,
    metadata: Vec<(String, Metadata)>,
}

impl Appender for MemoryAppender<'_> {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        let mut inner = self.storage.lock();
        let next = inner.series.len() as u64;
        let id = *inner.by_labels.entry(labels.clone()).or_insert(next);
        if id == next {
            inner.series.push((labels.clone(), Vec::new()));
        }
        drop(inner);
        self.pending.push((SeriesRef(id), Sample { t, v }));
        Ok(SeriesRef(id))
    }

    fn append_ref(&mut self, series: SeriesRef, t: i64, v: f64) -> Result<(), AppendError> {
        if series.0 as usize >= self.storage.lock().series.len() {
            return Err(AppendError::UnknownRef);
        }
        self.pending.push((series, Sample { t, v }));
        Ok(())
    }

    fn set_metadata(&mut self, metric: &str, metadata: Metadata) {
        self.metadata.push((metric.to_owned(), metadata));
    }

    fn commit(self: Box<Self>) -> Result<Committed, AppendError> {
        let mut inner = self.storage.lock();
        let mut committed = Committed::default();
        for (series, sample) in self.pending {
            // As the real store does, a sample not newer than the series' newest is dropped,
            // and counted unless it repeats that sample exactly or is a staleness marker.
            let (_, samples) = &mut inner.series[series.0 as usize];
            match samples.last() {
                Some(last) if last.t >= sample.t => {
                    let repeat = last.t == sample.t && last.v.to_bits() == sample.v.to_bits();
                    committed.out_of_order += u64::from(!repeat && !is_stale_nan(sample.v));
                }
                _ => samples.push(sample),
            }
        }
        inner.metadata.extend(self.metadata);
        Ok(committed)
    }

    fn rollback(self: Box<Self>) {}
}

impl Querier for MemoryStorage {
    fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<Series>, QueryError> {
        let inner = self.lock();
        let mut found: Vec<Series> = Self::matching(&inner, matchers, start, end)
            .map(|(labels, samples)| Series {
                labels: labels.clone(),
                samples,
            })
            .collect();
        found.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(found)
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        let inner = self.lock();
        let mut names: Vec<String> = Self::matching(&inner, matchers, start, end)
            .flat_map(|(labels, _)| labels.iter().map(|l| l.name.to_owned()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        let inner = self.lock();
        let mut values: Vec<String> = Self::matching(&inner, matchers, start, end)
            .filter_map(|(labels, _)| labels.get(name).map(str::to_owned))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::MatchOp;

    #[test]
    fn committed_samples_are_selected_by_matchers_and_range() {
        let store = MemoryStorage::new();
        let up = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
        let other = Labels::from_pairs([("__name__", "up"), ("job", "other")]);
        let mut app = store.appender("");
        let r = app.append(&up, 1000, 1.0).unwrap();
        app.append_ref(r, 2000, 0.0).unwrap();
        app.append(&other, 1000, 1.0).unwrap();
        assert!(
            store.select(&[], 0, 5000).unwrap().is_empty(),
            "visible before commit"
        );
        app.commit().unwrap();
        let job = Matcher::new(MatchOp::Equal, "job", "node").unwrap();
        let found = store.select(&[job], 1500, 5000).unwrap();
        assert_eq!(
            found,
            vec![Series {
                labels: up,
                samples: vec![Sample { t: 2000, v: 0.0 }]
            }]
        );
        assert_eq!(
            store.label_values("job", &[], 0, 5000).unwrap(),
            ["node", "other"]
        );
    }
}
