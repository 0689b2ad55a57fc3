//! Aggregations (`sum`, `avg`, `topk`, `quantile`, ...) with `by` and `without` grouping.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::error::{EvalError, EvalResult};
use super::eval::Evaluator;
use super::functions::stats::{Accumulator, quantile};
use super::value::{StepSeries, Value};
use crate::labels::{Labels, METRIC_NAME};

/// Evaluates an aggregation at every step.
pub(crate) fn eval(ev: &Evaluator<'_>, a: &AggregateExpr) -> EvalResult<Value> {
    let op = a.op.to_string();
    let param = a.param.as_deref();
    if op == "count_values" {
        let label = match param {
            Some(Expr::StringLiteral(s)) => s.val.clone(),
            Some(Expr::Paren(p)) => match &*p.expr {
                Expr::StringLiteral(s) => s.val.clone(),
                _ => {
                    return Err(EvalError::BadData(
                        "count_values needs a string label name".into(),
                    ));
                }
            },
            _ => {
                return Err(EvalError::BadData(
                    "count_values needs a string label name".into(),
                ));
            }
        };
        let input = ev.eval_vector(&a.expr)?;
        return count_values(ev, &label, a.modifier.as_ref(), input);
    }
    let scalar_param = match param {
        Some(p) => Some(ev.eval_scalar(p)?),
        None => None,
    };
    if matches!(op.as_str(), "topk" | "bottomk" | "limitk")
        && scalar_param
            .as_ref()
            .is_some_and(|k| k.iter().any(|k| k.is_nan()))
    {
        return Err(EvalError::Execution("Parameter value is NaN".into()));
    }
    let input = ev.eval_vector(&a.expr)?;
    let groups = Groups::new(&input, a.modifier.as_ref());
    let out = match (op.as_str(), scalar_param) {
        ("topk" | "bottomk" | "limitk", Some(k)) => select_k(ev, &op, &k, &groups, input),
        ("limit_ratio", Some(ratios)) => limit_ratio(ev, &ratios, input)?,
        ("quantile", Some(q)) => quantile_by_group(ev, &q, &groups, &input),
        (name, None) => {
            let kind = Accumulator::for_aggregation(name)
                .ok_or_else(|| EvalError::BadData(format!("unsupported aggregation {name}")))?;
            reduce(ev, kind, &groups, &input)
        }
        (name, Some(_)) => {
            return Err(EvalError::BadData(format!(
                "unsupported aggregation {name}"
            )));
        }
    };
    Ok(Value::Vector(out))
}

/// Input series assigned to output groups, computed once per series.
struct Groups {
    labels: Vec<Labels>,
    /// Whether a group's name is to be dropped at the end (some member's name was).
    drop_name: Vec<bool>,
    of_series: Vec<usize>,
}

impl Groups {
    fn new(input: &[StepSeries], modifier: Option<&LabelModifier>) -> Groups {
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut labels = Vec::new();
        let mut drop_name = Vec::new();
        let of_series = input
            .iter()
            .map(|s| {
                let key = group_labels(&s.labels, modifier);
                let g = *index.entry(key.clone()).or_insert_with(|| {
                    labels.push(key);
                    drop_name.push(false);
                    labels.len() - 1
                });
                drop_name[g] |= s.drop_name;
                g
            })
            .collect();
        Groups {
            labels,
            drop_name,
            of_series,
        }
    }
}

/// The labels identifying a series' group.
fn group_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    let kept = labels.iter().filter(|l| match modifier {
        None => false,
        Some(LabelModifier::Include(by)) => by.labels.iter().any(|n| n == l.name),
        Some(LabelModifier::Exclude(without)) => {
            l.name != METRIC_NAME && !without.labels.iter().any(|n| n == l.name)
        }
    });
    Labels::from_pairs(kept.map(|l| (l.name, l.value)))
}

/// Folds every group's values at each step into one number.
fn reduce(
    ev: &Evaluator<'_>,
    kind: Accumulator,
    groups: &Groups,
    input: &[StepSeries],
) -> Vec<StepSeries> {
    let n = ev.steps.len();
    let mut state: Vec<Option<Accumulator>> = vec![None; groups.labels.len() * n];
    for (series, &group) in input.iter().zip(&groups.of_series) {
        for p in &series.points {
            let slot = &mut state[group * n + ev.steps.index(p.t)];
            match slot {
                Some(acc) => acc.add(p.v),
                None => *slot = Some(kind.start(p.v)),
            }
        }
    }
    groups
        .labels
        .iter()
        .enumerate()
        .filter_map(|(g, labels)| {
            ev.series_from_steps(labels.clone(), groups.drop_name[g], |i| {
                state[g * n + i].as_ref().map(Accumulator::result)
            })
        })
        .collect()
}

