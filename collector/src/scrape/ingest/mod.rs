//! Turning one scrape's body into appends: series labels (target labels, `exported_*`, metric
//! relabelling), a cache of series handles keyed by the series text, sample_limit, staleness
//! markers for series that vanished, and HELP/TYPE/UNIT as metadata.

use std::collections::HashMap;

use crate::labels::{Labels, METRIC_NAME};
use crate::tsdb::{AppendError, Appender, Metadata, STALE_NAN_BITS, SeriesRef};

use super::parse::{Entry, Format, ParseError, Parser, Sample};
use super::relabel::{LabelMap, Relabel, relabel};

/// How a job turns scraped series into stored ones.
#[derive(Debug, Clone, Default)]
pub struct IngestRules {
    /// Labels every series gets (job, instance, ...).
    pub target_labels: Labels,
    /// Keep scraped labels on a clash instead of renaming them `exported_*`.
    pub honor_labels: bool,
    /// Use timestamps the target exposes.
    pub honor_timestamps: bool,
    /// Applied to each new series' labels.
    pub metric_relabel: Vec<Relabel>,
    /// Most samples kept from one scrape; 0 for no limit.
    pub sample_limit: u64,
}

/// Why a body was not ingested; the whole scrape is discarded.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The body is malformed.
    #[error("parse error: {0}")]
    Parse(#[from] ParseError),
    /// More samples than `sample_limit`.
    #[error("sample limit exceeded: more than {0} samples")]
    SampleLimit(u64),
    /// Storage refused the batch.
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// What one scrape added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Samples in the body.
    pub scraped: u64,
    /// Samples kept after metric relabelling.
    pub kept: u64,
    /// Series not seen in the previous scrape.
    pub series_added: u64,
}

#[derive(Debug)]
enum Cached {
    Series { series: SeriesRef, labels: Labels },
    Dropped,
}

#[derive(Debug)]
struct CacheEntry {
    cached: Cached,
    seen: u64,
}

/// The series one target exposed in its last scrape, by series text; survives between scrapes.
#[derive(Debug, Default)]
pub struct SeriesCache {
    entries: HashMap<Box<[u8]>, CacheEntry>,
    iteration: u64,
    metadata: HashMap<String, Metadata>,
}

impl SeriesCache {
    /// Parses `body` and appends its samples at `t` (ms) unless they carry their own
    /// timestamps. On error the caller rolls the batch back and calls [`SeriesCache::stale_all`].
    pub fn ingest(
        &mut self,
        app: &mut dyn Appender,
        rules: &IngestRules,
        body: &[u8],
        format: Format,
        t: i64,
    ) -> Result<IngestOutcome, IngestError> {
        self.iteration += 1;
        let mut new_keys: Vec<Box<[u8]>> = Vec::new();
        let result = self.ingest_body(app, rules, body, format, t, &mut new_keys);
        if result.is_err() {
            // Those series were never committed; forget them so their handles are not reused.
            for key in new_keys {
                self.entries.remove(&key);
            }
            return result;
        }
        let iteration = self.iteration;
        let mut vanished = Vec::new();
        self.entries.retain(|_, entry| {
            if entry.seen == iteration {
                return true;
            }
            if let Cached::Series { series, labels } = &entry.cached {
                vanished.push((*series, labels.clone()));
            }
            false
        });
        for (series, labels) in vanished {
            append_stale(app, series, &labels, t)?;
        }
        result
    }

