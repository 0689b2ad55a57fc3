//! A decoded push checked whole before anything of it is stored, then appended in one batch:
//! every series must have a valid metric name and label names, and each series' samples must
//! move forward in time and stay within [`MAX_AHEAD_MS`] of the collector's clock. A push that
//! fails a check is refused whole, as Prometheus refuses one holding an out-of-order sample.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::labels::{Labels, METRIC_NAME};
use crate::scrape::MAX_AHEAD_MS;
use crate::scrape::parse::MetricType;
use crate::tsdb::{AppendError, Appendable, Appender, Metadata, Sample, SeriesLimit};
use crate::vocab::{is_label_name, is_metric_name};

use super::proto;

/// The source pushed series are counted under for the store's per-source series limit.
const SOURCE: &str = "remote_write";

/// The longest series description an error message quotes; longer ones are cut.
const MAX_QUOTED: usize = 256;

/// Why a push was refused; nothing of it was stored. Each is a client error (400).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// A series has no `__name__` label.
    #[error("series {series} has no metric name (__name__ label)")]
    MissingMetricName {
        /// The series as sent.
        series: String,
    },
    /// A series' metric name is not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {name:?} in series {series}")]
    InvalidMetricName {
        /// The name.
        name: String,
        /// The series as sent.
        series: String,
    },
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {name:?} in series {series}")]
    InvalidLabelName {
        /// The name.
        name: String,
        /// The series as sent.
        series: String,
    },
    /// A label name appears twice in one series.
    #[error("label {name:?} appears twice in series {series}")]
    DuplicateLabelName {
        /// The name.
        name: String,
        /// The series as sent.
        series: String,
    },
    /// A sample is older than one before it of the same series, in this push or stored.
    #[error("out of order sample: series {series} at {t} ms has a newer sample already")]
    OutOfOrder {
        /// The series.
        series: String,
        /// The sample's time.
        t: i64,
    },
    /// Two samples of a series at the same time with different values.
    #[error("duplicate sample for timestamp: series {series} at {t} ms has two values")]
    Duplicate {
        /// The series.
        series: String,
        /// The time.
        t: i64,
    },
    /// A sample stamped too far ahead of the collector's clock.
    #[error(
        "out of bounds: series {series} has a sample at {t} ms, more than {} minutes ahead \
         of the collector's clock", MAX_AHEAD_MS / 60_000
    )]
    OutOfBounds {
        /// The series.
        series: String,
        /// The sample's time.
        t: i64,
    },
    /// Storing a new series would pass a series limit of the store.
    #[error("{0}")]
    SeriesLimit(SeriesLimit),
}

/// Why a push could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The push is invalid or passes a limit (400); nothing was stored.
    #[error(transparent)]
    Refused(#[from] BatchError),
    /// The store failed (500); nothing was stored, and the sender may retry.
    #[error("storage failed: {0}")]
    Storage(String),
}

/// The samples of a push by series, and its metadata, checked and ready to append.
#[derive(Debug, Default)]
pub struct Batch {
    series: Vec<(Labels, Vec<Sample>)>,
    metadata: Vec<(String, Metadata)>,
}

