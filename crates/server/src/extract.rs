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

/// The rule for U+0000 everywhere a client sends text (bodies, query strings, paths): refused
/// with a 422 naming where it was, the same rule track validation applies, so both stores
/// see the same inputs (PostgreSQL cannot hold NUL in text).
fn nul_refused(field: &str) -> ApiError {
    ApiError::field_message(
        field,
        format!("{field} must not contain the NUL character (U+0000)"),
    )
}

/// Where in a JSON document a string (or a key) holds U+0000, as `tracks[2].title`.
fn nul_path(value: &serde_json::Value, at: &str) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(at.to_string()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, &format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_path(v, &here)
            }
        }),
        _ => None,
    }
}

/// JSON can carry NUL only as the escape `\u0000`: documents without it are not parsed twice.
fn json_nul_field(body: &[u8]) -> Option<String> {
    let escaped = body
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && w[2..].eq_ignore_ascii_case(b"0000"));
    if !escaped {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    nul_path(&value, "").map(|p| if p.is_empty() { "body".into() } else { p })
}

/// `application/json`, or any `application/…+json`, as axum's `Json` accepts.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON body of tracks: like [`ApiJson`], but a NUL is left to each track's validation, so
/// in a batch it fails its own row (named, as every invalid row is) and not the batch.
pub struct ApiJsonTracks<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJsonTracks<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state, false).await.map(ApiJsonTracks)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state, true).await.map(ApiJson)
    }
}

async fn read_json<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
    refuse_nul: bool,
) -> Result<T, ApiError> {
    if !is_json(req.headers()) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let body = match axum::body::Bytes::from_request(req, state).await {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(body_too_large()),
        Err(e) => {
            return Err(ApiError {
                status: e.status(),
                ..ApiError::new(ErrorCode::BadRequest, e.body_text())
            })
        }
    };
    if let Some(field) = json_nul_field(&body).filter(|_| refuse_nul) {
        return Err(nul_refused(&field));
    }
    match axum::Json::<T>::from_bytes(&body) {
        Ok(axum::Json(v)) => Ok(v),
        Err(JsonRejection::JsonDataError(e)) => {
            // serde_path_to_error gives "path: message" in the body text.
            let text = e.body_text();
            let detail = text
                .trim_start_matches("Failed to deserialize the JSON body into the target type: ");
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
        Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(body_too_large())
        }
        Err(other) => Err(ApiError {
            status: other.status(),
            ..ApiError::new(ErrorCode::BadRequest, other.body_text())
        }),
    }
}

/// Query parameters whose every rejection is a JSON error naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        if let Some((name, _)) = query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(name, value)| has_encoded_nul(name) || has_encoded_nul(value))
        {
            return Err(nul_refused(name));
        }
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

/// Whether percent-encoded text decodes to a NUL (`%00`; a URI cannot hold a raw one).
fn has_encoded_nul(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// Path segments whose every rejection (say, bytes that are not UTF-8) is a JSON error.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if has_encoded_nul(parts.uri.path()) {
            return Err(nul_refused("path"));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_in_a_json_body_is_found_by_its_path() {
        let body =
            br#"{"tracks": [{"id": "a", "title": "ok"}, {"id": "b", "tags": ["x", "y\u0000"]}]}"#;
        assert_eq!(json_nul_field(body).as_deref(), Some("tracks[1].tags[1]"));
        assert_eq!(
            json_nul_field(br#"{"text_query": "a\U0000b"}"#),
            None,
            "JSON escapes are lower-case u"
        );
        assert_eq!(json_nul_field(br#"{"text_query": "fine"}"#), None);
        assert_eq!(json_nul_field(br#""\u0000""#).as_deref(), Some("body"));
        assert!(has_encoded_nul("/v1/tracks/a%00b") && !has_encoded_nul("/v1/tracks/a%20b"));
    }
}
