//! Alertmanager's matcher strings (`severity="critical"`, `job=~"node.*"`, `{a="1",b!="2"}`).

use crate::labels::{MatchOp, Matcher};
use crate::vocab::is_label_name;

/// Why a matcher string could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MatcherError {
    /// Not `name op value`, or a value with an unterminated quote.
    #[error("bad matcher format: {0}")]
    Format(String),
    /// The name is not a label name.
    #[error("invalid label name {name:?} in matcher {matcher}")]
    LabelName {
        /// The name as written.
        name: String,
        /// The whole matcher.
        matcher: String,
    },
    /// The regular expression does not compile.
    #[error("invalid regular expression in {matcher}: {source}")]
    Regex {
        /// The whole matcher.
        matcher: String,
        /// What the regex crate said.
        source: regex::Error,
    },
}

/// Parses one entry of a `matchers:` list into the matchers it holds.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, MatcherError> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(trimmed);
    split_outside_quotes(inner)
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(parse_one)
        .collect()
}

fn split_outside_quotes(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_one(text: &str) -> Result<Matcher, MatcherError> {
    let bad = || MatcherError::Format(text.to_owned());
    let op_at = text.find(['=', '!']).ok_or_else(bad)?;
    let name = text[..op_at].trim();
    let rest = &text[op_at..];
    let (op, value) = if let Some(v) = rest.strip_prefix("=~") {
        (MatchOp::Regex, v)
    } else if let Some(v) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, v)
    } else if let Some(v) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (MatchOp::Equal, v)
    } else {
        return Err(bad());
    };
    if !is_label_name(name) {
        return Err(MatcherError::LabelName {
            name: name.to_owned(),
            matcher: text.to_owned(),
        });
    }
    let value = unquote(value.trim()).ok_or_else(bad)?;
    Matcher::new(op, name, value).map_err(|source| MatcherError::Regex {
        matcher: text.to_owned(),
        source,
    })
}

fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    #[test]
    fn parses_quoted_unquoted_and_braced_forms() {
        let labels = Labels::from_pairs([("severity", "critical"), ("job", "node-1")]);
        for text in [
            "severity=\"critical\"",
            "severity=critical",
            "{severity=\"critical\", job=~\"node-.*\"}",
            "severity!=warning",
            "job!~\"db.*\"",
        ] {
            let matchers = parse_matchers(text).unwrap();
            assert!(matchers.iter().all(|m| m.matches_labels(&labels)), "{text}");
        }
        let m = parse_matchers("a=\"x,y\\\"z\"").unwrap();
        assert_eq!(m[0].value, "x,y\"z");
    }

    #[test]
    fn rejects_malformed_matchers() {
        assert!(parse_matchers("severity").is_err());
        assert!(parse_matchers("bad-name=x").is_err());
        assert!(parse_matchers("a=~\"(\"").is_err());
        assert!(parse_matchers("a=\"unterminated").is_err());
    }
}
