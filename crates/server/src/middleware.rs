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
use crate::request::{request_id, KeyId};
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
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // An address that failed too often is refused whatever it presents, so keys cannot be
    // guessed faster than the failure quota allows.
    if let Some(wait) = client.and_then(|ip| state.auth_blocked_for(ip)) {
        metrics::counter!(RATE_LIMITED).increment(1);
        return auth_rate_limited(wait);
    }
    let failed = |message: &str| -> Response {
        if let Some(wait) = client.and_then(|ip| state.note_auth_failure(ip)) {
            metrics::counter!(RATE_LIMITED).increment(1);
            return auth_rate_limited(wait);
        }
        ApiError::new(ErrorCode::Unauthorized, message).into_response()
    };
    let caller = match found {
        None => Caller::Anonymous,
        Some(found) => match found {
            None => return failed("send an API key in X-API-Key or Authorization: Bearer"),
            Some(None) => return failed("the API key is not valid"),
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

/// The audio stream: a request with a key goes through the read guard; without one, a valid
/// signed link (`stream_token`) opens it, and a link that expired or was altered is refused
/// (counted as a failed attempt).
pub async fn stream_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    use crate::stream_token::{now, token_in, verify};
    let signed = {
        let keys = state
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let keyless = presented_key(&req).is_none();
        keys.signing_secret()
            .filter(|_| keyless)
            .zip(token_in(req.uri().query()))
            .map(|(secret, token)| verify(&secret, req.uri().path(), token, now()))
    };
    match signed {
        Some(true) => next.run(req).await,
        Some(false) => {
            let client = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            if let Some(wait) = client.and_then(|ip| state.note_auth_failure(ip)) {
                metrics::counter!(RATE_LIMITED).increment(1);
                return auth_rate_limited(wait);
            }
            ApiError::new(
                ErrorCode::Unauthorized,
                "the stream link expired or is not valid; export the playlist again",
            )
            .into_response()
        }
        None => guard(State((state, Scope::Read)), req, next).await,
    }
}

fn auth_rate_limited(wait: std::time::Duration) -> Response {
    ApiError::new(
        ErrorCode::RateLimited,
        "too many failed authentications from this address; retry after the time in Retry-After",
    )
    .retry_after(wait.as_secs_f64().ceil() as u64)
    .into_response()
}

/// Whether a browser sent this request from a page of another site: its `Origin` is neither
/// this server (as the `Host` or `X-Forwarded-Host` it was reached by) nor an allowed CORS
/// origin, or, without `Origin`, `Sec-Fetch-Site` says `cross-site`/`same-site`. Clients
/// that are not browsers send neither header and are not affected.
fn is_cross_site(req: &Request, allowed: &[String]) -> bool {
    let headers = req.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = text("origin") {
        if allowed
            .iter()
            .any(|a| a == "*" || a.trim_end_matches('/') == origin)
        {
            return false;
        }
        // "null" (a sandboxed page, a file) is never this server.
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        let own = [text("x-forwarded-host"), text("host")];
        return !own
            .iter()
            .flatten()
            .any(|host| authority.is_some_and(|a| a.eq_ignore_ascii_case(host.trim())));
    }
    matches!(text("sec-fetch-site"), Some("cross-site" | "same-site"))
}

/// Refuses state-changing requests (anything but GET, HEAD and OPTIONS) that a page of
/// another site made the user's browser send: CORS hides the answer from that page but does
/// not stop a "simple" request (a form, or `text/csv`) from writing. With no keys set (the
/// loopback default) this is the only thing between a web page and the catalog.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if !safe && is_cross_site(&req, &state.settings.cors_origins) {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), "cross-site write refused");
        return ApiError::new(
            ErrorCode::Forbidden,
            "a page of another site may not change this server's data (its Origin is not this \
             server nor in CORS_ORIGINS)",
        )
        .into_response();
    }
    next.run(req).await
}

/// Turns a panic in a handler into a 500 that carries the request id, and logs it; the
/// server keeps serving. Handlers run with the request id in scope (`request::current_request_id`).
pub async fn catch_panic(req: Request, next: Next) -> Response {
    let request_id = match request_id(&req) {
        "" => "unknown".to_string(),
        id => id.to_string(),
    };
    let run = std::panic::AssertUnwindSafe(next.run(req)).catch_unwind();
    match crate::request::serving(request_id.clone(), run).await {
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

/// The request timeout, answered with a JSON 408 that says what happened. A request cut off
/// before its write started wrote nothing; once a write has started the request runs on to
/// its real outcome, so a 408 never hides a committed write.
pub async fn timeout(
    State(limit): State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let run = crate::request::watching_writes(started.clone(), next.run(req));
    tokio::pin!(run);
    match tokio::time::timeout(limit, &mut run).await {
        Ok(response) => response,
        Err(_) if started.load(std::sync::atomic::Ordering::Acquire) => {
            tracing::warn!(
                seconds = limit.as_secs(),
                "a write ran past the request timeout; finishing it"
            );
            run.await
        }
        Err(_) => ApiError::new(
            ErrorCode::RequestTimeout,
            format!(
                "the request took longer than {} s and was stopped; nothing was written \
                 (MUSIC_RAG_REQUEST_TIMEOUT_SECONDS)",
                limit.as_secs()
            ),
        )
        .into_response(),
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
    async fn an_internal_error_names_the_request_it_failed() {
        let app = Router::new()
            .route(
                "/broken",
                get(|| async {
                    Err::<&'static str, _>(crate::error::ApiError::from(
                        music_rag_core::CoreError::Internal("disk said no".into()),
                    ))
                }),
            )
            .layer(axum::middleware::from_fn(super::catch_panic));
        let req = Request::get("/broken")
            .header("x-request-id", "req-77")
            .body(Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 500);
        let body = axum::body::to_bytes(resp.into_body(), 10_000)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("req-77"), "{message}");
        assert!(
            !message.contains("disk said no"),
            "causes stay in the log: {message}"
        );
    }

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
