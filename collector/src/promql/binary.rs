//! Binary operators: arithmetic, comparisons and set operators, with vector matching.

use std::collections::HashMap;

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::error::{EvalError, EvalResult, execution};
use super::eval::Evaluator;
use super::value::{Point, StepSeries, Value};
use crate::labels::{Labels, METRIC_NAME};

/// The operators, decoded once from the parser's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(token: &str) -> EvalResult<Op> {
        Ok(match token {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            other => return Err(EvalError::BadData(format!("unknown operator {other}"))),
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// Applies the operator; for comparisons the value is `lhs` and the flag says whether it holds.
    fn apply(self, lhs: f64, rhs: f64) -> (f64, bool) {
        match self {
            Op::Add => (lhs + rhs, true),
            Op::Sub => (lhs - rhs, true),
            Op::Mul => (lhs * rhs, true),
            Op::Div => (lhs / rhs, true),
            Op::Mod => (lhs % rhs, true),
            Op::Pow => (lhs.powf(rhs), true),
            Op::Atan2 => (lhs.atan2(rhs), true),
            Op::Eq => (lhs, lhs == rhs),
            Op::Ne => (lhs, lhs != rhs),
            Op::Gt => (lhs, lhs > rhs),
            Op::Lt => (lhs, lhs < rhs),
            Op::Ge => (lhs, lhs >= rhs),
            Op::Le => (lhs, lhs <= rhs),
            Op::And | Op::Or | Op::Unless => (lhs, true),
        }
    }
}

/// Evaluates a binary expression at every step.
pub(crate) fn eval(ev: &Evaluator<'_>, b: &BinaryExpr) -> EvalResult<Value> {
    let op = Op::parse(&b.op.to_string())?;
    let return_bool = b.return_bool();
    let lhs = ev.eval(&b.lhs)?;
    let rhs = ev.eval(&b.rhs)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => Ok(Value::Scalar(
            l.iter()
                .zip(&r)
                .map(|(&l, &r)| {
                    let (v, keep) = op.apply(l, r);
                    if op.is_comparison() {
                        f64::from(u8::from(keep))
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Value::Vector(l), Value::Scalar(r)) => Ok(Value::Vector(vector_scalar(
            ev,
            op,
            l,
            &r,
            false,
            return_bool,
        ))),
        (Value::Scalar(l), Value::Vector(r)) => Ok(Value::Vector(vector_scalar(
            ev,
            op,
            r,
            &l,
            true,
            return_bool,
        ))),
        (Value::Vector(l), Value::Vector(r)) => {
            let matching = Matching::from_expr(b);
            let out = match op {
                Op::And | Op::Or | Op::Unless => set_operation(ev, op, &matching, l, r),
                _ => vector_vector(ev, op, &matching, return_bool, l, r)?,
            };
            Ok(Value::Vector(out))
        }
        _ => Err(EvalError::BadData(format!(
            "operator {} not allowed on strings",
            b.op
        ))),
    }
}

/// Vector and scalar: the operator applied to each point; comparisons filter unless `bool`.
fn vector_scalar(
    ev: &Evaluator<'_>,
    op: Op,
    series: Vec<StepSeries>,
    scalar: &[f64],
    scalar_on_left: bool,
    return_bool: bool,
) -> Vec<StepSeries> {
    let drop_name = !op.is_comparison() || return_bool;
    series
        .into_iter()
        .filter_map(|mut s| {
            s.points.retain_mut(|p| {
                let k = scalar[ev.steps.index(p.t)];
                let (l, r) = if scalar_on_left { (k, p.v) } else { (p.v, k) };
                let (mut v, keep) = op.apply(l, r);
                if op.is_comparison() && scalar_on_left {
                    v = p.v;
                }
                if return_bool {
                    p.v = f64::from(u8::from(keep));
                    return true;
                }
                p.v = v;
                keep
            });
            s.drop_name |= drop_name;
            (!s.points.is_empty()).then_some(s)
        })
        .collect()
}

/// How two vectors' series are paired.
struct Matching<'a> {
    card: &'a VectorMatchCardinality,
    on: Option<&'a [String]>,
    ignoring: &'a [String],
}

impl<'a> Matching<'a> {
    fn from_expr(b: &'a BinaryExpr) -> Matching<'a> {
        static ONE_TO_ONE: VectorMatchCardinality = VectorMatchCardinality::OneToOne;
        let Some(modifier) = &b.modifier else {
            return Matching {
                card: &ONE_TO_ONE,
                on: None,
                ignoring: &[],
            };
        };
        let (on, ignoring): (Option<&[String]>, &[String]) = match &modifier.matching {
            Some(LabelModifier::Include(l)) => (Some(&l.labels), &[]),
            Some(LabelModifier::Exclude(l)) => (None, &l.labels),
            None => (None, &[]),
        };
        Matching {
            card: &modifier.card,
            on,
            ignoring,
        }
    }

    /// The key two series must share to be paired.
    fn signature(&self, labels: &Labels) -> Vec<u8> {
        let mut key = Vec::new();
        let mut push = |name: &str, value: &str| {
            key.extend_from_slice(name.as_bytes());
            key.push(0xfe);
            key.extend_from_slice(value.as_bytes());
            key.push(0xff);
        };
        match self.on {
            Some(on) => {
                for l in labels.iter().filter(|l| on.contains(&l.name)) {
                    push(&l.name, &l.value);
                }
            }
            None => {
                for l in labels
                    .iter()
                    .filter(|l| l.name != METRIC_NAME && !self.ignoring.contains(&l.name))
                {
                    push(&l.name, &l.value);
                }
            }
        }
        key
    }
}

/// `and`, `or`, `unless`: per step, keeps series by whether the other side has their signature.
fn set_operation(
    ev: &Evaluator<'_>,
    op: Op,
    matching: &Matching<'_>,
    lhs: Vec<StepSeries>,
    rhs: Vec<StepSeries>,
) -> Vec<StepSeries> {
    let n = ev.steps.len();
    let mut sigs: HashMap<Vec<u8>, Vec<bool>> = HashMap::new();
    let side = if op == Op::Or { &lhs } else { &rhs };
    for s in side {
        let present = sigs
            .entry(matching.signature(&s.labels))
            .or_insert_with(|| vec![false; n]);
        for p in &s.points {
            present[ev.steps.index(p.t)] = true;
        }
    }
    let filter = |series: Vec<StepSeries>, keep_present: bool| -> Vec<StepSeries> {
        series
            .into_iter()
            .filter_map(|mut s| {
                let sig = sigs.get(&matching.signature(&s.labels));
                s.points
                    .retain(|p| sig.is_some_and(|v| v[ev.steps.index(p.t)]) == keep_present);
                (!s.points.is_empty()).then_some(s)
            })
            .collect()
    };
    match op {
        Op::And => filter(lhs, true),
        Op::Unless => filter(lhs, false),
        _ => {
            let mut out = lhs.clone();
            out.extend(filter(rhs, false));
            out
        }
    }
}

/// The "one" side series index and its value at a step.
type OneSide = (usize, f64);

/// Arithmetic and comparisons between vectors with one-to-one or many-to-one matching.
fn vector_vector(
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
    let n = ev.steps.len();
    let one_sigs: Vec<Vec<u8>> = one.iter().map(|s| matching.signature(&s.labels)).collect();
    let many_sigs: Vec<Vec<u8>> = many.iter().map(|s| matching.signature(&s.labels)).collect();
    // Per signature, which "one" side series holds it at each step.
    let mut by_sig: HashMap<&[u8], Vec<Option<OneSide>>> = HashMap::new();
    for (i, s) in one.iter().enumerate() {
        let slots = by_sig.entry(&one_sigs[i]).or_insert_with(|| vec![None; n]);
        for p in &s.points {
            let slot = &mut slots[ev.steps.index(p.t)];
            if let Some((other, _)) = *slot {
                let side = if swapped { "left" } else { "right" };
                return Err(execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    describe_sig(matching, &s.labels),
                    one[other].labels,
                    s.labels
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
                let used = matched
                    .entry(many_sigs[mi].as_slice())
                    .or_insert_with(|| vec![false; n]);
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
                    let o = *by_labels.entry(labels.clone()).or_insert_with(|| {
                        outputs.push(StepSeries {
                            labels,
                            points: Vec::new(),
                            drop_name: ms.drop_name || drop_name,
                        });
                        outputs.len() - 1
                    });
                    output_of.insert((mi, oi), o);
                    o
                }
            };
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
            (None, Some(on)) => on.contains(&l.name),
            (None, None) => !matching.ignoring.contains(&l.name),
            _ => true,
        })
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    for name in include.into_iter().flatten() {
        pairs.retain(|(n, _)| n != name);
        if let Some(v) = one.get(name) {
            pairs.push((name, v));
        }
    }
    Labels::from_pairs(pairs)
}

fn describe_sig(matching: &Matching<'_>, labels: &Labels) -> String {
    let pairs = labels.iter().filter(|l| match matching.on {
        Some(on) => on.contains(&l.name),
        None => l.name != METRIC_NAME && !matching.ignoring.contains(&l.name),
    });
    Labels::from_pairs(pairs.map(|l| (l.name.clone(), l.value.clone()))).to_string()
}
