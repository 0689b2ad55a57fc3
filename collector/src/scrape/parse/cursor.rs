//! A position within one line of an exposition, with the token readers both formats share.

use std::borrow::Cow;

use super::Format;

/// What was wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A line starts with something that begins no entry (OpenMetrics: blank lines, spaces).
    #[error("expected a metric name or '#'")]
    ExpectedStart,
    /// A metric name was expected.
    #[error("expected a metric name {0}")]
    ExpectedMetricName(&'static str),
    /// `{a="b"} 1`: no metric name inside or before the braces.
    #[error("metric name not set")]
    MetricNameNotSet,
    /// A label name was expected.
    #[error("expected a label name")]
    ExpectedLabelName,
    /// `=` was expected after a label name.
    #[error("expected '=' after label name")]
    ExpectedEqual,
    /// A quoted label value was expected.
    #[error("expected a quoted label value")]
    ExpectedLabelValue,
    /// A quoted string runs to the end of the line.
    #[error("unterminated quoted string")]
    UnterminatedString,
    /// A label value is not valid UTF-8.
    #[error("invalid UTF-8 label value")]
    InvalidUtf8,
    /// `,` or `}` was expected after a label pair.
    #[error("expected ',' or '}}' after label value")]
    ExpectedCommaOrBrace,
    /// The same label name appears twice in one series.
    #[error("duplicate label name {0:?}")]
    DuplicateLabel(String),
    /// A space was expected before the value.
    #[error("expected a space and a value after the series")]
    ExpectedValue,
    /// The value is not a float.
    #[error("invalid value {0:?}")]
    InvalidValue(String),
    /// The timestamp is not an integer (text) or a finite float (OpenMetrics).
    #[error("invalid timestamp {0:?}")]
    InvalidTimestamp(String),
    /// Something follows the timestamp.
    #[error("unexpected text after the timestamp")]
    TrailingText,
    /// An exemplar (`# {labels} value [timestamp]`) is malformed.
    #[error("invalid exemplar: {0}")]
    InvalidExemplar(&'static str),
    /// `# TYPE` names an unknown type.
    #[error("invalid metric type {0:?}")]
    InvalidType(String),
    /// `# HELP`, `# TYPE` or `# UNIT` lacks its text.
    #[error("expected text in {0}")]
    ExpectedText(&'static str),
    /// OpenMetrics: a unit that is not a suffix of the metric name.
    #[error("unit {unit:?} not a suffix of metric {metric:?}")]
    UnitNotSuffix {
        /// The unit.
        unit: String,
        /// The metric family.
        metric: String,
    },
    /// OpenMetrics: a `#` line other than HELP, TYPE, UNIT or EOF.
    #[error("expected HELP, TYPE, UNIT or EOF after '# '")]
    InvalidComment,
    /// OpenMetrics: the body lacks the final `# EOF`.
    #[error("data does not end with # EOF")]
    MissingEof,
    /// OpenMetrics: something follows `# EOF`.
    #[error("unexpected data after # EOF")]
    DataAfterEof,
}

/// An error with its 1-based column, before the parser adds the line number.
pub(super) type LineError = (usize, ParseErrorKind);

/// A position within one line.
pub(super) struct Cursor<'a> {
    line: &'a [u8],
    /// The line as text when it is valid UTF-8 (almost always), so that names and values are
    /// sliced from it instead of being validated one by one.
    text: Option<&'a str>,
    pos: usize,
    pub(super) format: Format,
}

/// Bytes allowed in label names after the first (`[a-zA-Z0-9_]`).
const NAME_BYTE: u8 = 1;
/// Bytes a metric name allows besides those: `:`.
const COLON_BYTE: u8 = 2;

/// The class of each byte, for scanning names without a chain of comparisons.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte.is_ascii_alphanumeric() || byte == b'_' {
            table[b] = NAME_BYTE;
        } else if byte == b':' {
            table[b] = COLON_BYTE;
        }
        b += 1;
    }
    table
};

impl<'a> Cursor<'a> {
    pub(super) fn new(line: &'a [u8], format: Format) -> Self {
        Cursor {
            line,
            text: std::str::from_utf8(line).ok(),
            pos: 0,
            format,
        }
    }

