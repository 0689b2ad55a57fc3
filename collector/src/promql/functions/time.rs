//! `time()` and the calendar functions (`hour`, `day_of_week`, `days_in_month`, ...), in UTC.

use chrono::{DateTime, Datelike, Timelike};
use promql_parser::parser::Expr;

use super::map_points;
use crate::labels::Labels;
use crate::promql::error::EvalResult;
use crate::promql::eval::Evaluator;
use crate::promql::value::Value;

/// Evaluates `name` if it is a time function; `None` otherwise.
pub(crate) fn eval(ev: &Evaluator<'_>, name: &str, args: &[&Expr]) -> EvalResult<Option<Value>> {
    let (start, end) = ev.query_bounds;
    let constant = match name {
        "time" => {
            let mut times = ev.per_step(0.0)?;
            for (slot, t) in times.iter_mut().zip(ev.steps.iter()) {
                *slot = t as f64 / 1000.0;
            }
            return Ok(Some(Value::Scalar(times)));
        }
        "step" => Some(ev.query_step),
        "range" => Some(end - start),
        "start" => Some(start),
        "end" => Some(end),
        _ => None,
    };
    if let Some(ms) = constant {
        return Ok(Some(Value::Scalar(ev.per_step(ms as f64 / 1000.0)?)));
    }
    let Some(part) = calendar_part(name) else {
        return Ok(None);
    };
    let input = match args.first() {
        Some(arg) => ev.eval_vector(arg)?,
        None => ev
            .series_from_steps(Labels::default(), false, |i| {
                Some((ev.steps.start + i as i64 * ev.steps.interval) as f64 / 1000.0)
            })?
            .into_iter()
            .collect(),
    };
    Ok(Some(Value::Vector(map_points(
        input,
        |_, v| {
            if !v.is_finite() || v.abs() > 1e15 {
                return f64::NAN;
            }
            DateTime::from_timestamp(v.floor() as i64, 0).map_or(f64::NAN, |d| part(&d))
        },
        ev,
    ))))
}

type Part = fn(&DateTime<chrono::Utc>) -> f64;

fn calendar_part(name: &str) -> Option<Part> {
    Some(match name {
        "minute" => |d| f64::from(d.minute()),
        "hour" => |d| f64::from(d.hour()),
        "day_of_week" => |d| f64::from(d.weekday().num_days_from_sunday()),
        "day_of_month" => |d| f64::from(d.day()),
        "day_of_year" => |d| f64::from(d.ordinal()),
        "days_in_month" => |d| {
            let (y, m) = (d.year(), d.month());
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let first = chrono::NaiveDate::from_ymd_opt(y, m, 1);
            let next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1);
            match (first, next) {
                (Some(a), Some(b)) => (b - a).num_days() as f64,
                _ => f64::NAN,
            }
        },
        "month" => |d| f64::from(d.month()),
        "year" => |d| f64::from(d.year()),
        _ => return None,
    })
}
