//! Turning one scrape's body into appends: series labels (target labels, `exported_*`, metric
//! relabelling), a cache of series handles keyed by the series text's hash, the limits that fail
//! a scrape, samples dropped one by one (repeated, too far ahead, out of order), staleness
//! markers for series that vanished, and HELP/TYPE/UNIT as metadata.

mod known;
mod label_limits;

use std::borrow::Cow;
use std::collections::HashMap;

use crate::labels::{Labels, METRIC_NAME};
use crate::tsdb::{AppendError, Appender, Metadata, STALE_NAN_BITS, Sample, SeriesRef};

use super::parse::{Entry, Format, LabelPair, ParseError, Parser, parse_series};
use super::refusal::Refusal;
use super::relabel::{LabelMap, Relabel, relabel};
use known::KnownSeries;
pub use label_limits::{LabelLimitError, LabelLimits};

/// How far ahead of the scrape (or of the clock, for a remote-write push) a sample's own
/// timestamp may be. The store measures retention back from its newest sample, so one sample
/// stamped years ahead would age out everything else; ten minutes is more than any working
/// clock is off by.
pub(crate) const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

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
    /// Limits on each series' labels.
    pub label_limits: LabelLimits,
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
    /// A series past a label limit (boxed: its names and values would double this error's
    /// size).
    #[error(transparent)]
    LabelLimit(Box<LabelLimitError>),
    /// A cached series that metric relabelling kept now drops: the rules changed under it.
    #[error("metric relabelling now drops a series it kept before (the rules changed)")]
    Dropped,
    /// Storage refused the batch (a series limit among others).
    #[error(transparent)]
    Append(#[from] AppendError),
}

impl IngestError {
    /// The limit this error says the scrape passed, if it is one: the rest of the body is
    /// then still counted, as Prometheus counts it.
    pub(in crate::scrape) fn limit(&self) -> Option<Refusal> {
        match self {
            IngestError::SampleLimit(_) => Some(Refusal::SampleLimit),
            IngestError::LabelLimit(_) => Some(Refusal::LabelLimit),
            IngestError::Append(AppendError::SeriesLimit(_)) => Some(Refusal::SeriesLimit),
            _ => None,
        }
    }
}

/// A scrape that was not ingested: why, and what it held as far as it was read (all of it
/// when a limit failed it).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct IngestFailure {
    /// Why.
    pub error: IngestError,
    /// Its counts; none of its samples were kept.
    pub counts: IngestOutcome,
}

/// What one scrape held and added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Samples in the body.
    pub scraped: u64,
    /// Samples left after metric relabelling, dropped ones included (as Prometheus counts
    /// `scrape_samples_post_metric_relabeling`).
    pub kept: u64,
    /// Series not seen in the previous scrape.
    pub series_added: u64,
    /// Samples of a series listed earlier in the same body, dropped.
    pub duplicates: u64,
    /// Samples stamped more than [`MAX_AHEAD_MS`] after the scrape, dropped.
    pub out_of_bounds: u64,
    /// Samples not newer than their series' newest, dropped. The commit finds most of them,
    /// and the caller adds those.
    pub out_of_order: u64,
}

impl IngestOutcome {
    /// Samples stored.
    pub fn stored(&self) -> u64 {
        let dropped = self.duplicates + self.out_of_bounds + self.out_of_order;
        self.kept.saturating_sub(dropped)
    }

    /// The samples dropped one by one, by why.
    pub(in crate::scrape) fn dropped(&self) -> [(Refusal, u64); 3] {
        [
            (Refusal::Duplicate, self.duplicates),
            (Refusal::OutOfBounds, self.out_of_bounds),
            (Refusal::OutOfOrder, self.out_of_order),
        ]
    }
}

/// A scraped series as the cache knows it, once metric relabelling kept it.
enum Scraped {
    /// Stored before, at `position` in the cache; `repeated` if this body listed it already.
    Known {
        position: usize,
        series: SeriesRef,
        repeated: bool,
    },
    /// Not in the cache: stored under these labels.
    New(Labels),
}

/// What a series text stands for, with the scrape that last saw it (`seen`, counting scrapes
/// modulo 2^32: an entry is removed the first scrape that does not see it, long before that
/// wraps). Neither the text nor the labels are kept: the labels are parsed again from the
/// scraped text in the rare case that needs them (the store forgot the reference). 16 bytes.
#[derive(Debug, Clone, Copy)]
enum Cached {
    /// A stored series.
    Series { series: SeriesRef, seen: u32 },
    /// A series metric relabelling drops.
    Dropped { seen: u32 },
}

impl Cached {
    fn seen_mut(&mut self) -> &mut u32 {
        match self {
            Cached::Series { seen, .. } | Cached::Dropped { seen } => seen,
        }
    }

    fn seen(mut self) -> u32 {
        *self.seen_mut()
    }

    fn series(self) -> Option<SeriesRef> {
        match self {
            Cached::Series { series, .. } => Some(series),
            Cached::Dropped { .. } => None,
        }
    }
}

