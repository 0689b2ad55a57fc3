//! Writes API responses in Prometheus's exact JSON shapes (timestamps as seconds with
//! millisecond precision, values as strings).

use std::fmt::Write;

use crate::labels::Labels;
use crate::promql::{EvalError, Point, QueryValue, format_float};

const SUCCESS_PREFIX: &str = r#"{"status":"success","data":"#;

/// `{"status":"success","data":<data>}` with `data` already encoded.
pub fn success(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    out.push_str(SUCCESS_PREFIX);
    out.push_str(data);
    out.push('}');
    out
}

/// `{"status":"success","data":{"resultType":...,"result":...}}` for a query result, refused
/// once it passes `max_bytes` (checked as it grows, so a refused answer never takes much more
/// memory than the limit, and written in one buffer, so an accepted one is not copied).
pub fn query_success(value: &QueryValue, max_bytes: usize) -> Result<String, EvalError> {
    let too_large = |out: &String| {
        if out.len() > max_bytes {
            Err(EvalError::ResponseTooLarge(max_bytes))
        } else {
            Ok(())
        }
    };
    let mut out = String::from(SUCCESS_PREFIX);
    write!(out, r#"{{"resultType":"{}","result":"#, value.type_name()).ok();
    match value {
        QueryValue::Scalar(p) => push_point(&mut out, p),
        QueryValue::String(t, s) => {
            out.push('[');
            push_timestamp(&mut out, *t);
            out.push(',');
            push_string(&mut out, s);
            out.push(']');
        }
        QueryValue::Vector(samples) => {
            out.push('[');
            for (i, (labels, point)) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                push_labels(&mut out, labels);
                out.push_str(r#","value":"#);
                push_point(&mut out, point);
                out.push('}');
                too_large(&out)?;
            }
            out.push(']');
        }
        QueryValue::Matrix(series) => {
            out.push('[');
            for (i, (labels, points)) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                push_labels(&mut out, labels);
                out.push_str(r#","values":["#);
                for (j, p) in points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_point(&mut out, p);
                    too_large(&out)?;
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push_str("}}");
    too_large(&out)?;
    Ok(out)
}

/// A label set as a JSON object in label order.
pub fn push_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, l.name);
        out.push(':');
        push_string(out, l.value);
    }
    out.push('}');
}

/// A list of strings as a JSON array.
pub fn string_list(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, s);
    }
    out.push(']');
    out
}

/// A JSON string literal.
pub fn push_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

fn push_point(out: &mut String, p: &Point) {
    out.push('[');
    push_timestamp(out, p.t);
    out.push_str(",\"");
    out.push_str(&format_float(p.v));
    out.push_str("\"]");
}

/// Milliseconds as seconds with up to three decimals, as Prometheus writes them (`4`, `1.500`).
fn push_timestamp(out: &mut String, t: i64) {
    if t < 0 {
        out.push('-');
    }
    let t = t.unsigned_abs();
    write!(out, "{}", t / 1000).ok();
    let fraction = t % 1000;
    if fraction != 0 {
        write!(out, ".{fraction:03}").ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_and_timestamps_match_prometheus() {
        let v = QueryValue::Scalar(Point { t: 4000, v: 2.0 });
        assert_eq!(
            query_success(&v, 1 << 10).unwrap(),
            r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
        );
        let v = QueryValue::Scalar(Point {
            t: 1500,
            v: f64::INFINITY,
        });
        assert_eq!(
            query_success(&v, 1 << 10).unwrap(),
            r#"{"status":"success","data":{"resultType":"scalar","result":[1.500,"+Inf"]}}"#
        );
        let v = QueryValue::Scalar(Point {
            t: -1001,
            v: f64::NAN,
        });
        assert_eq!(
            query_success(&v, 1 << 10).unwrap(),
            r#"{"status":"success","data":{"resultType":"scalar","result":[-1.001,"NaN"]}}"#
        );
    }

    #[test]
    fn an_answer_past_the_byte_limit_is_refused() {
        let labels = Labels::from_pairs([("__name__", "up")]);
        let points: Vec<Point> = (0..100).map(|t| Point { t, v: 1.0 }).collect();
        let v = QueryValue::Matrix(vec![(labels, points)]);
        let fits = query_success(&v, usize::MAX).unwrap();
        assert!(query_success(&v, fits.len()).is_ok());
        assert!(matches!(
            query_success(&v, fits.len() - 1),
            Err(EvalError::ResponseTooLarge(_))
        ));
    }
}
