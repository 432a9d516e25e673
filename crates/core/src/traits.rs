//! The edges the domain talks to. Implementations live in other crates (model, database);
//! the domain only sees these traits.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::error::Result;
use crate::filter::Filter;
use crate::track::Track;

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

/// A track as handed to the store, with what it was embedded from.
#[derive(Debug, Clone)]
pub struct StoredTrack {
    pub track: Track,
    pub embedding: Vec<f32>,
    /// Hash of the whole track: equal means nothing changed.
    pub content_hash: String,
    /// Hash of the embedded text and model: equal means the vector can be reused.
    pub text_hash: String,
}

/// What the store knows of a track already, to skip needless work.
#[derive(Debug, Clone)]
pub struct Known {
    pub content_hash: String,
    pub text_hash: String,
}

/// One retrieved candidate: a store-internal rank list entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub score: f32,
}

/// A page of tracks in id order.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub tracks: Vec<Arc<Track>>,
    /// Pass back as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Which metadata field a vocabulary term belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FacetKind {
    Genre,
    Mood,
    Instrument,
    Origin,
    Tag,
}

impl FacetKind {
    pub fn name(self) -> &'static str {
        match self {
            FacetKind::Genre => "genre",
            FacetKind::Mood => "mood",
            FacetKind::Instrument => "instrument",
            FacetKind::Origin => "origin",
            FacetKind::Tag => "tag",
        }
    }
}

/// The catalog's own vocabulary (normalised terms) with how many tracks use each term.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Vocabulary {
    pub genres: Vec<(String, usize)>,
    pub moods: Vec<(String, usize)>,
    pub instruments: Vec<(String, usize)>,
    pub origins: Vec<(String, usize)>,
    pub tags: Vec<(String, usize)>,
    #[serde(skip)]
    lookup: HashMap<String, (FacetKind, usize)>,
    /// Artists, titles and albums, for questions that name one.
    #[serde(skip)]
    pub names: crate::names::CatalogNames,
}

impl Vocabulary {
    pub fn new(
        genres: Vec<(String, usize)>,
        moods: Vec<(String, usize)>,
        instruments: Vec<(String, usize)>,
        origins: Vec<(String, usize)>,
        tags: Vec<(String, usize)>,
    ) -> Self {
        let mut lookup: HashMap<String, (FacetKind, usize)> = HashMap::new();
        for (kind, list) in [
            (FacetKind::Genre, &genres),
            (FacetKind::Mood, &moods),
            (FacetKind::Instrument, &instruments),
            (FacetKind::Origin, &origins),
        ] {
            for (term, count) in list {
                let key = crate::filter::normalize_term(term);
                // A term used in several fields belongs to the one that uses it most.
                match lookup.get(&key) {
                    Some((_, c)) if c >= count => {}
                    _ => {
                        lookup.insert(key, (kind, *count));
                    }
                }
            }
        }
        // A tag is a preference of its own only when no field claims the term.
        for (term, count) in &tags {
            lookup
                .entry(crate::filter::normalize_term(term))
                .or_insert((FacetKind::Tag, *count));
        }
        Self {
            genres,
            moods,
            instruments,
            origins,
            tags,
            lookup,
            names: crate::names::CatalogNames::default(),
        }
    }

    /// The vocabulary with the catalog's names, for name detection.
    pub fn with_names(mut self, names: crate::names::CatalogNames) -> Self {
        self.names = names;
        self
    }

    /// The field a normalised term belongs to, if the catalog uses it.
    pub fn kind_of(&self, term: &str) -> Option<FacetKind> {
        self.lookup.get(term).map(|(k, _)| *k)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    pub tracks: usize,
    pub text_embeddings: usize,
    pub audio_embeddings: usize,
    /// Monotonic write sequence number of the source of truth.
    pub sequence: u64,
    pub backend: String,
}

/// The catalog's durable home plus its derived indexes.
pub trait Store: Send + Sync {
    /// Upserts a batch in one atomic, durable write; returns after it is durable.
    fn upsert(&self, items: Vec<StoredTrack>) -> Result<()>;
    fn get(&self, id: &str) -> Result<Option<Arc<Track>>>;
    fn get_embedding(&self, id: &str) -> Result<Option<Vec<f32>>>;
    /// Returns whether the track existed.
    fn delete(&self, id: &str) -> Result<bool>;
    fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page>;
    fn count(&self) -> Result<usize>;
    fn known(&self, ids: &[&str]) -> Result<HashMap<String, Known>>;
    /// Top `k` by cosine similarity among tracks that pass `filter`.
    fn dense_search(&self, query: &[f32], filter: &Filter, k: usize) -> Result<Vec<Candidate>>;
    /// Top `k` for each filter; stores may share one pass over the vectors.
    fn dense_search_many(
        &self,
        query: &[f32],
        filters: &[Filter],
        k: usize,
    ) -> Result<Vec<Vec<Candidate>>> {
        filters
            .iter()
            .map(|f| self.dense_search(query, f, k))
            .collect()
    }
    /// Top `k` by cosine similarity of audio vectors among tracks with audio that pass
    /// `filter`.
    fn audio_search(&self, query: &[f32], filter: &Filter, k: usize) -> Result<Vec<Candidate>>;
    /// Top `k` by BM25 (typo tolerant on titles and artists) among tracks that pass `filter`.
    fn keyword_search(&self, text: &str, filter: &Filter, k: usize) -> Result<Vec<Candidate>>;
    fn vocabulary(&self) -> Result<Arc<Vocabulary>>;
    /// The write sequence number: it changes with every acknowledged write.
    fn sequence(&self) -> Result<u64>;
    fn stats(&self) -> Result<StoreStats>;
}

/// Tokens a model provider billed for one call.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// A generator's reply.
#[derive(Debug, Clone, Default)]
pub struct Generation {
    pub text: String,
    pub usage: Option<TokenUsage>,
}

/// Writes answers from retrieved tracks. The offline extractive generator lives in this
/// crate; model-backed ones (OpenAI-compatible servers) live at the edge.
pub trait Generator: Send + Sync {
    /// Short name reported in responses, e.g. `extractive` or `openai`.
    fn name(&self) -> &str;
    /// Answers `ctx.question` from `ctx.sources` only, citing them as `[n]`, passing each
    /// piece of text to `on_token` as it is produced.
    fn answer(
        &self,
        ctx: &crate::ask::AnswerContext<'_>,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation>;
    /// A free-form completion of an instruction (query rewriting, summaries). Generators
    /// without a model cannot.
    fn complete(&self, _system: &str, _user: &str) -> Result<Generation> {
        Err(crate::error::CoreError::Unavailable(format!(
            "the {} generator cannot follow instructions; configure a model provider",
            self.name()
        )))
    }
}
