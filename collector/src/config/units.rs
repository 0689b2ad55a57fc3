//! Durations (`15s`, `1h30m`) and byte sizes (`10MB`) written as Prometheus writes them.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration in Prometheus's notation: one or more `<number><unit>` with units y, w, d, h, m,
/// s, ms, largest first (`1h30m`, `15s`, `500ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Parses Prometheus's duration notation.
    pub fn parse(text: &str) -> Result<Self, String> {
        const UNITS: [(&str, u64); 7] = [
            ("y", 365 * 24 * 3600 * 1000),
            ("w", 7 * 24 * 3600 * 1000),
            ("d", 24 * 3600 * 1000),
            ("h", 3600 * 1000),
            ("ms", 1),
            ("m", 60 * 1000),
            ("s", 1000),
        ];
        let invalid = || format!("invalid duration {text:?} (expected e.g. 15s, 1m30s, 500ms)");
        if text.is_empty() || text == "0" {
            return if text == "0" {
                Ok(PromDuration(Duration::ZERO))
            } else {
                Err(invalid())
            };
        }
        let mut rest = text;
        let mut total_ms: u64 = 0;
        let mut last_unit = u64::MAX;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
            rest = &rest[digits..];
            let (unit, scale) = UNITS
                .iter()
                .find(|(unit, _)| rest.starts_with(unit))
                .ok_or_else(invalid)?;
            if *scale >= last_unit {
                return Err(invalid());
            }
            last_unit = *scale;
            rest = &rest[unit.len()..];
            total_ms = number
                .checked_mul(*scale)
                .and_then(|ms| total_ms.checked_add(ms))
                .ok_or_else(invalid)?;
        }
        Ok(PromDuration(Duration::from_millis(total_ms)))
    }
}

impl fmt::Display for PromDuration {
    /// Prometheus's own rendering: `1m30s`, `15s`, `500ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, scale) in [("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            if ms >= scale {
                write!(f, "{}{unit}", ms / scale)?;
                ms %= scale;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PromDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A size in bytes, written as Prometheus does: `512`, `10KB`, `64MB`, `2GB` (powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses a size with an optional B, KB, MB, GB, TB or PB suffix.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid size {text:?} (expected e.g. 512, 10KB, 64MB, 2GB)");
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = text[..digits].parse().map_err(|_| invalid())?;
        let shift = match text[digits..].trim() {
            "" | "B" => 0,
            "KB" | "KiB" => 10,
            "MB" | "MiB" => 20,
            "GB" | "GiB" => 30,
            "TB" | "TiB" => 40,
            "PB" | "PiB" => 50,
            _ => return Err(invalid()),
        };
        number
            .checked_mul(1 << shift)
            .map(ByteSize)
            .ok_or_else(invalid)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(text) => ByteSize::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_prometheus() {
        let ms = |t: &str| PromDuration::parse(t).map(|d| d.0.as_millis());
        assert_eq!(ms("15s"), Ok(15_000));
        assert_eq!(ms("1h30m"), Ok(5_400_000));
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("1d"), Ok(86_400_000));
        assert_eq!(ms("0"), Ok(0));
        for bad in ["", "15", "s", "1m1h", "1.5s", "-1s", "1x"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PromDuration::parse("90s").unwrap().to_string(), "1m30s");
    }

    #[test]
    fn sizes_use_powers_of_1024() {
        assert_eq!(ByteSize::parse("10MB"), Ok(ByteSize(10 << 20)));
        assert_eq!(ByteSize::parse("512"), Ok(ByteSize(512)));
        assert!(ByteSize::parse("10 parsecs").is_err());
    }
}
