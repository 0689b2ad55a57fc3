//! Writes metric families in the Prometheus text format 0.0.4 or OpenMetrics 1.0.
//!
//! Hand-written rather than prometheus-client's encoder for the host and container families: a
//! scrape-time writer straight into one buffer keeps the agent's per-scrape cost at a few
//! microseconds per family, with no registry of tens of thousands of series to keep in step.
//! The agent's few own families go through a registry and are appended with
//! [`Exposition::write_registry`].

use std::fmt::Write as _;

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;

/// The wire format a scrape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`, Prometheus's classic text format.
    Text004,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// Picks the format from an HTTP `Accept` header: OpenMetrics only when asked for.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text004,
        }
    }

    /// The `Content-Type` header value for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text004 => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The type of a metric family, as written on its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A monotonically increasing value; its name must end in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A value of unknown kind (`untyped` in 0.0.4, `unknown` in OpenMetrics), for families
    /// node_exporter itself leaves untyped.
    Untyped,
    /// Bucketed observations: `_bucket{le}`, `_sum` and `_count` samples (from text files).
    Histogram,
    /// Quantiles of observations, `_sum` and `_count` (from text files).
    Summary,
}

/// One scrape's output buffer. Families are written one after the other, each complete.
#[derive(Debug)]
pub struct Exposition {
    format: Format,
    buf: String,
}

impl Exposition {
    /// An empty exposition in `format`, with room for a typical scrape.
    pub fn new(format: Format) -> Self {
        Exposition::with_capacity(format, 64 * 1024)
    }

    /// An empty exposition in `format` with room for `capacity` bytes: the size of the previous
    /// scrape spares growing (and copying) the buffer several times on a large one.
    pub fn with_capacity(format: Format, capacity: usize) -> Self {
        Exposition {
            format,
            buf: String::with_capacity(capacity),
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes written so far; pair with [`Exposition::truncate`] to drop a failed collector's part.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after byte `len` (a mark taken with [`Exposition::len`]).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Starts a family: writes its `# HELP` and `# TYPE` lines and returns a writer for its
    /// samples. OpenMetrics requires a counter's samples to end in `_total`: a counter named
    /// otherwise (as text files may hold) is declared `unknown` there.
    pub fn family<'a>(&'a mut self, name: &'a str, help: &str, kind: MetricType) -> Family<'a> {
        let kind = match (self.format, kind) {
            (Format::OpenMetrics, MetricType::Counter) if !name.ends_with("_total") => {
                MetricType::Untyped
            }
            _ => kind,
        };
        let declared = match (self.format, kind) {
            (Format::OpenMetrics, MetricType::Counter) => name.trim_end_matches("_total"),
            _ => name,
        };
        let type_name = match (self.format, kind) {
            (_, MetricType::Counter) => "counter",
            (_, MetricType::Gauge) => "gauge",
            (_, MetricType::Histogram) => "histogram",
            (_, MetricType::Summary) => "summary",
            (Format::Text004, MetricType::Untyped) => "untyped",
            (Format::OpenMetrics, MetricType::Untyped) => "unknown",
        };
        self.buf.push_str("# HELP ");
        self.buf.push_str(declared);
        self.buf.push(' ');
        escape_into(&mut self.buf, help, false);
        self.buf.push_str("\n# TYPE ");
        self.buf.push_str(declared);
        self.buf.push(' ');
        self.buf.push_str(type_name);
        self.buf.push('\n');
        Family { out: self, name }
    }

    /// Appends the families of `registry`, encoded by prometheus-client in this exposition's
    /// format. On an error (a collector of the registry failing) nothing is appended.
    pub fn write_registry(&mut self, registry: &Registry) -> Result<(), std::fmt::Error> {
        let mark = self.buf.len();
        let encoded = match self.format {
            Format::Text004 => prometheus_text::encode(&mut self.buf, registry),
            Format::OpenMetrics => text::encode_registry(&mut self.buf, registry),
        };
        if encoded.is_err() {
            self.buf.truncate(mark);
        }
        encoded
    }

    /// Ends the exposition and returns its text (with `# EOF` for OpenMetrics).
    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.buf.push_str("# EOF\n");
        }
        self.buf
    }
}

