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
    /// The music library (songs with files, albums, artists) and its scan, when served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<LibraryStats>,
}

/// The music library at a glance, and the scan in progress or the last one.
#[derive(Debug, Serialize, ToSchema)]
pub struct LibraryStats {
    pub songs: usize,
    pub albums: usize,
    pub artists: usize,
    pub folders: Vec<String>,
    pub scanning: bool,
    /// Files read so far by the running scan, of `scan_total`.
    pub scan_done: u64,
    pub scan_total: u64,
    /// What the last finished scan did (files, read, added, failed, vanished, seconds).
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scan: Option<serde_json::Value>,
}

/// Catalog statistics and overview.
#[utoipa::path(get, path = "/v1/stats", tag = "tracks",
    responses((status = 200, body = CatalogStats)), security(("api_key" = [])))]
pub async fn stats(State(state): State<AppState>) -> ApiResult<Json<CatalogStats>> {
    let cache = state.overview.clone();
    let library = state.library.clone();
    let stats = state
        .run_operation(false, move |e| {
            let counts = music_rag_ops::stats::counts(e)?;
            let overview = cache.get(e, counts.sequence)?;
            let library = match library {
                Some(l) => {
                    let index = e.library()?;
                    let scan = l.scan.snapshot();
                    Some(LibraryStats {
                        songs: index.songs.len(),
                        albums: index.albums.len(),
                        artists: index.artists.len(),
                        folders: l.folders.iter().map(|f| f.display().to_string()).collect(),
                        scanning: scan.scanning,
                        scan_done: scan.done,
                        scan_total: scan.total,
                        last_scan: scan.last.and_then(|r| serde_json::to_value(r).ok()),
                    })
                }
                None => None,
            };
            Ok(CatalogStats {
                counts,
                overview,
                library,
            })
        })
        .await?;
    metrics::gauge!(crate::metrics::CATALOG_TRACKS).set(stats.counts.tracks as f64);
    Ok(Json(stats))
}

/// The window and size of the query report.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueryReportParams {
    /// Days covered, ending today (UTC), 1-8 (default 7).
    #[param(minimum = 1, maximum = 8)]
    pub days: Option<u32>,
    /// Texts listed in each top list, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// What people search for: queries by route, zero-result and slow queries and, when
/// `MUSIC_RAG_QUERY_LOG=texts`, the texts most asked, most often finding nothing and most often
/// slow (admin scope: the texts are what users typed).
#[utoipa::path(get, path = "/v1/stats/queries", tag = "admin", params(QueryReportParams),
    responses((status = 200, body = music_rag_ops::query_log::QueryReport), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub async fn queries(
    State(state): State<AppState>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<QueryReportParams>,
) -> ApiResult<Json<music_rag_ops::query_log::QueryReport>> {
    let days = q.days.unwrap_or(7);
    if !(1..=8).contains(&days) {
        return Err(crate::error::ApiError::invalid("days", "must be 1 to 8"));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(crate::error::ApiError::invalid("limit", "must be 1 to 100"));
    }
    Ok(Json(state.query_log.report(days, limit)))
}
