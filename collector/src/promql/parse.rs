//! Parsing queries and series selectors, and checking range query parameters.

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr};

use super::error::{EvalError, EvalResult};

/// Prometheus's cap on points per series in a range query.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Parses a query, mapping parser errors to `bad_data`; a query too long or too deeply nested
/// to parse safely is refused first (see [`super::nesting`]).
pub fn parse(query: &str) -> EvalResult<Expr> {
    super::nesting::check(query).map_err(|e| EvalError::BadData(e.to_string()))?;
    parser::parse(query).map_err(EvalError::BadData)
}

/// Checks a range query's step, bounds, resolution and expression type.
pub(crate) fn check_range(expr: &Expr, start: i64, end: i64, step: i64) -> EvalResult<()> {
    if step <= 0 {
        return Err(EvalError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    if end < start {
        return Err(EvalError::BadData(
            "end timestamp must not be before start time".into(),
        ));
    }
    // In i128: a range across most of i64's milliseconds overflows i64 and would pass.
    if (i128::from(end) - i128::from(start)) / i128::from(step) > i128::from(MAX_POINTS_PER_SERIES)
    {
        return Err(EvalError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    match expr.value_type() {
        ValueType::Scalar | ValueType::Vector => Ok(()),
        other => Err(EvalError::BadData(format!(
            "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
            match other {
                ValueType::Matrix => "range vector",
                _ => "string",
            }
        ))),
    }
}

/// Parses a series selector (`match[]`) into its matcher sets (several when joined by `or`);
/// anything but a plain selector is `bad_data`.
pub fn parse_selector(selector: &str) -> EvalResult<Vec<Vec<crate::labels::Matcher>>> {
    match parse(selector)? {
        Expr::VectorSelector(vs) => super::eval::matcher_sets(vs.name.as_deref(), &vs.matchers),
        other => Err(EvalError::BadData(format!(
            "1:1: parse error: expected a vector selector, got {}",
            match other.value_type() {
                ValueType::Matrix => "range vector",
                ValueType::Scalar => "scalar",
                ValueType::String => "string",
                ValueType::Vector => "an expression",
            }
        ))),
    }
}
