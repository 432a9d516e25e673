//! `/v1/tracks/audio` (upload a file: it is stored, tagged and analysed into a track) and
//! `/v1/search/audio` (tracks that sound like an uploaded clip or a catalog track, optionally
//! combined with words).

use std::path::{Path, PathBuf};

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use music_rag_core::app::listen::{ListenRequest, ListenResponse};
use music_rag_core::{CoreError, Track, UpsertOutcome};
use serde::Serialize;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiMultipart};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadResult {
    /// `created` or `updated`.
    pub status: String,
    pub id: String,
    pub track: Track,
}

/// An uploaded file, streamed to a temporary file in the upload folder (never held whole in
/// memory), with the name it came with and the form's other fields.
struct Upload {
    /// Removed on drop unless kept with [`Upload::keep_as`].
    temp: Option<PathBuf>,
    size: u64,
    file_name: String,
    fields: Vec<(String, String)>,
}

impl Upload {
    fn path(&self) -> &Path {
        self.temp.as_deref().unwrap_or(Path::new(""))
    }

    /// Moves the file to `to`; it is no longer removed on drop.
    fn keep_as(mut self, to: &Path) -> std::io::Result<()> {
        match self.temp.take() {
            Some(temp) => std::fs::rename(temp, to),
            None => Ok(()),
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// A multipart error as the client should see it: 413 when the body passed the upload limit.
fn multipart_error(field: &str, e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            crate::error::ErrorCode::PayloadTooLarge,
            "the upload is larger than the configured limit (MUSIC_RAG_MAX_UPLOAD_BYTES)",
        )
    } else {
        ApiError::invalid(field, format!("could not be received ({})", e.body_text()))
    }
}

/// Writing the upload failed: a full disk is 507, anything else 503.
fn storing_failed(e: std::io::Error) -> ApiError {
    ApiError::from(if e.kind() == std::io::ErrorKind::StorageFull {
        CoreError::StorageFull("the disk is full; the upload was not kept".into())
    } else {
        CoreError::Unavailable(format!("cannot store the upload: {e}"))
    })
}

/// Uploads being received are written under this prefix, then renamed when kept.
pub const UPLOAD_TEMP_PREFIX: &str = ".partial-";

/// A form field other than the file (`text`, `top_k`, …) is at most this long. It is held in
/// memory, so the limit is enforced while it arrives, not after (the upload limit is for the
/// file, which goes to disk).
pub const MAX_FORM_FIELD_BYTES: usize = 16 * 1024;
/// Form fields besides the file, at most.
const MAX_FORM_FIELDS: usize = 16;

/// Reads a small text field chunk by chunk, refusing it as soon as it passes the limit.
async fn read_small_field(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
) -> ApiResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(name, e))? {
        if bytes.len() + chunk.len() > MAX_FORM_FIELD_BYTES {
            return Err(ApiError {
                field: Some(name.to_string()),
                ..ApiError::new(
                    crate::error::ErrorCode::PayloadTooLarge,
                    format!(
                        "{name} is longer than {MAX_FORM_FIELD_BYTES} bytes (only the file part may be large)"
                    ),
                )
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| ApiError::invalid(name, "must be UTF-8 text"))
}

/// After a refused field, at most this much of the rest of the body is read and dropped before
/// answering: a modestly oversized form gets its 413 read by the client; a huge one is cut off.
const DRAIN_MAX_BYTES: usize = 1 << 20;

/// Reads and drops up to `max` bytes of a field; how many it read.
async fn drain(field: &mut axum::extract::multipart::Field<'_>, max: usize) -> usize {
    let mut read = 0;
    while read < max {
        match field.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
    read
}

async fn read_multipart(mut form: Multipart, dir: &Path) -> ApiResult<Upload> {
    use tokio::io::AsyncWriteExt;
    let mut upload = Upload {
        temp: None,
        size: 0,
        file_name: String::new(),
        fields: Vec::new(),
    };
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error("file", e))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" && upload.temp.is_none() {
            upload.file_name = field.file_name().unwrap_or("upload").to_string();
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(storing_failed)?;
            let temp = dir.join(format!(
                "{UPLOAD_TEMP_PREFIX}{}",
                uuid::Uuid::new_v4().simple()
            ));
            // Locked while it is written, so a sweep at start removes only abandoned ones.
            let file = std::fs::File::create(&temp).map_err(storing_failed)?;
            file.try_lock().map_err(|e| storing_failed(e.into()))?;
            let mut file = tokio::fs::File::from_std(file);
            upload.temp = Some(temp);
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| multipart_error("file", e))?
            {
                upload.size += chunk.len() as u64;
                file.write_all(&chunk).await.map_err(storing_failed)?;
            }
            file.flush().await.map_err(storing_failed)?;
        } else {
            if upload.fields.len() >= MAX_FORM_FIELDS {
                return Err(ApiError::invalid(
                    name,
                    format!("is one field too many: a form takes at most {MAX_FORM_FIELDS} besides the file"),
                ));
            }
            let value = match read_small_field(&mut field, &name).await {
                Ok(value) => value,
                Err(refused) => {
                    // Read (and drop) what the client is still sending, up to a bound, so it
                    // gets to read the refusal instead of a reset connection.
                    let mut drained = drain(&mut field, DRAIN_MAX_BYTES).await;
                    drop(field);
                    while drained < DRAIN_MAX_BYTES {
                        match form.next_field().await {
                            Ok(Some(mut rest)) => {
                                drained += drain(&mut rest, DRAIN_MAX_BYTES - drained).await
                            }
                            _ => break,
                        }
                    }
                    return Err(refused);
                }
            };
            upload.fields.push((name, value));
        }
    }
    if upload.temp.is_none() || upload.size == 0 {
        return Err(ApiError::invalid(
            "file",
            "must be a non-empty multipart part named file",
        ));
    }
    Ok(upload)
}

