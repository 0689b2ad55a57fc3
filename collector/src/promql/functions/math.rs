//! Per-point math (`abs`, `round`, `clamp`, trigonometry) and scalar/vector conversions.

use promql_parser::parser::Expr;

use super::map_points;
use crate::labels::Labels;
use crate::promql::error::EvalResult;
use crate::promql::eval::{Evaluator, absent_labels, as_selector};
use crate::promql::value::{StepSeries, Value};

/// Evaluates `name` if it is a math or conversion function; `None` otherwise.
pub(crate) fn eval(ev: &Evaluator<'_>, name: &str, args: &[&Expr]) -> EvalResult<Option<Value>> {
    if let Some(f) = unary(name) {
        let input = ev.eval_vector(args[0])?;
        return Ok(Some(Value::Vector(map_points(input, |_, v| f(v), ev))));
    }
    let value = match name {
        "round" => {
            let to_nearest = match args.get(1) {
                Some(a) => ev.eval_scalar(a)?,
                None => ev.per_step(1.0)?,
            };
            let input = ev.eval_vector(args[0])?;
            Value::Vector(map_points(
                input,
                |i, v| {
                    let inverse = 1.0 / to_nearest[i];
                    (v * inverse + 0.5).floor() / inverse
                },
                ev,
            ))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let (low, high) = match name {
                "clamp" => (
                    Some(ev.eval_scalar(args[1])?),
                    Some(ev.eval_scalar(args[2])?),
                ),
                "clamp_min" => (Some(ev.eval_scalar(args[1])?), None),
                _ => (None, Some(ev.eval_scalar(args[1])?)),
            };
            let input = ev.eval_vector(args[0])?;
            let mut out = map_points(
                input,
                |i, v| {
                    let v = low.as_ref().map_or(v, |l| v.max(l[i]));
                    high.as_ref().map_or(v, |h| v.min(h[i]))
                },
                ev,
            );
            if let (Some(low), Some(high)) = (&low, &high) {
                for s in &mut out {
                    s.points.retain(|p| {
                        let i = ev.steps.index(p.t);
                        low[i] <= high[i]
                    });
                }
                out.retain(|s| !s.points.is_empty());
            }
            Value::Vector(out)
        }
        "scalar" => {
            let input = ev.eval_vector(args[0])?;
            let mut values = ev.per_step(f64::NAN)?;
            let mut counts = ev.per_step(0usize)?;
            for s in &input {
                for p in &s.points {
                    let i = ev.steps.index(p.t);
                    counts[i] += 1;
                    values[i] = p.v;
                }
            }
            for (v, c) in values.iter_mut().zip(counts) {
                if c != 1 {
                    *v = f64::NAN;
                }
            }
            Value::Scalar(values)
        }
        "vector" => {
            let values = ev.eval_scalar(args[0])?;
            Value::Vector(
                ev.series_from_steps(Labels::default(), false, |i| Some(values[i]))?
                    .into_iter()
                    .collect(),
            )
        }
        "min_of" | "max_of" => {
            let (a, b) = (ev.eval_scalar(args[0])?, ev.eval_scalar(args[1])?);
            let pick = |x: f64, y: f64| {
                if x.is_nan() || y.is_nan() {
                    f64::NAN
                } else if name == "min_of" {
                    x.min(y)
                } else {
                    x.max(y)
                }
            };
            Value::Scalar(a.iter().zip(&b).map(|(&x, &y)| pick(x, y)).collect())
        }
        "pi" => Value::Scalar(ev.per_step(std::f64::consts::PI)?),
        "timestamp" => timestamp(ev, args[0])?,
        "absent" => {
            let input = ev.eval_vector(args[0])?;
            let mut present = ev.per_step(false)?;
            for s in &input {
                for p in &s.points {
                    present[ev.steps.index(p.t)] = true;
                }
            }
            let labels = as_selector(args[0]).map(absent_labels).unwrap_or_default();
            Value::Vector(
                ev.series_from_steps(labels, false, |i| (!present[i]).then_some(1.0))?
                    .into_iter()
                    .collect(),
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// The per-value function `name` names, if it is one.
fn unary(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        _ => return None,
    })
}

/// `timestamp(v)`: the time of each sample; of the raw sample when `v` is a plain selector.
fn timestamp(ev: &Evaluator<'_>, arg: &Expr) -> EvalResult<Value> {
    let mut inner = arg;
    while let Expr::Paren(p) = inner {
        inner = &p.expr;
    }
    let series: Vec<StepSeries> = match inner {
        Expr::VectorSelector(vs) => match ev.instant_selector(vs, true)? {
            Value::Vector(v) => v,
            _ => Vec::new(),
        },
        _ => map_points(ev.eval_vector(arg)?, |_, v| v, ev)
            .into_iter()
            .map(|mut s| {
                s.points.iter_mut().for_each(|p| p.v = p.t as f64 / 1000.0);
                s
            })
            .collect(),
    };
    Ok(Value::Vector(
        series
            .into_iter()
            .map(|mut s| {
                s.drop_name = true;
                s
            })
            .collect(),
    ))
}
