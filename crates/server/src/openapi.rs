//! The OpenAPI document, assembled from the handlers' annotations, and the two routes that
//! serve it (`/openapi.json`, `/docs`).

use axum::response::Html;
use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{
    admin_api, ask_api, audio_api, compat_api, library_api, ops_api, playlist_api, recommend_api,
    search_api, stats_api, tracks_api, ui_api,
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

/// Rules on list items that the derive cannot attach: a time signature is written like
/// "3/4" (1-32 beats of a whole, half, quarter, eighth, sixteenth or thirty-second note), a
/// key like "A minor", "F# major", "Bb" or "Am" (the parser reads a few more spellings).
struct ItemRules;

const TIME_SIGNATURE: &str = r"^([1-9]|[12][0-9]|3[0-2])/(1|2|4|8|16|32)$";
const KEY: &str = r"^[A-Ga-g](#|b|♯|♭| sharp| flat)?( major| minor| maj| min|m)?$";

impl Modify for ItemRules {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ArrayItems, Schema};
        use utoipa::openapi::RefOr;
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for name in ["Filter", "Preferences"] {
            let Some(RefOr::T(Schema::Object(filter))) = components.schemas.get_mut(name) else {
                continue;
            };
            for (field, pattern) in [("time_signatures", TIME_SIGNATURE), ("keys", KEY)] {
                if let Some(RefOr::T(Schema::Array(list))) = filter.properties.get_mut(field) {
                    if let ArrayItems::RefOrSchema(item) = &mut list.items {
                        if let RefOr::T(Schema::Object(item)) = item.as_mut() {
                            item.pattern = Some(pattern.into());
                        }
                    }
                }
            }
        }
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
    info(title = "Music RAG", description = "Find and talk about music in plain words. Keys go in X-API-Key or Authorization: Bearer; scopes are read, write and admin. No text may hold the NUL character (U+0000): it is refused with 422 naming the field. Writes sent by a browser page of another site (an Origin that is not this server nor in CORS_ORIGINS) are refused with 403. Batches are validated row by row: invalid rows are listed in the answer and the others written."),
    paths(
        compat_api::root, compat_api::health, compat_api::search, compat_api::index, compat_api::index_batch,
        compat_api::stats, compat_api::item, stats_api::stats, stats_api::queries,
        search_api::search,
        ask_api::ask, recommend_api::recommend, playlist_api::playlist, playlist_api::path, audio_api::upload, audio_api::search,
        tracks_api::list, tracks_api::get, tracks_api::audio, tracks_api::put, tracks_api::delete, tracks_api::batch,
        ops_api::ready, ops_api::metrics, openapi, docs, ui_api::page, ui_api::asset,
        admin_api::create_snapshot, admin_api::list_snapshots, admin_api::download_snapshot,
        admin_api::delete_snapshot, admin_api::list_users, admin_api::add_user,
        admin_api::remove_user, admin_api::set_password,
        library_api::albums, library_api::album, library_api::artists, library_api::artist,
        library_api::cover,
        playlist_api::save, playlist_api::saved, playlist_api::saved_one, playlist_api::refresh,
        playlist_api::delete_saved,
        crate::subsonic::endpoint, crate::subsonic::endpoint_form,
    ),
    modifiers(&Security, &CommonErrors, &ItemRules),
    tags(
        (name = "compat", description = "The original Python service's endpoints, unchanged for its clients"),
        (name = "search", description = "Versioned search"),
        (name = "answers", description = "Grounded answers with citations, recommendations and playlists"),
        (name = "tracks", description = "Versioned catalog management"),
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "admin", description = "Snapshots of the store, users, what people search for (admin scope)"),
        (name = "subsonic", description = "The OpenSubsonic API for player apps: its own users and wire format (docs/SUBSONIC.md)"),
        (name = "library", description = "The music library: albums, artists, cover art (the Subsonic API at /rest serves the same)"),
    )
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The OpenAPI document, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "This document")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// A readable page for the OpenAPI document, with no outside scripts.
#[utoipa::path(get, path = "/docs", tag = "operations", responses((status = 200, description = "HTML", content_type = "text/html")))]
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("../assets/docs.html"))
}
