//! Compares query results with a script's expectations, as promqltest does.

use osprey_collector::labels::Labels;
use osprey_collector::promql::{Point, QueryValue};

use super::Expectation;

/// promqltest's float comparison: equal NaNs, exact equality, or a relative error below 1e-6.
pub fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

/// Checks a result against expectations; `Err` describes the first difference.
pub fn check(result: &QueryValue, expect: &Expectation, steps: &[i64]) -> Result<(), String> {
    if let Some(s) = &expect.string {
        return match result {
            QueryValue::String(_, got) if got == s => Ok(()),
            other => Err(format!("expected string {s:?}, got {other:?}")),
        };
    }
    if let Some(v) = expect.scalar {
        return match result {
            QueryValue::Scalar(p) if almost_equal(p.v, v) => Ok(()),
            QueryValue::Matrix(m) if m.len() == 1 && m[0].0.is_empty() => {
                compare_points(&m[0].1, &vec![Some(v); steps.len()], steps)
            }
            other => Err(format!("expected scalar {v}, got {other:?}")),
        };
    }
    let expected: Vec<(Labels, &Vec<Option<f64>>)> = expect
        .series
        .iter()
        .map(|(l, v)| (Labels::from_pairs(l.iter().cloned()), v))
        .collect();
    match result {
        QueryValue::Vector(got) => {
            if got.len() != expected.len() {
                return Err(format!(
                    "expected {} series, got {}: {}",
                    expected.len(),
                    got.len(),
                    describe(got)
                ));
            }
            for (i, (labels, point)) in got.iter().enumerate() {
                let position = expected.iter().position(|(l, _)| l == labels);
                let Some(j) = position else {
                    return Err(format!("unexpected series {labels} {}", point.v));
                };
                if expect.ordered && i != j {
                    return Err(format!("series {labels} at position {i}, expected {j}"));
                }
                let want = expected[j].1.first().copied().flatten();
                if !want.is_some_and(|w| almost_equal(w, point.v)) {
                    return Err(format!("{labels}: expected {want:?}, got {}", point.v));
                }
            }
            Ok(())
        }
        QueryValue::Matrix(got) => {
            let steps: Vec<i64> = match expect.range_vector {
                Some((start, end, step)) if step > 0 => (0..=(end - start) / step)
                    .map(|i| start + i * step)
                    .collect(),
                _ => steps.to_vec(),
            };
            let got: Vec<_> = got.iter().filter(|(_, p)| !p.is_empty()).collect();
            if got.len() != expected.len() {
                return Err(format!(
                    "expected {} series, got {}: {:?}",
                    expected.len(),
                    got.len(),
                    got.iter().map(|(l, _)| l.to_string()).collect::<Vec<_>>()
                ));
            }
            for (labels, points) in got {
                let Some((_, want)) = expected.iter().find(|(l, _)| l == labels) else {
                    return Err(format!("unexpected series {labels}"));
                };
                compare_points(points, want, &steps).map_err(|e| format!("{labels}: {e}"))?;
            }
            Ok(())
        }
        QueryValue::Scalar(p) => Err(format!("expected series, got scalar {}", p.v)),
        QueryValue::String(_, s) => Err(format!("expected series, got string {s:?}")),
    }
}

fn compare_points(got: &[Point], want: &[Option<f64>], steps: &[i64]) -> Result<(), String> {
    let expected: Vec<(i64, f64)> = steps
        .iter()
        .zip(want)
        .filter_map(|(&t, v)| v.map(|v| (t, v)))
        .collect();
    if got.len() != expected.len() {
        return Err(format!("expected points {expected:?}, got {got:?}"));
    }
    for (p, (t, v)) in got.iter().zip(&expected) {
        if p.t != *t || !almost_equal(p.v, *v) {
            return Err(format!("expected points {expected:?}, got {got:?}"));
        }
    }
    Ok(())
}

fn describe(got: &[(Labels, Point)]) -> String {
    got.iter()
        .map(|(l, p)| format!("{l} {}", p.v))
        .collect::<Vec<_>>()
        .join(", ")
}
