//! Aggregations (`sum`, `avg`, `topk`, `quantile`, ...) with `by` and `without` grouping.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::budget::series_samples;
use super::error::{EvalError, EvalResult};
use super::eval::Evaluator;
use super::functions::stats::{Accumulator, quantile};
use super::value::{Point, StepSeries, Value};
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
    let groups = Groups::new(ev, &input, a.modifier.as_ref())?;
    let out = match (op.as_str(), scalar_param) {
        ("topk" | "bottomk" | "limitk", Some(k)) => select_k(ev, &op, &k, &groups, input)?,
        ("limit_ratio", Some(ratios)) => limit_ratio(ev, &ratios, input)?,
        ("quantile", Some(q)) => quantile_by_group(ev, &q, &groups, &input)?,
        (name, None) => {
            let kind = Accumulator::for_aggregation(name)
                .ok_or_else(|| EvalError::BadData(format!("unsupported aggregation {name}")))?;
            reduce(ev, kind, &groups, &input)?
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
    /// Groups `input`, charging each group's labels (kept twice: in the index and the list).
    fn new(
        ev: &Evaluator<'_>,
        input: &[StepSeries],
        modifier: Option<&LabelModifier>,
    ) -> EvalResult<Groups> {
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut labels = Vec::new();
        let mut drop_name = Vec::new();
        let mut of_series = Vec::with_capacity(input.len());
        ev.budget.take_bytes(input.len() * size_of::<usize>())?;
        for s in input {
            let key = group_labels(&s.labels, modifier);
            let g = match index.get(&key) {
                Some(&g) => g,
                None => {
                    ev.budget.take(2 * series_samples(&key))?;
                    index.insert(key.clone(), labels.len());
                    labels.push(key);
                    drop_name.push(false);
                    labels.len() - 1
                }
            };
            drop_name[g] |= s.drop_name;
            of_series.push(g);
        }
        Ok(Groups {
            labels,
            drop_name,
            of_series,
        })
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
) -> EvalResult<Vec<StepSeries>> {
    let n = ev.steps.len();
    let mut state: Vec<Option<Accumulator>> = ev.table(groups.labels.len(), None)?;
    for (series, &group) in input.iter().zip(&groups.of_series) {
        for p in &series.points {
            let slot = &mut state[group * n + ev.steps.index(p.t)];
            match slot {
                Some(acc) => acc.add(p.v),
                None => *slot = Some(kind.start(p.v)),
            }
        }
    }
    let mut out = Vec::with_capacity(groups.labels.len());
    for (g, labels) in groups.labels.iter().enumerate() {
        out.extend(
            ev.series_from_steps(labels.clone(), groups.drop_name[g], |i| {
                state[g * n + i].as_ref().map(Accumulator::result)
            })?,
        );
    }
    Ok(out)
}

/// `quantile(q, v)`: the q-quantile of each group's values at each step.
fn quantile_by_group(
    ev: &Evaluator<'_>,
    q: &[f64],
    groups: &Groups,
    input: &[StepSeries],
) -> EvalResult<Vec<StepSeries>> {
    let n = ev.steps.len();
    let mut values: Vec<Vec<f64>> = ev.table(groups.labels.len(), Vec::new())?;
    for (series, &group) in input.iter().zip(&groups.of_series) {
        ev.budget.take(series.points.len())?;
        for p in &series.points {
            values[group * n + ev.steps.index(p.t)].push(p.v);
        }
    }
    let mut out = Vec::with_capacity(groups.labels.len());
    for (g, labels) in groups.labels.iter().enumerate() {
        out.extend(
            ev.series_from_steps(labels.clone(), groups.drop_name[g], |i| {
                let v = &mut values[g * n + i];
                (!v.is_empty()).then(|| quantile(q[i], v))
            })?,
        );
    }
    Ok(out)
}

/// `topk`, `bottomk`, `limitk`: keeps up to k series of each group at each step, labels intact.
fn select_k(
    ev: &Evaluator<'_>,
    op: &str,
    k: &[f64],
    groups: &Groups,
    input: Vec<StepSeries>,
) -> EvalResult<Vec<StepSeries>> {
    let n = ev.steps.len();
    let mut candidates: Vec<Vec<(usize, f64)>> = ev.table(groups.labels.len(), Vec::new())?;
    ev.budget
        .take_bytes(input.len() * size_of::<Vec<usize>>())?;
    for (si, (series, &group)) in input.iter().zip(&groups.of_series).enumerate() {
        // A candidate entry, and at most one entry in `keep` and in `order`, per point.
        ev.budget.take(3 * series.points.len())?;
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
        let mut out = Vec::with_capacity(order.len());
        for (si, _) in order {
            ev.budget.take(input[si].samples_held())?;
            out.push(input[si].clone());
        }
        return Ok(out);
    }
    Ok(input
        .into_iter()
        .zip(keep)
        .filter_map(|(mut s, steps)| {
            s.points
                .retain(|p| steps.binary_search(&ev.steps.index(p.t)).is_ok());
            (!s.points.is_empty()).then_some(s)
        })
        .collect())
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
///
/// The counts are kept sparse, one entry per input point, so that a value seen at one step
/// costs one entry instead of a row of every step.
fn count_values(
    ev: &Evaluator<'_>,
    label: &str,
    modifier: Option<&LabelModifier>,
    input: Vec<StepSeries>,
) -> EvalResult<Value> {
    if !crate::vocab::is_label_name(label) {
        return Err(EvalError::Execution(format!(
            "invalid label name {label:?}"
        )));
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut steps_of: Vec<(Labels, Vec<usize>)> = Vec::new();
    for series in &input {
        let base = group_labels(&series.labels, modifier);
        for p in &series.points {
            let value = super::functions::format_label_value(p.v);
            let pairs = base
                .iter()
                .map(|l| (l.name, l.value))
                .chain([(label, value.as_str())]);
            let labels = Labels::from_pairs(pairs);
            let slot = match index.get(&labels) {
                Some(&slot) => slot,
                None => {
                    // The labels are kept twice, in the index and in the list.
                    ev.budget.take(2 * series_samples(&labels))?;
                    index.insert(labels.clone(), steps_of.len());
                    steps_of.push((labels, Vec::new()));
                    steps_of.len() - 1
                }
            };
            ev.budget.take_bytes(size_of::<usize>())?;
            steps_of[slot].1.push(ev.steps.index(p.t));
        }
    }
    drop(index);
    let mut out: Vec<StepSeries> = Vec::with_capacity(steps_of.len());
    for (labels, mut steps) in steps_of {
        steps.sort_unstable();
        let mut points: Vec<Point> = Vec::new();
        for step in steps {
            match points.last_mut() {
                Some(last) if last.t == ev.steps.at(step) => last.v += 1.0,
                _ => points.push(Point {
                    t: ev.steps.at(step),
                    v: 1.0,
                }),
            }
        }
        points.shrink_to_fit();
        ev.budget.take(points.len() + series_samples(&labels))?;
        out.push(StepSeries {
            labels,
            points,
            drop_name: false,
        });
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Value::Vector(out))
}
