//! A strict reader of the Prometheus text format 0.0.4, for the files of the textfile
//! collector: a file is accepted whole or refused with the line at fault.

use crate::expose::MetricType;

/// One metric family as a file wrote it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedFamily {
    /// The family name (for histograms and summaries, without `_bucket`, `_sum`, `_count`).
    pub name: String,
    /// The `# HELP` text, unescaped.
    pub help: Option<String>,
    /// The declared type (`Untyped` when no `# TYPE` line declares one).
    pub kind: MetricType,
    /// The samples in file order.
    pub samples: Vec<ParsedSample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedSample {
    /// The sample's metric name (`x_bucket` in a histogram `x`).
    pub name: String,
    /// Label pairs in file order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// Why a file was refused: the line (counted from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub(crate) struct ParseError {
    /// The line at fault.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses a whole file. Families keep the order of their first appearance; samples of one name
/// written in several places are gathered into its family, as node_exporter does.
pub(crate) fn parse(text: &str) -> Result<Vec<ParsedFamily>, ParseError> {
    let mut families: Vec<ParsedFamily> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let fail = |message: String| ParseError {
            line: index + 1,
            message,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            read_comment(comment, &mut families).map_err(fail)?;
            continue;
        }
        let sample = read_sample(line).map_err(fail)?;
        let family = family_of(&mut families, &sample.name);
        family.samples.push(sample);
    }
    Ok(families)
}

/// Handles `# HELP name text` and `# TYPE name type`; other comments are ignored.
fn read_comment(comment: &str, families: &mut Vec<ParsedFamily>) -> Result<(), String> {
    let mut words = comment.trim_start().splitn(3, [' ', '\t']);
    let (keyword, name, rest) = (words.next(), words.next(), words.next().unwrap_or(""));
    let (Some(keyword @ ("HELP" | "TYPE")), Some(name)) = (keyword, name) else {
        return Ok(());
    };
    check_metric_name(name)?;
    let index = families.iter().position(|f| f.name == name);
    let index = index.unwrap_or_else(|| push_untyped(families, name));
    let family = &mut families[index];
    if keyword == "HELP" {
        if family.help.is_some() {
            return Err(format!("second HELP line for {name}"));
        }
        family.help = Some(unescape(rest.trim_start(), false)?);
        return Ok(());
    }
    if !family.samples.is_empty() || family.kind != MetricType::Untyped {
        return Err(format!(
            "TYPE line for {name} after its samples or a TYPE line"
        ));
    }
    family.kind = match rest.trim() {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" => MetricType::Untyped,
        other => return Err(format!("unknown metric type {other:?}")),
    };
    Ok(())
}

/// The family a sample named `name` belongs to: its own, or the histogram or summary it is a
/// `_bucket`, `_sum` or `_count` of; a new untyped family when there is none.
fn family_of<'f>(families: &'f mut Vec<ParsedFamily>, name: &str) -> &'f mut ParsedFamily {
    let index = families.iter().position(|family| {
        family.name == name
            || matches!(family.kind, MetricType::Histogram | MetricType::Summary)
                && name
                    .strip_prefix(family.name.as_str())
                    .is_some_and(|suffix| {
                        matches!(suffix, "_sum" | "_count")
                            || suffix == "_bucket" && family.kind == MetricType::Histogram
                    })
    });
    let index = index.unwrap_or_else(|| push_untyped(families, name));
    &mut families[index]
}

/// Adds an untyped family named `name` with no help and no samples; returns its index.
fn push_untyped(families: &mut Vec<ParsedFamily>, name: &str) -> usize {
    families.push(ParsedFamily {
        name: name.to_owned(),
        help: None,
        kind: MetricType::Untyped,
        samples: Vec::new(),
    });
    families.len() - 1
}

/// Reads `name{label="value",...} value`; a timestamp is refused, as node_exporter refuses it.
fn read_sample(line: &str) -> Result<ParsedSample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .ok_or_else(|| format!("no value in {line:?}"))?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inside) = rest.strip_prefix('{') {
        rest = read_labels(inside, &mut labels)?;
    }
    let mut fields = rest.split_ascii_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("no value in {line:?}"))?;
    let value = parse_value(value).ok_or_else(|| format!("bad value {value:?}"))?;
    if fields.next().is_some() {
        return Err("client-side timestamps are not supported".to_owned());
    }
    Ok(ParsedSample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads `a="1",b="2"}` into `labels` and returns what follows the closing brace.
fn read_labels<'t>(
    mut text: &'t str,
    labels: &mut Vec<(String, String)>,
) -> Result<&'t str, String> {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let (name, rest) = text
            .split_once('=')
            .ok_or_else(|| "label without value".to_owned())?;
        let name = name.trim();
        let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(format!("invalid label name {name:?}"));
        }
        if labels.iter().any(|(seen, _)| seen == name) {
            return Err(format!("label {name} given twice"));
        }
        let quoted = rest
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| format!("value of label {name} is not quoted"))?;
        let end = closing_quote(quoted).ok_or_else(|| format!("unterminated value of {name}"))?;
        labels.push((name.to_owned(), unescape(&quoted[..end], true)?));
        text = quoted[end + 1..].trim_start();
        text = match text.strip_prefix(',') {
            Some(rest) => rest,
            None if text.starts_with('}') => text,
            None => return Err(format!("expected , or }} after the value of {name}")),
        };
    }
}

