//! `/api/v1/status/buildinfo` and `/api/v1/metadata`.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::json_response;
use super::params::Params;
use crate::api::error::ApiError;
use crate::api::state::ApiState;

/// The Prometheus API version whose behaviour the collector follows; clients such as Grafana
/// choose features by it.
const COMPATIBLE_PROMETHEUS_VERSION: &str = "3.0.0";

/// Build information in Prometheus's shape, without the `features` field (which would make
/// Grafana treat the server as Mimir or Cortex).
pub async fn buildinfo() -> Response {
    let data = json!({
        "version": COMPATIBLE_PROMETHEUS_VERSION,
        "revision": concat!("osprey-collector ", env!("CARGO_PKG_VERSION")),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    });
    json_response(json!({"status": "success", "data": data}).to_string())
}

/// HELP/TYPE/UNIT per metric, filtered by `metric`, limited by `limit` and `limit_per_metric`.
pub async fn metadata(State(state): State<ApiState>, params: Params) -> Result<Response, ApiError> {
    let limit = params.limit()?;
    let metric = params.get("metric");
    let mut data = Map::new();
    for (name, meta) in state.metadata.all_metadata() {
        if metric.is_some_and(|m| m != name) {
            continue;
        }
        if limit > 0 && data.len() >= limit {
            break;
        }
        data.insert(
            name,
            json!([{"type": meta.kind, "help": meta.help, "unit": meta.unit}]),
        );
    }
    Ok(json_response(
        json!({"status": "success", "data": Value::Object(data)}).to_string(),
    ))
}
