//! Compares two Prometheus API answers: same status, same series, values within 1e-6 relative.

use std::collections::BTreeMap;

use serde_json::Value;

/// Relative tolerance between the two servers' values.
const TOLERANCE: f64 = 1e-6;

/// `Ok` when both answers agree; otherwise what differs.
pub fn same_answer(ours: &Value, theirs: &Value) -> Result<(), String> {
    if ours["status"] != theirs["status"] {
        return Err(format!("status: ours {ours}, theirs {theirs}"));
    }
    if theirs["status"] != "success" {
        return Ok(());
    }
    let (ours, theirs) = (&ours["data"], &theirs["data"]);
    if ours["resultType"] != theirs["resultType"] {
        return Err(format!(
            "result type: ours {}, theirs {}",
            ours["resultType"], theirs["resultType"]
        ));
    }
    match theirs["resultType"].as_str() {
        Some("scalar") | Some("string") => same_point(&ours["result"], &theirs["result"]),
        _ => {
            let (a, b) = (by_metric(&ours["result"]), by_metric(&theirs["result"]));
            if a.keys().ne(b.keys()) {
                return Err(format!(
                    "series: ours {:?}, theirs {:?}",
                    a.keys().collect::<Vec<_>>(),
                    b.keys().collect::<Vec<_>>()
                ));
            }
            for (metric, points) in &a {
                let other = &b[metric];
                if points.len() != other.len() {
                    return Err(format!(
                        "{metric}: ours {} points, theirs {}",
                        points.len(),
                        other.len()
                    ));
                }
                for (p, q) in points.iter().zip(other) {
                    same_point(p, q).map_err(|e| format!("{metric}: {e}"))?;
                }
            }
            Ok(())
        }
    }
}

/// Points of each series, keyed by the series' labels.
fn by_metric(result: &Value) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    for series in result.as_array().into_iter().flatten() {
        let points = match (series.get("value"), series.get("values")) {
            (Some(v), _) => vec![v.clone()],
            (_, Some(Value::Array(vs))) => vs.clone(),
            _ => Vec::new(),
        };
        out.insert(series["metric"].to_string(), points);
    }
    out
}

fn same_point(a: &Value, b: &Value) -> Result<(), String> {
    let (ta, tb) = (a[0].as_f64(), b[0].as_f64());
    if ta != tb {
        return Err(format!("time: ours {a}, theirs {b}"));
    }
    let (va, vb) = (a[1].as_str().unwrap_or(""), b[1].as_str().unwrap_or(""));
    if va == vb {
        return Ok(());
    }
    match (va.parse::<f64>(), vb.parse::<f64>()) {
        (Ok(x), Ok(y)) if (x.is_nan() && y.is_nan()) || close(x, y) => Ok(()),
        _ => Err(format!("value: ours {a}, theirs {b}")),
    }
}

fn close(x: f64, y: f64) -> bool {
    x == y || (x - y).abs() <= TOLERANCE * x.abs().max(y.abs())
}