/// The series one target exposed in its last scrape, by series text; survives between scrapes.
#[derive(Debug, Default)]
pub struct SeriesCache {
    entries: KnownSeries<Cached>,
    iteration: u32,
    metadata: HashMap<String, Metadata>,
}

impl SeriesCache {
    /// Parses `body` and appends its samples at `t` (ms) unless they carry their own
    /// timestamps. On failure the caller rolls the batch back and calls
    /// [`SeriesCache::stale_all`].
    pub fn ingest(
        &mut self,
        app: &mut dyn Appender,
        rules: &IngestRules,
        body: &[u8],
        format: Format,
        t: i64,
    ) -> Result<IngestOutcome, IngestFailure> {
        self.iteration = self.iteration.wrapping_add(1);
        let known_before = self.entries.len();
        let mut counts = IngestOutcome::default();
        if let Err(error) = self.ingest_body(app, rules, body, format, t, &mut counts) {
            // Those series were never committed; forget them so their handles are not reused.
            self.entries.truncate(known_before);
            return Err(IngestFailure { error, counts });
        }
        let iteration = self.iteration;
        let mut stale = Ok(());
        self.entries.retain(
            |entry| entry.seen() == iteration,
            |entry| {
                if let (Some(series), Ok(())) = (entry.series(), &stale) {
                    stale = append_stale_to(app, series, t);
                }
            },
        );
        self.entries.shrink();
        match stale {
            Ok(()) => Ok(counts),
            Err(error) => Err(IngestFailure {
                error: error.into(),
                counts,
            }),
        }
    }

    fn ingest_body(
        &mut self,
        app: &mut dyn Appender,
        rules: &IngestRules,
        body: &[u8],
        format: Format,
        t: i64,
        counts: &mut IngestOutcome,
    ) -> Result<(), IngestError> {
        let mut parser = Parser::new(body, format);
        let mut metadata: HashMap<String, Metadata> = HashMap::new();
        let iteration = self.iteration;
        // The first limit the body passed; its samples from there on are only counted.
        let mut passed: Option<IngestError> = None;
        loop {
            // Known series skip label parsing: their text is looked up before the labels are.
            let mut known: Option<(usize, Option<SeriesRef>, bool)> = None;
            let entries = &mut self.entries;
            let next = parser.next_with(&mut |series| {
                known = entries.find(series).map(|position| {
                    let seen = entries.value_mut(position).seen_mut();
                    let repeated = *seen == iteration;
                    *seen = iteration;
                    (position, entries.value_mut(position).series(), repeated)
                });
                known.is_none()
            })?;
            let sample = match next {
                None => break,
                Some(Entry::Sample(sample)) => sample,
                Some(Entry::Help { metric, text }) => {
                    metadata_for(&mut metadata, &metric).help = text.into_owned();
                    continue;
                }
                Some(Entry::Type { metric, kind }) => {
                    metadata_for(&mut metadata, &metric).kind = kind.as_str().to_owned();
                    continue;
                }
                Some(Entry::Unit { metric, unit }) => {
                    metadata_for(&mut metadata, &metric).unit = unit.into_owned();
                    continue;
                }
                Some(Entry::Comment) => continue,
            };
            counts.scraped += 1;
            let scraped = match known {
                // Metric relabelling drops the series.
                Some((_, None, _)) => continue,
                Some((position, Some(series), repeated)) => Scraped::Known {
                    position,
                    series,
                    repeated,
                },
                None => match series_labels(&sample.name, sample.labels, rules) {
                    Some(labels) => Scraped::New(labels),
                    None => {
                        let seen = iteration;
                        self.entries.push(sample.series, Cached::Dropped { seen });
                        continue;
                    }
                },
            };
            counts.kept += 1;
            if passed.is_some() {
                continue;
            }
            if let Err(error) = check_limit(rules, counts.kept) {
                passed = Some(error);
                continue;
            }
            if let Scraped::Known { repeated: true, .. } = scraped {
                // The first sample of a series counts; the store would refuse the others.
                counts.duplicates += 1;
                continue;
            }
            let ts = match sample.timestamp_ms {
                Some(ts) if rules.honor_timestamps => ts,
                _ => t,
            };
            if ts > t.saturating_add(MAX_AHEAD_MS) {
                counts.out_of_bounds += 1;
                continue;
            }
            let sample_at = Sample {
                t: ts,
                v: sample.value,
            };
            match self.store(app, rules, sample.series, scraped, sample_at, counts) {
                Err(error) if error.limit().is_some() => passed = Some(error),
                other => other?,
            }
        }
        if let Some(error) = passed {
            return Err(error);
        }
        for (metric, meta) in &metadata {
            if self.metadata.get(metric) != Some(meta) {
                app.set_metadata(metric, meta.clone());
            }
        }
        self.metadata = metadata;
        Ok(())
    }

