//! `/v1/stats`: the counts of `/stats` plus the catalog at a glance (terms each filter
//! matches, tempo histogram, keys, decades, live, playable tracks) for filter controls and
//! charts. The overview is computed once per catalog version (write sequence).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use music_rag_core::domain::overview::CatalogOverview;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogStats {
    pub tracks: usize,
    pub text_embeddings_count: usize,
    pub audio_embeddings_count: usize,
    /// Write sequence of the store: it changes with every write.
    pub sequence: u64,
    pub backend: String,
    pub embedding_model: String,
    pub query_cache: QueryCache,
    #[schema(value_type = CatalogOverview)]
    pub overview: Arc<CatalogOverview>,
}

/// The query embedding cache since start.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryCache {
    pub hits: u64,
    pub misses: u64,
}

/// Catalog statistics and overview.
#[utoipa::path(get, path = "/v1/stats", tag = "tracks",
    responses((status = 200, body = CatalogStats)), security(("api_key" = [])))]
pub async fn stats(State(state): State<AppState>) -> ApiResult<Json<CatalogStats>> {
    let cache = state.overview.clone();
    let (stats, overview) = state
        .run_blocking(move |e| {
            let catalog = e.catalog();
            let stats = catalog.stats()?;
            let cached = cache
                .lock()
                .ok()
                .and_then(|c| c.clone())
                .filter(|(seq, _)| *seq == stats.sequence);
            let overview = match cached {
                Some((_, o)) => o,
                None => {
                    let o = Arc::new(catalog.overview()?);
                    if let Ok(mut c) = cache.lock() {
                        *c = Some((stats.sequence, o.clone()));
                    }
                    o
                }
            };
            Ok((stats, overview))
        })
        .await?;
    metrics::gauge!(crate::metrics::CATALOG_TRACKS).set(stats.tracks as f64);
    let (hits, misses) = state.engine.embedder().cache_stats();
    Ok(Json(CatalogStats {
        tracks: stats.tracks,
        text_embeddings_count: stats.text_embeddings,
        audio_embeddings_count: stats.audio_embeddings,
        sequence: stats.sequence,
        backend: stats.backend,
        embedding_model: state.engine.embedder().model_id().to_string(),
        query_cache: QueryCache { hits, misses },
        overview,
    }))
}
