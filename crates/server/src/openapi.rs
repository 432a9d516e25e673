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

/// Answers any route can give that the handlers do not list themselves: the guards (keys,
/// scopes, rate limit), the body checks, the timeout, load shedding and the panic guard. Each is
/// the one JSON error body.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            // Every method but GET refuses a write sent by a page of another site (403).
            for op in [&mut item.put, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                op.responses
                    .responses
                    .entry("403".to_string())
                    .or_insert_with(|| {
                        error("Refused: a page of another site sent this request (Origin)").into()
                    });
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description).into());
                };
                add("408", "The request took longer than the configured timeout");
                add(
                    "500",
                    "An unexpected failure (the message names the request id)",
                );
                add("503", "Overloaded or not ready; see Retry-After");
                if op.security.is_some() {
                    add("401", "No key, or an unknown key");
                    add("403", "The key's scope does not allow this");
                    add("429", "Rate limited; see Retry-After");
                }
                if op.request_body.is_some() {
                    add(
                        "400",
                        "The body is not valid JSON or not a readable request",
                    );
                    add("413", "The body is larger than the configured limit");
                    add("415", "The body is not of a type this route reads");
                    add("422", "A field breaks a rule; `field` names it");
                }
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                    add("400", "A path segment cannot be read");
                    add("422", "A parameter breaks a rule; `field` names it");
                }
            }
        }
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
    modifiers(&Security, &CommonErrors),
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
