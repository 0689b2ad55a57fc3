//! `histogram_quantile` over classic (`le`-bucketed) histograms.

use std::collections::HashMap;

use crate::labels::{Labels, METRIC_NAME};
use crate::promql::error::EvalResult;
use crate::promql::eval::Evaluator;
use crate::promql::value::StepSeries;

/// `histogram_quantile(q, buckets)`: per series group (all labels but `le`) and step.
pub(crate) fn quantile(
    ev: &Evaluator<'_>,
    q: &[f64],
    input: Vec<StepSeries>,
) -> EvalResult<Vec<StepSeries>> {
    let n = ev.steps.len();
    let mut groups: HashMap<Labels, usize> = HashMap::new();
    let mut group_labels = Vec::new();
    let mut buckets: Vec<Vec<(f64, f64)>> = Vec::new();
    for s in &input {
        let Some(le) = s.labels.get("le").and_then(parse_le) else {
            continue;
        };
        let key = Labels::from_pairs(
            s.labels
                .iter()
                .filter(|l| l.name != "le" && l.name != METRIC_NAME)
                .map(|l| (l.name, l.value)),
        );
        let g = match groups.get(&key) {
            Some(&g) => g,
            None => {
                ev.budget
                    .take_bytes(n.saturating_mul(size_of::<Vec<(f64, f64)>>()))?;
                buckets.extend(std::iter::repeat_with(Vec::new).take(n));
                groups.insert(key.clone(), group_labels.len());
                group_labels.push(key);
                group_labels.len() - 1
            }
        };
        ev.budget.take(s.points.len())?;
        for p in &s.points {
            buckets[g * n + ev.steps.index(p.t)].push((le, p.v));
        }
    }
    let mut out = Vec::with_capacity(group_labels.len());
    for (g, labels) in group_labels.into_iter().enumerate() {
        out.extend(ev.series_from_steps(labels, true, |i| {
            let b = &mut buckets[g * n + i];
            (!b.is_empty()).then(|| bucket_quantile(q[i], b))
        })?);
    }
    Ok(out)
}

fn parse_le(s: &str) -> Option<f64> {
    match s.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// The quantile of one histogram given as `(upper bound, cumulative count)` buckets.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Merge buckets with equal bounds and force the counts to be monotonic.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(le, count) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == le => last.1 += count,
            _ => merged.push((le, count)),
        }
    }
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 < max {
            b.1 = max;
        } else {
            max = b.1;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let rank = q * observations;
    let b = merged.partition_point(|bucket| bucket.1 < rank);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, mut count, mut rank) = (0.0, merged[b].1, rank);
    let end = merged[b].0;
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}