/// Writes the samples of one family.
#[derive(Debug)]
pub struct Family<'a> {
    out: &'a mut Exposition,
    name: &'a str,
}

impl Family<'_> {
    /// Writes one sample with the given label pairs (in the order given) and value.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.sample_after(&LabelPrefix::default(), labels, value)
    }

    /// Writes one sample under another name than the family's: a histogram's `_bucket`, `_sum`
    /// or `_count`.
    pub fn sample_named(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        write_sample(
            &mut self.out.buf,
            name,
            &LabelPrefix::default(),
            labels,
            value,
        );
        self
    }

    /// Writes one sample whose labels are `prefix`'s, then `labels`.
    pub fn sample_after(
        &mut self,
        prefix: &LabelPrefix,
        labels: &[(&str, &str)],
        value: f64,
    ) -> &mut Self {
        write_sample(&mut self.out.buf, self.name, prefix, labels, value);
        self
    }
}

/// Writes one sample line: `name{prefix,labels} value`.
fn write_sample(
    buf: &mut String,
    name: &str,
    prefix: &LabelPrefix,
    labels: &[(&str, &str)],
    value: f64,
) {
    buf.push_str(name);
    if !prefix.0.is_empty() || !labels.is_empty() {
        buf.push('{');
        buf.push_str(&prefix.0);
        push_labels(buf, labels, !prefix.0.is_empty());
        buf.push('}');
    }
    buf.push(' ');
    write_value(buf, value);
    buf.push('\n');
}

/// Label pairs escaped once and written at the start of many samples: a container's labels,
/// the same in every family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelPrefix(String);

impl LabelPrefix {
    /// Escapes `labels` (in the order given).
    pub fn new(labels: &[(&str, &str)]) -> Self {
        let mut text = String::new();
        push_labels(&mut text, labels, false);
        LabelPrefix(text)
    }
}

/// Writes `name="value"` pairs separated by commas, with a leading comma if `after_others`.
fn push_labels(buf: &mut String, labels: &[(&str, &str)], after_others: bool) {
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 || after_others {
            buf.push(',');
        }
        buf.push_str(name);
        buf.push_str("=\"");
        escape_into(buf, value, true);
        buf.push('"');
    }
}

/// Escapes backslash and newline (and, inside label values, the double quote).
pub fn escape_into(buf: &mut String, text: &str, quote: bool) {
    if !text
        .bytes()
        .any(|byte| matches!(byte, b'\\' | b'\n' | b'"'))
    {
        buf.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '"' if quote => buf.push_str("\\\""),
            c => buf.push(c),
        }
    }
}