fn extension(name: &str) -> Option<String> {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

/// A safe file name: letters, digits, dot, dash and underscore only.
fn safe_name(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("upload");
    let s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if s.trim_matches('.').is_empty() {
        "upload".into()
    } else {
        s
    }
}

/// Upload an audio file: it is kept in the upload folder, tagged, analysed and indexed.
#[utoipa::path(post, path = "/v1/tracks/audio", tag = "tracks",
    request_body(content_type = "multipart/form-data", description = "A part named `file` (MP3, FLAC, OGG Vorbis, WAV, AAC/M4A)"),
    responses((status = 201, body = UploadResult), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    ApiMultipart(form): ApiMultipart,
) -> ApiResult<(StatusCode, Json<UploadResult>)> {
    let upload = read_multipart(form, &state.upload_dir).await?;
    let name = format!(
        "{}-{}",
        uuid::Uuid::new_v4().simple(),
        safe_name(&upload.file_name)
    );
    let path: PathBuf = state.upload_dir.join(name);
    upload.keep_as(&path).map_err(storing_failed)?;
    let saved = path.clone();
    let (outcome, track) = state
        .run_operation(true, move |engine| {
            music_rag_ops::audio_import::import_upload(engine, &saved)
        })
        .await?;
    let (status, id, code) = match outcome {
        UpsertOutcome::Created { id } => (StatusCode::CREATED, id, "created"),
        UpsertOutcome::Updated { id }
        | UpsertOutcome::Unchanged { id }
        | UpsertOutcome::Superseded { id } => (StatusCode::OK, id, "updated"),
        UpsertOutcome::Invalid { field, message, .. } => {
            return Err(ApiError::field_message(field, message));
        }
    };
    Ok((
        status,
        Json(UploadResult {
            status: code.into(),
            id,
            track,
        }),
    ))
}

fn parse_field<T: std::str::FromStr>(
    fields: &[(String, String)],
    name: &str,
) -> ApiResult<Option<T>> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| {
            v.trim().parse().map_err(|_| {
                ApiError::invalid(name.to_string(), format!("is not a valid value: {v:?}"))
            })
        })
        .transpose()
}

/// Tracks that sound alike: JSON `{track_id, text?, audio_weight?, filters?, top_k?}`, or a
/// multipart upload with a `file` part (plus optional `text`, `audio_weight`, `top_k`).
#[utoipa::path(post, path = "/v1/search/audio", tag = "search", operation_id = "search_audio", request_body = ListenRequest,
    responses((status = 200, body = ListenResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn search(
    State(state): State<AppState>,
    req: Request,
) -> ApiResult<Json<ListenResponse>> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let ApiJson(listen) = ApiJson::<ListenRequest>::from_request(req, &state).await?;
        listen.validate()?;
        return Ok(Json(
            state.run_blocking(move |e| e.listen(&listen, None)).await?,
        ));
    }
    let ApiMultipart(form) = ApiMultipart::from_request(req, &state).await?;
    let upload = read_multipart(form, &state.upload_dir).await?;
    let defaults = ListenRequest::default();
    let listen = ListenRequest {
        text: parse_field(&upload.fields, "text")?,
        audio_weight: parse_field(&upload.fields, "audio_weight")?.unwrap_or(defaults.audio_weight),
        top_k: parse_field(&upload.fields, "top_k")?.unwrap_or(defaults.top_k),
        ..defaults
    };
    listen.validate()?;
    let ext = extension(&upload.file_name);
    let resp = state
        .run_operation(false, move |engine| {
            // The clip is read from its temporary file, removed when `upload` drops.
            let file = std::fs::File::open(upload.path())
                .map_err(|e| CoreError::Unavailable(format!("cannot read the upload back: {e}")))?;
            music_rag_ops::audio_import::listen_to_clip(engine, file, ext.as_deref(), &listen)
        })
        .await?;
    Ok(Json(resp))
}
