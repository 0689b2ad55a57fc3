//! Function calls: dispatch by name to the families in the submodules.

mod histogram;
mod labels;
mod math;
mod range;
pub(crate) mod stats;
mod time;

use promql_parser::parser::{Call, Expr};

use super::error::{EvalError, EvalResult};
use super::eval::Evaluator;
use super::value::{StepSeries, Value};

/// Evaluates a function call at every step.
pub(crate) fn eval(ev: &Evaluator<'_>, call: &Call) -> EvalResult<Value> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    if let Some(value) = range::eval(ev, name, &args)? {
        return Ok(value);
    }
    if let Some(value) = math::eval(ev, name, &args)? {
        return Ok(value);
    }
    if let Some(value) = time::eval(ev, name, &args)? {
        return Ok(value);
    }
    if let Some(value) = labels::eval(ev, name, &args)? {
        return Ok(value);
    }
    if name == "histogram_quantile" {
        let q = ev.eval_scalar(args[0])?;
        let input = ev.eval_vector(args[1])?;
        return Ok(Value::Vector(histogram::quantile(ev, &q, input)?));
    }
    Err(EvalError::BadData(format!(
        "function {name} is not supported"
    )))
}

/// Applies `f` to every point of a vector argument, dropping the metric name.
pub(crate) fn map_points(
    series: Vec<StepSeries>,
    mut f: impl FnMut(usize, f64) -> f64,
    ev: &Evaluator<'_>,
) -> Vec<StepSeries> {
    series
        .into_iter()
        .map(|mut s| {
            for p in &mut s.points {
                p.v = f(ev.steps.index(p.t), p.v);
            }
            s.drop_name = true;
            s
        })
        .collect()
}

/// A float as a label value, as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it.
pub(crate) fn format_label_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}
