//! Functions over range vectors: rates, deltas, regressions and every `*_over_time`.

use promql_parser::parser::Expr;

use super::stats::{Accumulator, kahan_add, quantile};
use crate::promql::error::{EvalError, EvalResult};
use crate::promql::eval::{Evaluator, RangeInput};
use crate::promql::eval::{absent_labels, as_selector};
use crate::promql::value::{StepSeries, Value};
use crate::tsdb::Sample;

/// What a range function computes from one window.
type WindowFn<'a> = Box<dyn Fn(&Window<'_>) -> Option<f64> + 'a>;

/// One step's window of one series.
pub(crate) struct Window<'a> {
    /// Samples in the window.
    pub samples: &'a [Sample],
    /// Window start (exclusive), milliseconds.
    pub start: i64,
    /// Window end (inclusive), milliseconds.
    pub end: i64,
    /// The evaluation time of the step, milliseconds.
    pub step_time: i64,
    /// The step's index.
    pub step: usize,
}

/// Evaluates `name` if it is a range function; `None` otherwise.
pub(crate) fn eval(ev: &Evaluator<'_>, name: &str, args: &[&Expr]) -> EvalResult<Option<Value>> {
    if name == "absent_over_time" {
        return absent_over_time(ev, args[0]).map(Some);
    }
    let scalar = |i: usize| -> EvalResult<Vec<f64>> { ev.eval_scalar(args[i]) };
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let f: WindowFn<'_> = match name {
        "rate" => Box::new(|w| extrapolated_rate(w, true, true)),
        "increase" => Box::new(|w| extrapolated_rate(w, true, false)),
        "delta" => Box::new(|w| extrapolated_rate(w, false, false)),
        "irate" => Box::new(|w| instant_value(w.samples, true)),
        "idelta" => Box::new(|w| instant_value(w.samples, false)),
        "deriv" => Box::new(|w| {
            (w.samples.len() >= 2).then(|| linear_regression(w.samples, w.samples[0].t).0)
        }),
        "predict_linear" => {
            let seconds = scalar(1)?;
            Box::new(move |w| {
                (w.samples.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(w.samples, w.step_time);
                    slope * seconds[w.step] + intercept
                })
            })
        }
        "resets" => Box::new(|w| {
            nonempty(w).map(|s| s.windows(2).filter(|p| p[1].v < p[0].v).count() as f64)
        }),
        "changes" => Box::new(|w| {
            nonempty(w).map(|s| {
                s.windows(2)
                    .filter(|p| !(p[1].v == p[0].v || (p[1].v.is_nan() && p[0].v.is_nan())))
                    .count() as f64
            })
        }),
        "sum_over_time" | "avg_over_time" | "count_over_time" | "min_over_time"
        | "max_over_time" | "stddev_over_time" | "stdvar_over_time" => {
            let kind = Accumulator::for_aggregation(name.trim_end_matches("_over_time"))
                .expect("every listed name has a fold");
            Box::new(move |w| {
                let (first, rest) = nonempty(w)?.split_first()?;
                let mut acc = kind.start(first.v);
                rest.iter().for_each(|s| acc.add(s.v));
                Some(acc.result())
            })
        }
        "last_over_time" => Box::new(|w| w.samples.last().map(|s| s.v)),
        "first_over_time" => Box::new(|w| w.samples.first().map(|s| s.v)),
        "present_over_time" => Box::new(|w| nonempty(w).map(|_| 1.0)),
        "ts_of_last_over_time" => Box::new(|w| w.samples.last().map(|s| s.t as f64 / 1000.0)),
        "ts_of_first_over_time" => Box::new(|w| w.samples.first().map(|s| s.t as f64 / 1000.0)),
        "ts_of_max_over_time" => Box::new(|w| extreme_time(w.samples, |a, b| a >= b)),
        "ts_of_min_over_time" => Box::new(|w| extreme_time(w.samples, |a, b| a <= b)),
        "quantile_over_time" => {
            let q = scalar(0)?;
            Box::new(move |w| {
                let mut values: Vec<f64> = nonempty(w)?.iter().map(|s| s.v).collect();
                Some(quantile(q[w.step], &mut values))
            })
        }
        "mad_over_time" => Box::new(|w| {
            let mut values: Vec<f64> = nonempty(w)?.iter().map(|s| s.v).collect();
            if values.iter().any(|v| v.is_nan()) {
                return Some(f64::NAN);
            }
            let median = quantile(0.5, &mut values);
            let mut deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
            Some(quantile(0.5, &mut deviations))
        }),
        "double_exponential_smoothing" | "holt_winters" => {
            let (sf, tf) = (scalar(1)?, scalar(2)?);
            Box::new(move |w| double_exponential_smoothing(w.samples, sf[w.step], tf[w.step]))
        }
        _ => return Ok(None),
    };
    let range_arg = if matches!(name, "quantile_over_time") {
        args[1]
    } else {
        args[0]
    };
    let input = ev.range_input(range_arg)?;
    if matches!(name, "double_exponential_smoothing" | "holt_winters") {
        validate_smoothing(ev, args)?;
    }
    Ok(Some(Value::Vector(apply(ev, &input, !keep_name, &f)?)))
}