    fn ingest_body(
        &mut self,
        app: &mut dyn Appender,
        rules: &IngestRules,
        body: &[u8],
        format: Format,
        t: i64,
        new_keys: &mut Vec<Box<[u8]>>,
    ) -> Result<IngestOutcome, IngestError> {
        let mut outcome = IngestOutcome::default();
        let mut parser = Parser::new(body, format);
        let mut metadata: HashMap<String, Metadata> = HashMap::new();
        while let Some(entry) = parser.next()? {
            let sample = match entry {
                Entry::Sample(sample) => sample,
                Entry::Help { metric, text } => {
                    metadata_for(&mut metadata, &metric).help = text.into_owned();
                    continue;
                }
                Entry::Type { metric, kind } => {
                    metadata_for(&mut metadata, &metric).kind = kind.as_str().to_owned();
                    continue;
                }
                Entry::Unit { metric, unit } => {
                    metadata_for(&mut metadata, &metric).unit = unit.into_owned();
                    continue;
                }
                Entry::Comment => continue,
            };
            outcome.scraped += 1;
            let ts = match sample.timestamp_ms {
                Some(ts) if rules.honor_timestamps => ts,
                _ => t,
            };
            let value = sample.value;
            let iteration = self.iteration;
            if let Some(entry) = self.entries.get_mut(sample.series) {
                if entry.seen == iteration {
                    continue; // a duplicate line in the same body: the first one counts
                }
                entry.seen = iteration;
                if let Cached::Series { series, labels } = &entry.cached {
                    outcome.kept += 1;
                    check_limit(rules, outcome.kept)?;
                    match app.append_ref(*series, ts, value) {
                        Err(AppendError::UnknownRef) => {
                            entry.cached = Cached::Series {
                                series: app.append(labels, ts, value)?,
                                labels: labels.clone(),
                            };
                        }
                        other => other?,
                    }
                }
                continue;
            }
            let key: Box<[u8]> = sample.series.into();
            let cached = match series_labels(&sample, rules) {
                Some(labels) => {
                    outcome.kept += 1;
                    outcome.series_added += 1;
                    check_limit(rules, outcome.kept)?;
                    let series = app.append(&labels, ts, value)?;
                    Cached::Series { series, labels }
                }
                None => Cached::Dropped,
            };
            new_keys.push(key.clone());
            self.entries.insert(
                key,
                CacheEntry {
                    cached,
                    seen: iteration,
                },
            );
        }
        for (metric, meta) in &metadata {
            if self.metadata.get(metric) != Some(meta) {
                app.set_metadata(metric, meta.clone());
            }
        }
        self.metadata = metadata;
        Ok(outcome)
    }

    /// Appends a staleness marker at `t` for every series of the last successful scrape and
    /// forgets them: the target is down or gone.
    pub fn stale_all(&mut self, app: &mut dyn Appender, t: i64) -> Result<(), AppendError> {
        for (_, entry) in self.entries.drain() {
            if let Cached::Series { series, labels } = entry.cached {
                append_stale(app, series, &labels, t)?;
            }
        }
        Ok(())
    }
}

fn metadata_for<'m>(metadata: &'m mut HashMap<String, Metadata>, metric: &str) -> &'m mut Metadata {
    if !metadata.contains_key(metric) {
        metadata.insert(metric.to_owned(), Metadata::default());
    }
    metadata
        .get_mut(metric)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

fn check_limit(rules: &IngestRules, kept: u64) -> Result<(), IngestError> {
    if rules.sample_limit > 0 && kept > rules.sample_limit {
        return Err(IngestError::SampleLimit(rules.sample_limit));
    }
    Ok(())
}

/// Appends Prometheus's staleness marker to a series.
pub fn append_stale(
    app: &mut dyn Appender,
    series: SeriesRef,
    labels: &Labels,
    t: i64,
) -> Result<(), AppendError> {
    let stale = f64::from_bits(STALE_NAN_BITS);
    match app.append_ref(series, t, stale) {
        Err(AppendError::UnknownRef) => app.append(labels, t, stale).map(|_| ()),
        other => other,
    }
}

/// The stored labels of a scraped series, or `None` if metric relabelling drops it.
fn series_labels(sample: &Sample<'_, '_>, rules: &IngestRules) -> Option<Labels> {
    let mut pairs: LabelMap = sample
        .labels
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    pairs.insert(METRIC_NAME.to_owned(), sample.name.to_string());
    for target in rules.target_labels.iter() {
        match pairs.get(&target.name) {
            Some(scraped) if !scraped.is_empty() => {
                if rules.honor_labels {
                    continue;
                }
                let scraped = scraped.clone();
                let mut renamed = format!("exported_{}", target.name);
                while pairs.contains_key(&renamed) {
                    renamed = format!("exported_{renamed}");
                }
                pairs.insert(renamed, scraped);
                pairs.insert(target.name.clone(), target.value.clone());
            }
            _ => {
                pairs.insert(target.name.clone(), target.value.clone());
            }
        }
    }
    let pairs = if rules.metric_relabel.is_empty() {
        pairs
    } else {
        relabel(&rules.metric_relabel, pairs)?
    };
    Some(Labels::from_pairs(pairs))
}

#[cfg(test)]
mod tests;
