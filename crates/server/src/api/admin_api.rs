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

/// The library's users (for the Subsonic API), never with passwords.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<music_rag_ops::users::UserInfo>,
}

/// A user to add.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1-64 ASCII letters, digits, `.`, `_`, `-` or `@`.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._@-]+$")]
    pub name: String,
    /// 8-1024 characters, no control characters.
    #[schema(min_length = 8, max_length = 1024, pattern = r"^[^\x00-\x1F\x7F]+$")]
    pub password: String,
    #[serde(default)]
    pub admin: bool,
}

/// A new password.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// 8-1024 characters, no control characters.
    #[schema(min_length = 8, max_length = 1024, pattern = r"^[^\x00-\x1F\x7F]+$")]
    pub password: String,
}

fn users(state: &AppState) -> ApiResult<music_rag_ops::users::Users> {
    state
        .library
        .as_ref()
        .map(|l| l.users.clone())
        .ok_or_else(|| {
            ApiError::from(music_rag_core::CoreError::Unavailable(
                "this server keeps no library users".into(),
            ))
        })
}

/// The library's users, as `music-rag user list` lists them.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin",
    responses((status = 200, body = UserList)), security(("api_key" = [])))]
pub async fn list_users(State(state): State<AppState>) -> ApiResult<Json<UserList>> {
    let users = users(&state)?;
    let list = state.run_operation(false, move |_| users.list()).await?;
    Ok(Json(UserList { users: list }))
}

/// Adds a library user (as `music-rag user add`).
#[utoipa::path(post, path = "/v1/admin/users", tag = "admin", request_body = NewUser,
    responses((status = 201, description = "Added"), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn add_user(
    State(state): State<AppState>,
    crate::extract::ApiJson(new): crate::extract::ApiJson<NewUser>,
) -> ApiResult<StatusCode> {
    let users = users(&state)?;
    state
        .run_operation(true, move |_| {
            users.add(&new.name, &new.password, new.admin)
        })
        .await?;
    Ok(StatusCode::CREATED)
}

/// Removes a library user with their stars, ratings, plays, keys and playlists.
#[utoipa::path(delete, path = "/v1/admin/users/{name}", tag = "admin",
    params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "Removed"), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn remove_user(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let users = users(&state)?;
    state
        .run_operation(true, move |_| users.remove(&name))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a library user's password.
#[utoipa::path(put, path = "/v1/admin/users/{name}/password", tag = "admin", request_body = NewPassword,
    params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "Set"), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn set_password(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    crate::extract::ApiJson(new): crate::extract::ApiJson<NewPassword>,
) -> ApiResult<StatusCode> {
    let users = users(&state)?;
    state
        .run_operation(true, move |_| users.set_password(&name, &new.password))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
