//! Bulk loading of OpenMetrics text with timestamps, the input `promtool tsdb
//! create-blocks-from openmetrics` takes, appended in batches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::labels::{Labels, METRIC_NAME};
use crate::scrape::parse::{Entry, Format, ParseError, Parser};
use crate::tsdb::{AppendError, Appendable, Metadata, SeriesRef};

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
}

/// What an import stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Samples appended.
    pub samples: u64,
    /// Distinct series.
    pub series: u64,
}

/// Reads `path` and appends every sample to `storage`, calling `progress(bytes_done, total)`
/// after each batch.
pub fn import_file(
    path: &Path,
    storage: &dyn Appendable,
    mut progress: impl FnMut(u64, u64),
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
            let labels = Labels::from_pairs(
                sample
                    .labels
                    .iter()
                    .map(|(n, v)| (n.as_ref(), v.as_ref()))
                    .chain([(METRIC_NAME, sample.name.as_ref())]),
            );
            let series = app.append(&labels, t, sample.value)?;
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
            progress(parser.position() as u64, total);
        }
    }
    for (metric, meta) in metadata {
        app.set_metadata(&metric, meta);
    }
    app.commit()?;
    progress(total, total);
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
        let report = import_file(&file, &store, |_, _| {}).unwrap();
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
        let error = import_file(&file, &MemoryStorage::new(), |_, _| {}).unwrap_err();
        assert!(
            matches!(error, ImportError::MissingTimestamp { line: 2, .. }),
            "{error}"
        );
    }
}
