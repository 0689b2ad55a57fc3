//! The value notation of test scripts: durations, series descriptions and expanding sequences.

/// Parses `10m`, `1h30m`, `10s53ms`, `0`, or plain seconds (`1.5`) into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    if let Ok(seconds) = s.parse::<f64>() {
        return Ok((seconds * 1000.0).round() as i64);
    }
    let mut total = 0i64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or(format!("bad duration {s}"))?;
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("bad duration {s}"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            other => return Err(format!("bad duration unit {other} in {s}")),
        };
        total += n * unit;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// A single value: a number, `NaN`, `Inf`, `-Inf` or `stale`.
pub fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "stale" => Ok(f64::from_bits(0x7ff0_0000_0000_0002)),
        "NaN" => Ok(f64::NAN),
        "Inf" | "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => {
            if let Some(hex) = s.strip_prefix("0x") {
                return i64::from_str_radix(hex, 16)
                    .map(|v| v as f64)
                    .map_err(|e| e.to_string());
            }
            s.parse::<f64>().map_err(|_| format!("bad value {s:?}"))
        }
    }
}

/// Removes quotes ("..." or `...`) and resolves backslash escapes in double-quoted strings.
pub fn unquote(s: &str) -> Result<String, String> {
    if let Some(inner) = s.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        return Ok(inner.to_owned());
    }
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .ok_or(format!("not a quoted string: {s}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => return Err("dangling escape".into()),
        }
    }
    Ok(out)
}

/// Label pairs as written, `__name__` first when the line names a metric.
pub type LabelPairs = Vec<(String, String)>;

/// A series description `name{a="b"} 1 2+3x4 _ stale` as labels and expanded values.
pub type SeriesLine = (LabelPairs, Vec<Option<f64>>);

/// Parses a series description line.
pub fn parse_series_line(line: &str) -> Result<SeriesLine, String> {
    let (labels, rest) = split_labels(line)?;
    let mut values = Vec::new();
    for item in rest.split_whitespace() {
        expand(item, &mut values)?;
    }
    Ok((labels, values))
}

fn split_labels(line: &str) -> Result<(LabelPairs, &str), String> {
    let line = line.trim();
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let mut labels = Vec::new();
    if name_end > 0 {
        labels.push(("__name__".to_owned(), line[..name_end].to_owned()));
    }
    let rest = &line[name_end..];
    let Some(body) = rest.strip_prefix('{') else {
        return Ok((labels, rest));
    };
    let mut chars = body.char_indices().peekable();
    loop {
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == ',')
            .is_some()
        {}
        let Some(&(start, c)) = chars.peek() else {
            return Err(format!("unterminated labels in {line}"));
        };
        if c == '}' {
            return Ok((labels, &body[start + 1..]));
        }
        let mut name_end = start;
        while let Some((i, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            name_end = i + c.len_utf8();
        }
        let name = body[start..name_end].trim_matches('"').to_owned();
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == '=')
            .is_some()
        {}
        let Some((q, quote)) = chars.next() else {
            return Err(format!("missing value in {line}"));
        };
        let mut value_end = q + 1;
        let mut escaped = false;
        for (i, c) in chars.by_ref() {
            if c == quote && !escaped {
                value_end = i;
                break;
            }
            escaped = c == '\\' && !escaped;
        }
        labels.push((name, unquote(&body[q..=value_end])?));
    }
}

/// Expands one item (`1`, `_`, `_x3`, `1x3`, `1+2x3`, `-1-1x3`, `stale`) into values.
fn expand(item: &str, out: &mut Vec<Option<f64>>) -> Result<(), String> {
    if let Some(times) = item.strip_prefix("_x") {
        let n: usize = times.parse().map_err(|_| format!("bad item {item}"))?;
        out.extend(std::iter::repeat_n(None, n));
        return Ok(());
    }
    if item == "_" {
        out.push(None);
        return Ok(());
    }
    let Some((head, times)) = item.rsplit_once('x').filter(|(h, _)| !h.is_empty()) else {
        out.push(Some(parse_value(item)?));
        return Ok(());
    };
    let Ok(n) = times.parse::<usize>() else {
        out.push(Some(parse_value(item)?));
        return Ok(());
    };
    // Split `start(+|-)increment`, skipping a leading sign and exponent signs.
    let split = head
        .char_indices()
        .skip(1)
        .filter(|&(i, c)| (c == '+' || c == '-') && !head[..i].ends_with(['e', 'E']))
        .map(|(i, _)| i)
        .last();
    let (start, increment) = match split {
        Some(i) => (
            parse_value(&head[..i])?,
            parse_value(head[i..].trim_start_matches('+'))?,
        ),
        None => (parse_value(head)?, 0.0),
    };
    let mut v = start;
    for _ in 0..=n {
        out.push(Some(v));
        v += increment;
    }
    Ok(())
}
