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
