//! Prometheus's TSDB admin API (`/api/v1/admin/tsdb/...`): deleting series, cleaning tombstones
//! and taking online snapshots, with Prometheus's routes, parameters and answers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};

use super::ApiError;
use super::prometheus::{MAX_TIME, MIN_TIME, Params};
use crate::tsdb::{Storage, StorageError};

/// Where snapshots go inside the data directory, as in Prometheus.
const SNAPSHOTS: &str = "snapshots";

/// What the admin routes change and copy.
#[derive(Clone)]
pub struct TsdbAdminState {
    /// The store.
    pub storage: Arc<Storage>,
    /// The store's data directory; snapshots are written under its `snapshots/` folder.
    pub data_dir: PathBuf,
}

/// The routes under `/api/v1/admin/tsdb/`, each answering POST and PUT as Prometheus does.
pub fn router(state: TsdbAdminState) -> Router {
    Router::new()
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(delete_series).put(delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            post(clean_tombstones).put(clean_tombstones),
        )
        .route("/api/v1/admin/tsdb/snapshot", post(snapshot).put(snapshot))
        .with_state(state)
}

/// Deletes the samples between `start` and `end` of every series matching a `match[]`
/// selector. Every parameter is checked before anything is deleted.
async fn delete_series(
    State(state): State<TsdbAdminState>,
    params: Params,
) -> Result<StatusCode, ApiError> {
    if params.all("match[]").is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = params.time("start", MIN_TIME)?;
    let end = params.time("end", MAX_TIME)?;
    let sets = params.matcher_sets()?;
    // Prometheus answers an empty range with success and deletes nothing.
    if start > end {
        return Ok(StatusCode::NO_CONTENT);
    }
    let storage = state.storage;
    tokio::task::spawn_blocking(move || {
        sets.iter()
            .try_for_each(|matchers| storage.delete_series(matchers, start, end).map(drop))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Succeeds at once: a deletion removes the data from disk as it runs and leaves no
/// tombstones behind. The route exists so scripts written for Prometheus work unchanged.
async fn clean_tombstones() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Writes a consistent copy of the store, taken while scraping and queries go on, to
/// `snapshots/<name>` in the data directory and answers its name. `skip_head` is checked as
/// Prometheus checks it; the copy always holds every sample appended before the request.
async fn snapshot(
    State(state): State<TsdbAdminState>,
    params: Params,
) -> Result<Response, ApiError> {
    if let Some(text) = params.get("skip_head") {
        go_bool(text).ok_or_else(|| {
            ApiError::bad_param(
                "skip_head",
                format!(
                    "unable to parse boolean: strconv.ParseBool: parsing {text:?}: invalid syntax"
                ),
            )
        })?;
    }
    let name = snapshot_name(Utc::now(), fastrand::u64(..));
    let (storage, data_dir, dir_name) = (state.storage, state.data_dir, name.clone());
    tokio::task::spawn_blocking(move || write_snapshot(&storage, &data_dir, &dir_name))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({"status": "success", "data": {"name": name}})).into_response())
}

/// Writes a copy of `storage` to `data_dir/snapshots/name`, a directory that opens as a store
/// of its own (`--data-dir` it).
fn write_snapshot(storage: &Storage, data_dir: &Path, name: &str) -> Result<(), StorageError> {
    let snapshots = data_dir.join(SNAPSHOTS);
    std::fs::create_dir_all(&snapshots).map_err(|source| StorageError::Io {
        context: format!("creating {}", snapshots.display()),
        source,
    })?;
    storage.backup(snapshots.join(name)).map(drop)
}

/// A snapshot's name in Prometheus's format: the UTC time to the second and 16 hex digits of
/// `random`, as in `20171210T211224Z-2be650b6d019eb54`.
fn snapshot_name(now: DateTime<Utc>, random: u64) -> String {
    format!("{}-{random:016x}", now.format("%Y%m%dT%H%M%SZ"))
}

/// A boolean as Go's `strconv.ParseBool` reads it.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_follow_prometheus() {
        let now = DateTime::parse_from_rfc3339("2017-12-10T21:12:24.9+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            snapshot_name(now, 0x2be6_50b6_d019_eb54),
            "20171210T201224Z-2be650b6d019eb54"
        );
        assert_eq!(snapshot_name(now, 7), "20171210T201224Z-0000000000000007");
    }

    #[test]
    fn booleans_are_read_as_go_reads_them() {
        for yes in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(go_bool(yes), Some(true), "{yes}");
        }
        for no in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(go_bool(no), Some(false), "{no}");
        }
        for neither in ["yes", "tRUE", "2", " true"] {
            assert_eq!(go_bool(neither), None, "{neither}");
        }
    }
}
