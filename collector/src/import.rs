//! Bulk loading of OpenMetrics text with timestamps, the input `promtool tsdb
//! create-blocks-from openmetrics` takes, appended in batches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::scrape::parse::{Entry, Format, ParseError, Parser};
use crate::tsdb::{
    AppendError, Appendable, Metadata, SeriesRef, Storage, StorageError, StorageOptions,
};

/// Samples per committed batch.
const BATCH: usize = 50_000;

/// Why an import stopped; batches committed before the error stay stored.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid OpenMetrics.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and what.
        source: ParseError,
    },
    /// A sample has no timestamp (as promtool, the importer needs them).
    #[error("{path}: line {line}: expected a timestamp for series {series}")]
    MissingTimestamp {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The series as written.
        series: String,
    },
    /// Storage refused a batch.
    #[error("storage refused the data: {0}")]
    Append(#[from] AppendError),
    /// Storage failed between batches (compacting what was imported so far).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// How far an import has come, reported after each committed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the file read.
    pub bytes_done: u64,
    /// Bytes in the file.
    pub bytes_total: u64,
    /// Samples committed.
    pub samples: u64,
}

/// What an import stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Samples appended.
    pub samples: u64,
    /// Distinct series.
    pub series: u64,
}

/// Samples imported between compactions at the start of an import: the database file holds at
/// most about this many samples' write-ahead records and raw chunks before they go to day files.
const SETTLE_FIRST: u64 = 4_000_000;

/// The most samples between compactions. In between, the interval grows with what the day
/// files hold (a quarter of it), since each compaction rewrites the days it touches.
const SETTLE_MOST: u64 = 64_000_000;

/// Imports `path` into the store in `data_dir` as `osprey-collector import` does: series are
/// limited by `max_series` alone (not the per-target scrape limit), nothing is dropped by
/// retention, what is imported is compacted into day files as it goes, and the store is left
/// finished: every day compacted and the database file shrunk to what it holds. Calls
/// `progress` after each batch with whether a compaction is starting.
pub fn import_to_store(
    data_dir: &Path,
    path: &Path,
    max_series: u64,
    mut progress: impl FnMut(Progress, bool),
) -> Result<ImportReport, ImportError> {
    let options = StorageOptions {
        max_series,
        max_series_per_source: max_series,
        retention_time: None,
        background_compaction: false,
        ..StorageOptions::default()
    };
    let storage = Storage::open(data_dir, options)?;
    let settle = |storage: &Storage| storage.flush_head().and_then(|()| storage.compact(true));
    let mut settled = 0;
    let report = import_file(path, &storage, |done| {
        let due = (settled / 4).clamp(SETTLE_FIRST, SETTLE_MOST);
        let compacting = done.samples - settled >= due;
        progress(done, compacting);
        if compacting {
            settle(&storage)?;
            settled = done.samples;
        }
        Ok(())
    })?;
    settle(&storage)?;
    storage.close()?;
    Storage::shrink_closed(data_dir)?;
    Ok(report)
}

/// Reads `path` and appends every sample to `storage`, calling `after_batch` after each
/// committed batch (to show progress, or to compact what is stored so far); an error it
/// returns stops the import.
pub fn import_file(
    path: &Path,
    storage: &dyn Appendable,
    mut after_batch: impl FnMut(Progress) -> Result<(), ImportError>,
) -> Result<ImportReport, ImportError> {
    let body = std::fs::read(path).map_err(|source| ImportError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |source| ImportError::Parse {
        path: path.to_owned(),
        source,
    };
    let total = body.len() as u64;
    let mut parser = Parser::new(&body, Format::OpenMetrics);
    let mut refs: HashMap<Box<[u8]>, SeriesRef> = HashMap::new();
    let mut metadata: HashMap<String, Metadata> = HashMap::new();
    let mut report = ImportReport::default();
    let mut app = storage.appender("");
    let mut in_batch = 0;
    while let Some(entry) = parser.next().map_err(parse_error)? {
        let sample = match entry {
            Entry::Sample(sample) => sample,
            Entry::Help { metric, text } => {
                metadata.entry(metric.into_owned()).or_default().help = text.into_owned();
                continue;
            }
            Entry::Type { metric, kind } => {
                metadata.entry(metric.into_owned()).or_default().kind = kind.as_str().into();
                continue;
            }
            Entry::Unit { metric, unit } => {
                metadata.entry(metric.into_owned()).or_default().unit = unit.into_owned();
                continue;
            }
            Entry::Comment => continue,
        };
        let Some(t) = sample.timestamp_ms else {
            let series = String::from_utf8_lossy(sample.series).into_owned();
            return Err(ImportError::MissingTimestamp {
                path: path.to_owned(),
                line: parser.line(),
                series,
            });
        };
        let known = refs.get(sample.series).copied();
        let appended = match known {
            Some(series) => app.append_ref(series, t, sample.value),
            None => Err(AppendError::UnknownRef),
        };
        if let Err(AppendError::UnknownRef) = appended {
            let series = app.append(&sample.to_labels(), t, sample.value)?;
            if refs.insert(sample.series.into(), series).is_none() {
                report.series += 1;
            }
        } else {
            appended?;
        }
        report.samples += 1;
        in_batch += 1;
        if in_batch == BATCH {
            app.commit()?;
            app = storage.appender("");
            in_batch = 0;
            after_batch(Progress {
                bytes_done: parser.position() as u64,
                bytes_total: total,
                samples: report.samples,
            })?;
        }
    }
    for (metric, meta) in metadata {
        app.set_metadata(&metric, meta);
    }
    app.commit()?;
    after_batch(Progress {
        bytes_done: total,
        bytes_total: total,
        samples: report.samples,
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{MatchOp, Matcher};
    use crate::tsdb::{MemoryStorage, Querier};

    #[test]
    fn samples_and_metadata_are_loaded_and_untimed_samples_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.om.txt");
        std::fs::write(
            &file,
            "# TYPE a counter\n# HELP a Things.\na_total{x=\"1\"} 1 10\na_total{x=\"1\"} 2 20.5\n# EOF\n",
        )
        .unwrap();
        let store = MemoryStorage::new();
        let report = import_file(&file, &store, |_| Ok(())).unwrap();
        assert_eq!(
            report,
            ImportReport {
                samples: 2,
                series: 1
            }
        );
        let m = Matcher::new(MatchOp::Equal, "x", "1").unwrap();
        let series = store.select(&[m], 0, i64::MAX).unwrap();
        let got: Vec<(i64, f64)> = series[0].samples.iter().map(|s| (s.t, s.v)).collect();
        assert_eq!(got, [(10_000, 1.0), (20_500, 2.0)]);
        assert_eq!(store.metadata("a").unwrap().help, "Things.");

        std::fs::write(&file, "a 1 10\nb 2\n# EOF\n").unwrap();
        let error = import_file(&file, &MemoryStorage::new(), |_| Ok(())).unwrap_err();
        assert!(
            matches!(error, ImportError::MissingTimestamp { line: 2, .. }),
            "{error}"
        );
    }
}
