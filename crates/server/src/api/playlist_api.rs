//! `/v1/playlist`: a sequenced playlist, and `/v1/playlist/path`: a path from one track to
//! another; each as JSON, M3U or JSPF (`?format=`).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use music_rag_core::app::path::PathRequest;
use music_rag_core::app::playlist::PlaylistRequest;
use music_rag_core::domain::playlist::{Locations, Playlist};
use serde::Deserialize;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParam {
    /// `json` (default), `m3u` or `jspf`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Json,
    M3u,
    Jspf,
}

/// How many tracks an M3U answer left out because they have no audio file.
const LEFT_OUT_HEADER: &str = "x-playlist-left-out";

/// Relevant tracks in an order that flows: small tempo steps, compatible keys, no artist
/// twice in a row, no duplicates. M3U and JSPF exports locate each track at this server's
/// stream (`/v1/tracks/{id}/audio`, built from `public_url` or the request's host, behind a
/// proxy its `X-Forwarded-Proto`/`-Host`), so another device can play them; an M3U holds only
/// the tracks with audio, names the others in comments, and the `X-Playlist-Left-Out` header
/// says how many were left out.
#[utoipa::path(post, path = "/v1/playlist", tag = "answers", request_body = PlaylistRequest, params(FormatParam),
    responses((status = 200, body = Playlist), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn playlist(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FormatParam>,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<PlaylistRequest>,
) -> ApiResult<Response> {
    let format = q.format.unwrap_or_default();
    let at = Locations::Streams {
        base: public_base(&state, &headers),
        sign: link_signer(&state),
    };
    req.validate()?;
    let playlist = state.run_blocking(move |e| e.playlist(&req)).await?;
    Ok(exported(playlist, format, &at))
}

/// A path from one track to another in `length` steps, each a small move in meaning (and in
/// sound when both ends were analysed): it starts at `from` and ends at `to`. Exported like a
/// playlist (`?format=m3u|jspf`).
#[utoipa::path(post, path = "/v1/playlist/path", tag = "answers", request_body = PathRequest, params(FormatParam),
    responses((status = 200, body = Playlist), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn path(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FormatParam>,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<PathRequest>,
) -> ApiResult<Response> {
    req.validate()?;
    let at = Locations::Streams {
        base: public_base(&state, &headers),
        sign: link_signer(&state),
    };
    let playlist = state.run_blocking(move |e| e.path(&req)).await?;
    Ok(exported(playlist, q.format.unwrap_or_default(), &at))
}

/// A playlist as JSON, M3U or JSPF.
fn exported(playlist: Playlist, format: ExportFormat, at: &Locations) -> Response {
    match format {
        ExportFormat::M3u => (
            [
                (
                    header::CONTENT_TYPE,
                    "audio/x-mpegurl; charset=utf-8".to_string(),
                ),
                (
                    header::HeaderName::from_static(LEFT_OUT_HEADER),
                    playlist.unplayable().to_string(),
                ),
            ],
            playlist.to_m3u(at),
        )
            .into_response(),
        ExportFormat::Jspf => (
            [(header::CONTENT_TYPE, "application/jspf+json")],
            playlist.to_jspf(at).to_string(),
        )
            .into_response(),
        ExportFormat::Json => Json(playlist).into_response(),
    }
}

/// The URL this server is reached at: the configured `public_url`, else the request's scheme
/// and host as a proxy forwarded them (`X-Forwarded-Proto`, `X-Forwarded-Host`) or as sent.
/// Signs each exported stream link when keys are set (a player cannot send one); an open
/// server's links need none.
fn link_signer(state: &AppState) -> Option<music_rag_core::domain::playlist::LinkSigner> {
    let secret = state
        .keys
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .signing_secret()?;
    let now = crate::stream_token::now();
    Some(music_rag_core::domain::playlist::LinkSigner(
        std::sync::Arc::new(move |path: &str| crate::stream_token::sign(&secret, path, now)),
    ))
}

fn public_base(state: &AppState, headers: &axum::http::HeaderMap) -> String {
    if let Some(url) = state
        .settings
        .config
        .public_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        return url.trim_end_matches('/').to_string();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme =
        header("x-forwarded-proto").unwrap_or(if state.settings.config.tls_files().is_some() {
            "https"
        } else {
            "http"
        });
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// A playlist to save: a name and the request that makes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    /// 1-200 bytes, not only spaces.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// The request that makes the playlist (as `POST /v1/playlist` takes it); kept, and made
    /// again by a refresh.
    pub rule: PlaylistRequest,
}

/// Every saved playlist.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SavedList {
    pub playlists: Vec<music_rag_ops::saved_playlists::SavedPlaylistSummary>,
}

fn library_db(state: &AppState) -> ApiResult<std::sync::Arc<music_rag_store::LibraryDb>> {
    state
        .library
        .as_ref()
        .map(|l| l.users.db().clone())
        .ok_or_else(|| {
            crate::error::ApiError::from(music_rag_core::CoreError::Unavailable(
                "this server keeps no library records".into(),
            ))
        })
}

/// Saves the playlist a request makes, with the request, so it can be made again (refresh).
/// Saved playlists are shared: every library user sees them in their Subsonic player.
#[utoipa::path(post, path = "/v1/playlists", tag = "answers", request_body = SaveRequest,
    responses((status = 201, body = music_rag_ops::saved_playlists::SavedPlaylist), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn save(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SaveRequest>,
) -> ApiResult<Response> {
    req.rule.validate()?;
    let db = library_db(&state)?;
    let saved = state
        .run_operation(true, move |e| {
            music_rag_ops::saved_playlists::save(e, &db, &req.name, req.rule)
        })
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(saved)).into_response())
}

