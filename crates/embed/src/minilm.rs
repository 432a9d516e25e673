//! BERT-family sentence embeddings on the CPU.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use crate::packed::{read_weights, PackedBert};
use crate::EmbedError;
use music_rag_core::{CoreError, Embedder};

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2.
const MAX_TOKENS: usize = 256;
/// Texts per forward pass when embedding documents.
const DOC_BATCH: usize = 32;
/// Tokens per packed forward pass: large enough to keep the matrix kernels busy, small
/// enough that the work splits evenly over the cores.
const PACKED_TOKENS: usize = 512;

/// Which implementation runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// `Int8` where the processor has AVX-512 VNNI (its kernel), else `Packed`. Measured
    /// (session 20, docs/QUALITY.md): int8 documents and queries keep every quality set within
    /// 0.1 nDCG@10 of f32 documents or above it, and ingest over HTTP 2.2× faster.
    #[default]
    Auto,
    /// Packed sequences, fused steps, reused buffers, f32 weights (see `packed.rs`).
    Packed,
    /// The packed encoder with int8 linear layers (see `int8.rs`) for documents and queries:
    /// the fastest ingest, within cosine 0.999 of the f32 vectors.
    Int8,
    /// candle-transformers' BERT with padded batches.
    Candle,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Backend::Auto),
            "packed" | "f32" => Ok(Backend::Packed),
            "int8" => Ok(Backend::Int8),
            "candle" => Ok(Backend::Candle),
            other => Err(format!(
                "embedding backend must be auto, int8, packed (f32) or candle (got {other:?})"
            )),
        }
    }
}

enum Model {
    Packed(PackedBert),
    Candle(Box<BertModel>),
}
const QUERY_CACHE_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

pub struct TextEmbedder {
    model: Model,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    model_id: String,
    cache: Mutex<lru::LruCache<String, Arc<Vec<f32>>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn require(dir: &Path, file: &str) -> Result<PathBuf, EmbedError> {
    let p = dir.join(file);
    if p.is_file() {
        Ok(p)
    } else {
        Err(EmbedError::ModelMissing {
            dir: dir.display().to_string(),
            file: file.to_string(),
        })
    }
}

/// `config.json` as text (what the model's id hashes) and as JSON.
fn read_config(dir: &Path, path: &Path) -> Result<(String, serde_json::Value), EmbedError> {
    let invalid = |reason: String| EmbedError::ModelInvalid {
        dir: dir.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    let raw = serde_json::from_str(&text).map_err(|e| invalid(format!("config.json: {e}")))?;
    Ok((text, raw))
}

/// A model's id and dimension from its configuration: copies of the same model in different
/// folders share an id; other models do not.
fn identity_of(
    dir: &Path,
    config_text: &str,
    raw: &serde_json::Value,
) -> Result<(String, usize), EmbedError> {
    let dim = raw["hidden_size"]
        .as_u64()
        .ok_or_else(|| EmbedError::ModelInvalid {
            dir: dir.display().to_string(),
            reason: "config.json has no hidden_size".into(),
        })? as usize;
    let name = raw["_name_or_path"]
        .as_str()
        .unwrap_or("bert")
        .rsplit('/')
        .next()
        .unwrap_or("bert");
    let config_hash =
        &music_rag_core::domain::catalog::hash::content_hash(config_text.as_bytes())[..12];
    Ok((format!("{name}-{config_hash}/{dim}"), dim))
}

impl TextEmbedder {
    /// Loads a model folder in the Hugging Face layout with the default backend.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        Self::load_with(dir, Backend::default())
    }

    /// The id and dimension of the model in `dir` (what a store records and is checked
    /// against), from its configuration alone: a store can be opened while the weights load.
    pub fn identity(dir: &Path) -> Result<(String, usize), EmbedError> {
        let (config_text, raw) = read_config(dir, &require(dir, "config.json")?)?;
        identity_of(dir, &config_text, &raw)
    }

    pub fn load_with(dir: &Path, backend: Backend) -> Result<Self, EmbedError> {
        let invalid = |reason: String| EmbedError::ModelInvalid {
            dir: dir.display().to_string(),
            reason,
        };
        let config_path = require(dir, "config.json")?;
        let tokenizer_path = require(dir, "tokenizer.json")?;
        let weights_path = require(dir, "model.safetensors")?;
        let (config_text, raw) = read_config(dir, &config_path)?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| invalid(format!("config.json: {e}")))?;
        let (model_id, dim) = identity_of(dir, &config_text, &raw)?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| invalid(e.to_string()))?;
        tokenizer.with_padding(None);
        let device = Device::Cpu;
        let int8 = match backend {
            Backend::Int8 => true,
            Backend::Auto => music_rag_kernels::int8_is_native(),
            Backend::Packed | Backend::Candle => false,
        };
        let model = match backend {
            Backend::Auto | Backend::Packed | Backend::Int8 => Model::Packed(PackedBert::load(
                &weights_path,
                &read_weights(&weights_path)?,
                &raw,
                int8,
            )?),
            Backend::Candle => {
                // SAFETY: the weights file is opened read-only and not modified while mapped.
                let vb = unsafe {
                    VarBuilder::from_mmaped_safetensors(&[&weights_path], DType::F32, &device)
                }
                .map_err(|e| invalid(format!("model.safetensors: {e}")))?;
                Model::Candle(Box::new(
                    BertModel::load(vb, &config).map_err(|e| invalid(format!("weights: {e}")))?,
                ))
            }
        };
        Ok(Self {
            model,
            tokenizer,
            device,
            dim,
            model_id,
            cache: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(QUERY_CACHE_ENTRIES).expect("non-zero"),
            )),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Inference(e.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// Embeds texts of similar length in one pass on the calling thread (packed) or on
    /// candle's thread pool.
    fn forward(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let ids = self.tokenize(texts)?;
        match &self.model {
            Model::Packed(m) => {
                let seqs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
                Ok(m.embed(&seqs))
            }
            Model::Candle(m) => self.forward_candle(m, &ids),
        }
    }

    fn forward_candle(
        &self,
        model: &BertModel,
        seqs: &[Vec<u32>],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let err = |e: candle_core::Error| EmbedError::Inference(e.to_string());
        let len = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let n = seqs.len();
        let mut ids = vec![0u32; n * len];
        let mut mask = vec![0u32; n * len];
        for (i, s) in seqs.iter().enumerate() {
            ids[i * len..i * len + s.len()].copy_from_slice(s);
            mask[i * len..i * len + s.len()]
                .iter_mut()
                .for_each(|m| *m = 1);
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device).map_err(err)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device).map_err(err)?;
        let type_ids = ids.zeros_like().map_err(err)?;
        let hidden = model.forward(&ids, &type_ids, Some(&mask)).map_err(err)?;
        // Mean over real tokens, then unit length.
        let m = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(err)?;
        let summed = hidden
            .broadcast_mul(&m)
            .and_then(|x| x.sum(1))
            .map_err(err)?;
        let counts = m
            .sum(1)
            .and_then(|c| c.clamp(1e-9, f64::MAX))
            .map_err(err)?;
        let mean = summed.broadcast_div(&counts).map_err(err)?;
        let norms = mean
            .sqr()
            .and_then(|x| x.sum_keepdim(1))
            .and_then(|x| x.sqrt())
            .and_then(|x| x.clamp(1e-12, f64::MAX))
            .map_err(err)?;
        mean.broadcast_div(&norms)
            .and_then(|x| x.to_vec2::<f32>())
            .map_err(err)
    }
}

