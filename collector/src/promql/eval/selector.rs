//! Series selection: each selector reads storage once for the whole query range.

use promql_parser::label::{MatchOp as ParsedOp, Matchers};
use promql_parser::parser::{MatrixSelector, VectorSelector};

use super::{Evaluator, RangeInput, duration_ms, offset_ms};
use crate::labels::{Labels, METRIC_NAME, MatchOp, Matcher};
use crate::promql::budget::series_samples;
use crate::promql::error::{EvalError, EvalResult};
use crate::promql::value::{StepSeries, Value};
use crate::tsdb::{Sample, Series, is_stale_nan};

/// A series with the samples of every window of a range argument.
#[derive(Debug, Clone)]
pub(crate) struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Samples in ascending time order, without staleness markers.
    pub samples: Vec<Sample>,
    /// Whether the metric name is to be removed at the end (from a subquery's inner result).
    pub drop_name: bool,
}

impl Evaluator<'_> {
    /// An instant vector selector: the latest sample within the lookback window at each step,
    /// or, with `timestamps`, that sample's time in seconds (for `timestamp()`).
    pub fn instant_selector(&self, vs: &VectorSelector, timestamps: bool) -> EvalResult<Value> {
        let offset = offset_ms(&vs.offset);
        let at = self.at_time(&vs.at);
        let first = at.unwrap_or(self.steps.start) - offset;
        let last = at.unwrap_or(self.steps.end) - offset;
        let found = self.select(vs, first - self.lookback + 1, last)?;
        let mut out = Vec::with_capacity(found.len());
        for series in found {
            let read = raw_samples(&series);
            let samples = series.samples;
            let mut next = 0;
            let points = self.series_from_steps(series.labels, false, |i| {
                let ts = at.unwrap_or(self.steps.start + i as i64 * self.steps.interval) - offset;
                if at.is_some() {
                    next = samples.partition_point(|s| s.t <= ts);
                } else {
                    while next < samples.len() && samples[next].t <= ts {
                        next += 1;
                    }
                }
                let latest = samples[..next].last()?;
                if latest.t <= ts - self.lookback || is_stale_nan(latest.v) {
                    return None;
                }
                Some(if timestamps {
                    latest.t as f64 / 1000.0
                } else {
                    latest.v
                })
            })?;
            self.budget.release(read);
            out.extend(points);
        }
        Ok(Value::Vector(out))
    }

    /// A range selector: the samples of every step's window `(t - offset - range, t - offset]`.
    pub fn range_selector(&self, ms: &MatrixSelector) -> EvalResult<RangeInput> {
        let vs = &ms.vs;
        let offset = offset_ms(&vs.offset);
        let at = self.at_time(&vs.at);
        let range = duration_ms(ms.range);
        let first = at.unwrap_or(self.steps.start) - offset;
        let last = at.unwrap_or(self.steps.end) - offset;
        let found = self.select(vs, first - range + 1, last)?;
        let series = found
            .into_iter()
            .map(|mut s| {
                s.samples.retain(|s| !is_stale_nan(s.v));
                RangeSeries {
                    labels: s.labels,
                    samples: s.samples,
                    drop_name: false,
                }
            })
            .collect();
        Ok(RangeInput {
            series,
            range,
            offset,
            at,
        })
    }

    /// Reads the series a selector names in `[start, end]` (including `or`-ed matcher sets),
    /// charging what was read.
    fn select(&self, vs: &VectorSelector, start: i64, end: i64) -> EvalResult<Vec<Series>> {
        let sets = matcher_sets(vs.name.as_deref(), &vs.matchers)?;
        let mut all = Vec::new();
        for set in &sets {
            let found = self.querier.select(set, start, end)?;
            self.budget.take(found.iter().map(raw_samples).sum())?;
            all.extend(found);
        }
        if sets.len() > 1 {
            all.sort_by(|a, b| a.labels.cmp(&b.labels));
            all.dedup_by(|a, b| a.labels == b.labels);
        }
        Ok(all)
    }
}

/// What a series read from storage holds, in samples.
fn raw_samples(series: &Series) -> usize {
    series.samples.capacity() + series_samples(&series.labels)
}

/// The selector's matchers in storage terms: one set, or several joined by `or`.
pub(crate) fn matcher_sets(
    name: Option<&str>,
    matchers: &Matchers,
) -> EvalResult<Vec<Vec<Matcher>>> {
    let mut sets = Vec::new();
    if matchers.or_matchers.is_empty() {
        sets.push(convert(name, &matchers.matchers)?);
    } else {
        for group in &matchers.or_matchers {
            sets.push(convert(name, group)?);
        }
    }
    Ok(sets)
}

fn convert(
    name: Option<&str>,
    matchers: &[promql_parser::label::Matcher],
) -> EvalResult<Vec<Matcher>> {
    let mut out = Vec::with_capacity(matchers.len() + 1);
    if let Some(name) = name
        && !matchers.iter().any(|m| m.name == METRIC_NAME)
    {
        out.push(matcher(MatchOp::Equal, METRIC_NAME, name)?);
    }
    for m in matchers {
        let op = match m.op {
            ParsedOp::Equal => MatchOp::Equal,
            ParsedOp::NotEqual => MatchOp::NotEqual,
            ParsedOp::Re(_) => MatchOp::Regex,
            ParsedOp::NotRe(_) => MatchOp::NotRegex,
        };
        out.push(matcher(op, &m.name, &m.value)?);
    }
    Ok(out)
}

fn matcher(op: MatchOp, name: &str, value: &str) -> EvalResult<Matcher> {
    Matcher::new(op, name, value)
        .map_err(|e| EvalError::BadData(format!("invalid regular expression {value:?}: {e}")))
}

/// Labels `absent()` gives its result: the selector's equality matchers (each name once).
pub(crate) fn absent_labels(vs: &VectorSelector) -> Labels {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut repeated: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op != ParsedOp::Equal || pairs.iter().any(|(n, _)| *n == m.name) {
            repeated.push(&m.name);
        } else {
            pairs.push((&m.name, &m.value));
        }
    }
    pairs.retain(|(n, _)| !repeated.contains(n));
    Labels::from_pairs(pairs)
}

/// Whether a series selection is a plain selector (so `absent()` can derive labels from it).
pub(crate) fn as_selector(expr: &promql_parser::parser::Expr) -> Option<&VectorSelector> {
    match expr {
        promql_parser::parser::Expr::VectorSelector(vs) => Some(vs),
        promql_parser::parser::Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    }
}

impl From<RangeSeries> for StepSeries {
    fn from(s: RangeSeries) -> Self {
        StepSeries {
            labels: s.labels,
            points: s
                .samples
                .into_iter()
                .map(|s| crate::promql::value::Point { t: s.t, v: s.v })
                .collect(),
            drop_name: s.drop_name,
        }
    }
}
