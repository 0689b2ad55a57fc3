//! `GET /api/v1/targets` in Prometheus's shape: active targets with their health, last error,
//! last scrape time and duration, labels and discovered labels.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::response::Json;
use axum::routing::get;
use serde_json::{Value, json};

use crate::config::PromDuration;
use crate::scrape::{ScrapeManager, TargetView};

/// The routes of this module, over the scrape manager.
pub fn router(manager: Arc<ScrapeManager>) -> Router {
    Router::new()
        .route("/api/v1/targets", get(targets))
        .with_state(manager)
}

async fn targets(State(manager): State<Arc<ScrapeManager>>) -> Json<Value> {
    let active: Vec<Value> = manager.targets().await.iter().map(active_target).collect();
    Json(json!({
        "status": "success",
        "data": { "activeTargets": active, "droppedTargets": [] },
    }))
}

fn active_target(view: &TargetView) -> Value {
    let target = &view.target;
    let labels: BTreeMap<&str, &str> = target.labels.iter().map(|l| (l.name, l.value)).collect();
    json!({
        "discoveredLabels": target.discovered,
        "labels": labels,
        "scrapePool": target.job,
        "scrapeUrl": target.url,
        "globalUrl": target.url,
        "lastError": view.status.last_error,
        "lastScrape": view.status.last_scrape.map(rfc3339).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        "lastScrapeDuration": view.status.last_duration,
        "health": view.status.health,
        "scrapeInterval": PromDuration(target.interval).to_string(),
        "scrapeTimeout": PromDuration(target.timeout).to_string(),
    })
}

/// `2024-05-01T12:00:00.123Z`: RFC 3339 in UTC with milliseconds.
fn rfc3339(time: SystemTime) -> String {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let secs = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms_of_day % 1000
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_render_as_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
