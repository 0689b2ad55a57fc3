//! Parsing of expositions in the Prometheus text format 0.0.4 and OpenMetrics 1.0.
//!
//! The parser is the ingestion hot path: it walks the body once, borrows names and label values
//! from it (allocating only for values with escapes), and reuses one label buffer for every
//! sample. Errors name the line and column of the first problem and stop the parse, as in
//! Prometheus, where a scrape with one malformed line fails as a whole.

mod comment;
mod cursor;
mod sample;

use std::borrow::Cow;

use cursor::Cursor;
pub use cursor::ParseErrorKind;

/// Which exposition format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4: lenient whitespace, comments, no `# EOF`.
    Text,
    /// OpenMetrics 1.0 text: single spaces, `# UNIT`, exemplars, a mandatory final `# EOF`.
    OpenMetrics,
}

impl Format {
    /// The format a `Content-Type` header announces; text for anything that is not OpenMetrics,
    /// as Prometheus falls back to.
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        match content_type {
            Some(ct) if ct.trim_start().starts_with("application/openmetrics-text") => {
                Format::OpenMetrics
            }
            _ => Format::Text,
        }
    }
}

/// The type a `# TYPE` line declares for a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram` (OpenMetrics)
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info` (OpenMetrics)
    Info,
    /// `stateset` (OpenMetrics)
    Stateset,
    /// `untyped` (text) or `unknown` (OpenMetrics)
    Unknown,
}

impl MetricType {
    /// The name Prometheus's metadata API uses for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::Stateset => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// Says, given a sample's series text, whether its labels should be parsed.
type WantLabels<'f> = dyn FnMut(&[u8]) -> bool + 'f;

/// A label pair borrowed from the body where possible.
pub type LabelPair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// One sample line.
#[derive(Debug)]
pub struct Sample<'p, 'a> {
    /// The series exactly as written (`name{labels}`), a cheap key for caching series handles.
    pub series: &'a [u8],
    /// The metric name.
    pub name: Cow<'a, str>,
    /// The labels in the order written, without the metric name.
    pub labels: &'p [LabelPair<'a>],
    /// The value.
    pub value: f64,
    /// The timestamp in milliseconds, if the line has one.
    pub timestamp_ms: Option<i64>,
}

impl Sample<'_, '_> {
    /// The series' labels with its name as `__name__`, as the store keys them.
    pub fn to_labels(&self) -> crate::labels::Labels {
        crate::labels::Labels::from_pairs(
            self.labels
                .iter()
                .map(|(n, v)| (n.as_ref(), v.as_ref()))
                .chain([(crate::labels::METRIC_NAME, self.name.as_ref())]),
        )
    }
}

/// One meaningful line of an exposition.
#[derive(Debug)]
pub enum Entry<'p, 'a> {
    /// A sample.
    Sample(Sample<'p, 'a>),
    /// `# HELP name text`
    Help {
        /// The metric family.
        metric: Cow<'a, str>,
        /// The help text, unescaped.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`
    Type {
        /// The metric family.
        metric: Cow<'a, str>,
        /// The declared type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics)
    Unit {
        /// The metric family.
        metric: Cow<'a, str>,
        /// The unit, possibly empty.
        unit: Cow<'a, str>,
    },
    /// Any other comment (text format only).
    Comment,
}

/// Where and why a body failed to parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based byte column within the line.
    pub column: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

/// Reads entries one at a time from an exposition body.
pub struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
    format: Format,
    labels: Vec<LabelPair<'a>>,
    saw_eof: bool,
}

impl<'a> Parser<'a> {
    /// A parser over `input` in `format`.
    pub fn new(input: &'a [u8], format: Format) -> Self {
        Parser {
            input,
            pos: 0,
            line: 0,
            format,
            labels: Vec::with_capacity(16),
            saw_eof: false,
        }
    }

    /// The byte offset of the next line to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The 1-based number of the line last read.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next entry, `Ok(None)` at the end of the body, or the first error.
    #[allow(clippy::should_implement_trait)] // entries borrow the parser, so no Iterator
    pub fn next(&mut self) -> Result<Option<Entry<'_, 'a>>, ParseError> {
        self.next_entry(None)
    }

