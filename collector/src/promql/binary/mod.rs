//! Binary operators: arithmetic, comparisons and set operators, with vector matching.

mod matching;
mod set;
mod vectors;

use promql_parser::parser::BinaryExpr;

use super::error::{EvalError, EvalResult};
use super::eval::Evaluator;
use super::value::{StepSeries, Value};
use matching::Matching;

/// The operators, decoded once from the parser's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
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

    pub(crate) fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    /// Applies the operator; for comparisons the value is `lhs` and the flag says whether it holds.
    pub(crate) fn apply(self, lhs: f64, rhs: f64) -> (f64, bool) {
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
                Op::And | Op::Or | Op::Unless => set::set_operation(ev, op, &matching, l, r)?,
                _ => vectors::vector_vector(ev, op, &matching, return_bool, l, r)?,
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
