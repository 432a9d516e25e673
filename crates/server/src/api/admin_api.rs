//! `/v1/admin/snapshots`: take, list, download and delete snapshots of the store (admin
//! scope). Snapshots are taken while reads and writes go on.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::ApiPath;
use crate::state::AppState;
use music_rag_ops::snapshots::{SnapshotEntry, SnapshotTaken};

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotList {
    /// Complete snapshots, oldest first.
    pub snapshots: Vec<SnapshotEntry>,
}

/// Take a snapshot now: one file with every write acknowledged before it started. One is
/// taken at a time (a request while one is being taken gets 429 with Retry-After), and the
/// folder keeps the newest `snapshot_keep` (MUSIC_RAG_SNAPSHOT_KEEP): older ones are deleted,
/// so neither their number nor the disk they take can grow without bound.
#[utoipa::path(post, path = "/v1/admin/snapshots", tag = "admin",
    responses((status = 201, body = SnapshotTaken), (status = 429, body = crate::error::ErrorBody), (status = 507, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn create_snapshot(State(state): State<AppState>) -> ApiResult<Response> {
    let Ok(one_at_a_time) = state.snapshot_running.clone().try_lock_owned() else {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "a snapshot is being taken; retry after the time in Retry-After",
        )
        .retry_after(5));
    };
    let folder = state.snapshots.clone();
    let engine = state.engine.clone();
    let keep = state.settings.config.snapshot_keep.max(1);
    // Not under the search semaphore: a snapshot is I/O and must not hold back queries.
    crate::request::write_begins();
    let (taken, _pruned) = tokio::task::spawn_blocking(move || {
        let _running = one_at_a_time;
        music_rag_ops::snapshots::take_and_prune(&folder, &engine.catalog(), keep)
    })
    .await
    .map_err(|e| {
        ApiError::from(music_rag_core::CoreError::Internal(format!(
            "snapshot task failed: {e}"
        )))
    })??;
    Ok((StatusCode::CREATED, Json(taken)).into_response())
}

/// The snapshots in the snapshot folder.
#[utoipa::path(get, path = "/v1/admin/snapshots", tag = "admin",
    responses((status = 200, body = SnapshotList)), security(("api_key" = [])))]
pub async fn list_snapshots(State(state): State<AppState>) -> ApiResult<Json<SnapshotList>> {
    Ok(Json(SnapshotList {
        snapshots: state.snapshots.list()?,
    }))
}

/// Download one snapshot file (a tar with `manifest.json` and `catalog.sqlite`).
#[utoipa::path(get, path = "/v1/admin/snapshots/{name}", tag = "admin", params(("name" = String, Path, pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*\.mrsnap$")),
    responses((status = 200, description = "the snapshot file", content_type = "application/x-tar"), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn download_snapshot(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Response> {
    let path = state.snapshots.path_of(&name)?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        ApiError::from(music_rag_core::CoreError::NotFound(format!(
            "snapshot {name}: {e}"
        )))
    })?;
    let bytes = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (header::CONTENT_LENGTH, bytes.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Delete one snapshot file.
#[utoipa::path(delete, path = "/v1/admin/snapshots/{name}", tag = "admin", params(("name" = String, Path, pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*\.mrsnap$")),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn delete_snapshot(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.snapshots.delete(&name)?;
    Ok(StatusCode::NO_CONTENT)
}