impl Batch {
    /// Checks `request` whole: `now_ms` is the collector's clock, which samples may not pass
    /// by more than [`MAX_AHEAD_MS`]. A series listed several times (Prometheus sends one entry
    /// per sample) is gathered into one. An exact repeat of a series' previous sample is kept
    /// once, as the store keeps it.
    pub fn check(request: proto::WriteRequest, now_ms: i64) -> Result<Batch, BatchError> {
        let mut batch = Batch::default();
        let mut positions: HashMap<Labels, usize> = HashMap::new();
        for series in request.timeseries {
            if series.samples.is_empty() {
                // Native histograms and exemplars alone: not stored (see the module docs).
                continue;
            }
            let labels = series_labels(&series.labels)?;
            let position = match positions.get(&labels) {
                Some(&position) => position,
                None => {
                    batch.series.push((labels.clone(), Vec::new()));
                    positions.insert(labels, batch.series.len() - 1);
                    batch.series.len() - 1
                }
            };
            let (labels, samples) = &mut batch.series[position];
            for sample in series.samples {
                push_in_order(labels, samples, sample, now_ms)?;
            }
        }
        batch.metadata = request
            .metadata
            .into_iter()
            .filter(|m| is_metric_name(&m.metric_family_name))
            .map(|m| (m.metric_family_name, metadata_of(m.r#type, m.help, m.unit)))
            .collect();
        Ok(batch)
    }

    /// Samples in the batch.
    pub fn samples(&self) -> u64 {
        self.series.iter().map(|(_, s)| s.len() as u64).sum()
    }

    /// Appends the batch to `storage` in one commit and returns how many samples were stored;
    /// on an error the batch is rolled back. A sample the store finds out of order (a newer
    /// one is stored) refuses the push; one a concurrent write overtook between this batch's
    /// checks and its commit is dropped by the store and not counted.
    pub fn append_to(&self, storage: &dyn Appendable) -> Result<u64, WriteError> {
        let mut app = storage.appender(SOURCE);
        if let Err(error) = self.append_all(app.as_mut()) {
            app.rollback();
            return Err(error);
        }
        let committed = app.commit().map_err(stored)?;
        Ok(self.samples().saturating_sub(committed.out_of_order))
    }

    fn append_all(&self, app: &mut dyn Appender) -> Result<(), WriteError> {
        for (labels, samples) in &self.series {
            let Some((first, rest)) = samples.split_first() else {
                continue;
            };
            let series = app
                .append(labels, first.t, first.v)
                .map_err(|error| refused(error, labels, first.t))?;
            for sample in rest {
                app.append_ref_or_labels(series, labels, sample.t, sample.v)
                    .map_err(|e| refused(e, labels, sample.t))?;
            }
        }
        for (metric, metadata) in &self.metadata {
            app.set_metadata(metric, metadata.clone());
        }
        Ok(())
    }
}

/// The write error for an append refused at time `t`.
fn refused(error: AppendError, labels: &Labels, t: i64) -> WriteError {
    match error {
        AppendError::OutOfOrder { .. } => BatchError::OutOfOrder {
            series: quoted(labels.to_string()),
            t,
        }
        .into(),
        AppendError::SeriesLimit(limit) => BatchError::SeriesLimit(limit).into(),
        other => stored(other),
    }
}

fn stored(error: AppendError) -> WriteError {
    WriteError::Storage(error.to_string())
}

/// The labels of a series as sent, checked as Prometheus checks them with its classic names:
/// a valid metric name, valid label names, none twice. Labels with an empty value are left
/// out, as an empty value means the label is absent.
fn series_labels(pairs: &[proto::Label]) -> Result<Labels, BatchError> {
    let series = || describe(pairs);
    let mut names: Vec<&str> = Vec::with_capacity(pairs.len());
    let mut metric_name = None;
    for label in pairs {
        if label.name == METRIC_NAME {
            metric_name = Some(label.value.as_str());
        } else if !is_label_name(&label.name) {
            return Err(BatchError::InvalidLabelName {
                name: quoted(label.name.clone()),
                series: series(),
            });
        }
        names.push(&label.name);
    }
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(BatchError::DuplicateLabelName {
            name: twice[0].to_owned(),
            series: series(),
        });
    }
    match metric_name {
        None | Some("") => return Err(BatchError::MissingMetricName { series: series() }),
        Some(name) if !is_metric_name(name) => {
            return Err(BatchError::InvalidMetricName {
                name: quoted(name.to_owned()),
                series: series(),
            });
        }
        Some(_) => {}
    }
    Ok(Labels::from_pairs(
        pairs.iter().map(|l| (l.name.as_str(), l.value.as_str())),
    ))
}

/// Adds `sample` to the samples gathered so far for a series, which it must follow in time.
fn push_in_order(
    labels: &Labels,
    samples: &mut Vec<Sample>,
    sample: proto::Sample,
    now_ms: i64,
) -> Result<(), BatchError> {
    let (t, v) = (sample.timestamp, sample.value);
    let series = || quoted(labels.to_string());
    if t > now_ms.saturating_add(MAX_AHEAD_MS) {
        return Err(BatchError::OutOfBounds {
            series: series(),
            t,
        });
    }
    match samples.last() {
        Some(last) if last.t > t => Err(BatchError::OutOfOrder {
            series: series(),
            t,
        }),
        Some(last) if last.t == t && last.v.to_bits() != v.to_bits() => {
            Err(BatchError::Duplicate {
                series: series(),
                t,
            })
        }
        Some(last) if last.t == t => Ok(()),
        _ => {
            samples.push(Sample { t, v });
            Ok(())
        }
    }
}

/// The store's metadata for a family from the remote-write fields.
fn metadata_of(kind: i32, help: String, unit: String) -> Metadata {
    let kind = match proto::MetricType::try_from(kind).unwrap_or(proto::MetricType::Unknown) {
        proto::MetricType::Unknown => MetricType::Unknown,
        proto::MetricType::Counter => MetricType::Counter,
        proto::MetricType::Gauge => MetricType::Gauge,
        proto::MetricType::Histogram => MetricType::Histogram,
        proto::MetricType::GaugeHistogram => MetricType::GaugeHistogram,
        proto::MetricType::Summary => MetricType::Summary,
        proto::MetricType::Info => MetricType::Info,
        proto::MetricType::StateSet => MetricType::Stateset,
    };
    Metadata {
        kind: kind.as_str().to_owned(),
        help,
        unit,
    }
}

/// A series as sent, in Prometheus's notation, for messages.
fn describe(pairs: &[proto::Label]) -> String {
    let mut out = String::from("{");
    for (i, label) in pairs.iter().enumerate() {
        let separator = if i == 0 { "" } else { ", " };
        let _ = write!(out, "{separator}{}={:?}", label.name, label.value);
    }
    out.push('}');
    quoted(out)
}

/// `text` cut to [`MAX_QUOTED`] bytes (at a character boundary), so that an error message
/// about a huge label stays readable.
fn quoted(mut text: String) -> String {
    if text.len() > MAX_QUOTED {
        let mut end = MAX_QUOTED;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests;
