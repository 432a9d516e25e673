//! One JSON shape for every error: `{"error": {"code", "message", "field"}}`, and the one
//! place where domain errors become HTTP statuses. Internal causes are logged, not returned.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use music_rag_core::CoreError;
use serde::Serialize;

/// Every error code the API returns, with the status it is sent with: one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidInput,
    MalformedJson,
    BadRequest,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RangeNotSatisfiable,
    RequestTimeout,
    RateLimited,
    Overloaded,
    Unavailable,
    InsufficientStorage,
    Internal,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::InvalidInput,
        ErrorCode::MalformedJson,
        ErrorCode::BadRequest,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::RequestTimeout,
        ErrorCode::RateLimited,
        ErrorCode::Overloaded,
        ErrorCode::Unavailable,
        ErrorCode::InsufficientStorage,
        ErrorCode::Internal,
    ];

    /// The stable machine-readable name clients match on.
    pub fn as_str(self) -> &'static str {
        self.entry().0
    }

    /// The HTTP status the code is sent with.
    pub fn status(self) -> StatusCode {
        self.entry().1
    }

    fn entry(self) -> (&'static str, StatusCode) {
        match self {
            ErrorCode::InvalidInput => ("invalid_input", StatusCode::UNPROCESSABLE_ENTITY),
            ErrorCode::MalformedJson => ("malformed_json", StatusCode::BAD_REQUEST),
            ErrorCode::BadRequest => ("bad_request", StatusCode::BAD_REQUEST),
            ErrorCode::UnsupportedMediaType => {
                ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            ErrorCode::PayloadTooLarge => ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            ErrorCode::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED),
            ErrorCode::Forbidden => ("forbidden", StatusCode::FORBIDDEN),
            ErrorCode::NotFound => ("not_found", StatusCode::NOT_FOUND),
            ErrorCode::MethodNotAllowed => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            ErrorCode::RangeNotSatisfiable => {
                ("range_not_satisfiable", StatusCode::RANGE_NOT_SATISFIABLE)
            }
            ErrorCode::RequestTimeout => ("request_timeout", StatusCode::REQUEST_TIMEOUT),
            ErrorCode::RateLimited => ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
            ErrorCode::Overloaded => ("overloaded", StatusCode::SERVICE_UNAVAILABLE),
            ErrorCode::Unavailable => ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
            ErrorCode::InsufficientStorage => {
                ("insufficient_storage", StatusCode::INSUFFICIENT_STORAGE)
            }
            ErrorCode::Internal => ("internal", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_input`, `not_found`, `unauthorized`.
    pub code: &'static str,
    pub message: String,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code: code.as_str(),
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = format!("{field} {}", message.into());
        Self {
            field: Some(field),
            ..Self::new(ErrorCode::InvalidInput, message)
        }
    }

    /// A field error whose message already names the field.
    pub fn field_message(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(ErrorCode::InvalidInput, message)
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid(f) => ApiError::invalid(f.field, f.rule),
            CoreError::NotFound(m) => ApiError::not_found(m),
            CoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "dependency unavailable");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "a dependency is unavailable; try again later",
                )
                .retry_after(5)
            }
            CoreError::StorageFull(m) => {
                tracing::error!(error = %m, "write refused: disk full");
                ApiError::new(ErrorCode::InsufficientStorage, m)
            }
            CoreError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                let id = crate::request::current_request_id();
                ApiError::new(
                    ErrorCode::Internal,
                    format!("internal error (request id {id}); see the server log for it"),
                )
            }
        }
    }
}

impl From<music_rag_ops::OpsError> for ApiError {
    fn from(e: music_rag_ops::OpsError) -> Self {
        use music_rag_ops::OpsError;
        match e {
            OpsError::Core(core) => core.into(),
            OpsError::TooLarge { field, message } => ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                ..ApiError::invalid(field, message)
            },
            OpsError::Input { what, message } => ApiError::invalid(what, message),
            other => CoreError::Internal(other.to_string()).into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
