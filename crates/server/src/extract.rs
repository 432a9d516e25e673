//! A JSON body extractor whose every rejection is an `ApiError` naming the field.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

pub struct ApiJson<T>(pub T);

/// A body over `max_body_bytes`.
pub fn body_too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        "the request body is larger than the configured limit (MUSIC_RAG_MAX_BODY_BYTES)",
    )
}

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
                let detail = text.trim_start_matches(
                    "Failed to deserialize the JSON body into the target type: ",
                );
                let (path, msg) = detail.split_once(": ").unwrap_or(("", detail));
                let field = if path.is_empty() || path == "." {
                    field_of(msg)
                } else {
                    Some(path.to_string())
                };
                Err(ApiError {
                    field: field.clone(),
                    ..ApiError::new(
                        ErrorCode::InvalidInput,
                        format!(
                            "{}{msg}",
                            field.map(|f| format!("{f}: ")).unwrap_or_default()
                        ),
                    )
                })
            }
            Err(JsonRejection::JsonSyntaxError(e)) => {
                Err(ApiError::new(ErrorCode::MalformedJson, e.body_text()))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(body_too_large())
            }
            Err(other) => Err(ApiError {
                status: other.status(),
                ..ApiError::new(ErrorCode::BadRequest, other.body_text())
            }),
        }
    }
}

/// Query parameters whose every rejection is a JSON error naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => {
                let text = e.body_text();
                let detail = text.trim_start_matches("Failed to deserialize query string: ");
                let field = detail
                    .split_once(": ")
                    .map(|(f, _)| f.to_string())
                    .or_else(|| field_of(detail));
                Err(ApiError {
                    field,
                    ..ApiError::new(ErrorCode::InvalidInput, format!("query string: {detail}"))
                })
            }
        }
    }
}

/// Path segments whose every rejection (say, bytes that are not UTF-8) is a JSON error.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) if e.status().is_server_error() => {
                tracing::error!(error = %e.body_text(), "path extraction failed");
                Err(ApiError::new(
                    ErrorCode::Internal,
                    "the route's path could not be read",
                ))
            }
            Err(e) => Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("the path is not valid: {}", e.body_text()),
            )),
        }
    }
}

/// A multipart form whose rejection (no boundary, not multipart) is a JSON error naming `file`.
pub struct ApiMultipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(ApiMultipart)
            .map_err(|e| {
                ApiError::invalid(
                    "file",
                    format!(
                        "must be sent as multipart/form-data with a boundary ({})",
                        e.body_text()
                    ),
                )
            })
    }
}
