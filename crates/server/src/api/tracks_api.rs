//! `/v1/tracks`: get, put, delete, batch upsert with per-item results, and paging.

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use music_rag_core::{IngestReport, Track, UpsertOutcome};
use music_rag_ops::import::Format;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::{ApiJsonTracks, ApiPath, ApiQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Tracks per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
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
    ApiQuery(q): ApiQuery<PageQuery>,
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
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Track>> {
    let track = state.run_blocking(move |e| e.catalog().track(&id)).await?;
    Ok(Json((*track).clone()))
}

/// The track's audio file, streamed with range requests (so a player can seek) and the
/// content type of its format. Only files inside the upload folder or the configured audio
/// folders are served. Exported playlists link here with `?token=`, a signed link valid for 12
/// hours that opens this one stream without a key (for players that cannot send one).
#[utoipa::path(get, path = "/v1/tracks/{id}/audio", tag = "tracks", params(("id" = String, Path),
        ("token" = Option<String>, Query, description = "A signed stream link's token, as exported playlists carry it (instead of a key)")),
    responses((status = 200, description = "The audio file", content_type = "audio/*"),
        (status = 206, description = "The requested byte range"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 416, description = "The range lies outside the file")),
    security(("api_key" = []), ()))]
pub async fn audio(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    request: Request,
) -> ApiResult<Response> {
    let track = {
        let id = id.clone();
        state.run_blocking(move |e| e.catalog().track(&id)).await?
    };
    let Some(audio_path) = track.audio_path.as_deref().filter(|p| !p.is_empty()) else {
        return Err(ApiError::not_found(format!(
            "track {id:?} has no audio file"
        )));
    };
    let Some(path) = state.playable_path(audio_path) else {
        tracing::warn!(track = %id, "audio file missing or outside the audio folders");
        return Err(ApiError::not_found(format!(
            "the audio file of track {id:?} is missing or outside the folders this server \
             may stream (the upload folder, DATA_DIR/audio, MUSIC_RAG_AUDIO_DIRS)"
        )));
    };
    send_audio_file(path, request).await
}

/// Sends an audio file: one byte range when asked (206; 416 outside the file), else the whole
/// file; cacheable by the client for an hour. `/v1/tracks/{id}/audio` and the Subsonic
/// `stream` share it.
pub(crate) async fn send_audio_file(
    path: std::path::PathBuf,
    request: Request,
) -> ApiResult<Response> {
    let mut request = request;
    let ignored = request
        .headers()
        .get(header::RANGE)
        .is_some_and(|v| !is_single_byte_range(v.to_str().unwrap_or("")));
    if ignored {
        // RFC 9110 §14.2: a Range the server does not support (several ranges, another unit,
        // bad syntax) is ignored and the whole file sent with 200, never refused with 416.
        request.headers_mut().remove(header::RANGE);
    }
    let served = ServeFile::new(path).oneshot(request).await.map_err(|e| {
        ApiError::from(music_rag_core::CoreError::Internal(format!(
            "reading audio: {e}"
        )))
    })?;
    if served.status() == StatusCode::RANGE_NOT_SATISFIABLE {
        let size = served.headers().get(header::CONTENT_RANGE).cloned();
        let mut refused = ApiError::new(
            ErrorCode::RangeNotSatisfiable,
            "the requested byte range lies outside the audio file",
        )
        .into_response();
        if let Some(size) = size {
            refused.headers_mut().insert(header::CONTENT_RANGE, size);
        }
        return Ok(refused);
    }
    let mut response = served.map(Body::new);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}

/// Whether a `Range` value is one byte range this server answers with 206 (or 416 when it
/// lies outside the file): `bytes=FIRST-`, `bytes=FIRST-LAST` or `bytes=-SUFFIX`.
fn is_single_byte_range(value: &str) -> bool {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return false;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return false;
    };
    let number = |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    match (first.trim(), last.trim()) {
        ("", suffix) => number(suffix),
        (first, "") => number(first),
        (first, last) => {
            number(first) && number(last) && first.parse::<u64>().ok() <= last.parse::<u64>().ok()
        }
    }
}

