//! Media: `stream` and `download` send the original file (HTTP ranges honoured; this server
//! does not transcode, so a `maxBitRate` or `format` it cannot honour streams the original and
//! says so in the log), and `getCoverArt` the picture of a song, album or artist, resized on
//! request (`size`) and kept in a bounded cache.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use music_rag_core::domain::catalog::file::CoverSource;
use music_rag_core::domain::library::{kind_of, ItemKind};

use super::wire::{Reply, SubsonicError};
use super::Call;

pub async fn stream(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    if let Some(format) = call.params.get("format").filter(|f| *f != "raw") {
        tracing::info!(%id, format, "transcoding is not supported: streaming the original file");
    }
    if call.params.get("maxBitRate").is_some_and(|b| b != "0") {
        tracing::info!(%id, "maxBitRate cannot be honoured without transcoding: streaming the original file");
    }
    let looked_up = id.clone();
    let audio_path = call
        .blocking(move |engine, _| {
            let index = engine.library()?;
            index
                .song(&looked_up)
                .and_then(|t| t.audio_path.clone())
                .ok_or_else(|| SubsonicError::not_found(format!("no song {looked_up}")))
        })
        .await?;
    let Some(path) = call.state.playable_path(&audio_path) else {
        tracing::warn!(track = %id, "audio file missing or outside the music folders");
        return Err(SubsonicError::not_found(format!(
            "the file of song {id} is missing"
        )));
    };
    let mut request = Request::new(Body::empty());
    if let Some(range) = call.headers.get(header::RANGE) {
        request.headers_mut().insert(header::RANGE, range.clone());
    }
    let response = crate::api::tracks_api::send_audio_file(path, request)
        .await
        .map_err(SubsonicError::from)?;
    Ok(Reply::Raw(response))
}

/// Where the picture of `id` is: the song itself, or the song that stands for an album or
/// artist.
fn cover_song(
    engine: &music_rag_core::Engine,
    id: &str,
) -> Result<Option<(String, CoverSource)>, SubsonicError> {
    let index = engine.library()?;
    let song_id = match kind_of(id) {
        ItemKind::Song => index.song(id).map(|t| t.id.clone()),
        ItemKind::Album => index.album(id).and_then(|a| a.cover_song.clone()),
        ItemKind::Artist => index.artist(id).and_then(|a| a.cover_song.clone()),
    };
    let Some(song) = song_id.and_then(|s| index.song(&s).cloned()) else {
        return Err(SubsonicError::not_found(format!("no cover art {id}")));
    };
    let source = song.file.as_ref().and_then(|f| f.cover.clone());
    Ok(source.zip(song.audio_path.clone()).map(|(c, p)| (p, c)))
}

pub async fn cover_art(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    let size = call.params.opt_int("size", 1, 4096)?.map(|s| s as u32);
    let key = (id.clone(), size.unwrap_or(0));
    if let Some(hit) = call.library.covers.get(&key) {
        return Ok(Reply::Raw(picture(hit)));
    }
    let roots = call.state.audio_roots.clone();
    let picture_bytes = call
        .blocking(move |engine, _| {
            let Some((audio_path, source)) = cover_song(engine, &id)? else {
                return Err(SubsonicError::not_found(format!("{id} has no cover art")));
            };
            let (bytes, mime) = match source {
                CoverSource::Embedded => {
                    music_rag_audio::tags::embedded_picture(std::path::Path::new(&audio_path))
                        .ok_or_else(|| SubsonicError::not_found(format!("{id} has no cover art")))?
                }
                CoverSource::Folder(path) => {
                    // Only an image inside the folders this server may read.
                    let real = std::fs::canonicalize(&path)
                        .map_err(|_| SubsonicError::not_found(format!("{id} has no cover art")))?;
                    if !roots
                        .iter()
                        .filter_map(|r| std::fs::canonicalize(r).ok())
                        .any(|r| real.starts_with(r))
                    {
                        return Err(SubsonicError::not_found(format!("{id} has no cover art")));
                    }
                    (
                        std::fs::read(&real).map_err(|_| {
                            SubsonicError::not_found(format!("{id} has no cover art"))
                        })?,
                        None,
                    )
                }
            };
            let resized = match size {
                Some(s) => {
                    crate::covers::resize(&bytes, s).unwrap_or((bytes, mime.unwrap_or_default()))
                }
                None => {
                    let mime = mime
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| crate::covers::sniff(&bytes).to_string());
                    (bytes, mime)
                }
            };
            Ok(Arc::new(resized))
        })
        .await?;
    call.library.covers.put(key, picture_bytes.clone());
    Ok(Reply::Raw(picture(picture_bytes)))
}

fn picture(p: Arc<(Vec<u8>, String)>) -> Response {
    let mut r = Body::from(p.0.clone()).into_response();
    let mime = if p.1.is_empty() {
        "application/octet-stream"
    } else {
        p.1.as_str()
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    r
}
