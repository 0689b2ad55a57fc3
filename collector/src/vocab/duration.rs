//! Prometheus's duration notation (`1d2h30m`, `90s`, `500ms`), read and written as Prometheus
//! does, for configuration files, rule files, Alertmanager configurations and API parameters.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Nothing was given.
    #[error("empty duration string")]
    Empty,
    /// The text is not in the notation.
    #[error("not a valid duration string: {0:?} (expected e.g. 15s, 1m30s, 500ms)")]
    Invalid(String),
    /// The duration does not fit in 64-bit milliseconds.
    #[error("duration out of range: {0:?}")]
    OutOfRange(String),
}

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses a Prometheus duration: units y, w, d, h, m, s, ms in that order, each at most once,
/// or a bare `0`.
///
/// promql-parser's own parser is not used: it refuses `0` and `0s`, which configuration and
/// rule files accept, and takes float seconds, which only the HTTP API does.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = text;
    let mut next_unit = 0;
    let mut millis: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::OutOfRange(text.to_owned()))?;
        rest = &rest[digits..];
        // The longest unit wins, so "5ms" is milliseconds, not minutes followed by junk.
        let (index, (name, factor)) = UNITS[next_unit..]
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| rest.starts_with(name))
            .max_by_key(|(_, (name, _))| name.len())
            .ok_or_else(invalid)?;
        rest = &rest[name.len()..];
        next_unit += index + 1;
        millis = number
            .checked_mul(*factor)
            .and_then(|m| millis.checked_add(m))
            .ok_or_else(|| DurationError::OutOfRange(text.to_owned()))?;
    }
    Ok(Duration::from_millis(millis))
}

/// Parses float seconds (`15`, `0.5`) or a Prometheus duration (`1m0s`), as Prometheus's HTTP
/// API reads `step` and `timeout`; negative and non-finite seconds are refused.
pub fn parse_duration_or_seconds(text: &str) -> Result<Duration, DurationError> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds < 0.0 || seconds.is_nan() => {
            Err(DurationError::Invalid(text.to_owned()))
        }
        Ok(seconds) => Duration::try_from_secs_f64(seconds)
            .map_err(|_| DurationError::OutOfRange(text.to_owned())),
        Err(_) => parse_duration(text),
    }
}

/// A duration in Prometheus's notation, as configuration files write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Parses Prometheus's duration notation (see [`parse_duration`]).
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        parse_duration(text).map(PromDuration)
    }
}

impl fmt::Display for PromDuration {
    /// Prometheus's own rendering: `1h30m`, `15s`, `500ms`, `0s`; years and weeks only when
    /// they divide the duration, since `90d` reads better than `12w6d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&promql_parser::util::display_duration(&self.0))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PromDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_combined_units_in_order() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m500ms"), Ok(Duration::from_millis(60_500)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_units_out_of_order_or_unknown() {
        for bad in [
            "5x", "30m1h", "1.5h", "h", "5", "-1m", "1m1m", " 5m", "15", "s", "1x",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("5x").unwrap_err().to_string(),
            "not a valid duration string: \"5x\" (expected e.g. 15s, 1m30s, 500ms)"
        );
        assert_eq!(
            parse_duration("99999999999999999999y"),
            Err(DurationError::OutOfRange("99999999999999999999y".into()))
        );
    }

    #[test]
    fn api_durations_also_take_float_seconds() {
        let parse = parse_duration_or_seconds;
        assert_eq!(parse("1m0s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        for bad in ["5x", "", "-1", "NaN", "inf", "1e300"] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn formats_like_prometheus() {
        let text = |d: Duration| PromDuration(d).to_string();
        assert_eq!(text(Duration::from_secs(5400)), "1h30m");
        assert_eq!(text(Duration::from_secs(90)), "1m30s");
        assert_eq!(text(Duration::from_secs(300)), "5m");
        assert_eq!(text(Duration::ZERO), "0s");
        assert_eq!(text(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(text(Duration::from_secs(14 * 86_400)), "2w");
        assert_eq!(text(Duration::from_secs(90 * 86_400)), "90d");
    }
}