/// The byte offset of the first double quote not escaped by a backslash.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (offset, byte) in text.bytes().enumerate() {
        match byte {
            b'"' if !escaped => return Some(offset),
            b'\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    None
}

/// Undoes `\\`, `\n` and (in label values) `\"`.
fn unescape(text: &str, quote: bool) -> Result<String, String> {
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
            Some('"') if quote => out.push('"'),
            // HELP text keeps other backslashes as written.
            Some(other) if !quote => {
                out.push('\\');
                out.push(other);
            }
            _ => return Err(format!("invalid escape in {text:?}")),
        }
    }
    Ok(out)
}

/// A value as Prometheus writes it: a float, `NaN`, `+Inf` or `-Inf`.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        // Rust also reads "inf" and "infinity", which the format does not have.
        _ if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) =>
        {
            None
        }
        _ => text.parse().ok(),
    }
}

/// A metric name is `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn check_metric_name(name: &str) -> Result<(), String> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    match valid {
        true => Ok(()),
        false => Err(format!("invalid metric name {name:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_with_help_type_labels_and_escapes() {
        let text = "# HELP job_last_success_seconds When the job last \\\\ succeeded.\n\
                    # TYPE job_last_success_seconds gauge\n\
                    job_last_success_seconds{job=\"backup\",path=\"C:\\\\x \\\"y\\\"\\n\"} 1.7e9\n\
                    \n\
                    # a comment\n\
                    jobs_total 3\n";
        let families = parse(text).unwrap();
        assert_eq!(families.len(), 2);
        let first = &families[0];
        assert_eq!(
            first.help.as_deref(),
            Some("When the job last \\ succeeded.")
        );
        assert_eq!(first.kind, MetricType::Gauge);
        assert_eq!(
            first.samples[0].labels,
            vec![
                ("job".to_owned(), "backup".to_owned()),
                ("path".to_owned(), "C:\\x \"y\"\n".to_owned())
            ]
        );
        assert_eq!(first.samples[0].value, 1.7e9);
        assert_eq!(families[1].kind, MetricType::Untyped);
        assert_eq!(families[1].help, None);
    }

    #[test]
    fn histogram_samples_belong_to_their_family() {
        let text = "# TYPE rt histogram\nrt_bucket{le=\"1\"} 2\nrt_bucket{le=\"+Inf\"} 3\n\
                    rt_sum 4.5\nrt_count 3\n";
        let families = parse(text).unwrap();
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].samples.len(), 4);
        assert_eq!(families[0].samples[3].name, "rt_count");
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        for (text, line, needle) in [
            ("ok 1\nbad metric line {\n", 2, "bad value"),
            ("x{a=\"1\" 2\n", 1, "expected , or }"),
            ("x{a=\"1} 2\n", 1, "unterminated"),
            ("x{a=1} 2\n", 1, "not quoted"),
            ("x 1 1700000000000\n", 1, "timestamps"),
            ("x inf\n", 1, "bad value"),
            ("# TYPE x gauge\nx 1\n# TYPE x counter\n", 3, "TYPE line"),
            ("# TYPE x speedometer\n", 1, "unknown metric type"),
            ("1x 2\n", 1, "invalid metric name"),
            ("x{a=\"1\",a=\"2\"} 2\n", 1, "twice"),
            ("x{a=\"\\q\"} 2\n", 1, "invalid escape"),
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
            assert!(error.message.contains(needle), "{text:?}: {error}");
        }
    }

    #[test]
    fn special_values_are_read() {
        let families = parse("a NaN\nb +Inf\nc -Inf\nd -0.5e-3\n").unwrap();
        assert!(families[0].samples[0].value.is_nan());
        assert_eq!(families[1].samples[0].value, f64::INFINITY);
        assert_eq!(families[2].samples[0].value, f64::NEG_INFINITY);
        assert_eq!(families[3].samples[0].value, -0.0005);
    }
}
