//! Media: `stream` and `download` send the original file (HTTP ranges honoured; this server
//! does not transcode, so a `maxBitRate` or `format` it cannot honour streams the original and
//! says so in the log), and `getCoverArt` the picture of a song, album or artist, resized on
//! request (`size`) and kept in a bounded cache.

use axum::body::Body;
use axum::http::{header, Request};

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

pub async fn cover_art(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    let size = call.params.opt_int("size", 1, 4096)?.map(|s| s as u32);
    let roots = call.state.audio_roots.clone();
    let picture = call
        .blocking(move |engine, library| {
            Ok(crate::covers::picture(
                engine,
                &id,
                size,
                &roots,
                &library.covers,
            )?)
        })
        .await?;
    Ok(Reply::Raw(crate::covers::response(picture)))
}
