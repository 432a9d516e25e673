//! The search and ingest pipelines, written against the `Embedder` and `Store` traits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::enhance::Enhancement;
use crate::error::{CoreError, FieldError, Result};
use crate::filter::{normalize_term, Filter, TrackFacets};
use crate::fusion::{merge_dual, rrf};
use crate::hash::content_hash;
use crate::parse::{keyword_terms, parse_query, ParsedQuery};
use crate::query::{Hit, SearchRequest, SearchResponse, StageTimings, Why};
use crate::rerank::{RerankQuery, RERANK_DEPTH};
use crate::summary::{summarize, ResultsSummary, SummaryAuthor};
use crate::track::Track;
use crate::traits::{Embedder, Generator, Store, StoredTrack};

/// What happened to one track of an upsert batch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum UpsertOutcome {
    Created {
        id: String,
    },
    Updated {
        id: String,
    },
    /// Identical to what is stored: nothing was written.
    Unchanged {
        id: String,
    },
    Invalid {
        id: Option<String>,
        field: String,
        message: String,
    },
}

impl UpsertOutcome {
    pub fn is_ok(&self) -> bool {
        !matches!(self, UpsertOutcome::Invalid { .. })
    }
}

/// Per-stage time of an ingest batch.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct IngestTimings {
    pub embedded: usize,
    pub reused_vectors: usize,
    pub embed_ms: f64,
    pub write_ms: f64,
}

pub struct Engine {
    embedder: Arc<dyn Embedder>,
    store: Arc<dyn Store>,
    /// Recent responses keyed by the request and the store's write sequence, so a write makes
    /// every older entry unreachable.
    responses: Mutex<lru::LruCache<String, SearchResponse>>,
    /// A model provider for answers, enhancement and summaries; offline without one.
    provider: Option<Arc<dyn Generator>>,
}

