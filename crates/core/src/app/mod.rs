//! The use cases, each once: search, answer, ingest, recommend, listen, playlist, song paths
//! and catalog administration. Every front end (HTTP handler, CLI command, web page) parses its
//! input, makes one call here, and renders the result.

pub mod answer;
pub mod catalog;
pub mod enhance;
pub mod extractive;
mod followup;
pub mod ingest;
pub mod library;
pub mod listen;
pub mod path;
pub mod playlist;
pub mod recommend;
pub mod search;
mod tools;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::app::search::SearchResponse;
use crate::domain::query::parse::{parse_query, ParsedQuery};
use crate::error::Result;
use crate::ports::{Embedder, Generator, Store};

pub struct Engine {
    pub(crate) embedder: Arc<dyn Embedder>,
    pub(crate) store: Arc<dyn Store>,
    /// Recent responses keyed by the request and the store's write sequence, so a write makes
    /// every older entry unreachable.
    pub(crate) responses: Mutex<lru::LruCache<String, SearchResponse>>,
    /// A model provider for answers, enhancement and summaries; offline without one.
    pub(crate) provider: Option<Arc<dyn Generator>>,
    /// The browsable library, rebuilt when the write sequence moved.
    pub(crate) library: Mutex<library::LibraryAt>,
}

const RESPONSE_CACHE_ENTRIES: usize = 4096;

pub(crate) fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

impl Engine {
    pub fn new(embedder: Arc<dyn Embedder>, store: Arc<dyn Store>) -> Self {
        Self {
            embedder,
            store,
            responses: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(RESPONSE_CACHE_ENTRIES).expect("non-zero"),
            )),
            provider: None,
            library: Mutex::new(None),
        }
    }

    /// Uses `provider` for answers, query enhancement and model-written summaries.
    pub fn with_provider(mut self, provider: Arc<dyn Generator>) -> Self {
        self.provider = Some(provider);
        self
    }

    pub fn provider(&self) -> Option<&Arc<dyn Generator>> {
        self.provider.as_ref()
    }

    /// The store port, for the use cases of this layer only: front ends and the operations
    /// layer reach it through [`catalog::Catalog`] (`Engine::catalog`).
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Parses a query against the catalog's vocabulary without searching.
    pub fn parse(&self, text: &str) -> Result<ParsedQuery> {
        Ok(parse_query(text, self.store.vocabulary()?.as_ref()))
    }
}
