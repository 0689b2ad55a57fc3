//! Lines starting with `#`: HELP, TYPE, UNIT, `# EOF` and (text format) free comments.

use std::borrow::Cow;

use super::cursor::{Cursor, LineError, ParseErrorKind, unescape};
use super::{Format, MetricType, Parsed};

/// What a `#` line turned out to be.
pub(super) enum Line<'a> {
    /// OpenMetrics' final `# EOF`.
    Eof,
    /// Metadata or a comment.
    Entry(Parsed<'a>),
}

#[derive(Clone, Copy)]
enum Keyword {
    Help,
    Type,
    Unit,
}

impl Keyword {
    fn name(self) -> &'static str {
        match self {
            Keyword::Help => "HELP",
            Keyword::Type => "TYPE",
            Keyword::Unit => "UNIT",
        }
    }
}

/// Parses a line whose first byte is `#`.
pub(super) fn parse<'a>(cursor: &mut Cursor<'a>) -> Result<Line<'a>, LineError> {
    cursor.eat(b'#');
    let keyword = match cursor.format {
        Format::Text => {
            if !cursor.skip_blanks() {
                return Ok(Line::Entry(Parsed::Comment));
            }
            let keyword = if cursor.eat_str(b"HELP") {
                Keyword::Help
            } else if cursor.eat_str(b"TYPE") {
                Keyword::Type
            } else {
                return Ok(Line::Entry(Parsed::Comment));
            };
            if !cursor.skip_blanks() {
                // `# HELPER ...` or a bare `# HELP`: a comment, as in Prometheus's lexer.
                return Ok(Line::Entry(Parsed::Comment));
            }
            keyword
        }
        Format::OpenMetrics => {
            if !cursor.eat(b' ') {
                return Err(cursor.error(ParseErrorKind::InvalidComment));
            }
            if cursor.eat_str(b"EOF") {
                return if cursor.at_end() {
                    Ok(Line::Eof)
                } else {
                    Err(cursor.error(ParseErrorKind::DataAfterEof))
                };
            }
            if cursor.eat_str(b"HELP ") {
                Keyword::Help
            } else if cursor.eat_str(b"TYPE ") {
                Keyword::Type
            } else if cursor.eat_str(b"UNIT ") {
                Keyword::Unit
            } else {
                return Err(cursor.error(ParseErrorKind::InvalidComment));
            }
        }
    };
    let metric = family_name(cursor, keyword)?;
    if !cursor.eat_separator() {
        return match (cursor.format, keyword) {
            // The text format allows `# HELP name` with no text.
            (Format::Text, Keyword::Help) if cursor.at_end() => {
                Ok(Line::Entry(Parsed::Help(metric, Cow::Borrowed(""))))
            }
            _ => Err(cursor.error(ParseErrorKind::ExpectedText(keyword.name()))),
        };
    }
    let text = cursor.rest();
    let at = cursor.pos() + 1;
    let text = std::str::from_utf8(text).map_err(|_| (at, ParseErrorKind::InvalidUtf8))?;
    let parsed = match keyword {
        Keyword::Help => Parsed::Help(metric, help_text(text, cursor.format)),
        Keyword::Type => Parsed::Type(metric, metric_type(text, cursor.format, at)?),
        Keyword::Unit => {
            if !text.is_empty() && !unit_is_suffix(&metric, text) {
                return Err((
                    at,
                    ParseErrorKind::UnitNotSuffix {
                        unit: text.to_owned(),
                        metric: metric.into_owned(),
                    },
                ));
            }
            Parsed::Unit(metric, Cow::Borrowed(text))
        }
    };
    Ok(Line::Entry(parsed))
}

fn family_name<'a>(cursor: &mut Cursor<'a>, keyword: Keyword) -> Result<Cow<'a, str>, LineError> {
    let missing = |cursor: &Cursor<'a>| {
        let after = match keyword {
            Keyword::Help => "after HELP",
            Keyword::Type => "after TYPE",
            Keyword::Unit => "after UNIT",
        };
        cursor.error(ParseErrorKind::ExpectedMetricName(after))
    };
    if cursor.peek() == Some(b'"') {
        return cursor.quoted();
    }
    match cursor.metric_name() {
        Some(name) => Ok(Cow::Borrowed(name)),
        None => Err(missing(cursor)),
    }
}

fn help_text(text: &str, format: Format) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(unescape(text, format == Format::OpenMetrics))
}

fn metric_type(text: &str, format: Format, at: usize) -> Result<MetricType, LineError> {
    let word = match format {
        Format::Text => text.trim_end_matches([' ', '\t']),
        Format::OpenMetrics => text,
    };
    let kind = match (word, format) {
        ("counter", _) => MetricType::Counter,
        ("gauge", _) => MetricType::Gauge,
        ("histogram", _) => MetricType::Histogram,
        ("summary", _) => MetricType::Summary,
        ("untyped", Format::Text) | ("unknown", Format::OpenMetrics) => MetricType::Unknown,
        ("gaugehistogram", Format::OpenMetrics) => MetricType::GaugeHistogram,
        ("info", Format::OpenMetrics) => MetricType::Info,
        ("stateset", Format::OpenMetrics) => MetricType::Stateset,
        _ => return Err((at, ParseErrorKind::InvalidType(text.to_owned()))),
    };
    Ok(kind)
}

fn unit_is_suffix(metric: &str, unit: &str) -> bool {
    metric
        .strip_suffix(unit)
        .is_some_and(|head| head.ends_with('_'))
}
