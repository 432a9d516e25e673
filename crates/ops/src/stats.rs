//! Catalog statistics, assembled once for `music-rag stats`, `/stats` and `/v1/stats`: counts
//! of tracks and vectors, the write sequence, the embedding model and its query cache, and
//! (for `/v1/stats`) the catalog overview, computed once per write sequence.

use std::sync::{Arc, Mutex};

use music_rag_core::domain::catalog::overview::CatalogOverview;
use music_rag_core::Engine;
use serde::Serialize;

use crate::error::Result;

/// Counts, the model, and the query cache since start.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CatalogCounts {
    pub tracks: usize,
    pub text_embeddings_count: usize,
    pub audio_embeddings_count: usize,
    /// Write sequence of the store: it changes with every write.
    pub sequence: u64,
    pub backend: String,
    pub embedding_model: String,
    pub query_cache: QueryCache,
}

/// The query embedding cache since start.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueryCache {
    pub hits: u64,
    pub misses: u64,
}

/// Counts of the catalog the engine serves.
pub fn counts(engine: &Engine) -> Result<CatalogCounts> {
    let stats = engine.catalog().stats()?;
    let (hits, misses) = engine.embedder().cache_stats();
    Ok(CatalogCounts {
        tracks: stats.tracks,
        text_embeddings_count: stats.text_embeddings,
        audio_embeddings_count: stats.audio_embeddings,
        sequence: stats.sequence,
        backend: stats.backend,
        embedding_model: engine.embedder().model_id().to_string(),
        query_cache: QueryCache { hits, misses },
    })
}

/// The catalog overview, recomputed only when the write sequence moved since the last call
/// (one pass over every track otherwise).
#[derive(Default, Clone)]
pub struct OverviewCache {
    at: Arc<Mutex<Option<OverviewAt>>>,
}

/// An overview and the write sequence it was computed at.
type OverviewAt = (u64, Arc<CatalogOverview>);

impl OverviewCache {
    /// The overview at write `sequence`.
    pub fn get(&self, engine: &Engine, sequence: u64) -> Result<Arc<CatalogOverview>> {
        let cached = self
            .at
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(seq, _)| *seq == sequence);
        if let Some((_, overview)) = cached {
            return Ok(overview);
        }
        let overview = Arc::new(engine.catalog().overview()?);
        if let Ok(mut c) = self.at.lock() {
            *c = Some((sequence, overview.clone()));
        }
        Ok(overview)
    }
}
