//! Reads Prometheus's PromQL test scripts (`promqltest` format) into commands.

pub mod compare;
pub mod notation;

use notation::{parse_duration_ms, parse_series_line};

/// One series of a `load` block.
pub struct LoadSeries {
    pub labels: Vec<(String, String)>,
    /// Values at `i * interval`, `None` for an omitted step.
    pub values: Vec<Option<f64>>,
}

/// What an evaluation should produce.
#[derive(Default)]
pub struct Expectation {
    pub fail: bool,
    pub ordered: bool,
    pub string: Option<String>,
    /// `expect range vector from A to B step S` for an instant query of a range vector.
    pub range_vector: Option<(i64, i64, i64)>,
    /// Expected series (labels, values); a bare number line gives a scalar.
    pub series: Vec<notation::SeriesLine>,
    pub scalar: Option<f64>,
}

/// A command of a test script.
pub enum Command {
    Load {
        interval: i64,
        series: Vec<LoadSeries>,
        /// Whether the block converts classic histograms to native ones (unsupported here).
        histograms: bool,
        /// Metric names loaded with native histogram values.
        histogram_names: Vec<String>,
    },
    Clear,
    Eval {
        line: usize,
        query: String,
        /// `(start, end, step)`; `start == end` and step 0 for instant queries.
        range: (i64, i64, i64),
        instant: bool,
        expect: Expectation,
        /// Whether the case involves native histograms (skipped).
        histograms: bool,
    },
}

/// Parses a whole script; unparseable commands are returned as errors with their line.
pub fn parse_script(text: &str) -> Vec<Result<Command, String>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let body_start = i;
        while i < lines.len() && !lines[i].trim().is_empty() && starts_indented(lines[i]) {
            i += 1;
        }
        let body: Vec<&str> = lines[body_start..i]
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.starts_with('#'))
            .collect();
        out.push(parse_command(line, &body, body_start));
    }
    out
}

fn starts_indented(line: &str) -> bool {
    line.starts_with([' ', '\t'])
}

fn parse_command(line: &str, body: &[&str], line_no: usize) -> Result<Command, String> {
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    match word {
        "clear" => Ok(Command::Clear),
        "load" | "load_with_nhcb" => {
            let interval = parse_duration_ms(rest.trim())?;
            let mut series = Vec::new();
            let histograms = word == "load_with_nhcb";
            let mut histogram_names = Vec::new();
            for l in body {
                if l.contains("{{") {
                    let name = l.split(['{', ' ', '\t']).next().unwrap_or("");
                    if !name.is_empty() {
                        histogram_names.push(name.to_owned());
                    }
                    continue;
                }
                let (labels, values) = parse_series_line(l)?;
                series.push(LoadSeries { labels, values });
            }
            Ok(Command::Load {
                interval,
                series,
                histograms,
                histogram_names,
            })
        }
        "eval" | "eval_fail" | "eval_ordered" | "eval_warn" | "eval_info" => {
            parse_eval(word, rest.trim(), body, line_no)
        }
        other => Err(format!("line {line_no}: unknown command {other}")),
    }
}

fn parse_eval(word: &str, rest: &str, body: &[&str], line: usize) -> Result<Command, String> {
    let mut words = rest.splitn(2, ' ');
    let kind = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("").trim();
    let (range, instant, query) = match kind {
        "instant" => {
            let rest = rest.strip_prefix("at ").ok_or("eval instant without at")?;
            let (t, query) = rest.trim().split_once(' ').ok_or("eval without query")?;
            let t = parse_duration_ms(t)?;
            ((t, t, 0), true, query.trim().to_owned())
        }
        "range" => {
            let parts: Vec<&str> = rest.splitn(7, ' ').collect();
            let [from, start, to, end, step_word, step, query] = parts[..] else {
                return Err(format!("bad eval range: {rest}"));
            };
            if from != "from" || to != "to" || step_word != "step" {
                return Err(format!("bad eval range: {rest}"));
            }
            let range = (
                parse_duration_ms(start)?,
                parse_duration_ms(end)?,
                parse_duration_ms(step)?,
            );
            (range, false, query.trim().to_owned())
        }
        other => return Err(format!("unknown eval kind {other}")),
    };
    let mut expect = Expectation {
        fail: word == "eval_fail",
        ordered: word == "eval_ordered",
        ..Default::default()
    };
    let mut histograms = query.contains("histogram_") && !query.contains("histogram_quantile(")
        || query.contains("info(");
    for l in body {
        if let Some(directive) = l.strip_prefix("expect ") {
            let directive = directive.trim();
            if directive.starts_with("fail") {
                expect.fail = true;
            } else if directive == "ordered" {
                expect.ordered = true;
            } else if let Some(s) = directive.strip_prefix("string") {
                expect.string = Some(notation::unquote(s.trim())?);
            } else if let Some(r) = directive.strip_prefix("range vector from ") {
                let parts: Vec<&str> = r.split_whitespace().collect();
                let [start, "to", end, "step", step] = parts[..] else {
                    return Err(format!("bad expect range vector: {r}"));
                };
                expect.range_vector = Some((
                    parse_duration_ms(start)?,
                    parse_duration_ms(end)?,
                    parse_duration_ms(step)?,
                ));
            }
            continue;
        }
        if l.contains("{{") {
            histograms = true;
            continue;
        }
        if let Ok(v) = notation::parse_value(l) {
            expect.scalar = Some(v);
            continue;
        }
        expect.series.push(parse_series_line(l)?);
    }
    Ok(Command::Eval {
        line,
        query,
        range,
        instant,
        expect,
        histograms,
    })
}