    /// Like [`Parser::next`], but asks `want_labels` with the series text of each sample line
    /// first: where it returns false, the sample's `name` and `labels` are left empty and the
    /// label block is not parsed. Only skip series whose text a sample of an earlier call
    /// returned, so that it is known to parse.
    pub fn next_with(
        &mut self,
        want_labels: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<Option<Entry<'_, 'a>>, ParseError> {
        self.next_entry(Some(want_labels))
    }

    fn next_entry(
        &mut self,
        mut want_labels: Option<&mut WantLabels<'_>>,
    ) -> Result<Option<Entry<'_, 'a>>, ParseError> {
        loop {
            if self.pos >= self.input.len() {
                return match (self.format, self.saw_eof) {
                    (Format::OpenMetrics, false) => Err(ParseError {
                        line: self.line.max(1),
                        column: 1,
                        kind: ParseErrorKind::MissingEof,
                    }),
                    _ => Ok(None),
                };
            }
            let rest = &self.input[self.pos..];
            let (line, advance) = match memchr::memchr(b'\n', rest) {
                Some(end) => (&rest[..end], end + 1),
                None => (rest, rest.len()),
            };
            self.pos += advance;
            self.line += 1;
            if self.saw_eof {
                return Err(self.error_at(1, ParseErrorKind::DataAfterEof));
            }
            let cursor = Cursor::new(line, self.format);
            match self.entry(cursor, want_labels.as_deref_mut()) {
                Ok(Some(kind)) => return Ok(Some(self.finish(kind))),
                Ok(None) => continue,
                Err((column, kind)) => return Err(self.error_at(column, kind)),
            }
        }
    }

    fn error_at(&self, column: usize, kind: ParseErrorKind) -> ParseError {
        ParseError {
            line: self.line,
            column,
            kind,
        }
    }

    /// Parses one line; `None` for a blank line or `# EOF`.
    fn entry(
        &mut self,
        mut cursor: Cursor<'a>,
        want_labels: Option<&mut WantLabels<'_>>,
    ) -> Result<Option<Parsed<'a>>, (usize, ParseErrorKind)> {
        if self.format == Format::Text {
            cursor.skip_blanks();
            if cursor.at_end() {
                return Ok(None);
            }
        }
        match cursor.peek() {
            Some(b'#') => match comment::parse(&mut cursor)? {
                comment::Line::Eof => {
                    // Anything after it is reported when the next line is read.
                    self.saw_eof = true;
                    Ok(None)
                }
                comment::Line::Entry(parsed) => Ok(Some(parsed)),
            },
            Some(_) => {
                self.labels.clear();
                sample::parse(&mut cursor, &mut self.labels, want_labels).map(Some)
            }
            None => Err((1, ParseErrorKind::ExpectedStart)),
        }
    }

    fn finish(&self, parsed: Parsed<'a>) -> Entry<'_, 'a> {
        match parsed {
            Parsed::Sample(head) => Entry::Sample(Sample {
                series: head.series,
                name: head.name,
                labels: &self.labels,
                value: head.value,
                timestamp_ms: head.timestamp_ms,
            }),
            Parsed::Help(metric, text) => Entry::Help { metric, text },
            Parsed::Type(metric, kind) => Entry::Type { metric, kind },
            Parsed::Unit(metric, unit) => Entry::Unit { metric, unit },
            Parsed::Comment => Entry::Comment,
        }
    }
}

/// Parses a series text that a [`Sample`] returned (`name{labels}`, in either format) back
/// into its metric name, with its labels pushed into `labels`.
pub fn parse_series<'a>(
    series: &'a [u8],
    labels: &mut Vec<LabelPair<'a>>,
) -> Result<Cow<'a, str>, ParseError> {
    // The text format's series syntax accepts OpenMetrics' too.
    let mut cursor = Cursor::new(series, Format::Text);
    let error = |(column, kind)| ParseError {
        line: 1,
        column,
        kind,
    };
    let (_, name) = sample::series(&mut cursor, labels).map_err(error)?;
    if !cursor.at_end() {
        return Err(error(cursor.error(ParseErrorKind::TrailingText)));
    }
    Ok(name)
}

/// A parsed line before the sample's labels are attached from the parser's buffer.
enum Parsed<'a> {
    Sample(sample::Head<'a>),
    Help(Cow<'a, str>, Cow<'a, str>),
    Type(Cow<'a, str>, MetricType),
    Unit(Cow<'a, str>, Cow<'a, str>),
    Comment,
}

#[cfg(test)]
mod tests;
