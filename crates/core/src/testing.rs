//! A deterministic embedder for fast in-process tests of the use cases: words and character
//! trigrams hashed into a fixed number of dimensions (feature hashing), L2-normalised. Texts
//! sharing words are close, as with a real model, but nothing is learned; tests of meaning use
//! the real model.

use std::sync::Arc;

use crate::domain::query::text::normalize_term;
use crate::domain::retrieval::vector::normalized;
use crate::error::Result;
use crate::ports::Embedder;

pub struct HashingEmbedder {
    dim: usize,
}

impl HashingEmbedder {
    pub fn new(dim: usize) -> Self {
        Self { dim }
    }

    fn bucket(&self, feature: &str) -> usize {
        // FNV-1a: stable across runs and platforms.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in feature.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % self.dim as u64) as usize
    }

    fn embed(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0f32; self.dim];
        for word in normalize_term(text).split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() {
                continue;
            }
            v[self.bucket(word)] += 1.0;
            let padded: Vec<char> = format!("#{word}#").chars().collect();
            for tri in padded.windows(3) {
                v[self.bucket(&tri.iter().collect::<String>())] += 0.3;
            }
        }
        normalized(v)
    }
}

impl Embedder for HashingEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn model_id(&self) -> &str {
        "hashing-test-embedder"
    }

    fn embed_documents(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.embed(t)).collect())
    }

    fn embed_query(&self, text: &str) -> Result<Arc<Vec<f32>>> {
        Ok(Arc::new(self.embed(text)))
    }
}