    /// `line[from..to]` as text, if it is valid UTF-8.
    fn text_of(&self, from: usize, to: usize) -> Option<&'a str> {
        match self.text {
            Some(text) => text.get(from..to),
            None => std::str::from_utf8(&self.line[from..to]).ok(),
        }
    }

    /// Moves forward by `len` bytes.
    pub(super) fn advance(&mut self, len: usize) {
        self.pos += len;
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.line.get(self.pos).copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    /// Moves back to an earlier position of the same line.
    pub(super) fn reset(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn slice(&self, from: usize) -> &'a [u8] {
        &self.line[from..self.pos]
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        &self.line[self.pos..]
    }

    /// An error at the current position.
    pub(super) fn error(&self, kind: ParseErrorKind) -> LineError {
        (self.pos + 1, kind)
    }

    /// Consumes `byte` if it is next.
    pub(super) fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `prefix` if the rest of the line starts with it.
    pub(super) fn eat_str(&mut self, prefix: &[u8]) -> bool {
        if self.rest().starts_with(prefix) {
            self.pos += prefix.len();
            true
        } else {
            false
        }
    }

    /// Skips spaces and tabs; returns whether there were any.
    pub(super) fn skip_blanks(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Text format: any whitespace; OpenMetrics: nothing (spacing there is exact).
    pub(super) fn skip_lenient_blanks(&mut self) {
        if self.format == Format::Text {
            self.skip_blanks();
        }
    }

    /// The separator between fields: one or more blanks in text, exactly one space in
    /// OpenMetrics.
    pub(super) fn eat_separator(&mut self) -> bool {
        match self.format {
            Format::Text => self.skip_blanks(),
            Format::OpenMetrics => self.eat(b' '),
        }
    }

    /// A field up to the next separator or the end of the line.
    pub(super) fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        let text = self.format == Format::Text;
        while let Some(b) = self.peek() {
            if b == b' ' || (text && b == b'\t') {
                break;
            }
            self.pos += 1;
        }
        self.slice(start)
    }

    /// A metric name `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    pub(super) fn metric_name(&mut self) -> Option<&'a str> {
        self.identifier(true)
    }

    /// A label name `[a-zA-Z_][a-zA-Z0-9_]*`.
    pub(super) fn label_name(&mut self) -> Option<&'a str> {
        self.identifier(false)
    }

    fn identifier(&mut self, colons: bool) -> Option<&'a str> {
        let start = self.pos;
        let len = identifier_len(self.rest(), colons);
        if len == 0 {
            return None;
        }
        self.pos += len;
        // Only ASCII bytes were accepted, so this cannot fail.
        self.text_of(start, self.pos)
    }

    /// A double-quoted string starting at the current `"`, unescaping `\\`, `\"` and `\n`
    /// (other escapes are kept as written, as Prometheus does).
    pub(super) fn quoted(&mut self) -> Result<Cow<'a, str>, LineError> {
        let open = self.pos;
        debug_assert_eq!(self.peek(), Some(b'"'));
        let (len, escaped) =
            quoted_len(&self.line[open..]).ok_or((open + 1, ParseErrorKind::UnterminatedString))?;
        self.pos = open + len;
        let text = self
            .text_of(open + 1, self.pos - 1)
            .ok_or((open + 1, ParseErrorKind::InvalidUtf8))?;
        Ok(if escaped {
            Cow::Owned(unescape(text, true))
        } else {
            Cow::Borrowed(text)
        })
    }
}

/// The length of the name at the start of `bytes` (`[a-zA-Z_][a-zA-Z0-9_]*`, with `:` allowed
/// anywhere when `colons`); 0 if none starts there.
pub(super) fn identifier_len(bytes: &[u8], colons: bool) -> usize {
    let allowed = if colons {
        NAME_BYTE | COLON_BYTE
    } else {
        NAME_BYTE
    };
    match bytes.first() {
        Some(b) if BYTE_CLASS[usize::from(*b)] & allowed != 0 && !b.is_ascii_digit() => {}
        _ => return 0,
    }
    bytes
        .iter()
        .position(|b| BYTE_CLASS[usize::from(*b)] & allowed == 0)
        .unwrap_or(bytes.len())
}

/// The length of the double-quoted string at the start of `bytes` (which starts with `"`),
/// closing quote included, and whether it holds backslash escapes; `None` if it is not closed.
pub(super) fn quoted_len(bytes: &[u8]) -> Option<(usize, bool)> {
    let mut escaped = false;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}

/// Replaces `\\` and `\n` (and `\"` when `quotes`) by what they stand for; any other backslash
/// is kept.
pub(super) fn unescape(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