/// Every saved playlist, by name.
#[utoipa::path(get, path = "/v1/playlists", tag = "answers",
    responses((status = 200, body = SavedList)), security(("api_key" = [])))]
pub async fn saved(State(state): State<AppState>) -> ApiResult<Json<SavedList>> {
    let db = library_db(&state)?;
    let playlists = state
        .run_operation(false, move |_| music_rag_ops::saved_playlists::list(&db))
        .await?;
    Ok(Json(SavedList { playlists }))
}

/// One saved playlist with its tracks as last made.
#[utoipa::path(get, path = "/v1/playlists/{id}", tag = "answers",
    params(("id" = i64, Path, description = "Saved playlist id")),
    responses((status = 200, body = music_rag_ops::saved_playlists::SavedPlaylist), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn saved_one(
    State(state): State<AppState>,
    crate::extract::ApiPath(id): crate::extract::ApiPath<i64>,
) -> ApiResult<Json<music_rag_ops::saved_playlists::SavedPlaylist>> {
    let db = library_db(&state)?;
    let one = state
        .run_operation(false, move |e| {
            music_rag_ops::saved_playlists::get(e, &db, id)
        })
        .await?;
    Ok(Json(one))
}

/// Makes a saved playlist again from its rule, leaving out tracks played in the last week
/// (scrobbled through the Subsonic API) unless too few others fit.
#[utoipa::path(post, path = "/v1/playlists/{id}/refresh", tag = "answers",
    params(("id" = i64, Path, description = "Saved playlist id")),
    responses((status = 200, body = music_rag_ops::saved_playlists::SavedPlaylist), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn refresh(
    State(state): State<AppState>,
    crate::extract::ApiPath(id): crate::extract::ApiPath<i64>,
) -> ApiResult<Json<music_rag_ops::saved_playlists::SavedPlaylist>> {
    let db = library_db(&state)?;
    let one = state
        .run_operation(true, move |e| {
            music_rag_ops::saved_playlists::refresh(e, &db, id)
        })
        .await?;
    Ok(Json(one))
}

/// Deletes a saved playlist.
#[utoipa::path(delete, path = "/v1/playlists/{id}", tag = "answers",
    params(("id" = i64, Path, description = "Saved playlist id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_saved(
    State(state): State<AppState>,
    crate::extract::ApiPath(id): crate::extract::ApiPath<i64>,
) -> ApiResult<axum::http::StatusCode> {
    let db = library_db(&state)?;
    state
        .run_operation(true, move |_| {
            music_rag_ops::saved_playlists::delete(&db, id)
        })
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