/// Create or replace one track; the id in the path wins and must match the body's if given.
#[utoipa::path(put, path = "/v1/tracks/{id}", tag = "tracks", params(("id" = String, Path)), request_body = Track,
    responses((status = 200, body = UpsertOutcome), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn put(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJsonTracks(mut track): ApiJsonTracks<Track>,
) -> ApiResult<Json<UpsertOutcome>> {
    if !track.id.is_empty() && track.id != id {
        return Err(ApiError::invalid(
            "id",
            format!("in the body ({:?}) must match the path ({id:?})", track.id),
        ));
    }
    track.id = id;
    Ok(Json(state.run_write(move |e| e.upsert_one(track)).await?))
}

/// Delete one track.
#[utoipa::path(delete, path = "/v1/tracks/{id}", tag = "tracks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.run_write(move |e| e.catalog().delete(&id)).await?;
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

/// Upsert many tracks; each gets its own result. The body is JSON `{"tracks": [...]}`, or a
/// catalog file as `text/csv` or `application/x-ndjson` (JSON lines) in the import format of
/// `music-rag ingest`, where a row that cannot be read is reported by its line and the others
/// are still written.
#[utoipa::path(post, path = "/v1/tracks", tag = "tracks", request_body(description = "JSON `{tracks}`, or a catalog file: CSV with a header row, or one JSON track per line",
        content((BatchUpsert = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
    params(ImportParams),
    responses((status = 200, body = IngestReport), (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub async fn batch(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ImportParams>,
    request: Request,
) -> ApiResult<Json<IngestReport>> {
    if let Some(format) = file_format(request.headers()) {
        let limit = state.settings.config.max_body_bytes;
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| crate::extract::body_too_large())?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::invalid("body", "must be UTF-8 text"))?;
        return import_file(&state, text, format, params.all_or_nothing).await;
    }
    let ApiJsonTracks(body) =
        ApiJsonTracks::<serde_json::Value>::from_request(request, &state).await?;
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
    check_batch_size(&state, body.tracks.len())?;
    let report = write_batch(&state, body.tracks, body.all_or_nothing).await?;
    Ok(Json(report))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// For CSV and JSON lines bodies: write nothing when any row is invalid (JSON bodies say
    /// `all_or_nothing` in the body).
    #[serde(default)]
    pub all_or_nothing: bool,
}

/// Writes a batch, all or nothing when asked, and counts its rows.
async fn write_batch(
    state: &AppState,
    tracks: Vec<Track>,
    all_or_nothing: bool,
) -> ApiResult<IngestReport> {
    let report = state
        .run_operation(true, move |e| {
            music_rag_ops::import::write_batch(e, tracks, all_or_nothing)
        })
        .await?;
    crate::metrics::record_ingest(&report);
    Ok(report)
}

/// The catalog file format a body's content type names, when it is not JSON.
fn file_format(headers: &axum::http::HeaderMap) -> Option<Format> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "text/csv" => Some(Format::Csv),
        "application/x-ndjson" | "application/jsonl" | "application/json-lines" => {
            Some(Format::JsonLines)
        }
        _ => None,
    }
}

fn check_batch_size(state: &AppState, len: usize) -> ApiResult<()> {
    Ok(music_rag_ops::import::check_batch_size(
        len,
        state.settings.config.max_batch_size,
    )?)
}

/// Writes the readable rows of a catalog file; a row that cannot be read gets an `invalid`
/// result naming its line, in its place among the others.
async fn import_file(
    state: &AppState,
    text: String,
    format: Format,
    all_or_nothing: bool,
) -> ApiResult<Json<IngestReport>> {
    let max_rows = state.settings.config.max_batch_size;
    let report = state
        .run_operation(true, move |e| {
            music_rag_ops::import::import_text(e, &text, format, all_or_nothing, max_rows)
        })
        .await?;
    crate::metrics::record_ingest(&report);
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::is_single_byte_range;

    #[test]
    fn only_one_well_formed_byte_range_is_answered_as_a_range() {
        for ok in [
            "bytes=0-0",
            "bytes=0-",
            "bytes=-500",
            "bytes=10-20",
            " bytes=5-5 ",
        ] {
            assert!(is_single_byte_range(ok), "{ok}");
        }
        for ignored in [
            "bytes=0-0,2-3",
            "items=0-5",
            "bytes=abc",
            "bytes=",
            "bytes=-",
            "bytes=5-1",
            "bytes=1-2-3",
            "",
        ] {
            assert!(!is_single_byte_range(ignored), "{ignored}");
        }
    }
}
