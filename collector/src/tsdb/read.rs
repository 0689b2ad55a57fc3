//! Reading: matchers resolve through the postings index to series ids, then each series'
//! samples come from compacted blocks, raw chunks and the head, merged in time order.

use std::sync::Arc;

use redb::ReadableDatabase;

use super::dayfile::{DayFile, DayReader};
use super::interface::{Querier, QueryError, Sample, Series};
use super::schema::{CHUNKS, WINDOW_MS, day_of, window_of};
use super::storage::{Shared, Storage};
use super::{chunk, lookup};
use crate::labels::{Labels, Matcher};

/// A series chosen by the matchers, with what the head holds of it.
struct Candidate {
    id: u64,
    labels: Arc<Labels>,
    head: Vec<Sample>,
}

/// The series to read and where on disk their samples may be.
struct Plan {
    candidates: Vec<Candidate>,
    windows: Vec<i64>,
    days: Vec<Arc<DayFile>>,
}

/// Takes the plan and a read transaction together under the head lock, so every sample is in
/// the head copy or in the transaction's view (chunks move from head to disk, and from chunks
/// to blocks, under that lock's protection: see `flush` and `maintain`).
fn plan(
    shared: &Shared,
    matchers: &[Matcher],
    start: i64,
    end: i64,
) -> Result<(Plan, redb::ReadTransaction), QueryError> {
    let head = shared.head();
    let txn = shared.db.begin_read().map_err(storage_error)?;
    let mut candidates: Vec<Candidate> = lookup::select(&head, matchers, start, end)
        .into_iter()
        .map(|(id, series)| {
            let mut in_head = Vec::new();
            series.head_samples(start, end, &mut in_head);
            Candidate {
                id,
                labels: series.labels.clone(),
                head: in_head,
            }
        })
        .collect();
    // In id order, each group of a day file is read once.
    candidates.sort_unstable_by_key(|c| c.id);
    // A chunk spans at most one window past the one it starts in; a day file one window past
    // its day.
    let windows = head
        .raw_windows
        .range(window_of(start).saturating_sub(WINDOW_MS)..=window_of(end))
        .copied()
        .collect();
    let days = head
        .days
        .range(day_of(start.saturating_sub(WINDOW_MS))..=day_of(end))
        .map(|(_, file)| file.clone())
        .collect();
    let plan = Plan {
        candidates,
        windows,
        days,
    };
    Ok((plan, txn))
}

fn storage_error(e: impl std::fmt::Display) -> QueryError {
    QueryError::Storage(e.to_string())
}

impl Storage {
    fn read_series(
        plan: Plan,
        txn: &redb::ReadTransaction,
        start: i64,
        end: i64,
    ) -> Result<Vec<Series>, QueryError> {
        let chunks = txn.open_table(CHUNKS).map_err(storage_error)?;
        let mut days: Vec<DayReader<'_>> = plan.days.iter().map(|f| DayReader::new(f)).collect();
        let mut found = Vec::with_capacity(plan.candidates.len());
        let mut decoded = Vec::new();
        for candidate in plan.candidates {
            let mut samples = Vec::new();
            for day in &mut days {
                if let Some(found) = day.find(candidate.id).map_err(storage_error)? {
                    samples.extend(found.into_iter().filter(|s| s.t >= start && s.t <= end));
                }
            }
            for &window in &plan.windows {
                let range = (window, candidate.id, i64::MIN)..=(window, candidate.id, end);
                for entry in chunks.range(range).map_err(storage_error)? {
                    let (_, bytes) = entry.map_err(storage_error)?;
                    decoded.clear();
                    chunk::decode_into(bytes.value(), &mut decoded).map_err(storage_error)?;
                    samples.extend(decoded.iter().filter(|s| s.t >= start && s.t <= end));
                }
            }
            samples.extend(candidate.head);
            // Day files, chunks and head never overlap except for a chunk caught in flight
            // between head and disk, or chunks a compaction merged into a day file and has
            // not yet deleted: identical samples, dropped here.
            samples.sort_by_key(|s| s.t);
            samples.dedup_by_key(|s| s.t);
            if !samples.is_empty() {
                found.push(Series {
                    labels: (*candidate.labels).clone(),
                    samples,
                });
            }
        }
        found.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(found)
    }
}

impl Querier for Storage {
    fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<Series>, QueryError> {
        let (plan, txn) = plan(&self.shared, matchers, start, end)?;
        Self::read_series(plan, &txn, start, end)
    }

    fn select_labels(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<Arc<Labels>>, QueryError> {
        let mut found: Vec<Arc<Labels>> = {
            let head = self.shared.head();
            lookup::select(&head, matchers, start, end)
                .into_iter()
                .map(|(_, series)| series.labels.clone())
                .collect()
        };
        found.sort_unstable();
        Ok(found)
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        let head = self.shared.head();
        Ok(lookup::label_names(&head, matchers, start, end))
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<String>, QueryError> {
        let head = self.shared.head();
        Ok(lookup::label_values(&head, name, matchers, start, end))
    }
}
