//! `/v1/stats`: the counts of `/stats` plus the catalog at a glance (terms each filter
//! matches, tempo histogram, keys, decades, live, playable tracks) for filter controls and
//! charts. The overview is computed once per catalog version (write sequence).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use music_rag_core::domain::catalog::overview::CatalogOverview;
use music_rag_ops::stats::CatalogCounts;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::state::AppState;

/// Counts, the model and its query cache (as `/stats`), and the catalog at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogStats {
    #[serde(flatten)]
    pub counts: CatalogCounts,
    #[schema(value_type = CatalogOverview)]
    pub overview: Arc<CatalogOverview>,
}

/// Catalog statistics and overview.
#[utoipa::path(get, path = "/v1/stats", tag = "tracks",
    responses((status = 200, body = CatalogStats)), security(("api_key" = [])))]
pub async fn stats(State(state): State<AppState>) -> ApiResult<Json<CatalogStats>> {
    let cache = state.overview.clone();
    let stats = state
        .run_operation(false, move |e| {
            let counts = music_rag_ops::stats::counts(e)?;
            let overview = cache.get(e, counts.sequence)?;
            Ok(CatalogStats { counts, overview })
        })
        .await?;
    metrics::gauge!(crate::metrics::CATALOG_TRACKS).set(stats.counts.tracks as f64);
    Ok(Json(stats))
}
