//! Request guards: keys and scopes, per-caller rate limits, load shedding, and panics.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use governor::clock::{Clock, DefaultClock};

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ErrorCode};
use crate::metrics::{RATE_LIMITED, SHED};
use crate::state::AppState;

fn presented_key(req: &Request) -> Option<&str> {
    let headers = req.headers();
    if let Some(k) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Checks the caller's key against the scope a route needs, then its rate limit.
pub async fn guard(
    State((state, needed)): State<(AppState, Scope)>,
    req: Request,
    next: Next,
) -> Response {
    // The keys in force now (a reload swaps them); the lock is not held past this block.
    let (found, key_id) = {
        let keys = state
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let found = (!keys.is_empty()).then(|| presented_key(&req).map(|k| keys.find(k)));
        let key_id = match found {
            Some(Some(Some((index, _)))) => keys.key_id(index),
            _ => None,
        };
        (found, key_id)
    };
    let caller = match found {
        None => Caller::Anonymous,
        Some(found) => match found {
            None => {
                return ApiError::new(
                    ErrorCode::Unauthorized,
                    "send an API key in X-API-Key or Authorization: Bearer",
                )
                .into_response()
            }
            Some(None) => {
                return ApiError::new(ErrorCode::Unauthorized, "the API key is not valid")
                    .into_response()
            }
            Some(Some((_, scope))) if scope < needed => {
                return ApiError::new(
                    ErrorCode::Forbidden,
                    format!(
                        "this key has the {} scope; this route needs {}",
                        scope.name(),
                        needed.name()
                    ),
                )
                .into_response();
            }
            Some(Some((index, _))) => Caller::Key { index },
        },
    };
    let bucket = match caller {
        Caller::Key { index, .. } => format!("key:{index}"),
        Caller::Anonymous => req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| format!("ip:{}", c.0.ip()))
            .unwrap_or_else(|| "ip:unknown".into()),
    };
    if let Err(not_until) = state.limiter.check_key(&bucket) {
        metrics::counter!(RATE_LIMITED).increment(1);
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        return ApiError::new(
            ErrorCode::RateLimited,
            "too many requests; retry after the time in Retry-After",
        )
        .retry_after(wait.as_secs_f64().ceil() as u64)
        .into_response();
    }
    let mut response = next.run(req).await;
    if let Some(id) = key_id {
        // For the access log, which runs outside the guard.
        response.extensions_mut().insert(KeyId(id));
    }
    response
}

/// Which key a request used (a digest prefix, never the key), for the access log.
#[derive(Debug, Clone)]
pub struct KeyId(pub String);

/// The request's id (set or propagated by the outermost layer), or "" when it has none.
pub fn request_id<B>(req: &axum::http::Request<B>) -> &str {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Turns a panic in a handler into a 500 that carries the request id, and logs it; the
/// server keeps serving.
pub async fn catch_panic(req: Request, next: Next) -> Response {
    let request_id = match request_id(&req) {
        "" => "unknown".to_string(),
        id => id.to_string(),
    };
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(request_id, panic = what, "handler panicked");
            ApiError::new(
                ErrorCode::Internal,
                format!("internal error (request id {request_id}); it has been logged"),
            )
            .into_response()
        }
    }
}

/// Maps the load-shed and timeout layers' errors to JSON responses.
pub async fn overloaded(err: tower::BoxError) -> Response {
    if err.is::<tower::load_shed::error::Overloaded>() {
        metrics::counter!(SHED).increment(1);
        return ApiError::new(
            ErrorCode::Overloaded,
            "the server is at capacity; retry after the time in Retry-After",
        )
        .retry_after(1)
        .into_response();
    }
    tracing::error!(error = %err, "middleware error");
    ApiError::new(ErrorCode::Internal, "internal error").into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_naming_the_request() {
        let app = Router::new()
            .route(
                "/boom",
                get(|| async { panic!("handler bug") as &'static str }),
            )
            .route("/fine", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(super::catch_panic));
        let req = Request::get("/boom")
            .header("x-request-id", "req-42")
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 500);
        let body = axum::body::to_bytes(resp.into_body(), 10_000)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "internal");
        assert!(v["error"]["message"].as_str().unwrap().contains("req-42"));
        // The service keeps serving.
        let resp = app
            .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}
