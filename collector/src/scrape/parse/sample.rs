//! Sample lines: `name{label="value",...} value [timestamp] [# exemplar]`.

use std::borrow::Cow;

use super::cursor::{Cursor, LineError, ParseErrorKind, identifier_len, quoted_len};
use super::{Format, LabelPair, Parsed, WantLabels};

/// A sample line without its labels, which stay in the parser's reused buffer.
pub(super) struct Head<'a> {
    pub(super) series: &'a [u8],
    pub(super) name: Cow<'a, str>,
    pub(super) value: f64,
    pub(super) timestamp_ms: Option<i64>,
}

/// Parses a sample line, pushing its labels into `labels` (which the caller cleared). When
/// `want_labels` is given and returns false for the series text, the labels are not parsed: the
/// series was parsed before from the same bytes, so they are known to be valid.
pub(super) fn parse<'a>(
    cursor: &mut Cursor<'a>,
    labels: &mut Vec<LabelPair<'a>>,
    want_labels: Option<&mut WantLabels<'_>>,
) -> Result<Parsed<'a>, LineError> {
    if let Some(want_labels) = want_labels
        && let Some(len) = series_len(cursor.rest(), cursor.format)
    {
        let series = &cursor.rest()[..len];
        if !want_labels(series) {
            cursor.advance(len);
            return value_and_timestamp(cursor, series, Cow::Borrowed(""));
        }
    }
    let (series, name) = series(cursor, labels)?;
    value_and_timestamp(cursor, series, name)
}

/// Parses the series (`name{labels}`) at the cursor: its text and metric name, with the labels
/// pushed into `labels`.
pub(super) fn series<'a>(
    cursor: &mut Cursor<'a>,
    labels: &mut Vec<LabelPair<'a>>,
) -> Result<(&'a [u8], Cow<'a, str>), LineError> {
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
    // `{""}` names no metric either.
    let name = name
        .filter(|name| !name.is_empty())
        .ok_or((start + 1, ParseErrorKind::MetricNameNotSet))?;
    Ok((series, name))
}

/// The length of the series text at the start of `line` as [`series`] would read it when it
/// succeeds: the metric name, then (after blanks, in text) a label block up to the first `}`
/// outside quotes. `None` where that cannot succeed.
fn series_len(line: &[u8], format: Format) -> Option<usize> {
    let name = identifier_len(line, true);
    let mut pos = name;
    if format == Format::Text {
        pos += line[pos..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
    }
    if line.get(pos) != Some(&b'{') {
        return (name > 0).then_some(name);
    }
    pos += 1;
    loop {
        match line.get(pos)? {
            b'}' => return Some(pos + 1),
            b'"' => pos += quoted_len(&line[pos..])?.0,
            _ => pos += 1,
        }
    }
}

/// The rest of a sample line after its series: separator, value, timestamp.
fn value_and_timestamp<'a>(
    cursor: &mut Cursor<'a>,
    series: &'a [u8],
    name: Cow<'a, str>,
) -> Result<Parsed<'a>, LineError> {
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
    if let Some(value) = plain_decimal(token) {
        return Some(value);
    }
    // Rust also reads `infinity` and `nan` in any case, which Go's ParseFloat accepts too.
    std::str::from_utf8(token).ok()?.parse().ok()
}

/// The fast path for the common `-?digits(.digits)?` with at most 15 digits: the digits as an
/// integer are exact in an f64, and so is the power of ten, so one division rounds correctly
/// and the result is bit for bit what `str::parse` gives. `None` for anything else.
fn plain_decimal(token: &[u8]) -> Option<f64> {
    const POWERS_OF_TEN: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    let (whole, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    let fraction = fraction.unwrap_or_default();
    if whole.is_empty()
        || (fraction.is_empty() && whole.len() < digits.len())
        || whole.len() + fraction.len() > 15
    {
        return None;
    }
    let mut mantissa: u64 = 0;
    for &b in whole.iter().chain(fraction) {
        if !b.is_ascii_digit() {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(b - b'0');
    }
    // Below 10^15 < 2^53: exact.
    let magnitude = mantissa as f64 / POWERS_OF_TEN[fraction.len()];
    Some(if negative { -magnitude } else { magnitude })
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
