//! Sample lines: `name{label="value",...} value [timestamp] [# exemplar]`.

use std::borrow::Cow;

use super::cursor::{Cursor, LineError, ParseErrorKind};
use super::{Format, LabelPair, Parsed};

/// A sample line without its labels, which stay in the parser's reused buffer.
pub(super) struct Head<'a> {
    pub(super) series: &'a [u8],
    pub(super) name: Cow<'a, str>,
    pub(super) value: f64,
    pub(super) timestamp_ms: Option<i64>,
}

/// Parses a sample line, pushing its labels into `labels` (which the caller cleared).
pub(super) fn parse<'a>(
    cursor: &mut Cursor<'a>,
    labels: &mut Vec<LabelPair<'a>>,
) -> Result<Parsed<'a>, LineError> {
    let start = cursor.pos();
    let mut name: Option<Cow<'a, str>> = match cursor.peek() {
        Some(b'{') => None,
        _ => Some(Cow::Borrowed(cursor.metric_name().ok_or_else(|| {
            let kind = match cursor.format {
                Format::Text => ParseErrorKind::ExpectedMetricName("at the start of the line"),
                Format::OpenMetrics => ParseErrorKind::ExpectedStart,
            };
            cursor.error(kind)
        })?)),
    };
    let before_braces = cursor.pos();
    cursor.skip_lenient_blanks();
    if cursor.eat(b'{') {
        label_set(cursor, labels, Some(&mut name))?;
    } else {
        // Text format: the blanks were the separator before the value; step back onto them.
        cursor.reset(before_braces);
    }
    let series = cursor.slice(start);
    let name = name.ok_or((start + 1, ParseErrorKind::MetricNameNotSet))?;
    if !cursor.eat_separator() {
        return Err(cursor.error(ParseErrorKind::ExpectedValue));
    }
    let value = parse_value(cursor)?;
    let timestamp_ms = timestamp(cursor)?;
    Ok(Parsed::Sample(Head {
        series,
        name,
        value,
        timestamp_ms,
    }))
}

/// Parses `label="value",...}` after the opening brace. In braces, a quoted string without `=`
/// is the metric name (the UTF-8 name syntax); `name` receives it.
fn label_set<'a>(
    cursor: &mut Cursor<'a>,
    labels: &mut Vec<LabelPair<'a>>,
    mut name: Option<&mut Option<Cow<'a, str>>>,
) -> Result<(), LineError> {
    loop {
        cursor.skip_lenient_blanks();
        if cursor.eat(b'}') {
            return Ok(());
        }
        let at = cursor.pos();
        let label: Cow<'a, str> = if cursor.peek() == Some(b'"') {
            cursor.quoted()?
        } else {
            Cow::Borrowed(
                cursor
                    .label_name()
                    .ok_or_else(|| cursor.error(ParseErrorKind::ExpectedLabelName))?,
            )
        };
        cursor.skip_lenient_blanks();
        let quoted = cursor.slice(at).first() == Some(&b'"');
        if quoted && matches!(cursor.peek(), Some(b',' | b'}')) {
            match name.as_deref_mut() {
                Some(slot @ None) => *slot = Some(label),
                _ => return Err((at + 1, ParseErrorKind::ExpectedEqual)),
            }
        } else {
            if !cursor.eat(b'=') {
                return Err(cursor.error(ParseErrorKind::ExpectedEqual));
            }
            cursor.skip_lenient_blanks();
            if cursor.peek() != Some(b'"') {
                return Err(cursor.error(ParseErrorKind::ExpectedLabelValue));
            }
            let value = cursor.quoted()?;
            if labels.iter().any(|(n, _)| *n == label) {
                return Err((at + 1, ParseErrorKind::DuplicateLabel(label.into_owned())));
            }
            labels.push((label, value));
        }
        let blanks = cursor.format == Format::Text && cursor.skip_blanks();
        if cursor.eat(b'}') {
            return Ok(());
        }
        if !cursor.eat(b',') && !blanks {
            // Prometheus's text parser accepts label pairs separated by blanks alone.
            return Err(cursor.error(ParseErrorKind::ExpectedCommaOrBrace));
        }
    }
}

