//! `GET /federate?match[]=...`: the latest sample of every matching series in the text format,
//! as Prometheus's federation endpoint serves it. Series whose latest sample is a staleness
//! marker, or older than the lookback, are left out.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::labels::{MatchOp, Matcher};
use crate::tsdb::{Querier, is_stale_nan};

/// How far back a sample still counts as current (Prometheus's default lookback).
const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The routes of this module, over the store's read side.
pub fn router(querier: Arc<dyn Querier>) -> Router {
    Router::new()
        .route("/federate", get(federate))
        .with_state(querier)
}

async fn federate(State(querier): State<Arc<dyn Querier>>, RawQuery(query): RawQuery) -> Response {
    let selectors: Vec<String> = form_values(query.as_deref().unwrap_or(""), "match[]");
    let mut sets = Vec::new();
    for selector in &selectors {
        match parse_selector(selector) {
            Ok(matchers) => sets.push(matchers),
            Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
        }
    }
    let now = crate::vocab::now_ms();
    let mut out = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for matchers in &sets {
        let series = match querier.select(matchers, now - LOOKBACK_MS, now) {
            Ok(series) => series,
            Err(error) => {
                tracing::error!(%error, "federate query failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "query failed\n").into_response();
            }
        };
        for s in series {
            let Some(last) = s.samples.last() else {
                continue;
            };
            if is_stale_nan(last.v) || !seen.insert(s.labels.clone()) {
                continue;
            }
            let _ = writeln!(
                out,
                "{} {} {}",
                exposition_series(&s.labels),
                render(last.v),
                last.t
            );
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn exposition_series(labels: &crate::labels::Labels) -> String {
    let mut out = labels.metric_name().unwrap_or_default().to_owned();
    out.push('{');
    let mut first = true;
    for label in labels
        .iter()
        .filter(|l| l.name != crate::labels::METRIC_NAME)
    {
        if !first {
            out.push(',');
        }
        first = false;
        let value = label
            .value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{}=\"{value}\"", label.name);
    }
    out.push('}');
    out
}

fn render(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// The values of `key` in an `application/x-www-form-urlencoded` string.
fn form_values(query: &str, key: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| percent_decode(k) == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A PromQL series selector (`up{job="node"}`) as label matchers.
fn parse_selector(text: &str) -> Result<Vec<Matcher>, String> {
    use promql_parser::label::MatchOp as Op;
    use promql_parser::parser::Expr;
    let expr =
        promql_parser::parser::parse(text).map_err(|e| format!("bad match[] {text:?}: {e}"))?;
    let Expr::VectorSelector(selector) = expr else {
        return Err(format!("match[] {text:?} is not a series selector"));
    };
    let mut matchers = Vec::new();
    if let Some(name) = &selector.name {
        matchers.push(Matcher::new(
            MatchOp::Equal,
            crate::labels::METRIC_NAME,
            name.as_str(),
        ));
    }
    for m in &selector.matchers.matchers {
        let op = match m.op {
            Op::Equal => MatchOp::Equal,
            Op::NotEqual => MatchOp::NotEqual,
            Op::Re(_) => MatchOp::Regex,
            Op::NotRe(_) => MatchOp::NotRegex,
        };
        matchers.push(Matcher::new(op, m.name.as_str(), m.value.as_str()));
    }
    matchers
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad regex in match[] {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_decode_percent_and_plus() {
        let q = "match%5B%5D=up%7Bjob%3D%22a+b%22%7D&x=1&match[]=%ZZ%e9";
        assert_eq!(
            form_values(q, "match[]"),
            ["up{job=\"a b\"}", "%ZZ\u{fffd}"]
        );
    }

    #[test]
    fn selectors_become_matchers() {
        let m = parse_selector("up{job=~\"n.*\"}").unwrap();
        assert_eq!(m.len(), 2);
        assert!(parse_selector("rate(up[5m])").is_err());
    }
}
