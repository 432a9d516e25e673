//! What the server knows of the request a task serves: its id (from the outermost layer, kept
//! in task-local scope so an internal error's body can name it), which key it used, and
//! whether its write has started (after which the request timeout lets it finish).

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

tokio::task_local! {
    /// The id of the request the current task serves, so an internal error's body can name it.
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request being served, or "unknown" outside a request.
pub fn current_request_id() -> String {
    CURRENT_REQUEST_ID
        .try_with(|id| id.clone())
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs `f` as the task serving request `id`.
pub async fn serving<F: std::future::Future>(id: String, f: F) -> F::Output {
    CURRENT_REQUEST_ID.scope(id, f).await
}

tokio::task_local! {
    /// Set once a request's write has started (see [`write_begins`]).
    static WRITE_STARTED: std::sync::Arc<std::sync::atomic::AtomicBool>;
}

/// Called by a handler as its write starts: from then on the request timeout lets it finish.
pub fn write_begins() {
    let _ = WRITE_STARTED.try_with(|w| w.store(true, std::sync::atomic::Ordering::Release));
}

/// Runs `f` with `started` set once its write begins ([`write_begins`]).
pub fn watching_writes<F: std::future::Future>(
    started: std::sync::Arc<std::sync::atomic::AtomicBool>,
    f: F,
) -> impl std::future::Future<Output = F::Output> {
    WRITE_STARTED.scope(started, f)
}