    /// Appends a sample of a series metric relabelling keeps: by the cached handle if there is
    /// one, else by labels, caching the handle.
    fn store(
        &mut self,
        app: &mut dyn Appender,
        rules: &IngestRules,
        text: &[u8],
        scraped: Scraped,
        sample: Sample,
        counts: &mut IngestOutcome,
    ) -> Result<(), IngestError> {
        let seen = self.iteration;
        match scraped {
            Scraped::Known {
                position, series, ..
            } => {
                match app.append_ref(series, sample.t, sample.v) {
                    // A deletion removed the series; it starts again.
                    Err(AppendError::UnknownRef) => {
                        let labels = labels_of_text(text, rules)?;
                        let series = append_labels(app, &labels, sample, counts)?;
                        *self.entries.value_mut(position) = Cached::Series { series, seen };
                    }
                    other => other?,
                }
            }
            Scraped::New(labels) => {
                let passed = |error| IngestError::LabelLimit(Box::new(error));
                rules.label_limits.check(&labels).map_err(passed)?;
                let series = append_labels(app, &labels, sample, counts)?;
                counts.series_added += 1;
                self.entries.push(text, Cached::Series { series, seen });
            }
        }
        Ok(())
    }

    /// Whether no series of a successful scrape is held (none yet, or the last scrape failed).
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// Appends a staleness marker at `t` for every series of the last successful scrape and
    /// forgets them: the target is down or gone.
    pub fn stale_all(&mut self, app: &mut dyn Appender, t: i64) -> Result<(), AppendError> {
        let mut stale = Ok(());
        self.entries.clear(|entry| {
            if let (Some(series), Ok(())) = (entry.series(), &stale) {
                stale = append_stale_to(app, series, t);
            }
        });
        stale
    }
}

/// Appends a staleness marker to a cached series by reference. A reference the store no longer
/// knows belongs to a series a deletion removed with all its samples: no sample is left for a
/// marker to end, so none is written (writing one would create the series again, marker only).
fn append_stale_to(app: &mut dyn Appender, series: SeriesRef, t: i64) -> Result<(), AppendError> {
    match app.append_ref(series, t, f64::from_bits(STALE_NAN_BITS)) {
        Err(AppendError::UnknownRef) => Ok(()),
        other => other,
    }
}

/// The stored labels of a cached series, from its series text. The text parsed when it was
/// cached, and metric relabelling kept it, so both hold again; the errors say otherwise.
fn labels_of_text(key: &[u8], rules: &IngestRules) -> Result<Labels, IngestError> {
    let mut pairs = Vec::new();
    let name = parse_series(key, &mut pairs)?;
    series_labels(&name, &pairs, rules).ok_or(IngestError::Dropped)
}

/// Appends a sample by labels, creating the series if needed. A sample not newer than an
/// existing series' newest is counted as out of order, and the series' handle kept all the same.
fn append_labels(
    app: &mut dyn Appender,
    labels: &Labels,
    sample: Sample,
    counts: &mut IngestOutcome,
) -> Result<SeriesRef, AppendError> {
    match app.append(labels, sample.t, sample.v) {
        Err(AppendError::OutOfOrder { series, .. }) => {
            counts.out_of_order += 1;
            Ok(series)
        }
        other => other,
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
    app.append_ref_or_labels(series, labels, t, f64::from_bits(STALE_NAN_BITS))
}

/// The stored labels of a scraped series, or `None` if metric relabelling drops it. The pairs
/// borrow the scraped text until the label set is built (the last pair of a name wins), and are
/// copied into a map only for metric relabelling.
fn series_labels(name: &str, labels: &[LabelPair<'_>], rules: &IngestRules) -> Option<Labels> {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(labels.len() + 4);
    pairs.extend(
        labels
            .iter()
            .map(|(n, v)| (Cow::Borrowed(&**n), Cow::Borrowed(&**v))),
    );
    pairs.push((METRIC_NAME.into(), name.into()));
    let has = |pairs: &[(Cow<'_, str>, Cow<'_, str>)], wanted: &str| {
        pairs.iter().any(|(n, _)| n == wanted)
    };
    for target in rules.target_labels.iter() {
        let scraped = pairs
            .iter()
            .rev()
            .find(|(n, _)| n == target.name)
            .map(|(_, v)| v.clone());
        match scraped {
            Some(scraped) if !scraped.is_empty() => {
                if rules.honor_labels {
                    continue;
                }
                let mut renamed = format!("exported_{}", target.name);
                while has(&pairs, &renamed) {
                    renamed = format!("exported_{renamed}");
                }
                pairs.push((renamed.into(), scraped));
                pairs.push((target.name.into(), target.value.into()));
            }
            _ => pairs.push((target.name.into(), target.value.into())),
        }
    }
    // Both keep the last pair of each name, as the map the labels were once built in did.
    if rules.metric_relabel.is_empty() {
        return Some(Labels::from_pairs(pairs));
    }
    let map: LabelMap = pairs
        .into_iter()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    relabel(&rules.metric_relabel, map).map(Labels::from_pairs)
}

#[cfg(test)]
mod tests;
