//! The HTTP API: the original service's endpoints kept compatible, a versioned `/v1`, and
//! operations endpoints, behind keys, rate limits, body and time limits, and load shedding.

pub mod api;
pub mod auth;
pub mod config;
mod covers;
pub mod error;
mod extract;
pub mod metrics;
mod middleware;
mod openapi;
mod request;
pub mod schedule;
pub mod state;
pub mod stream_token;
pub mod subsonic;
pub mod tls;
mod transport;

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use api::{
    admin_api, ask_api, audio_api, compat_api, library_api, ops_api, playlist_api, recommend_api,
    search_api, stats_api, tracks_api, ui_api,
};
use auth::Scope;
pub use config::{ConfigError, ServerConfig, Settings};
use error::{ApiError, ErrorCode};
pub use state::AppState;
pub use transport::serve;

fn guarded(state: &AppState, scope: Scope, routes: Router<AppState>) -> Router<AppState> {
    routes.route_layer(axum::middleware::from_fn_with_state(
        (state.clone(), scope),
        middleware::guard,
    ))
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            axum::http::header::CONTENT_TYPE,
            axum::http::header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// The whole application, ready to serve.
pub fn app(state: AppState) -> Router {
    let c = state.settings.config.clone();
    let public = Router::new()
        .route("/", get(compat_api::root))
        .route("/health", get(compat_api::health))
        .route("/ready", get(ops_api::ready))
        .route("/openapi.json", get(openapi::openapi))
        .route("/docs", get(openapi::docs))
        .route("/ui", get(ui_api::page))
        .route("/ui/", get(ui_api::page))
        .route("/ui/assets/{name}", get(ui_api::asset));
    let read = Router::new()
        .route("/search", post(compat_api::search))
        .route("/stats", get(compat_api::stats))
        .route("/item/{id}", get(compat_api::item))
        .route("/v1/search", post(search_api::search))
        .route("/v1/ask", post(ask_api::ask))
        .route(
            "/v1/search/audio",
            post(audio_api::search).layer(DefaultBodyLimit::max(c.max_upload_bytes)),
        )
        .route("/v1/recommend", post(recommend_api::recommend))
        .route("/v1/playlist", post(playlist_api::playlist))
        .route("/v1/playlist/path", post(playlist_api::path))
        .route("/v1/playlists", get(playlist_api::saved))
        .route("/v1/playlists/{id}", get(playlist_api::saved_one))
        .route("/v1/stats", get(stats_api::stats))
        .route("/v1/tracks", get(tracks_api::list))
        .route("/v1/tracks/{id}", get(tracks_api::get))
        .route("/v1/library/albums", get(library_api::albums))
        .route("/v1/library/albums/{id}", get(library_api::album))
        .route("/v1/library/artists", get(library_api::artists))
        .route("/v1/library/artists/{id}", get(library_api::artist))
        .route("/v1/library/covers/{id}", get(library_api::cover));
    // The stream opens with a read key or with the signed link an exported playlist carries.
    let stream = Router::new()
        .route("/v1/tracks/{id}/audio", get(tracks_api::audio))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::stream_guard,
        ));
    let write = Router::new()
        .route("/index", post(compat_api::index))
        .route("/index/batch", post(compat_api::index_batch))
        .route("/v1/tracks", post(tracks_api::batch))
        .route(
            "/v1/tracks/audio",
            post(audio_api::upload).layer(DefaultBodyLimit::max(c.max_upload_bytes)),
        )
        .route(
            "/v1/tracks/{id}",
            axum::routing::put(tracks_api::put).delete(tracks_api::delete),
        )
        .route("/v1/playlists", post(playlist_api::save))
        .route("/v1/playlists/{id}/refresh", post(playlist_api::refresh))
        .route(
            "/v1/playlists/{id}",
            axum::routing::delete(playlist_api::delete_saved),
        );
    // Prometheus scrapes with a key of the metrics scope (or any stronger one).
    let scrape = Router::new().route("/metrics", get(ops_api::metrics));
    let admin = Router::new()
        .route(
            "/v1/admin/snapshots",
            post(admin_api::create_snapshot).get(admin_api::list_snapshots),
        )
        .route(
            "/v1/admin/snapshots/{name}",
            get(admin_api::download_snapshot).delete(admin_api::delete_snapshot),
        )
        .route(
            "/v1/admin/users",
            get(admin_api::list_users).post(admin_api::add_user),
        )
        .route("/v1/stats/queries", get(stats_api::queries))
        .route(
            "/v1/admin/users/{name}",
            axum::routing::delete(admin_api::remove_user),
        )
        .route(
            "/v1/admin/users/{name}/password",
            axum::routing::put(admin_api::set_password),
        );
    // The Subsonic API authenticates its own users (`subsonic::endpoint`).
    let subsonic = Router::new().route(
        "/rest/{method}",
        get(subsonic::endpoint).post(subsonic::endpoint_form),
    );
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(public)
        .merge(subsonic)
        .merge(guarded(&state, Scope::Read, read))
        .merge(stream)
        .merge(guarded(&state, Scope::Write, write))
        .merge(guarded(&state, Scope::Admin, admin))
        .merge(guarded(&state, Scope::Metrics, scrape))
        .fallback(|| async { ApiError::not_found("no such route; see /docs") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "this route does not take that method; see /docs")
        })
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                    let id = request::request_id(req);
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                }))
                .layer(axum::middleware::from_fn(metrics::track))
                .layer(HandleErrorLayer::new(middleware::overloaded))
                .load_shed()
                .concurrency_limit(c.max_concurrent_requests)
                .layer(axum::middleware::from_fn(middleware::catch_panic))
                .layer(cors(&state.settings.cors_origins))
                .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::refuse_cross_site))
                .layer(axum::middleware::from_fn_with_state(Duration::from_secs(c.request_timeout_seconds), middleware::timeout))
                .layer(DefaultBodyLimit::max(c.max_body_bytes)),
        )
        .with_state(state)
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: no new connections; draining requests in flight");
}
