//! Cases from Prometheus's own parser tests (model/textparse promparse_test.go and
//! openmetricsparse_test.go), with the expectations those tests state.

use super::*;

/// A parsed entry, owned, for comparison.
#[derive(Debug, PartialEq)]
enum Owned {
    Sample(String, Vec<(String, String)>, f64, Option<i64>),
    Help(String, String),
    Type(String, MetricType),
    Unit(String, String),
    Comment,
}

fn parse_all(input: &str, format: Format) -> Result<Vec<Owned>, ParseError> {
    let mut parser = Parser::new(input.as_bytes(), format);
    let mut out = Vec::new();
    while let Some(entry) = parser.next()? {
        out.push(match entry {
            Entry::Sample(s) => Owned::Sample(
                s.name.into_owned(),
                s.labels
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                s.value,
                s.timestamp_ms,
            ),
            Entry::Help { metric, text } => Owned::Help(metric.into_owned(), text.into_owned()),
            Entry::Type { metric, kind } => Owned::Type(metric.into_owned(), kind),
            Entry::Unit { metric, unit } => Owned::Unit(metric.into_owned(), unit.into_owned()),
            Entry::Comment => Owned::Comment,
        });
    }
    Ok(out)
}

fn sample(name: &str, labels: &[(&str, &str)], v: f64, t: Option<i64>) -> Owned {
    let labels = labels
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Owned::Sample(name.to_owned(), labels, v, t)
}

fn help(m: &str, h: &str) -> Owned {
    Owned::Help(m.to_owned(), h.to_owned())
}

fn typ(m: &str, t: MetricType) -> Owned {
    Owned::Type(m.to_owned(), t)
}

const GC: &str = "go_gc_duration_seconds";

