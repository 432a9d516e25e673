//! Operations: readiness, metrics, the OpenAPI document and its docs page.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::metrics::{
    CACHE_HITS, CACHE_HIT_RATIO, CACHE_MISSES, CATALOG_TRACKS, READY, STORE_WRITABLE,
};
use crate::state::AppState;

/// Readiness: the store is open and the model loaded. While writes fail (a full disk), the
/// status is `degraded` with the reason: reads are still served, so the answer stays 200
/// and the replica stays in its load balancer; alert on `writable: false` or the
/// `music_rag_store_writable` metric.
#[utoipa::path(get, path = "/ready", tag = "operations", responses((status = 200, description = "ready, or degraded (reads work, writes fail)"), (status = 503, description = "not ready")))]
pub async fn ready(State(state): State<AppState>) -> Response {
    match state
        .catalog_blocking(|catalog| Ok((catalog.count()?, catalog.write_failure())))
        .await
    {
        Ok((n, failure)) => {
            metrics::gauge!(STORE_WRITABLE).set(if failure.is_some() { 0.0 } else { 1.0 });
            metrics::gauge!(READY).set(1.0);
            Json(serde_json::json!({
                "status": if failure.is_some() { "degraded" } else { "ready" },
                "writable": failure.is_none(),
                "reason": failure,
                "tracks": n,
                "model": state.engine.embedder().model_id(),
            }))
            .into_response()
        }
        Err(e) => {
            metrics::gauge!(READY).set(0.0);
            e.into_response()
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")), security(("api_key" = [])))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let store = state
        .catalog_blocking(|catalog| Ok((catalog.count()?, catalog.write_failure().is_none())))
        .await;
    if let Ok((n, _)) = &store {
        metrics::gauge!(CATALOG_TRACKS).set(*n as f64);
    }
    metrics::gauge!(READY).set(if store.is_ok() { 1.0 } else { 0.0 });
    let writable = store.is_ok_and(|(_, writable)| writable);
    metrics::gauge!(STORE_WRITABLE).set(if writable { 1.0 } else { 0.0 });
    crate::metrics::process_collector().collect();
    let (hits, misses) = state.engine.embedder().cache_stats();
    metrics::counter!(CACHE_HITS).absolute(hits);
    metrics::counter!(CACHE_MISSES).absolute(misses);
    if hits + misses > 0 {
        metrics::gauge!(CACHE_HIT_RATIO).set(hits as f64 / (hits + misses) as f64);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