impl Embedder for TextEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn embed_documents(&self, texts: &[String]) -> music_rag_core::Result<Vec<Vec<f32>>> {
        // Sort by length so batches are even (and, for candle, pad to about their own length).
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        match &self.model {
            Model::Packed(m) => {
                let sorted: Vec<&str> = order.iter().map(|&i| texts[i].as_str()).collect();
                let ids = self.tokenize(&sorted)?;
                // Chunks of about PACKED_TOKENS tokens, run in parallel, one core each.
                let mut chunks: Vec<std::ops::Range<usize>> = Vec::new();
                let (mut start, mut tokens) = (0, 0);
                for (i, s) in ids.iter().enumerate() {
                    tokens += s.len();
                    if tokens >= PACKED_TOKENS {
                        chunks.push(start..i + 1);
                        (start, tokens) = (i + 1, 0);
                    }
                }
                if start < ids.len() {
                    chunks.push(start..ids.len());
                }
                let vectors: Vec<Vec<Vec<f32>>> = chunks
                    .into_par_iter()
                    .map(|r| m.embed(&ids[r].iter().map(Vec::as_slice).collect::<Vec<_>>()))
                    .collect();
                for (&i, v) in order.iter().zip(vectors.into_iter().flatten()) {
                    out[i] = v;
                }
            }
            Model::Candle(_) => {
                for chunk in order.chunks(DOC_BATCH) {
                    let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
                    for (&i, v) in chunk.iter().zip(self.forward(&batch)?) {
                        out[i] = v;
                    }
                }
            }
        }
        Ok(out)
    }

    fn cache_stats(&self) -> (u64, u64) {
        let s = TextEmbedder::cache_stats(self);
        (s.hits, s.misses)
    }

    fn embed_query(&self, text: &str) -> music_rag_core::Result<Arc<Vec<f32>>> {
        let key = text.trim().to_string();
        if let Some(v) = self
            .cache
            .lock()
            .map_err(|_| CoreError::Internal("query cache poisoned".into()))?
            .get(&key)
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(v.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let vectors = self.forward(&[key.as_str()])?;
        let v = Arc::new(vectors.into_iter().next().unwrap_or_default());
        self.cache
            .lock()
            .map_err(|_| CoreError::Internal("query cache poisoned".into()))?
            .put(key, v.clone());
        Ok(v)
    }
}