fn parse_value(cursor: &mut Cursor<'_>) -> Result<f64, LineError> {
    let at = cursor.pos();
    let token = cursor.token();
    parse_float(token).ok_or_else(|| (at + 1, ParseErrorKind::InvalidValue(lossy(token))))
}

/// A float as Prometheus accepts it: decimal or exponent notation, `NaN`, `+Inf`, `-Inf`
/// (any case); no hex floats or digit separators.
pub(super) fn parse_float(token: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(token).ok()?;
    if let Ok(small) = text.parse::<i32>()
        && !text.starts_with('+')
    {
        return Some(f64::from(small));
    }
    let value: f64 = text.parse().ok()?;
    // Rust also reads `infinity` and `nan` in any case, which Go's ParseFloat accepts too.
    Some(value)
}

/// The optional timestamp and, in OpenMetrics, the optional exemplar.
fn timestamp(cursor: &mut Cursor<'_>) -> Result<Option<i64>, LineError> {
    match cursor.format {
        Format::Text => {
            if !cursor.skip_blanks() || cursor.at_end() {
                return at_line_end(cursor).map(|()| None);
            }
            let at = cursor.pos();
            let token = cursor.token();
            let ts = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| (at + 1, ParseErrorKind::InvalidTimestamp(lossy(token))))?;
            cursor.skip_blanks();
            at_line_end(cursor).map(|()| Some(ts))
        }
        Format::OpenMetrics => {
            if cursor.at_end() {
                return Ok(None);
            }
            if cursor.eat_str(b" # ") {
                exemplar(cursor)?;
                return Ok(None);
            }
            if !cursor.eat(b' ') {
                return Err(cursor.error(ParseErrorKind::TrailingText));
            }
            let ts = om_timestamp(cursor)?;
            if cursor.at_end() {
                return Ok(Some(ts));
            }
            if cursor.eat_str(b" # ") {
                exemplar(cursor)?;
                return Ok(Some(ts));
            }
            Err(cursor.error(ParseErrorKind::TrailingText))
        }
    }
}

fn at_line_end(cursor: &Cursor<'_>) -> Result<(), LineError> {
    if cursor.at_end() {
        Ok(())
    } else {
        Err(cursor.error(ParseErrorKind::TrailingText))
    }
}

/// An OpenMetrics timestamp: seconds as a float, converted to milliseconds as Prometheus does
/// (truncating).
fn om_timestamp(cursor: &mut Cursor<'_>) -> Result<i64, LineError> {
    let at = cursor.pos();
    let token = cursor.token();
    match parse_float(token) {
        Some(seconds) if seconds.is_finite() => Ok((seconds * 1000.0) as i64),
        _ => Err((at + 1, ParseErrorKind::InvalidTimestamp(lossy(token)))),
    }
}

/// An exemplar after ` # `: `{labels} value [timestamp]`. Checked, then dropped: exemplars are
/// not stored.
fn exemplar(cursor: &mut Cursor<'_>) -> Result<(), LineError> {
    if !cursor.eat(b'{') {
        return Err(cursor.error(ParseErrorKind::InvalidExemplar("expected '{'")));
    }
    let mut scratch = Vec::new();
    label_set(cursor, &mut scratch, None)?;
    if !cursor.eat(b' ') {
        return Err(cursor.error(ParseErrorKind::InvalidExemplar("expected a value")));
    }
    let at = cursor.pos();
    if parse_float(cursor.token()).is_none() {
        return Err((at + 1, ParseErrorKind::InvalidExemplar("invalid value")));
    }
    if cursor.eat(b' ') {
        om_timestamp(cursor)?;
    }
    at_line_end(cursor)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
