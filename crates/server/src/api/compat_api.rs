//! The original Python service's endpoints, with its request and response shapes. Unlike the
//! original, filters apply to every mood and to the tempo range, items survive a restart, and
//! bad input is a 4xx naming the field.

use axum::extract::State;
use axum::Json;
use music_rag_core::{Filter, Range, RetrievalType, SearchRequest, Track, UpsertOutcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiJsonTracks, ApiPath};
use crate::state::AppState;

/// A list, or a single string as some clients send it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatSearchRequest {
    pub text_query: String,
    #[serde(
        default = "default_top_k",
        deserialize_with = "music_rag_core::domain::wire::count"
    )]
    #[schema(minimum = 1, maximum = 100)]
    pub top_k: usize,
    pub genre_filter: Option<OneOrMany>,
    pub mood_filter: Option<OneOrMany>,
    /// `[min, max]` BPM.
    #[schema(min_items = 2, max_items = 2)]
    pub tempo_range: Option<Vec<f32>>,
    pub cultural_origin_filter: Option<OneOrMany>,
    #[serde(default = "yes")]
    pub use_broad_retrieval: bool,
    #[serde(default = "yes")]
    pub use_targeted_retrieval: bool,
    /// Weight of meaning against keywords, 0–1 (unset: chosen from the query, 0.5 for a
    /// description and 0.6 otherwise).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1)]
    pub semantic_weight: Option<f32>,
}

fn default_top_k() -> usize {
    10
}
fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompatHit {
    pub id: String,
    pub title: String,
    pub artist: String,
    pub description: String,
    pub genre: Option<String>,
    pub mood: Vec<String>,
    pub cultural_origin: Option<String>,
    pub tempo: Option<f32>,
    pub score: f32,
    /// 1 − cosine similarity, when the dense retriever saw the track.
    pub distance: Option<f32>,
    pub retrieval_type: RetrievalType,
    pub metadata: music_rag_core::Metadata,
}

impl CompatSearchRequest {
    fn into_request(self) -> ApiResult<SearchRequest> {
        let tempo = match self.tempo_range.as_deref() {
            None => None,
            Some([min, max]) => {
                let r = Range::new(Some(*min), Some(*max));
                r.validate("tempo_range")?;
                Some(r)
            }
            Some(_) => return Err(ApiError::invalid("tempo_range", "must be [min, max]")),
        };
        Ok(SearchRequest {
            text: self.text_query,
            top_k: self.top_k,
            semantic_weight: self.semantic_weight,
            broad: self.use_broad_retrieval,
            targeted: self.use_targeted_retrieval,
            filters: Filter {
                genres: self
                    .genre_filter
                    .map(OneOrMany::into_vec)
                    .unwrap_or_default(),
                moods: self
                    .mood_filter
                    .map(OneOrMany::into_vec)
                    .unwrap_or_default(),
                origins: self
                    .cultural_origin_filter
                    .map(OneOrMany::into_vec)
                    .unwrap_or_default(),
                tempo,
                ..Default::default()
            },
            ..Default::default()
        })
    }
}

/// Name and version of the service.
#[utoipa::path(get, path = "/", tag = "compat", responses((status = 200, description = "Service name and version"), (status = 303, description = "A browser (`Accept: text/html`) is sent to the web page at `/ui`")))]
pub async fn root(headers: axum::http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    // A browser gets the web page; API clients keep the original JSON.
    let mut response = if crate::api::ui_api::wants_html(&headers) {
        axum::response::Redirect::to("/ui").into_response()
    } else {
        Json(serde_json::json!({
            "name": "Music RAG",
            "version": env!("CARGO_PKG_VERSION"),
            "docs": "/docs",
            "openapi": "/openapi.json",
            "ui": "/ui",
        }))
        .into_response()
    };
    response.headers_mut().insert(
        axum::http::header::VARY,
        axum::http::HeaderValue::from_static("Accept"),
    );
    response
}

/// Liveness: the process answers. Also says which version runs and which store layout it
/// reads (the first thing to check in a rollback).
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "`{\"status\": \"healthy\"}`")))]
pub async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "healthy",
        "version": env!("CARGO_PKG_VERSION"),
        "store_schema_version": state.engine.catalog().schema_version(),
    }))
}

