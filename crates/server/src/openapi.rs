//! The OpenAPI document, assembled from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{
    admin_api, ask_api, audio_api, compat_api, ops_api, playlist_api, recommend_api, search_api,
    stats_api, tracks_api, ui_api,
};

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Music RAG", description = "Find and talk about music in plain words. Keys go in X-API-Key or Authorization: Bearer; scopes are read, write and admin."),
    paths(
        compat_api::root, compat_api::health, compat_api::search, compat_api::index, compat_api::index_batch,
        compat_api::stats, compat_api::item, stats_api::stats,
        search_api::search,
        ask_api::ask, recommend_api::recommend, playlist_api::playlist, audio_api::upload, audio_api::search,
        tracks_api::list, tracks_api::get, tracks_api::audio, tracks_api::put, tracks_api::delete, tracks_api::batch,
        ops_api::ready, ops_api::metrics, ops_api::openapi, ops_api::docs, ui_api::page, ui_api::asset,
        admin_api::create_snapshot, admin_api::list_snapshots, admin_api::download_snapshot,
        admin_api::delete_snapshot,
    ),
    modifiers(&Security),
    tags(
        (name = "compat", description = "The original Python service's endpoints, unchanged for its clients"),
        (name = "search", description = "Versioned search"),
        (name = "answers", description = "Grounded answers with citations, recommendations and playlists"),
        (name = "tracks", description = "Versioned catalog management"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "admin", description = "Snapshots of the store (admin scope)"),
    )
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}