const RESPONSE_CACHE_ENTRIES: usize = 4096;

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The candidate list length per retriever: deep enough that fusion has material.
fn candidates_for(top_k: usize) -> usize {
    (top_k * 3).max(60)
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

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Parses a query against the catalog's vocabulary without searching.
    pub fn parse(&self, text: &str) -> Result<ParsedQuery> {
        Ok(parse_query(text, self.store.vocabulary()?.as_ref()))
    }

    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse> {
        req.validate()?;
        let start = Instant::now();
        let key = format!(
            "{}\n{}",
            self.store.sequence()?,
            serde_json::to_string(req).map_err(|e| CoreError::Internal(e.to_string()))?
        );
        let poisoned = |_| CoreError::Internal("response cache poisoned".into());
        if let Some(hit) = self.responses.lock().map_err(poisoned)?.get(&key) {
            let mut resp = hit.clone();
            resp.cached = true;
            resp.timings = StageTimings {
                parse_ms: 0.0,
                embed_ms: 0.0,
                retrieve_ms: 0.0,
                fuse_ms: ms_since(start),
            };
            return Ok(resp);
        }
        let resp = self.search_uncached(req)?;
        self.responses
            .lock()
            .map_err(poisoned)?
            .put(key, resp.clone());
        Ok(resp)
    }

    fn search_uncached(&self, req: &SearchRequest) -> Result<SearchResponse> {
        let mut timings = StageTimings::default();
        let t = Instant::now();
        let parsed = if req.parse && !req.text.trim().is_empty() {
            Some(self.parse(&req.text)?)
        } else {
            None
        };
        let (mut text, hard, mut soft) = match &parsed {
            Some(p) => (
                p.text.clone(),
                req.filters.clone().and(&p.filters),
                p.preferences.clone().union(&req.preferences),
            ),
            None => (
                req.text.trim().to_string(),
                req.filters.clone(),
                req.preferences.clone(),
            ),
        };
        let enhancement = if req.enhance && !req.text.trim().is_empty() {
            let e = match &self.provider {
                Some(model) => {
                    crate::enhance::enhance(model.as_ref(), &req.text, &*self.store.vocabulary()?)
                }
                None => Enhancement::not_applied("no model provider is configured"),
            };
            if let Some(q) = &e.rewritten_query {
                text = q.clone();
            }
            soft = soft.union(&e.accepted);
            Some(e)
        } else {
            None
        };
        timings.parse_ms = ms_since(t);

        let t = Instant::now();
        let query_vec = if text.is_empty() {
            None
        } else {
            Some(self.embedder.embed_query(&text)?)
        };
        timings.embed_ms = ms_since(t);

        let t = Instant::now();
        let k = candidates_for(req.top_k);
        // The tracks to run: broad (hard filters) and targeted (hard filters and preferences).
        let mut tracks: Vec<(bool, Filter)> = Vec::new();
        if req.broad || soft.is_empty() {
            tracks.push((false, hard.clone()));
        }
        if req.targeted && !soft.is_empty() {
            tracks.push((true, hard.clone().and(&soft)));
        }
        let filters: Vec<Filter> = tracks.iter().map(|(_, f)| f.clone()).collect();
        let dense_lists = match &query_vec {
            Some(v) => self.store.dense_search_many(v, &filters, k)?,
            None => vec![Vec::new(); filters.len()],
        };
        let (mut broad, mut targeted) = (None, None);
        for ((is_targeted, filter), dense) in tracks.iter().zip(dense_lists) {
            // Without text, keyword search lists the filtered catalog in a stable order.
            let keyword = if text.is_empty() && !dense.is_empty() {
                Vec::new()
            } else {
                self.store.keyword_search(&text, filter, k)?
            };
            *(if *is_targeted {
                &mut targeted
            } else {
                &mut broad
            }) = Some((dense, keyword));
        }
        timings.retrieve_ms = ms_since(t);

        let t = Instant::now();
        let fuse = |lists: Option<(Vec<_>, Vec<_>)>| {
            lists
                .map(|(d, k)| rrf(&d, &k, req.semantic_weight))
                .unwrap_or_default()
        };
        let mut merged = merge_dual(fuse(broad), fuse(targeted));
        if req.rerank {
            self.rerank(&mut merged, &text, &hard.clone().union(&soft), req.top_k)?;
        }
        let terms = keyword_terms(&text);
        let hard_desc = hard.describe();
        // Each preference on its own, so a hit's "why" names the ones it fits.
        let soft_parts: Vec<(Filter, crate::filter::CompiledFilter)> = soft
            .split_fields()
            .into_iter()
            .map(|f| {
                let c = f.compile();
                (f, c)
            })
            .collect();
        let mut hits = Vec::with_capacity(req.top_k);
        for (id, m) in merged.into_iter().take(req.top_k) {
            let Some(track) = self.store.get(&id)? else {
                continue;
            };
            let facets = TrackFacets::of(&track);
            let prefs: Vec<String> = soft_parts
                .iter()
                .filter(|(_, compiled)| compiled.matches(&facets))
                .flat_map(|(part, _)| part.describe())
                .collect();
            let why = explain(&track, &terms, &hard_desc, prefs, &m.parts);
            hits.push(Hit {
                track,
                score: m.score,
                retrieval_type: m.retrieval_type,
                scores: m.parts,
                why,
            });
        }
        let summary = self.summary(&hits, &req.text, req.model_summary);
        timings.fuse_ms = ms_since(t);
        Ok(SearchResponse {
            cached: false,
            hits,
            parsed,
            summary,
            enhancement,
            timings,
        })
    }

    /// Reorders the head of the fused list by the field-aware reranker.
    fn rerank(
        &self,
        merged: &mut [(String, crate::fusion::Merged)],
        text: &str,
        wanted: &Filter,
        top_k: usize,
    ) -> Result<()> {
        let depth = merged.len().min((top_k * 2).max(RERANK_DEPTH));
        let q = RerankQuery::new(text, wanted);
        for (id, m) in merged[..depth].iter_mut() {
            if let Some(track) = self.store.get(id)? {
                let bonus = q.bonus(&track);
                m.parts.rerank_bonus = Some(bonus);
                m.score += bonus;
            }
        }
        crate::fusion::sort_by_score(&mut merged[..depth], |m| m.score);
        Ok(())
    }

    /// What the hits share: offline, or written by the model when asked and configured.
    fn summary(&self, hits: &[Hit], query: &str, by_model: bool) -> ResultsSummary {
        let tracks: Vec<&Track> = hits.iter().map(|h| h.track.as_ref()).collect();
        let offline = |reason: Option<String>| ResultsSummary {
            text: summarize(&tracks),
            written_by: SummaryAuthor::Offline,
            fallback_reason: reason,
        };
        if !by_model {
            return offline(None);
        }
        let Some(model) = &self.provider else {
            return offline(Some("no model provider is configured".into()));
        };
        if hits.is_empty() {
            return offline(None);
        }
        let cards: Vec<String> = tracks
            .iter()
            .enumerate()
            .map(|(i, t)| crate::ask::source_card(i + 1, t))
            .collect();
        let system = "In one or two sentences, say what these search results have in common \
(genre, mood, instruments, tempo, era). Use only facts from the list.";
        let user = format!("Search: {query}\nResults:\n{}", cards.join("\n"));
        match model.complete(system, &user) {
            Ok(g) if !g.text.trim().is_empty() => ResultsSummary {
                text: g.text.trim().to_string(),
                written_by: SummaryAuthor::Model,
                fallback_reason: None,
            },
            Ok(_) => offline(Some("the model returned an empty summary".into())),
            Err(e) => offline(Some(e.to_string())),
        }
    }

    /// Validates, skips unchanged tracks, embeds what changed (reusing vectors whose text did
    /// not change), and writes the batch in one durable write. Invalid rows are reported and
    /// the valid ones are still written.
    pub fn upsert(&self, tracks: Vec<Track>) -> Result<(Vec<UpsertOutcome>, IngestTimings)> {
        let mut timings = IngestTimings::default();
        let mut outcomes: Vec<Option<UpsertOutcome>> = vec![None; tracks.len()];
        let mut valid: Vec<(usize, Track)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, t) in tracks.into_iter().enumerate() {
            let id_hint = (!t.id.trim().is_empty()).then(|| t.id.trim().to_string());
            match t.validated() {
                Ok(t) => {
                    // The last occurrence of an id in a batch wins, as sequential upserts would.
                    if let Some(prev) = seen.insert(t.id.clone(), valid.len()) {
                        let (pi, _) = &valid[prev];
                        outcomes[*pi] = Some(UpsertOutcome::Unchanged { id: t.id.clone() });
                    }
                    valid.push((i, t));
                }
                Err(CoreError::Invalid(FieldError { field, rule })) => {
                    outcomes[i] = Some(UpsertOutcome::Invalid {
                        id: id_hint,
                        message: format!("{field} {rule}"),
                        field,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        let latest: Vec<(usize, Track)> = valid
            .into_iter()
            .enumerate()
            .filter(|(vi, (_, t))| seen.get(&t.id) == Some(vi))
            .map(|(_, x)| x)
            .collect();
        let ids: Vec<&str> = latest.iter().map(|(_, t)| t.id.as_str()).collect();
        let known = self.store.known(&ids)?;
        let model = self.embedder.model_id().to_string();
        let mut to_write: Vec<(usize, StoredTrack, bool)> = Vec::new();
        let mut to_embed: Vec<usize> = Vec::new();
        for (i, t) in latest {
            let text = t.embedding_text();
            let text_hash = content_hash(format!("{model}\n{text}").as_bytes());
            let hash = content_hash(
                &serde_json::to_vec(&t).map_err(|e| CoreError::Internal(e.to_string()))?,
            );
            let existing = known.get(&t.id);
            if existing.is_some_and(|k| k.content_hash == hash) {
                outcomes[i] = Some(UpsertOutcome::Unchanged { id: t.id });
                continue;
            }
            let reuse = match existing {
                Some(k) if k.text_hash == text_hash => self.store.get_embedding(&t.id)?,
                _ => None,
            };
            if reuse.is_none() {
                to_embed.push(to_write.len());
            } else {
                timings.reused_vectors += 1;
            }
            let stored = StoredTrack {
                track: t,
                embedding: reuse.unwrap_or_default(),
                content_hash: hash,
                text_hash,
            };
            to_write.push((i, stored, existing.is_some()));
        }
        if !to_embed.is_empty() {
            let t = Instant::now();
            let texts: Vec<String> = to_embed
                .iter()
                .map(|&w| to_write[w].1.track.embedding_text())
                .collect();
            let vectors = self.embedder.embed_documents(&texts)?;
            for (&w, v) in to_embed.iter().zip(vectors) {
                to_write[w].1.embedding = v;
            }
            timings.embedded = to_embed.len();
            timings.embed_ms = ms_since(t);
        }
        if !to_write.is_empty() {
            let t = Instant::now();
            let mut items = Vec::with_capacity(to_write.len());
            for (i, stored, existed) in to_write {
                let id = stored.track.id.clone();
                outcomes[i] = Some(if existed {
                    UpsertOutcome::Updated { id }
                } else {
                    UpsertOutcome::Created { id }
                });
                items.push(stored);
            }
            self.store.upsert(items)?;
            timings.write_ms = ms_since(t);
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| CoreError::Internal("upsert outcome missing".into())))
            .collect::<Result<Vec<_>>>()?;
        Ok((outcomes, timings))
    }
}

/// The words of a hit's "why": filters, preferences, matched terms and similarity.
fn explain(
    track: &Track,
    terms: &[String],
    filters: &[String],
    preferences: Vec<String>,
    parts: &crate::query::ScoreParts,
) -> Why {
    let haystack = normalize_term(&format!(
        "{} {} {} {} {}",
        track.title,
        track.artist,
        track.album.as_deref().unwrap_or(""),
        track.description.as_deref().unwrap_or(""),
        track.facet_text()
    ));
    let words: HashSet<&str> = haystack
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let name_words: Vec<String> = normalize_term(&format!("{} {}", track.title, track.artist))
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let mut matched = Vec::new();
    for term in terms {
        if words.contains(term.as_str()) {
            matched.push(term.clone());
        } else if term.len() >= 4 {
            // Typo tolerance as the keyword index applies it to titles and artists.
            if let Some(w) = name_words
                .iter()
                .find(|w| strsim::damerau_levenshtein(w, term) == 1)
            {
                matched.push(format!("{term}~{w}"));
            }
        }
    }
    let mut summary = Vec::new();
    if let Some(sim) = parts.dense_similarity {
        summary.push(format!("meaning similarity {sim:.2}"));
    }
    if !matched.is_empty() {
        summary.push(format!("matched {}", matched.join(", ")));
    }
    if !filters.is_empty() {
        summary.push(format!("satisfies {}", filters.join("; ")));
    }
    if !preferences.is_empty() {
        summary.push(format!("fits {}", preferences.join("; ")));
    }
    Why {
        filters_satisfied: filters.to_vec(),
        preferences_matched: preferences,
        matched_terms: matched,
        summary: summary.join("; "),
    }
}
