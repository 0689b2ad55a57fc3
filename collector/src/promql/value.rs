//! Values flowing through evaluation: per-step scalars, step-aligned series, strings and results.

use super::budget::{SAMPLE_BYTES, series_samples};
use crate::labels::Labels;

/// One point of an evaluated series: a timestamp in milliseconds and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// A series produced by evaluation, with at most one point per evaluation step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSeries {
    /// The series' labels (the metric name may still be present when `drop_name` is set).
    pub labels: Labels,
    /// Points in ascending time order.
    pub points: Vec<Point>,
    /// Whether the metric name is to be removed once evaluation is done (delayed name removal).
    pub drop_name: bool,
}

impl StepSeries {
    /// The memory the series holds, in samples (see [`super::budget`]).
    pub(crate) fn samples_held(&self) -> usize {
        self.points.capacity() + series_samples(&self.labels)
    }
}

/// The value of an expression over all evaluation steps.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// One number per step.
    Scalar(Vec<f64>),
    /// Series with points at some of the steps.
    Vector(Vec<StepSeries>),
    /// A string literal.
    String(String),
}

impl Value {
    /// The memory the value holds, in samples (see [`super::budget`]).
    pub(crate) fn samples_held(&self) -> usize {
        match self {
            Value::Scalar(values) => (values.capacity() * size_of::<f64>()).div_ceil(SAMPLE_BYTES),
            Value::Vector(series) => series.iter().map(StepSeries::samples_held).sum(),
            Value::String(s) => s.capacity().div_ceil(SAMPLE_BYTES),
        }
    }
}

/// The result of a query, shaped as the Prometheus HTTP API returns it.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// A scalar at a time (instant queries).
    Scalar(Point),
    /// A string at a time (instant queries).
    String(i64, String),
    /// One sample per series (instant queries).
    Vector(Vec<(Labels, Point)>),
    /// Series with their points (range queries, or a range selector in an instant query).
    Matrix(Vec<(Labels, Vec<Point>)>),
}

impl QueryValue {
    /// Prometheus's name for the result type: `scalar`, `string`, `vector` or `matrix`.
    pub fn type_name(&self) -> &'static str {
        match self {
            QueryValue::Scalar(_) => "scalar",
            QueryValue::String(..) => "string",
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
        }
    }
}

/// Formats a float as Prometheus does in JSON: shortest round-trip form, `NaN`, `+Inf`, `-Inf`.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else if v != 0.0 && (v.abs() >= 1e21 || v.abs() < 1e-6) {
        format_exponent(v)
    } else {
        format!("{v}")
    }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` exponent form, e.g. `1e+21`, `1.5e-07`.
fn format_exponent(v: f64) -> String {
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::format_float;

    #[test]
    fn floats_are_formatted_like_go() {
        assert_eq!(format_float(2.0), "2");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(1.5e-7), "1.5e-07");
        assert_eq!(format_float(0.00001), "0.00001");
        assert_eq!(format_float(123456789012.0), "123456789012");
    }
}
