//! `/v1/tracks`: get, put, delete, batch upsert with per-item results, and paging.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use music_rag_core::{IngestReport, Track, UpsertOutcome};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Tracks per page, 1–1000 (default 100).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrackPage {
    pub tracks: Vec<Track>,
    pub next_cursor: Option<String>,
}

/// Tracks in id order, a page at a time.
#[utoipa::path(get, path = "/v1/tracks", tag = "tracks", params(PageQuery),
    responses((status = 200, body = TrackPage), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<TrackPage>> {
    let limit = q.limit.unwrap_or(100);
    let page = state
        .run_blocking(move |e| e.catalog().tracks(q.cursor.as_deref(), limit))
        .await?;
    Ok(Json(TrackPage {
        tracks: page.tracks.iter().map(|t| (**t).clone()).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One track.
#[utoipa::path(get, path = "/v1/tracks/{id}", tag = "tracks", params(("id" = String, Path)),
    responses((status = 200, body = Track), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Track>> {
    let track = state.run_blocking(move |e| e.catalog().track(&id)).await?;
    Ok(Json((*track).clone()))
}

/// The track's audio file, streamed with range requests (so a player can seek) and the
/// content type of its format. Only files inside the upload folder or the configured audio
/// folders are served.
#[utoipa::path(get, path = "/v1/tracks/{id}/audio", tag = "tracks", params(("id" = String, Path)),
    responses((status = 200, description = "The audio file", content_type = "audio/*"),
        (status = 206, description = "The requested byte range"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 416, description = "The range lies outside the file")),
    security(("api_key" = [])))]
pub async fn audio(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let track = {
        let id = id.clone();
        state.run_blocking(move |e| e.catalog().track(&id)).await?
    };
    let Some(audio_path) = track.audio_path.as_deref().filter(|p| !p.is_empty()) else {
        return Err(ApiError::not_found(format!("track {id:?} has no audio file")));
    };
    let Some(path) = state.playable_path(audio_path) else {
        tracing::warn!(track = %id, "audio file missing or outside the audio folders");
        return Err(ApiError::not_found(format!(
            "the audio file of track {id:?} is missing or outside the folders this server \
             may stream (the upload folder, DATA_DIR/audio, MUSIC_RAG_AUDIO_DIRS)"
        )));
    };
    let served = ServeFile::new(path).oneshot(request).await.map_err(|e| {
        ApiError::from(music_rag_core::CoreError::Internal(format!("reading audio: {e}")))
    })?;
    let mut response = served.map(Body::new);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}

/// Create or replace one track; the id in the path wins and must match the body's if given.
#[utoipa::path(put, path = "/v1/tracks/{id}", tag = "tracks", params(("id" = String, Path)), request_body = Track,
    responses((status = 200, body = UpsertOutcome), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(mut track): ApiJson<Track>,
) -> ApiResult<Json<UpsertOutcome>> {
    if !track.id.is_empty() && track.id != id {
        return Err(ApiError::invalid(
            "id",
            format!("in the body ({:?}) must match the path ({id:?})", track.id),
        ));
    }
    track.id = id;
    Ok(Json(
        state.run_blocking(move |e| e.upsert_one(track)).await?,
    ))
}

/// Delete one track.
#[utoipa::path(delete, path = "/v1/tracks/{id}", tag = "tracks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.run_blocking(move |e| e.catalog().delete(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchUpsert {
    pub tracks: Vec<Track>,
    /// Refuse the whole batch (nothing written) when any track is invalid.
    #[serde(default)]
    pub all_or_nothing: bool,
}

/// Upsert many tracks; each gets its own result.
#[utoipa::path(post, path = "/v1/tracks", tag = "tracks", request_body = BatchUpsert,
    responses((status = 200, body = IngestReport), (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub async fn batch(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<IngestReport>> {
    // The commonest first mistake is a bare list of tracks: say what the body must be.
    if body.is_array() {
        return Err(ApiError::invalid(
            "tracks",
            "must be sent inside an object: {\"tracks\": [...]}, not as a bare JSON array",
        ));
    }
    let body: BatchUpsert = serde_path_to_error::deserialize(body).map_err(|e| {
        let field = e.path().to_string();
        ApiError::field_message(field.clone(), format!("{field}: {}", e.into_inner()))
    })?;
    let max = state.settings.config.max_batch_size;
    if body.tracks.len() > max {
        return Err(ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..ApiError::invalid(
                "tracks",
                format!(
                    "must hold at most {max} tracks (MAX_BATCH_SIZE); got {}",
                    body.tracks.len()
                ),
            )
        });
    }
    let tracks = body.tracks;
    let report = if body.all_or_nothing {
        state
            .run_blocking(move |e| e.upsert_all_or_nothing(tracks))
            .await?
    } else {
        state.run_blocking(move |e| e.upsert(tracks)).await?
    };
    Ok(Json(report))
}
