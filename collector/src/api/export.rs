//! `/api/v1/export.csv`: a range query's result as a CSV file for spreadsheets.
//!
//! One row per evaluation time, one column per series (its labels as the header), empty cells
//! where a series has no point. The first two columns are the time in RFC 3339 UTC and in Unix
//! seconds as the JSON API writes it.
//!
//! An export obeys the query API's limits (samples, series, timeout, concurrency) and the
//! answer's size limit, and is rendered in the query's slot on the blocking pool; when the
//! client goes away, evaluation stops and the body is not written further.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;
use super::prometheus::{Params, range_query, run_rendered};
use super::state::ApiState;
use crate::labels::Labels;
use crate::promql::{EvalError, Point, QueryValue, format_float};
use crate::vocab::rfc3339_millis;

/// The export route; it takes the parameters of `/api/v1/query_range`.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/export.csv", get(export).post(export))
        .with_state(state)
}

async fn export(State(state): State<ApiState>, params: Params) -> Result<Response, ApiError> {
    let query = range_query(&params)?;
    let csv = run_rendered(&state, &params, query, |value, max_bytes| match value {
        QueryValue::Matrix(series) => to_csv(series, max_bytes),
        other => Err(EvalError::Internal(format!(
            "a range query returned a {}",
            other.type_name()
        ))),
    })
    .await?;
    Ok(csv_download(
        csv,
        "attachment; filename=\"osprey-export.csv\"",
    ))
}

/// `csv` as a spreadsheet download, saved under the file name `disposition` gives.
pub(super) fn csv_download(csv: String, disposition: &'static str) -> Response {
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    response
}

/// Renders series as a wide CSV table (RFC 4180, CRLF line ends), refused once it passes
/// `max_bytes` (checked row by row, so a refused table never takes much more memory).
pub fn to_csv(series: &[(Labels, Vec<Point>)], max_bytes: usize) -> Result<String, EvalError> {
    let too_large = |out: &String| {
        if out.len() > max_bytes {
            Err(EvalError::ResponseTooLarge(max_bytes))
        } else {
            Ok(())
        }
    };
    let mut out = String::from("time,timestamp");
    for (labels, _) in series {
        out.push(',');
        push_field(&mut out, &labels.to_string());
        too_large(&out)?;
    }
    out.push_str("\r\n");
    let times: BTreeSet<i64> = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.t))
        .collect();
    let mut cursors = vec![0usize; series.len()];
    for t in times {
        write!(out, "{},{}", rfc3339_millis(t), seconds(t)).ok();
        for ((_, points), cursor) in series.iter().zip(&mut cursors) {
            out.push(',');
            if let Some(point) = points.get(*cursor).filter(|p| p.t == t) {
                out.push_str(&format_float(point.v));
                *cursor += 1;
            }
        }
        out.push_str("\r\n");
        too_large(&out)?;
    }
    too_large(&out)?;
    Ok(out)
}

/// Milliseconds as seconds with up to three decimals (`4`, `1.5`).
fn seconds(t: i64) -> String {
    let whole = t.div_euclid(1000);
    match t.rem_euclid(1000) {
        0 => whole.to_string(),
        ms => format!("{}", whole as f64 + ms as f64 / 1000.0),
    }
}

/// Quotes a field when it holds a comma, a quote or a line break, doubling inner quotes.
pub(super) fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_commas_and_quotes_are_quoted() {
        let labels = Labels::from_pairs([("__name__", "up"), ("a", "x,\"y\"")]);
        let csv = to_csv(&[(labels, vec![Point { t: 1500, v: 2.0 }])], usize::MAX).unwrap();
        assert_eq!(
            csv,
            "time,timestamp,\"up{a=\"\"x,\\\"\"y\\\"\"\"\"}\"\r\n\
             1970-01-01T00:00:01.500Z,1.5,2\r\n"
        );
    }

    #[test]
    fn a_missing_point_leaves_an_empty_cell() {
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let csv = to_csv(
            &[
                (a, vec![Point { t: 0, v: 1.0 }, Point { t: 1000, v: 2.0 }]),
                (
                    b,
                    vec![Point {
                        t: 1000,
                        v: f64::NAN,
                    }],
                ),
            ],
            usize::MAX,
        )
        .unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[1], "1970-01-01T00:00:00.000Z,0,1,");
        assert_eq!(rows[2], "1970-01-01T00:00:01.000Z,1,2,NaN");
    }

    #[test]
    fn a_table_past_the_byte_limit_is_refused() {
        let labels = Labels::from_pairs([("__name__", "up")]);
        let points: Vec<Point> = (0..100)
            .map(|t| Point {
                t: t * 1000,
                v: 1.0,
            })
            .collect();
        let series = [(labels, points)];
        let fits = to_csv(&series, usize::MAX).unwrap();
        assert_eq!(to_csv(&series, fits.len()).unwrap(), fits);
        assert!(matches!(
            to_csv(&series, fits.len() - 1),
            Err(EvalError::ResponseTooLarge(_))
        ));
    }
}