/// Search (the original's request and response shapes).
#[utoipa::path(post, path = "/search", tag = "compat", operation_id = "compat_search", request_body = CompatSearchRequest,
    responses((status = 200, body = [CompatHit]), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub async fn search(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CompatSearchRequest>,
) -> ApiResult<Json<Vec<CompatHit>>> {
    let req = body.into_request()?;
    req.validate()?;
    let started = std::time::Instant::now();
    let text = req.text.clone();
    let resp = state.run_blocking(move |e| e.search(&req)).await?;
    crate::metrics::record_search(&resp.timings);
    state.record_query(&text, resp.route.name(), resp.hits.len(), started.elapsed());
    Ok(Json(
        resp.hits
            .into_iter()
            .map(|h| CompatHit {
                id: h.track.id.clone(),
                title: h.track.title.clone(),
                artist: h.track.artist.clone(),
                description: h.track.description.clone().unwrap_or_default(),
                genre: h.track.metadata.genre.clone(),
                mood: h.track.metadata.mood.clone(),
                cultural_origin: h.track.metadata.cultural_origin.clone(),
                tempo: h.track.metadata.tempo,
                score: h.score,
                distance: h.scores.dense_similarity.map(|s| 1.0 - s),
                retrieval_type: h.retrieval_type,
                metadata: h.track.metadata.clone(),
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IndexResponse {
    pub status: &'static str,
    pub id: String,
    pub message: String,
}

/// Index one track.
/// The body of `POST /index`: a [`Track`] whose `id` is required, as the original service
/// required it (the shared `Track` schema leaves it out because `PUT /v1/tracks/{id}` takes it
/// from the path). Only the document differs; the body is read as a `Track`.
pub struct TrackWithId;

impl utoipa::PartialSchema for TrackWithId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::Schema;
        use utoipa::openapi::RefOr;
        let mut schema = <Track as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            if !object.required.iter().any(|r| r == "id") {
                object.required.push("id".into());
            }
            if let Some(RefOr::T(Schema::Object(id))) = object.properties.get_mut("id") {
                id.min_length = Some(1);
                id.pattern = Some(r"\S".into());
            }
        }
        schema
    }
}

impl ToSchema for TrackWithId {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <Track as ToSchema>::schemas(schemas);
    }
}

#[utoipa::path(post, path = "/index", tag = "compat", request_body = TrackWithId,
    responses((status = 200, body = IndexResponse), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub async fn index(
    State(state): State<AppState>,
    ApiJsonTracks(track): ApiJsonTracks<Track>,
) -> ApiResult<Json<IndexResponse>> {
    let outcome = state.run_write(move |e| e.upsert_one(track)).await?;
    let (id, verb) = match outcome {
        UpsertOutcome::Created { id } => (id, "indexed"),
        UpsertOutcome::Updated { id } => (id, "updated"),
        UpsertOutcome::Unchanged { id } | UpsertOutcome::Superseded { id } => (id, "unchanged"),
        UpsertOutcome::Invalid { field, message, .. } => {
            return Err(ApiError::field_message(field, message))
        }
    };
    Ok(Json(IndexResponse {
        status: "success",
        message: format!("track {id} {verb}"),
        id,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// `success` when every track was indexed, `partial` when some were refused.
    pub status: &'static str,
    pub count: usize,
    pub message: String,
    /// The refused tracks: position in the list, id, field and rule.
    pub errors: Vec<BatchError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchError {
    pub index: usize,
    pub id: Option<String>,
    pub field: String,
    pub message: String,
}

/// Index a list of tracks; good tracks are kept when others are refused.
#[utoipa::path(post, path = "/index/batch", tag = "compat", request_body = [Track],
    responses((status = 200, body = BatchResponse), (status = 413, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub async fn index_batch(
    State(state): State<AppState>,
    ApiJsonTracks(tracks): ApiJsonTracks<Vec<Track>>,
) -> ApiResult<Json<BatchResponse>> {
    let max = state.settings.config.max_batch_size;
    if tracks.len() > max {
        return Err(ApiError {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            ..ApiError::invalid(
                "body",
                format!(
                    "must hold at most {max} tracks (MAX_BATCH_SIZE); got {}",
                    tracks.len()
                ),
            )
        });
    }
    let report = state.run_write(move |e| e.upsert(tracks)).await?;
    crate::metrics::record_ingest(&report);
    let errors: Vec<BatchError> = report
        .results
        .iter()
        .enumerate()
        .filter_map(|(index, o)| match o {
            UpsertOutcome::Invalid { id, field, message } => Some(BatchError {
                index,
                id: id.clone(),
                field: field.clone(),
                message: message.clone(),
            }),
            _ => None,
        })
        .collect();
    // Tracks now stored; a track repeated in the batch counts once.
    let count = report.stored();
    Ok(Json(BatchResponse {
        status: if errors.is_empty() {
            "success"
        } else {
            "partial"
        },
        count,
        message: format!("{count} tracks indexed, {} refused", errors.len()),
        errors,
    }))
}

/// Catalog statistics.
#[utoipa::path(get, path = "/stats", tag = "compat", operation_id = "compat_stats", responses((status = 200, description = "Counts")), security(("api_key" = [])))]
pub async fn stats(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let counts = state
        .run_operation(false, music_rag_ops::stats::counts)
        .await?;
    metrics::gauge!(crate::metrics::CATALOG_TRACKS).set(counts.tracks as f64);
    Ok(Json(serde_json::to_value(counts).unwrap_or_default()))
}

/// One track by id.
#[utoipa::path(get, path = "/item/{id}", tag = "compat", params(("id" = String, Path, description = "Track id")),
    responses((status = 200, body = Track), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn item(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Track>> {
    let track = state.run_blocking(move |e| e.catalog().track(&id)).await?;
    Ok(Json((*track).clone()))
}
