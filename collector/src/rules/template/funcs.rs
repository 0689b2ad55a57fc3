//! The functions templates may call: Go's builtins and those Prometheus adds for alerts.

use std::cmp::Ordering;

use super::gofmt::{format_float, sprintf};
use super::value::Value;
use crate::vocab::{DurationError, parse_duration};

/// Why a template function call failed, in the words Go's and Prometheus's templates use.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateFuncError {
    /// No argument where one is needed.
    #[error("missing argument")]
    MissingArgument,
    /// A comparison with fewer than two operands.
    #[error("missing argument for comparison")]
    MissingComparand,
    /// `printf` without a format.
    #[error("wrong number of args for printf")]
    PrintfWithoutFormat,
    /// Not the number of arguments the function takes.
    #[error("wrong number of args: want {want} got {got}")]
    Arity {
        /// How many it takes.
        want: usize,
        /// How many it got.
        got: usize,
    },
    /// `len` of a value without a length.
    #[error("len of type {0}")]
    NoLength(&'static str),
    /// A value that should be a string.
    #[error("wrong type for value; expected string; got {0}")]
    NotString(&'static str),
    /// A string that is not a number.
    #[error("strconv.ParseFloat: parsing {0:?}: invalid syntax")]
    NotANumber(String),
    /// A value that cannot become a number.
    #[error("can't convert {0} to float")]
    NotConvertible(&'static str),
    /// A list index past its end.
    #[error("index out of range: {0}")]
    IndexOutOfRange(i64),
    /// Indexing a value that is neither a map nor a list.
    #[error("can't index item of type {0}")]
    NotIndexable(&'static str),
    /// Values of different types compared.
    #[error("incompatible types for comparison")]
    Incomparable,
    /// A regular expression that does not compile.
    #[error("{0}")]
    Regex(#[from] regex::Error),
    /// A duration `parseDuration` cannot read.
    #[error("{0}")]
    Duration(#[from] DurationError),
    /// Seconds too large for a nanosecond timestamp.
    #[error("{0} cannot be represented as a nanoseconds timestamp since it overflows int64")]
    TimestampOverflow(String),
    /// A function Osprey does not provide.
    #[error("{0} is not supported in Osprey's alert templates")]
    Unsupported(String),
}

/// Calls function `name` with `args` (the piped value, if any, last).
pub fn call(name: &str, args: &[Value]) -> Result<Value, TemplateFuncError> {
    let value = match name {
        "and" => {
            let first_false = args.iter().find(|a| !a.is_true());
            first_false
                .or(args.last())
                .cloned()
                .ok_or(TemplateFuncError::MissingArgument)?
        }
        "or" => {
            let first_true = args.iter().find(|a| a.is_true());
            first_true
                .or(args.last())
                .cloned()
                .ok_or(TemplateFuncError::MissingArgument)?
        }
        "not" => Value::Bool(!one(args)?.is_true()),
        "len" => Value::Int(match one(args)? {
            Value::Str(s) => s.len(),
            Value::Map(m) => m.len(),
            Value::List(l) => l.len(),
            other => return Err(TemplateFuncError::NoLength(other.type_name())),
        } as i64),
        "index" => index(args)?,
        "print" => Value::Str(go_print(args)),
        "println" => {
            let words: Vec<String> = args.iter().map(Value::to_string).collect();
            Value::Str(format!("{}\n", words.join(" ")))
        }
        "printf" => {
            let (format, rest) = args
                .split_first()
                .ok_or(TemplateFuncError::PrintfWithoutFormat)?;
            Value::Str(sprintf(&string(format)?, rest))
        }
        "urlquery" => Value::Str(url_query(&go_print(args))),
        "graphLink" | "tableLink" => {
            let tab = if name == "graphLink" { 0 } else { 1 };
            let expr = url_query(&string(one(args)?)?);
            Value::Str(format!("/graph?g0.expr={expr}&g0.tab={tab}"))
        }
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => compare(name, args)?,
        "humanize" => Value::Str(humanize(number(one(args)?)?)),
        "humanize1024" => Value::Str(humanize1024(number(one(args)?)?)),
        "humanizeDuration" => Value::Str(humanize_duration(number(one(args)?)?)),
        "humanizePercentage" => Value::Str(format!("{}%", g4(number(one(args)?)? * 100.0))),
        "humanizeTimestamp" => Value::Str(humanize_timestamp(number(one(args)?)?)?),
        "toUpper" => Value::Str(string(one(args)?)?.to_uppercase()),
        "toLower" => Value::Str(string(one(args)?)?.to_lowercase()),
        "title" => Value::Str(title(&string(one(args)?)?)),
        "stripPort" => Value::Str(strip_port(&string(one(args)?)?)),
        "stripDomain" => Value::Str(strip_domain(&string(one(args)?)?)),
        "match" => {
            let [pattern, text] = args else {
                return Err(arity(2, args));
            };
            let re = regex::Regex::new(&string(pattern)?)?;
            Value::Bool(re.is_match(&string(text)?))
        }
        "reReplaceAll" => {
            let [pattern, replacement, text] = args else {
                return Err(arity(3, args));
            };
            let re = regex::Regex::new(&string(pattern)?)?;
            Value::Str(
                re.replace_all(&string(text)?, string(replacement)?.as_str())
                    .into_owned(),
            )
        }
        "parseDuration" => {
            let text = string(one(args)?)?;
            let duration = parse_duration(&text)?;
            Value::Float(duration.as_secs_f64())
        }
        other => return Err(TemplateFuncError::Unsupported(other.to_owned())),
    };
    Ok(value)
}

fn arity(want: usize, args: &[Value]) -> TemplateFuncError {
    TemplateFuncError::Arity {
        want,
        got: args.len(),
    }
}

fn one(args: &[Value]) -> Result<&Value, TemplateFuncError> {
    match args {
        [value] => Ok(value),
        _ => Err(arity(1, args)),
    }
}

fn string(value: &Value) -> Result<String, TemplateFuncError> {
    match value {
        Value::Str(s) => Ok(s.clone()),
        other => Err(TemplateFuncError::NotString(other.type_name())),
    }
}

/// Prometheus's conversion of a function argument to a float: numbers as they are, strings
/// parsed as Go's `strconv.ParseFloat`.
fn number(value: &Value) -> Result<f64, TemplateFuncError> {
    match value {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => {
            let parsed = match s.to_ascii_lowercase().trim_start_matches('+') {
                "inf" | "infinity" => Some(if s.starts_with('-') {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }),
                "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
                "nan" => Some(f64::NAN),
                _ => s.parse::<f64>().ok(),
            };
            parsed.ok_or_else(|| TemplateFuncError::NotANumber(s.clone()))
        }
        other => Err(TemplateFuncError::NotConvertible(other.type_name())),
    }
}

/// Go's `fmt.Print`: spaces only between operands when neither is a string.
fn go_print(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_string = |v: &Value| matches!(v, Value::Str(_));
        if i > 0 && !is_string(arg) && !is_string(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&arg.to_string());
    }
    out
}

fn index(args: &[Value]) -> Result<Value, TemplateFuncError> {
    let (first, keys) = args
        .split_first()
        .ok_or(TemplateFuncError::MissingArgument)?;
    let mut current = first.clone();
    for key in keys {
        current = match (&current, key) {
            (Value::Map(m), Value::Str(k)) => Value::Str(m.get(k).cloned().unwrap_or_default()),
            (Value::List(l), Value::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|i| l.get(i).cloned())
                .ok_or(TemplateFuncError::IndexOutOfRange(*i))?,
            (other, _) => return Err(TemplateFuncError::NotIndexable(other.type_name())),
        };
    }
    Ok(current)
}

fn compare(name: &str, args: &[Value]) -> Result<Value, TemplateFuncError> {
    let (first, others) = args
        .split_first()
        .filter(|(_, others)| !others.is_empty())
        .ok_or(TemplateFuncError::MissingComparand)?;
    let order = |a: &Value, b: &Value| -> Result<Option<Ordering>, TemplateFuncError> {
        match (a, b) {
            (Value::Int(x), Value::Int(y)) => Ok(x.partial_cmp(y)),
            (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y)),
            (Value::Str(x), Value::Str(y)) => Ok(x.partial_cmp(y)),
            (Value::Bool(x), Value::Bool(y)) if matches!(name, "eq" | "ne") => Ok(x.partial_cmp(y)),
            _ => Err(TemplateFuncError::Incomparable),
        }
    };
    if name == "eq" {
        for other in others {
            if order(first, other)? == Some(Ordering::Equal) {
                return Ok(Value::Bool(true));
            }
        }
        return Ok(Value::Bool(false));
    }
    let [second] = others else {
        return Err(arity(2, args));
    };
    let ordering = order(first, second)?;
    Ok(Value::Bool(match name {
        "ne" => ordering != Some(Ordering::Equal),
        "lt" => ordering == Some(Ordering::Less),
        "le" => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        "gt" => ordering == Some(Ordering::Greater),
        _ => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }))
}

/// `%.4g`, the precision every humanize function uses.
fn g4(v: f64) -> String {
    format_float(v, 'g', Some(4))
}

fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let whole = v as i64;
        let (seconds, minutes, hours, days) = (
            whole % 60,
            whole / 60 % 60,
            whole / 3600 % 24,
            whole / 86_400,
        );
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Go's `time.Time.String()` in UTC: `2015-06-23 13:19:44.128 +0000 UTC`.
fn humanize_timestamp(v: f64) -> Result<String, TemplateFuncError> {
    if !v.is_finite() {
        return Ok(g4(v));
    }
    let nanos = v * 1e9;
    if nanos >= i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err(TemplateFuncError::TimestampOverflow(format_float(
            v, 'g', None,
        )));
    }
    let time = chrono::DateTime::from_timestamp_nanos(nanos as i64);
    let mut text = time.format("%Y-%m-%d %H:%M:%S%.9f").to_string();
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    Ok(format!("{text} +0000 UTC"))
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous_is_separator = true;
    for c in text.chars() {
        out.extend(if previous_is_separator {
            c.to_uppercase().collect::<Vec<_>>()
        } else {
            vec![c]
        });
        previous_is_separator = !(c.is_alphanumeric() || c == '_');
    }
    out
}

/// Go's `net.SplitHostPort` host part, or the input unchanged when it has no valid port.
fn strip_port(address: &str) -> String {
    if let Some(rest) = address.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once("]:")
            && !port.contains(':')
        {
            return host.to_owned();
        }
        return address.to_owned();
    }
    match address.rsplit_once(':') {
        Some((host, _)) if !host.contains(':') => host.to_owned(),
        _ => address.to_owned(),
    }
}

/// The host name without its domain (`foo.example.com:9100` -> `foo:9100`); IP addresses stay.
fn strip_domain(address: &str) -> String {
    let host = strip_port(address);
    if host.parse::<std::net::IpAddr>().is_ok() {
        return address.to_owned();
    }
    let port = address.strip_prefix(&host).unwrap_or("");
    let short = host.split('.').next().unwrap_or(&host);
    format!("{short}{port}")
}

fn url_query(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
