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

use crate::scrape::{ScrapeManager, TargetView};
use crate::vocab::{PromDuration, rfc3339_millis};

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
        "lastScrape": view.status.last_scrape.map(last_scrape).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        "lastScrapeDuration": view.status.last_duration,
        "health": view.status.health,
        "scrapeInterval": PromDuration(target.interval).to_string(),
        "scrapeTimeout": PromDuration(target.timeout).to_string(),
    })
}

/// `2024-05-01T12:00:00.123Z`: RFC 3339 in UTC with milliseconds.
fn last_scrape(time: SystemTime) -> String {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    rfc3339_millis(ms)
}
