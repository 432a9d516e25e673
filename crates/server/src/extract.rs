//! A JSON body extractor whose every rejection is an `ApiError` naming the field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

pub struct ApiJson<T>(pub T);

/// Pulls the field path out of serde's message ("unknown field `x`", "... at line 1 column 5").
fn field_of(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                // serde_path_to_error gives "path: message" in the body text.
                let text = e.body_text();
                let detail = text.trim_start_matches("Failed to deserialize the JSON body into the target type: ");
                let (path, msg) = detail.split_once(": ").unwrap_or(("", detail));
                let field = if path.is_empty() || path == "." { field_of(msg) } else { Some(path.to_string()) };
                Err(ApiError {
                    field: field.clone(),
                    ..ApiError::new(ErrorCode::InvalidInput, format!("{}{msg}", field.map(|f| format!("{f}: ")).unwrap_or_default()))
                })
            }
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::new(ErrorCode::MalformedJson, e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(ErrorCode::PayloadTooLarge,
                "the request body is larger than the configured limit (MUSIC_RAG_MAX_BODY_BYTES)",
            )),
            Err(other) => Err(ApiError {
                status: other.status(),
                ..ApiError::new(ErrorCode::BadRequest, other.body_text())
            }),
        }
    }
}
