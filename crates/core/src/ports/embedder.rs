//! The embedding model port.

use std::sync::Arc;

use crate::error::Result;

/// Turns texts into L2-normalised vectors of `dim()` floats.
pub trait Embedder: Send + Sync {
    fn dim(&self) -> usize;
    /// Identifies the model, so stored vectors from another model are never mixed in.
    fn model_id(&self) -> &str;
    fn embed_documents(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
    /// A query embedding; implementations may cache.
    fn embed_query(&self, text: &str) -> Result<Arc<Vec<f32>>>;
    /// Query cache hits and misses so far.
    fn cache_stats(&self) -> (u64, u64) {
        (0, 0)
    }
}
