//! Writing samples in the Prometheus text format (version 0.0.4), the format `/federate`
//! answers in and the scrape parser reads; values and label escapes are written by the agent's
//! exposition writer, so both binaries spell them the same way.

use std::fmt::Write as _;

use osprey_agent::expose::{escape_into, write_value};

use crate::labels::{Label, Labels, METRIC_NAME};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Appends one sample line, `name{label="value",...} value [timestamp]`, with label values
/// escaped as the format requires and the braces left out when there are no labels.
pub fn write_sample(out: &mut String, labels: &Labels, value: f64, timestamp_ms: Option<i64>) {
    let name = labels.metric_name().unwrap_or_default();
    let others = labels.iter().filter(|l| l.name != METRIC_NAME);
    write_line(out, name, others, value, timestamp_ms);
}

/// Appends one sample line of metric `name` with `labels` in the order given, empty values
/// written too (`instance=""` says a series has no instance, where leaving it out would let
/// a scraper add its own).
pub fn write_line<'a>(
    out: &mut String,
    name: &str,
    labels: impl IntoIterator<Item = Label<'a>>,
    value: f64,
    timestamp_ms: Option<i64>,
) {
    out.push_str(name);
    let mut separator = '{';
    for label in labels {
        out.push(separator);
        separator = ',';
        out.push_str(label.name);
        out.push_str("=\"");
        escape_into(out, label.value, true);
        out.push('"');
    }
    if separator == ',' {
        out.push('}');
    }
    out.push(' ');
    write_value(out, value);
    if let Some(t) = timestamp_ms {
        let _ = write!(out, " {t}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(labels: &[(&str, &str)], value: f64, timestamp_ms: Option<i64>) -> String {
        let mut out = String::new();
        write_sample(
            &mut out,
            &Labels::from_pairs(labels.iter().copied()),
            value,
            timestamp_ms,
        );
        out
    }

    #[test]
    fn labels_are_escaped_and_empty_braces_left_out() {
        assert_eq!(
            line(&[("__name__", "up"), ("job", "a\"b\\c\nd")], 1.0, Some(5)),
            "up{job=\"a\\\"b\\\\c\\nd\"} 1 5\n"
        );
        assert_eq!(line(&[("__name__", "up")], 0.5, None), "up 0.5\n");
    }

    #[test]
    fn special_values_use_the_format_spelling() {
        assert_eq!(line(&[("__name__", "x")], f64::NAN, None), "x NaN\n");
        assert_eq!(line(&[("__name__", "x")], f64::INFINITY, None), "x +Inf\n");
        assert_eq!(
            line(&[("__name__", "x")], f64::NEG_INFINITY, None),
            "x -Inf\n"
        );
    }
}