#[test]
fn text_format_matches_prometheus_promparse_cases() {
    let input = "# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# \tTYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05
go_gc_duration_seconds{quantile=\"0.25\",} 7.424100000000001e-05
go_gc_duration_seconds{quantile=\"0.5\",a=\"b\"} 8.3835e-05
go_gc_duration_seconds{quantile=\"0.8\", a=\"b\"} 8.3835e-05
go_gc_duration_seconds{ quantile=\"0.9\", a=\"b\"} 8.3835e-05
# Hrandom comment starting with prefix of HELP
#
wind_speed{A=\"2\",c=\"3\"} 12345
# comment with escaped \\n newline
# comment with escaped \\ escape character
# HELP nohelp1
# HELP nohelp2 
go_gc_duration_seconds{ quantile=\"1.0\", a=\"b\" } 8.3835e-05
go_gc_duration_seconds { quantile=\"1.0\", a=\"b\" } 8.3835e-05
go_gc_duration_seconds { quantile= \"1.0\", a= \"b\", } 8.3835e-05
go_gc_duration_seconds { quantile = \"1.0\", a = \"b\" } 8.3835e-05
go_gc_duration_seconds { quantile = \"2.0\" a = \"b\" } 8.3835e-05
go_gc_duration_seconds_count 99
some:aggregate:rate5m{a_b=\"c\"}\t1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 33  \t123123
_metric_starting_with_underscore 1
testmetric{_label_starting_with_underscore=\"foo\"} 1
testmetric{label=\"\\\"bar\\\"\"} 1
# HELP metric foo\x00bar
null_byte_metric{a=\"abc\x00\"} 1";
    let qa = |q: &'static str| [("quantile", q), ("a", "b")];
    let expected = vec![
        help(GC, "A summary of the GC invocation durations."),
        typ(GC, MetricType::Summary),
        sample(GC, &[("quantile", "0")], 4.9351e-05, None),
        sample(GC, &[("quantile", "0.25")], 7.424100000000001e-05, None),
        sample(GC, &qa("0.5"), 8.3835e-05, None),
        sample(GC, &qa("0.8"), 8.3835e-05, None),
        sample(GC, &qa("0.9"), 8.3835e-05, None),
        Owned::Comment,
        Owned::Comment,
        sample("wind_speed", &[("A", "2"), ("c", "3")], 12345.0, None),
        Owned::Comment,
        Owned::Comment,
        help("nohelp1", ""),
        help("nohelp2", ""),
        sample(GC, &qa("1.0"), 8.3835e-05, None),
        sample(GC, &qa("1.0"), 8.3835e-05, None),
        sample(GC, &qa("1.0"), 8.3835e-05, None),
        sample(GC, &qa("1.0"), 8.3835e-05, None),
        sample(GC, &qa("2.0"), 8.3835e-05, None),
        sample("go_gc_duration_seconds_count", &[], 99.0, None),
        sample("some:aggregate:rate5m", &[("a_b", "c")], 1.0, None),
        help(
            "go_goroutines",
            "Number of goroutines that currently exist.",
        ),
        typ("go_goroutines", MetricType::Gauge),
        sample("go_goroutines", &[], 33.0, Some(123123)),
        sample("_metric_starting_with_underscore", &[], 1.0, None),
        sample(
            "testmetric",
            &[("_label_starting_with_underscore", "foo")],
            1.0,
            None,
        ),
        sample("testmetric", &[("label", "\"bar\"")], 1.0, None),
        help("metric", "foo\x00bar"),
        sample("null_byte_metric", &[("a", "abc\x00")], 1.0, None),
    ];
    assert_eq!(parse_all(input, Format::Text).unwrap(), expected);
}

#[test]
fn quoted_utf8_names_parse_in_both_formats() {
    let input = "{\"go.gc_duration_seconds\",quantile=\"0\"} 4.9351e-05
{ \"go.gc_duration_seconds\", quantile = \"1.0\", a = \"b\" } 8.3835e-05
{q=\"0.9\",\"http.status\",a=\"b\"} 8.3835e-05
{\"Heiz\u{f6}l 10\u{20ac} \\\"interesting\\\" {character\\nchoices}\",\"strange\u{a9}\\n'quoted' \\\"name\\\"\"=\"6\"} 10.0
";
    let expected = vec![
        sample(
            "go.gc_duration_seconds",
            &[("quantile", "0")],
            4.9351e-05,
            None,
        ),
        sample(
            "go.gc_duration_seconds",
            &[("quantile", "1.0"), ("a", "b")],
            8.3835e-05,
            None,
        ),
        sample("http.status", &[("q", "0.9"), ("a", "b")], 8.3835e-05, None),
        sample(
            "Heiz\u{f6}l 10\u{20ac} \"interesting\" {character\nchoices}",
            &[("strange\u{a9}\n'quoted' \"name\"", "6")],
            10.0,
            None,
        ),
    ];
    assert_eq!(parse_all(input, Format::Text).unwrap(), expected);
}

#[test]
fn openmetrics_matches_prometheus_openmetricsparse_cases() {
    let input = "# HELP go_gc_duration_seconds A summary of the GC invocation durations.
# TYPE go_gc_duration_seconds summary
# UNIT go_gc_duration_seconds seconds
go_gc_duration_seconds{quantile=\"0\"} 4.9351e-05
# HELP nohelp1 
# HELP help2 escape \\ \\n \\\\ \\\" \\x chars
# UNIT nounit 
go_gc_duration_seconds_count 99
# TYPE go_goroutines gauge
go_goroutines 33 123.123
# TYPE hh histogram
hh_bucket{le=\"+Inf\"} 1
# TYPE gh gaugehistogram
gh_bucket{le=\"+Inf\"} 1
# TYPE hhh histogram
hhh_bucket{le=\"+Inf\"} 1 # {id=\"histogram-bucket-test\"} 4
# TYPE ggh gaugehistogram
ggh_bucket{le=\"+Inf\"} 1 # {id=\"gaugehistogram-bucket-test\",xx=\"yy\"} 4 123.123
# TYPE smr_seconds summary
smr_seconds_count 2.0 # {id=\"summary-count-test\"} 1 123.321
# TYPE ii info
ii{foo=\"bar\"} 1
# TYPE ss stateset
ss{ss=\"foo\"} 1
# TYPE un unknown
testmetric{label=\"\\\"bar\\\"\"} 1
# TYPE foo counter
foo_total 17.0 1520879607.789 # {id=\"counter-test\"} 5
# EOF
";
    let expected = vec![
        help(GC, "A summary of the GC invocation durations."),
        typ(GC, MetricType::Summary),
        Owned::Unit(GC.into(), "seconds".into()),
        sample(GC, &[("quantile", "0")], 4.9351e-05, None),
        help("nohelp1", ""),
        help("help2", "escape \\ \n \\ \" \\x chars"),
        Owned::Unit("nounit".into(), "".into()),
        sample("go_gc_duration_seconds_count", &[], 99.0, None),
        typ("go_goroutines", MetricType::Gauge),
        sample("go_goroutines", &[], 33.0, Some(123123)),
        typ("hh", MetricType::Histogram),
        sample("hh_bucket", &[("le", "+Inf")], 1.0, None),
        typ("gh", MetricType::GaugeHistogram),
        sample("gh_bucket", &[("le", "+Inf")], 1.0, None),
        typ("hhh", MetricType::Histogram),
        sample("hhh_bucket", &[("le", "+Inf")], 1.0, None),
        typ("ggh", MetricType::GaugeHistogram),
        sample("ggh_bucket", &[("le", "+Inf")], 1.0, None),
        typ("smr_seconds", MetricType::Summary),
        sample("smr_seconds_count", &[], 2.0, None),
        typ("ii", MetricType::Info),
        sample("ii", &[("foo", "bar")], 1.0, None),
        typ("ss", MetricType::Stateset),
        sample("ss", &[("ss", "foo")], 1.0, None),
        typ("un", MetricType::Unknown),
        sample("testmetric", &[("label", "\"bar\"")], 1.0, None),
        typ("foo", MetricType::Counter),
        sample("foo_total", &[], 17.0, Some(1520879607789)),
    ];
    assert_eq!(parse_all(input, Format::OpenMetrics).unwrap(), expected);
}

#[test]
fn special_floats_parse_as_prometheus_reads_them() {
    let input = "a NaN\nb +Inf\nc -Inf\nd 1e3\ne -0.5\nf .5\ng Inf\n";
    let values: Vec<f64> = parse_all(input, Format::Text)
        .unwrap()
        .into_iter()
        .map(|e| match e {
            Owned::Sample(_, _, v, _) => v,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(values[0].is_nan());
    assert_eq!(
        values[1..],
        [
            f64::INFINITY,
            f64::NEG_INFINITY,
            1000.0,
            -0.5,
            0.5,
            f64::INFINITY
        ]
    );
}

/// The error each malformed input yields, with its line: Prometheus's error cases.
fn error_of(input: &str, format: Format) -> ParseError {
    match parse_all(input, format) {
        Ok(entries) => panic!("{input:?} parsed: {entries:?}"),
        Err(error) => error,
    }
}

#[test]
fn text_format_errors_name_the_problem_and_line() {
    use ParseErrorKind as K;
    let cases: &[(&str, usize, ParseErrorKind)] = &[
        ("a", 1, K::ExpectedValue),
        ("ok 1\na{b='c'} 1\n", 2, K::ExpectedLabelValue),
        ("a{b=\n", 1, K::ExpectedLabelValue),
        ("a{\u{ff}=\"foo\"} 1\n", 1, K::ExpectedLabelName),
        ("a true\n", 1, K::InvalidValue("true".into())),
        (
            "x 1\ny 2\nsomething_weird{problem=\"",
            3,
            K::UnterminatedString,
        ),
        ("empty_label_name{=\"\"} 0", 1, K::ExpectedLabelName),
        ("foo 1_2\n", 1, K::InvalidValue("1_2".into())),
        ("foo 0x1p-3\n", 1, K::InvalidValue("0x1p-3".into())),
        ("foo 0x1P-3\n", 1, K::InvalidValue("0x1P-3".into())),
        ("foo 0 1_2\n", 1, K::InvalidTimestamp("1_2".into())),
        ("{a=\"ok\"} 1", 1, K::MetricNameNotSet),
        ("# TYPE #\n", 1, K::ExpectedMetricName("after TYPE")),
        ("# HELP #\n", 1, K::ExpectedMetricName("after HELP")),
        ("a{b=\x00\"ssss\"} 1\n", 1, K::ExpectedLabelValue),
        ("a{b\x00=\"hiih\"}\t1", 1, K::ExpectedEqual),
        ("a\x00{b=\"ddd\"} 1", 1, K::ExpectedValue),
        ("a 0 1\x00", 1, K::InvalidTimestamp("1\x00".into())),
        ("# TYPE a gaugey\n", 1, K::InvalidType("gaugey".into())),
        ("a{b=\"1\",b=\"2\"} 1\n", 1, K::DuplicateLabel("b".into())),
    ];
    for (input, line, kind) in cases {
        let error = error_of(input, Format::Text);
        assert_eq!((error.line, &error.kind), (*line, kind), "input {input:?}");
    }
    let invalid_utf8 = b"a{b=\"\xff\"} 1\n";
    let mut parser = Parser::new(invalid_utf8, Format::Text);
    let error = parser.next().unwrap_err();
    assert_eq!(error.kind, ParseErrorKind::InvalidUtf8);
    assert_eq!(
        error.to_string(),
        "line 1, column 5: invalid UTF-8 label value"
    );
}

#[test]
fn null_bytes_inside_label_values_are_kept() {
    for input in ["a{b=\"\x00ss\"} 1\n", "a{b=\"\x00\"} 1\n"] {
        assert_eq!(parse_all(input, Format::Text).unwrap().len(), 1);
    }
}

#[test]
fn openmetrics_errors_name_the_problem_and_line() {
    use ParseErrorKind as K;
    let cases: &[(&str, usize, ParseErrorKind)] = &[
        ("", 1, K::MissingEof),
        ("\n", 1, K::ExpectedStart),
        ("metric 1", 1, K::MissingEof),
        ("metric 1\n", 1, K::MissingEof),
        ("metric_total 1 # {aa=\"bb\"} 4", 1, K::MissingEof),
        ("a\n# EOF\n", 1, K::ExpectedValue),
        ("\n\n# EOF\n", 1, K::ExpectedStart),
        (" a 1\n# EOF\n", 1, K::ExpectedStart),
        ("9\n# EOF\n", 1, K::ExpectedStart),
        (
            "# TYPE u untyped\n# EOF\n",
            1,
            K::InvalidType("untyped".into()),
        ),
        (
            "# TYPE c counter \n# EOF\n",
            1,
            K::InvalidType("counter ".into()),
        ),
        ("#  TYPE c counter\n# EOF\n", 1, K::InvalidComment),
        ("# TYPE \n# EOF\n", 1, K::ExpectedMetricName("after TYPE")),
        ("# TYPE m\n# EOF\n", 1, K::ExpectedText("TYPE")),
        ("# UNIT metric suffix\n# EOF\n", 1, unit("suffix", "metric")),
        (
            "# UNIT metricsuffix suffix\n# EOF\n",
            1,
            unit("suffix", "metricsuffix"),
        ),
        ("# UNIT m suffix\n# EOF\n", 1, unit("suffix", "m")),
        ("# UNIT m\n# EOF\n", 1, K::ExpectedText("UNIT")),
        ("# HELP m\n# EOF\n", 1, K::ExpectedText("HELP")),
        ("a\t1\n# EOF\n", 1, K::ExpectedValue),
        ("a 1\t2\n# EOF\n", 1, K::InvalidValue("1\t2".into())),
        ("a 1 2 \n# EOF\n", 1, K::TrailingText),
        ("a 1 2 #\n# EOF\n", 1, K::TrailingText),
        ("a 1 1z\n# EOF\n", 1, K::InvalidTimestamp("1z".into())),
        (" # EOF\n", 1, K::ExpectedStart),
        ("# EOF\na 1", 2, K::DataAfterEof),
        ("# EOF\n\n", 2, K::DataAfterEof),
        ("# EOFa 1", 1, K::DataAfterEof),
        ("#\tTYPE c counter\n", 1, K::InvalidComment),
        ("# TYPE c  counter\n", 1, K::InvalidType(" counter".into())),
        ("a 1 1 1\n# EOF\n", 1, K::TrailingText),
        ("a{b='c'} 1\n# EOF\n", 1, K::ExpectedLabelValue),
        ("a{,b=\"c\"} 1\n# EOF\n", 1, K::ExpectedLabelName),
        ("a{b=\"c\"d=\"e\"} 1\n# EOF\n", 1, K::ExpectedCommaOrBrace),
        ("a{b=\"c\",,d=\"e\"} 1\n# EOF\n", 1, K::ExpectedLabelName),
        ("a{b=\n# EOF\n", 1, K::ExpectedLabelValue),
        ("a 1 NaN\n# EOF\n", 1, K::InvalidTimestamp("NaN".into())),
        (
            "a 1 # {b=\"c\"}\n# EOF\n",
            1,
            K::InvalidExemplar("expected a value"),
        ),
        ("a 1 # b 1\n# EOF\n", 1, K::InvalidExemplar("expected '{'")),
        ("ok 1\nok 2\na 1 1 x\n# EOF\n", 3, K::TrailingText),
    ];
    for (input, line, kind) in cases {
        let error = error_of(input, Format::OpenMetrics);
        assert_eq!((error.line, &error.kind), (*line, kind), "input {input:?}");
    }
}

fn unit(unit: &str, metric: &str) -> ParseErrorKind {
    ParseErrorKind::UnitNotSuffix {
        unit: unit.into(),
        metric: metric.into(),
    }
}

#[test]
fn openmetrics_eof_ends_the_body() {
    assert!(parse_all("# EOF", Format::OpenMetrics).unwrap().is_empty());
    assert!(
        parse_all("# EOF\n", Format::OpenMetrics)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn series_text_is_the_raw_series_for_caching() {
    let mut parser = Parser::new(b"up{job=\"a\"} 1 5\nup 2\n", Format::Text);
    let Some(Entry::Sample(first)) = parser.next().unwrap() else {
        panic!("expected a sample");
    };
    assert_eq!(first.series, b"up{job=\"a\"}");
    let Some(Entry::Sample(second)) = parser.next().unwrap() else {
        panic!("expected a sample");
    };
    assert_eq!(second.series, b"up");
}

#[test]
fn known_series_skip_their_labels_and_parse_back_from_their_text() {
    let body = b"up{job=\"a\",instance=\"h\"} 1 5\nup{job=\"a\",instance=\"h\"} 2\n";
    let mut parser = Parser::new(body, Format::Text);
    let Some(Entry::Sample(first)) = parser.next_with(&mut |_| true).unwrap() else {
        panic!("expected a sample");
    };
    let (series, name) = (first.series, first.name.to_string());
    let labels: Vec<(String, String)> = first
        .labels
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let Some(Entry::Sample(second)) = parser.next_with(&mut |s| s != series).unwrap() else {
        panic!("expected a sample");
    };
    assert_eq!((second.series, second.value), (series, 2.0));
    assert!(second.name.is_empty() && second.labels.is_empty());

    let mut reparsed = Vec::new();
    assert_eq!(parse_series(series, &mut reparsed).unwrap(), name);
    let reparsed: Vec<(String, String)> = reparsed
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(reparsed, labels);
    assert!(parse_series(b"up{job=\"a\"} 1", &mut Vec::new()).is_err());
}

#[test]
fn an_empty_quoted_metric_name_is_no_metric_name() {
    for format in [Format::Text, Format::OpenMetrics] {
        let error = error_of("{\"\"} 1\n# EOF\n", format);
        assert_eq!(
            (error.line, error.kind),
            (1, ParseErrorKind::MetricNameNotSet)
        );
    }
}

#[test]
fn content_type_selects_the_format() {
    let om = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    assert_eq!(Format::from_content_type(Some(om)), Format::OpenMetrics);
    let text = "text/plain; version=0.0.4";
    assert_eq!(Format::from_content_type(Some(text)), Format::Text);
    assert_eq!(Format::from_content_type(None), Format::Text);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Arbitrary bytes give entries or an error in both formats, never a panic (the
        /// in-test counterpart of the cargo-fuzz target in collector/fuzz).
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for format in [Format::Text, Format::OpenMetrics] {
                let mut parser = Parser::new(&bytes, format);
                while let Ok(Some(_)) = parser.next() {}
            }
        }

        /// Plain decimals take a fast path; it gives exactly what `str::parse` gives.
        #[test]
        fn decimal_values_are_bit_exact(token in "-?[0-9]{1,17}(\\.[0-9]{0,17})?") {
            let expected: f64 = token.parse().unwrap();
            let parsed = sample::parse_float(token.as_bytes()).unwrap();
            prop_assert_eq!(parsed.to_bits(), expected.to_bits());
        }

        /// Skipping the labels of series met before changes nothing else: the same samples,
        /// values, timestamps and first error as a full parse.
        #[test]
        fn skipping_known_series_changes_nothing_else(
            lines in proptest::collection::vec(
                "([a-b:]{1,2}[ \t]?(\\{([a-b]{1,2}=\"[a-b\\\\\"}]{0,3}\",? ?){0,2}\\})?|\\{\"[a-b]\"\\}) ?[0-9.]{1,2}( [0-9]{0,2})?",
                1..8,
            ),
        ) {
            let body = format!("{}\n", lines.join("\n")).repeat(2);
            for format in [Format::Text, Format::OpenMetrics] {
                let full = series_values(body.as_bytes(), format, false);
                let skipping = series_values(body.as_bytes(), format, true);
                prop_assert_eq!(full, skipping);
            }
        }
    }

    /// The series, values and timestamps of `body`, then the error if any; with `skip`, the
    /// labels of series already returned are not parsed.
    fn series_values(body: &[u8], format: Format, skip: bool) -> Vec<String> {
        let mut parser = Parser::new(body, format);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        loop {
            let next = parser.next_with(&mut |series| !skip || !seen.contains(series));
            match next {
                Ok(Some(Entry::Sample(sample))) => {
                    out.push(format!(
                        "{:?} {} {:?}",
                        sample.series, sample.value, sample.timestamp_ms
                    ));
                    seen.insert(sample.series.to_vec());
                }
                Ok(Some(_)) => {}
                Ok(None) => return out,
                Err(error) => {
                    out.push(error.to_string());
                    return out;
                }
            }
        }
    }

    proptest! {
        /// Any series, written by the exposition writer, reads back unchanged, with the value
        /// and timestamp.
        #[test]
        fn written_series_read_back(
            name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,20}",
            labels in proptest::collection::btree_map("[a-zA-Z][a-zA-Z0-9_]{0,10}", "\\PC{0,12}", 0..4),
            value in any::<f64>().prop_filter("finite", |v| v.is_finite()),
            timestamp in any::<i64>(),
        ) {
            let series = crate::labels::Labels::from_pairs(
                std::iter::once(("__name__", name.as_str()))
                    .chain(labels.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            );
            let mut line = String::new();
            crate::exposition::write_sample(&mut line, &series, value, Some(timestamp));
            let parsed = parse_all(&line, Format::Text).unwrap();
            // Labels drop empty values, so the writer never sees them.
            let expected: Vec<(&str, &str)> = labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            prop_assert_eq!(parsed, vec![sample(&name, &expected, value, Some(timestamp))]);
        }
    }
}
