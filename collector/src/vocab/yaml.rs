//! YAML read with serde-saphyr, its errors told as `line:column: message` without the source
//! excerpt the crate renders around them.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_saphyr::Spanned;

/// A YAML document that could not be read into the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct YamlError {
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// What is wrong, on one line.
    pub message: String,
}

impl fmt::Display for YamlError {
    /// `line:column: message`, or the message alone when the position is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => f.write_str(&self.message),
            line => write!(f, "{line}:{}: {}", self.column, self.message),
        }
    }
}

impl From<serde_saphyr::Error> for YamlError {
    fn from(error: serde_saphyr::Error) -> Self {
        let (line, column) = error
            .location()
            .map_or((0, 0), |at| (at.line(), at.column()));
        YamlError {
            line,
            column,
            message: plain_message(&error),
        }
    }
}

/// Deserializes YAML (or JSON) `text`.
pub fn from_yaml_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str(text).map_err(YamlError::from)
}

/// Where a value stands in its file, as `line:column`.
pub fn position<T>(spanned: &Spanned<T>) -> String {
    format!(
        "{}:{}",
        spanned.referenced.line(),
        spanned.referenced.column()
    )
}

/// The error's message without the source snippet and location the crate renders around it.
fn plain_message(error: &serde_saphyr::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or_default().trim();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    // The location is reported separately; drop the crate's own "line L column C: " prefix.
    let message = match message.split_once(": ") {
        Some((place, rest)) if place.starts_with("line ") && place.contains(" column ") => rest,
        _ => message,
    };
    message
        .trim_end_matches(|c: char| c == ':' || c.is_whitespace())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Shape {
        name: String,
        count: u32,
    }

    #[test]
    fn reads_the_expected_shape() {
        let shape: Shape = from_yaml_str("name: a\ncount: 2\n").unwrap();
        assert_eq!((shape.name.as_str(), shape.count), ("a", 2));
    }

    #[test]
    fn errors_carry_line_column_and_one_line_of_message() {
        let error = from_yaml_str::<Shape>("name: a\ncount: many\n").unwrap_err();
        assert_eq!(error.line, 2, "{error}");
        assert!(!error.message.contains('\n'), "{error}");
        assert!(!error.message.starts_with("line "), "{error}");
        assert!(error.to_string().starts_with("2:"), "{error}");
        let error = from_yaml_str::<Shape>("name: a\ncount: 1\nextra: x\n").unwrap_err();
        assert_eq!((error.line, error.column), (3, 1), "{error}");
        assert!(error.message.contains("extra"), "{error}");
        let nowhere = YamlError {
            line: 0,
            column: 0,
            message: "empty".into(),
        };
        assert_eq!(nowhere.to_string(), "empty");
    }

    #[test]
    fn positions_are_line_and_column() {
        let map: BTreeMap<String, Spanned<String>> = from_yaml_str("a: x\nb:  y\n").unwrap();
        assert_eq!(position(&map["a"]), "1:4");
        assert_eq!(position(&map["b"]), "2:5");
    }
}
