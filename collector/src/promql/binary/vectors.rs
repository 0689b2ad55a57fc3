//! Arithmetic and comparisons between two vectors, one-to-one or with `group_left/right`.

use std::collections::HashMap;

use promql_parser::parser::VectorMatchCardinality;

use super::Op;
use super::matching::Matching;
use crate::labels::{Labels, METRIC_NAME};
use crate::promql::budget::{SAMPLE_BYTES, series_samples};
use crate::promql::error::{EvalResult, execution};
use crate::promql::eval::Evaluator;
use crate::promql::value::{Point, StepSeries};

/// The "one" side series index and its value at a step.
type OneSide = (usize, f64);

/// Arithmetic and comparisons between vectors with one-to-one or many-to-one matching.
pub(super) fn vector_vector(
    ev: &Evaluator<'_>,
    op: Op,
    matching: &Matching<'_>,
    return_bool: bool,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
) -> EvalResult<Vec<StepSeries>> {
    let (many, one, swapped, include) = match matching.card {
        VectorMatchCardinality::OneToMany(l) => (rhs, lhs, true, Some(&l.labels)),
        VectorMatchCardinality::ManyToOne(l) => (lhs, rhs, false, Some(&l.labels)),
        _ => (lhs, rhs, false, None),
    };
    let one_to_one = include.is_none();
    let one_sigs: Vec<Vec<u8>> = one.iter().map(|s| matching.signature(&s.labels)).collect();
    let many_sigs: Vec<Vec<u8>> = many.iter().map(|s| matching.signature(&s.labels)).collect();
    // Per signature, which "one" side series holds it at each step.
    let mut by_sig: HashMap<&[u8], Vec<Option<OneSide>>> = HashMap::new();
    ev.budget.take_bytes(
        (one_sigs.iter().chain(&many_sigs))
            .map(|sig| sig.capacity() + size_of::<Vec<u8>>())
            .sum(),
    )?;
    for (i, s) in one.iter().enumerate() {
        if !by_sig.contains_key(one_sigs[i].as_slice()) {
            by_sig.insert(&one_sigs[i], ev.per_step(None)?);
        }
        let slots = by_sig
            .get_mut(one_sigs[i].as_slice())
            .expect("inserted above");
        for p in &s.points {
            let slot = &mut slots[ev.steps.index(p.t)];
            if let Some((other, _)) = *slot {
                let side = if swapped { "left" } else { "right" };
                return Err(execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    describe_sig(matching, &s.labels),
                    braced(&one[other].labels),
                    braced(&s.labels)
                )));
            }
            *slot = Some((i, p.v));
        }
    }
    let drop_name = !op.is_comparison() || return_bool;
    let mut outputs: Vec<StepSeries> = Vec::new();
    let mut output_of: HashMap<(usize, usize), usize> = HashMap::new();
    let mut by_labels: HashMap<Labels, usize> = HashMap::new();
    // For one-to-one matching, which step each signature was already used at.
    let mut matched: HashMap<&[u8], Vec<bool>> = HashMap::new();
    let mut point_owner: HashMap<(usize, usize), usize> = HashMap::new();
    for (mi, ms) in many.iter().enumerate() {
        let Some(slots) = by_sig.get(many_sigs[mi].as_slice()) else {
            continue;
        };
        for p in &ms.points {
            let step = ev.steps.index(p.t);
            let Some((oi, one_value)) = slots[step] else {
                continue;
            };
            let os = &one[oi];
            if one_to_one {
                let sig = many_sigs[mi].as_slice();
                if !matched.contains_key(sig) {
                    matched.insert(sig, ev.per_step(false)?);
                }
                let used = matched.get_mut(sig).expect("inserted above");
                if used[step] {
                    return Err(execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                used[step] = true;
            }
            let (l, r) = if swapped {
                (one_value, p.v)
            } else {
                (p.v, one_value)
            };
            let (mut v, keep) = op.apply(l, r);
            if return_bool {
                v = f64::from(u8::from(keep));
            } else if !keep {
                continue;
            }
            let out = match output_of.get(&(mi, oi)) {
                Some(&o) => o,
                None => {
                    let labels = result_labels(matching, include, &ms.labels, &os.labels);
                    let o = match by_labels.get(&labels) {
                        Some(&o) => o,
                        None => {
                            // The labels are kept twice, in the index and in the output.
                            ev.budget.take(2 * series_samples(&labels))?;
                            by_labels.insert(labels.clone(), outputs.len());
                            outputs.push(StepSeries {
                                labels,
                                points: Vec::new(),
                                drop_name: ms.drop_name || drop_name,
                            });
                            outputs.len() - 1
                        }
                    };
                    output_of.insert((mi, oi), o);
                    o
                }
            };
            // The point, and its entry in `point_owner` (a key of two indexes and a value).
            ev.budget
                .take(1 + (3 * size_of::<usize>()).div_ceil(SAMPLE_BYTES))?;
            if let Some(previous) = point_owner.insert((out, step), mi)
                && previous != mi
            {
                return Err(execution(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            outputs[out].points.push(Point { t: p.t, v });
        }
    }
    for s in &mut outputs {
        s.points.sort_by_key(|p| p.t);
    }
    outputs.retain(|s| !s.points.is_empty());
    Ok(outputs)
}

/// The labels of a result: the "many" side's, reduced for one-to-one matching, plus `group_x` labels.
fn result_labels(
    matching: &Matching<'_>,
    include: Option<&Vec<String>>,
    many: &Labels,
    one: &Labels,
) -> Labels {
    let mut pairs: Vec<(&str, &str)> = many
        .iter()
        .filter(|l| match (include, matching.on) {
            (None, Some(on)) => on.iter().any(|n| n == l.name),
            (None, None) => !matching.ignoring.iter().any(|n| n == l.name),
            _ => true,
        })
        .map(|l| (l.name, l.value))
        .collect();
    for name in include.into_iter().flatten() {
        pairs.retain(|(n, _)| n != name);
        if let Some(v) = one.get(name) {
            pairs.push((name, v));
        }
    }
    Labels::from_pairs(pairs)
}

/// Labels as Prometheus prints them in errors: `{__name__="m", a="b"}`.
fn braced(labels: &Labels) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

fn describe_sig(matching: &Matching<'_>, labels: &Labels) -> String {
    let pairs = labels.iter().filter(|l| match matching.on {
        Some(on) => on.iter().any(|n| n == l.name),
        None => l.name != METRIC_NAME && !matching.ignoring.iter().any(|n| n == l.name),
    });
    braced(&Labels::from_pairs(pairs.map(|l| (l.name, l.value))))
}