/// Runs `f` over every window of every series.
fn apply(
    ev: &Evaluator<'_>,
    input: &RangeInput,
    drop_name: bool,
    f: &WindowFn<'_>,
) -> EvalResult<Vec<StepSeries>> {
    let mut out = Vec::with_capacity(input.series.len());
    let mut values: Vec<Option<f64>> = ev.per_step(None)?;
    for series in &input.series {
        values.iter_mut().for_each(|v| *v = None);
        input.for_each_window(&series.samples, &ev.steps, |step, t, samples| {
            let end = input.window_end(t);
            values[step] = f(&Window {
                samples,
                start: end - input.range,
                end,
                step_time: t,
                step,
            });
        });
        if let Some(s) =
            ev.series_from_steps(series.labels.clone(), drop_name || series.drop_name, |i| {
                values[i]
            })?
        {
            out.push(s);
        }
    }
    Ok(out)
}

fn nonempty<'a>(w: &Window<'a>) -> Option<&'a [Sample]> {
    (!w.samples.is_empty()).then_some(w.samples)
}

/// `rate`, `increase` and `delta`: the change over the window, extrapolated to its edges.
fn extrapolated_rate(w: &Window<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    let samples = w.samples;
    if samples.len() < 2 {
        return None;
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let mut result = last.v - first.v;
    if is_counter {
        let mut previous = first.v;
        for s in &samples[1..] {
            if s.v < previous {
                result += previous;
            }
            previous = s.v;
        }
    }
    let mut to_start = (first.t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let average_gap = sampled / (samples.len() - 1) as f64;
    let threshold = average_gap * 1.1;
    if to_start >= threshold {
        to_start = average_gap / 2.0;
    }
    if is_counter {
        let mut to_zero = to_start;
        if result > 0.0 && first.v >= 0.0 {
            to_zero = sampled * (first.v / result);
        }
        to_start = to_start.min(to_zero);
    }
    if to_end >= threshold {
        to_end = average_gap / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= (w.end - w.start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` and `idelta`: from the last two samples of the window.
fn instant_value(samples: &[Sample], is_rate: bool) -> Option<f64> {
    let [.., previous, last] = samples else {
        return None;
    };
    let mut value = if is_rate && last.v < previous.v {
        last.v
    } else {
        last.v - previous.v
    };
    let interval = last.t - previous.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        value /= interval as f64 / 1000.0;
    }
    Some(value)
}

/// Least-squares slope (per second) and intercept at `intercept_time`.
pub(crate) fn linear_regression(samples: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = samples[0].v;
    let mut const_y = true;
    for (i, s) in samples.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_add(x, sum_x, c_x);
        (sum_y, c_y) = kahan_add(s.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_add(x * s.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_add(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sum_x, sum_y, sum_xy, sum_x2) = (sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2);
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// The time (seconds) of the last sample that is extreme by `better(candidate, best)`.
fn extreme_time(samples: &[Sample], better: impl Fn(f64, f64) -> bool) -> Option<f64> {
    let mut best = *samples.first()?;
    for s in &samples[1..] {
        if better(s.v, best.v) || best.v.is_nan() {
            best = *s;
        }
    }
    Some(best.t as f64 / 1000.0)
}

/// Holt's linear smoothing of the window's values (`double_exponential_smoothing`).
fn double_exponential_smoothing(samples: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, samples[0].v);
    let mut trend = samples[1].v - samples[0].v;
    for (i, s) in samples.iter().enumerate().skip(1) {
        if i > 1 {
            trend = tf * (s1 - s0) + (1.0 - tf) * trend;
        }
        (s0, s1) = (s1, sf * s.v + (1.0 - sf) * (s1 + trend));
    }
    Some(s1)
}

fn validate_smoothing(ev: &Evaluator<'_>, args: &[&Expr]) -> EvalResult<()> {
    for (i, what) in [(1, "smoothing factor"), (2, "trend factor")] {
        for v in ev.eval_scalar(args[i])? {
            if v <= 0.0 || v >= 1.0 {
                return Err(EvalError::Execution(format!(
                    "invalid {what}. Expected: 0 < sf < 1, got: {v}"
                )));
            }
        }
    }
    Ok(())
}

/// `absent_over_time(v[r])`: 1 at steps where no series has a sample in its window.
fn absent_over_time(ev: &Evaluator<'_>, arg: &Expr) -> EvalResult<Value> {
    let input = ev.range_input(arg)?;
    let mut present = ev.per_step(false)?;
    for series in &input.series {
        input.for_each_window(&series.samples, &ev.steps, |step, _, samples| {
            present[step] |= !samples.is_empty();
        });
    }
    let labels = as_selector(arg).map(absent_labels).unwrap_or_default();
    Ok(Value::Vector(
        ev.series_from_steps(labels, false, |i| (!present[i]).then_some(1.0))?
            .into_iter()
            .collect(),
    ))
}