/// Writes a float the way Prometheus reads it back: `NaN`, `+Inf`, `-Inf` or the shortest
/// decimal that round-trips.
pub fn write_value(buf: &mut String, value: f64) {
    if value.is_nan() {
        buf.push_str("NaN");
    } else if value.is_infinite() {
        buf.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Integral values are the common case (counters, bytes): print them without exponent.
        buf.push_str(itoa::Buffer::new().format(value as i64));
    } else if (1e-4..1e15).contains(&value.abs()) {
        // In this range ryu writes plain decimals, the same shortest digits as `{value}`.
        buf.push_str(ryu::Buffer::new().format_finite(value));
    } else {
        let _ = write!(buf, "{value:e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_writes_help_type_and_escaped_labels() {
        let mut out = Exposition::new(Format::Text004);
        out.family("node_x_total", "A help\\text\nline.", MetricType::Counter)
            .sample(&[("device", "a\"b\\c\nd")], 12.0)
            .sample(&[], 0.5);
        assert_eq!(
            out.finish(),
            "# HELP node_x_total A help\\\\text\\nline.\n# TYPE node_x_total counter\n\
             node_x_total{device=\"a\\\"b\\\\c\\nd\"} 12\nnode_x_total 0.5\n"
        );
    }

    #[test]
    fn prefixed_samples_write_the_escaped_prefix_then_their_own_labels() {
        let prefix = LabelPrefix::new(&[("id", "/docker/1"), ("name", "we\"b")]);
        let mut out = Exposition::new(Format::Text004);
        out.family("x_total", "X.", MetricType::Counter)
            .sample_after(&prefix, &[("cpu", "total")], 2.0)
            .sample_after(&prefix, &[], 0.25);
        assert_eq!(
            out.finish(),
            "# HELP x_total X.\n# TYPE x_total counter\n\
             x_total{id=\"/docker/1\",name=\"we\\\"b\",cpu=\"total\"} 2\n\
             x_total{id=\"/docker/1\",name=\"we\\\"b\"} 0.25\n"
        );
    }

    #[test]
    fn openmetrics_declares_counters_without_total_and_ends_with_eof() {
        let mut out = Exposition::new(Format::OpenMetrics);
        out.family("node_x_total", "X.", MetricType::Counter)
            .sample(&[], 1.0);
        out.family("node_y", "Y.", MetricType::Gauge)
            .sample(&[], f64::NAN);
        assert_eq!(
            out.finish(),
            "# HELP node_x X.\n# TYPE node_x counter\nnode_x_total 1\n\
             # HELP node_y Y.\n# TYPE node_y gauge\nnode_y NaN\n# EOF\n"
        );
    }

    #[test]
    fn a_counter_without_total_is_unknown_in_openmetrics_and_a_counter_in_text() {
        for (format, declared) in [
            (Format::Text004, "# TYPE jobs counter\n"),
            (Format::OpenMetrics, "# TYPE jobs unknown\n"),
        ] {
            let mut out = Exposition::new(format);
            out.family("jobs", "Jobs.", MetricType::Counter)
                .sample(&[], 3.0);
            let text = out.finish();
            assert!(text.contains(declared), "{text}");
            assert!(text.contains("\njobs 3\n"), "{text}");
        }
    }

    #[test]
    fn a_histogram_writes_its_samples_under_their_own_names() {
        let mut out = Exposition::new(Format::Text004);
        out.family("rt", "RT.", MetricType::Histogram)
            .sample_named("rt_bucket", &[("le", "+Inf")], 2.0)
            .sample_named("rt_count", &[], 2.0);
        assert_eq!(
            out.finish(),
            "# HELP rt RT.\n# TYPE rt histogram\nrt_bucket{le=\"+Inf\"} 2\nrt_count 2\n"
        );
    }

    #[test]
    fn a_registry_is_appended_in_the_exposition_format_before_the_eof() {
        let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
        counter.inc();
        let mut registry = Registry::default();
        registry.register("osprey_x", "X", counter);
        let mut text = Exposition::new(Format::Text004);
        text.write_registry(&registry).unwrap();
        assert_eq!(
            text.finish(),
            "# HELP osprey_x_total X.\n# TYPE osprey_x_total counter\nosprey_x_total 1\n"
        );
        let mut open_metrics = Exposition::new(Format::OpenMetrics);
        open_metrics.write_registry(&registry).unwrap();
        assert_eq!(
            open_metrics.finish(),
            "# HELP osprey_x X.\n# TYPE osprey_x counter\nosprey_x_total 1\n# EOF\n"
        );
    }

    #[test]
    fn special_and_large_values_round_trip() {
        for v in [
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -2.5e-7,
            123456789012345678.0,
            0.1,
        ] {
            let mut buf = String::new();
            write_value(&mut buf, v);
            let back: f64 = match buf.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                s => s.parse().unwrap(),
            };
            assert_eq!(back, v, "{buf}");
        }
    }

    #[test]
    fn accept_header_selects_format() {
        assert_eq!(Format::from_accept(None), Format::Text004);
        assert_eq!(
            Format::from_accept(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_accept(Some("text/plain;version=0.0.4")),
            Format::Text004
        );
    }
}
