//! Wall-clock time as the collector keeps it (Unix milliseconds) and as it reads and writes it
//! (Unix seconds, RFC 3339).

use chrono::{DateTime, SecondsFormat};

/// A time that is neither Unix seconds nor RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {0:?} to a valid timestamp")]
pub struct InvalidTime(pub String);

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The earliest and latest Unix seconds Prometheus's HTTP API represents (its `minTime` and
/// `maxTime`): a Go time's range less the offset of its year 1.
const TIME_BOUND_SECONDS: f64 = (i64::MAX / 1000 - 62_135_596_801) as f64;

/// Parses a Unix time in (fractional) seconds or an RFC 3339 time into Unix milliseconds, as
/// Prometheus's HTTP API reads `time`, `start` and `end`; seconds beyond Prometheus's range
/// (about 292 million years either way) are refused rather than saturated.
pub fn parse_time(text: &str) -> Result<i64, InvalidTime> {
    let invalid = || InvalidTime(text.to_owned());
    if let Ok(seconds) = text.parse::<f64>() {
        return if seconds.is_finite() && seconds.abs() <= TIME_BOUND_SECONDS {
            Ok((seconds * 1000.0).round() as i64)
        } else {
            Err(invalid())
        };
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| invalid())
}

/// A Unix-millisecond time as Go's RFC 3339 with nanoseconds prints it (UTC, trailing zeros
/// of the fraction dropped): `2026-01-02T03:04:05.12Z`; 0 prints Go's zero time.
pub fn rfc3339(ms: i64) -> String {
    if ms == 0 {
        return "0001-01-01T00:00:00Z".to_owned();
    }
    let mut text = utc(ms).format("%Y-%m-%dT%H:%M:%S%.3f").to_string();
    while text.ends_with('0') {
        text.pop();
    }
    if text.ends_with('.') {
        text.pop();
    }
    text.push('Z');
    text
}

/// A Unix-millisecond time in RFC 3339, UTC, always with three decimals:
/// `2024-05-01T12:00:00.000Z` (fixed width, for tables and spreadsheets).
pub fn rfc3339_millis(ms: i64) -> String {
    utc(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The UTC time of `ms`; the epoch for the few values chrono cannot represent.
fn utc(ms: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_accept_unix_floats_and_rfc3339() {
        assert_eq!(parse_time("4"), Ok(4000));
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(
            parse_time("2015-07-01T20:10:51.781Z"),
            Ok(1_435_781_451_781)
        );
        assert_eq!(
            parse_time("yesterday").unwrap_err().to_string(),
            "cannot parse \"yesterday\" to a valid timestamp"
        );
        assert!(parse_time("NaN").is_err());
        assert!(parse_time("-1e20").is_err(), "beyond Prometheus's minTime");
        assert!(parse_time("1e16").is_err(), "beyond Prometheus's maxTime");
        assert_eq!(parse_time("-5e15"), Ok(-5_000_000_000_000_000_000));
    }

    #[test]
    fn rfc3339_drops_trailing_zeros_as_go_does() {
        assert_eq!(rfc3339(1_700_000_000_120), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(0), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn rfc3339_millis_keeps_three_decimals() {
        assert_eq!(
            rfc3339_millis(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(1500), "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn now_is_after_2020() {
        assert!(now_ms() > 1_577_836_800_000);
    }
}
