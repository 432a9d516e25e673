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
