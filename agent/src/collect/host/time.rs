//! The system clock and time zone, as node_exporter's `time` collector.

use std::ffi::CStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::collect::{CollectError, Collector};
use crate::expose::{Exposition, MetricType};

/// `node_time_seconds` and `node_time_zone_offset_seconds{time_zone}`.
pub(super) struct Time;

/// The local time zone's abbreviation and offset from UTC in seconds, now.
fn local_zone(now: libc::time_t) -> Option<(String, f64)> {
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack frame; `tm_zone`
    // points into the C library's static zone table, read before any other libc call.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() || tm.tm_zone.is_null() {
            return None;
        }
        let zone = CStr::from_ptr(tm.tm_zone).to_string_lossy().into_owned();
        Some((zone, tm.tm_gmtoff as f64))
    }
}

impl Collector for Time {
    fn name(&self) -> &'static str {
        "time"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        out.family(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            MetricType::Gauge,
        )
        .sample(&[], now.as_secs_f64());
        if let Some((zone, offset)) = local_zone(now.as_secs() as libc::time_t) {
            out.family(
                "node_time_zone_offset_seconds",
                "System time zone offset in seconds.",
                MetricType::Gauge,
            )
            .sample(&[("time_zone", &zone)], offset);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::scrape_one;
    use super::*;

    #[test]
    fn reports_the_current_time() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let text = scrape_one(&Time);
        let value: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("node_time_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            value >= before && value < before + 5.0,
            "{value} vs {before}"
        );
        assert!(text.contains("node_time_zone_offset_seconds{time_zone=\""));
    }
}