/// `quantile(q, v)`: the q-quantile of each group's values at each step.
fn quantile_by_group(
    ev: &Evaluator<'_>,
    q: &[f64],
    groups: &Groups,
    input: &[StepSeries],
) -> Vec<StepSeries> {
    let n = ev.steps.len();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); groups.labels.len() * n];
    for (series, &group) in input.iter().zip(&groups.of_series) {
        for p in &series.points {
            values[group * n + ev.steps.index(p.t)].push(p.v);
        }
    }
    groups
        .labels
        .iter()
        .enumerate()
        .filter_map(|(g, labels)| {
            ev.series_from_steps(labels.clone(), groups.drop_name[g], |i| {
                let v = &mut values[g * n + i];
                (!v.is_empty()).then(|| quantile(q[i], v))
            })
        })
        .collect()
}

/// `topk`, `bottomk`, `limitk`: keeps up to k series of each group at each step, labels intact.
fn select_k(
    ev: &Evaluator<'_>,
    op: &str,
    k: &[f64],
    groups: &Groups,
    input: Vec<StepSeries>,
) -> Vec<StepSeries> {
    let n = ev.steps.len();
    let mut candidates: Vec<Vec<(usize, f64)>> = vec![Vec::new(); groups.labels.len() * n];
    for (si, (series, &group)) in input.iter().zip(&groups.of_series).enumerate() {
        for p in &series.points {
            candidates[group * n + ev.steps.index(p.t)].push((si, p.v));
        }
    }
    let mut keep = vec![Vec::new(); input.len()];
    let mut order: Vec<(usize, usize)> = Vec::new();
    for (slot, list) in candidates.iter_mut().enumerate() {
        let step = slot % n;
        let limit = k[step];
        if list.is_empty() || limit.is_nan() || limit < 1.0 {
            continue;
        }
        let limit = (limit as usize).min(list.len());
        match op {
            "topk" => list.sort_by(|a, b| descending_nan_last(a.1, b.1)),
            "bottomk" => list.sort_by(|a, b| ascending_nan_last(a.1, b.1)),
            _ => {}
        }
        for &(si, _) in &list[..limit] {
            keep[si].push(step);
            order.push((si, step));
        }
    }
    if n == 1 {
        return order
            .into_iter()
            .map(|(si, _)| StepSeries {
                points: input[si].points.clone(),
                ..input[si].clone()
            })
            .collect();
    }
    input
        .into_iter()
        .zip(keep)
        .filter_map(|(mut s, steps)| {
            s.points
                .retain(|p| steps.binary_search(&ev.steps.index(p.t)).is_ok());
            (!s.points.is_empty()).then_some(s)
        })
        .collect()
}

/// `limit_ratio(r, v)`: keeps each series whose label hash falls in the sampled fraction of
/// the hash space (the first `r` for positive `r`, the last `-r` for negative), so that
/// `limit_ratio(r, v)` and `limit_ratio(-(1 - r), v)` split `v`. The hash is Osprey's own, so the
/// chosen subset differs from Prometheus's, with the same proportions and complements.
fn limit_ratio(
    ev: &Evaluator<'_>,
    ratios: &[f64],
    input: Vec<StepSeries>,
) -> EvalResult<Vec<StepSeries>> {
    if ratios.iter().any(|r| r.is_nan()) {
        return Err(EvalError::Execution("Ratio value is NaN".into()));
    }
    Ok(input
        .into_iter()
        .filter_map(|mut s| {
            let offset = hash_fraction(&s.labels);
            s.points.retain(|p| {
                let r = ratios[ev.steps.index(p.t)].clamp(-1.0, 1.0);
                (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
            });
            (!s.points.is_empty()).then_some(s)
        })
        .collect())
}

/// A label set's FNV-1a hash scaled into `[0, 1)`.
fn hash_fraction(labels: &Labels) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for l in labels.iter() {
        for byte in l
            .name
            .bytes()
            .chain([0xff])
            .chain(l.value.bytes())
            .chain([0xff])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

fn descending_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    nan_last(a, b).then(b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal))
}

fn ascending_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    nan_last(a, b).then(a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal))
}

fn nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    a.is_nan().cmp(&b.is_nan())
}

/// `count_values("label", v)`: per group, how many series hold each value.
fn count_values(
    ev: &Evaluator<'_>,
    label: &str,
    modifier: Option<&LabelModifier>,
    input: Vec<StepSeries>,
) -> EvalResult<Value> {
    if !crate::vocab::is_label_name(label) {
        return Err(EvalError::BadData(format!("invalid label name {label:?}")));
    }
    let n = ev.steps.len();
    let mut counts: HashMap<Labels, Vec<f64>> = HashMap::new();
    for series in &input {
        let base = group_labels(&series.labels, modifier);
        for p in &series.points {
            let value = super::functions::format_label_value(p.v);
            let pairs = base
                .iter()
                .map(|l| (l.name, l.value))
                .chain([(label, value.as_str())]);
            let entry = counts
                .entry(Labels::from_pairs(pairs))
                .or_insert_with(|| vec![0.0; n]);
            entry[ev.steps.index(p.t)] += 1.0;
        }
    }
    let mut out: Vec<StepSeries> = counts
        .into_iter()
        .filter_map(|(labels, counts)| {
            ev.series_from_steps(labels, false, |i| (counts[i] > 0.0).then_some(counts[i]))
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Value::Vector(out))
}
