//! BERT-family sentence embeddings on the CPU.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::EmbedError;
use music_rag_core::{CoreError, Embedder};

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2.
const MAX_TOKENS: usize = 256;
/// Texts per forward pass when embedding documents.
const DOC_BATCH: usize = 32;
const QUERY_CACHE_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

pub struct TextEmbedder {
    model: BertModel,
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

impl TextEmbedder {
    /// Loads a model folder in the Hugging Face layout.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let invalid = |reason: String| EmbedError::ModelInvalid {
            dir: dir.display().to_string(),
            reason,
        };
        let config_path = require(dir, "config.json")?;
        let tokenizer_path = require(dir, "tokenizer.json")?;
        let weights_path = require(dir, "model.safetensors")?;
        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| invalid(e.to_string()))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| invalid(format!("config.json: {e}")))?;
        let raw: serde_json::Value =
            serde_json::from_str(&config_text).map_err(|e| invalid(e.to_string()))?;
        let dim = raw["hidden_size"]
            .as_u64()
            .ok_or_else(|| invalid("config.json has no hidden_size".into()))?
            as usize;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| invalid(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| invalid(e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let device = Device::Cpu;
        // SAFETY: the weights file is opened read-only and not modified while mapped.
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights_path], DType::F32, &device) }
                .map_err(|e| invalid(format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vb, &config).map_err(|e| invalid(format!("weights: {e}")))?;
        // Copies of the same model in different folders share an id; other models do not.
        let name = raw["_name_or_path"]
            .as_str()
            .unwrap_or("bert")
            .rsplit('/')
            .next()
            .unwrap_or("bert")
            .to_string();
        let config_hash = &music_rag_core::hash::content_hash(config_text.as_bytes())[..12];
        Ok(Self {
            model,
            tokenizer,
            device,
            dim,
            model_id: format!("{name}-{config_hash}/{dim}"),
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

    /// One forward pass over texts of similar length.
    fn forward(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let err = |e: &dyn std::fmt::Display| EmbedError::Inference(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| err(&e))?;
        let len = encodings.first().map(|e| e.get_ids().len()).unwrap_or(0);
        let n = encodings.len();
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device).map_err(|e| err(&e))?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device).map_err(|e| err(&e))?;
        let type_ids = ids.zeros_like().map_err(|e| err(&e))?;
        let hidden = self
            .model
            .forward(&ids, &type_ids, Some(&mask))
            .map_err(|e| err(&e))?;
        // Mean over real tokens, then unit length.
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norms)?.to_vec2::<f32>()
        };
        run().map_err(|e| err(&e))
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
        // Sort by length so each batch pads to about its own length.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(DOC_BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self.forward(&batch)?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
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
        let v = Arc::new(self.forward(&[key.as_str()])?.pop().unwrap_or_default());
        self.cache
            .lock()
            .map_err(|_| CoreError::Internal("query cache poisoned".into()))?
            .put(key, v.clone());
        Ok(v)
    }
}
