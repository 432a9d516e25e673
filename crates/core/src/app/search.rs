//! The search use case: parse, embed, retrieve under filters from both indexes, fuse, rerank,
//! explain each hit, and summarise the results.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::app::enhance::Enhancement;
use crate::app::{ms_since, Engine};
use crate::domain::answer::followup::{Conversation, CONVERSATION_SOURCES_MAX};
use crate::domain::answer::summary::{summarize, ResultsSummary, SummaryAuthor};
use crate::domain::catalog::track::is_placeholder_artist;
use crate::domain::catalog::track::Track;
use crate::domain::query::entities::named_entities;
use crate::domain::query::language::{foreign_language, language_notice};
use crate::domain::query::parse::ParsedQuery;
use crate::domain::query::route::QueryRoute;
use crate::domain::query::text::normalize_term;
use crate::domain::retrieval::filter::{Filter, Preferences, TrackFacets};
use crate::domain::retrieval::fusion::{merge_dual, rrf};
use crate::domain::retrieval::hit::{Candidate, Hit, ScoreParts, Why};
use crate::domain::retrieval::rerank::{RerankQuery, RERANK_DEPTH};
use crate::domain::retrieval::variety::{alternate_named, is_bare_genre};
use crate::error::{CoreError, Result};

pub use crate::domain::catalog::limits::{QUERY_MAX_BYTES, TOP_K_MAX};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchRequest {
    pub text: String,
    /// Hard constraints: every hit satisfies them.
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub filters: Filter,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    #[serde(deserialize_with = "crate::domain::wire::count")]
    pub top_k: usize,
    /// Weight of dense (meaning) against keyword ranks in fusion, 0–1. Unset: chosen from the
    /// query (0.5 for a description, 0.6 otherwise).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub semantic_weight: Option<f32>,
    /// Turn plain-words parsing of `text` into filters on or off.
    pub parse: bool,
    /// Dual-track: broad retrieval under the hard filters only.
    pub broad: bool,
    /// Dual-track: targeted retrieval under the hard filters plus the parsed preferences,
    /// scores ×1.2.
    pub targeted: bool,
    /// Soft constraints added to the parsed ones: hits that satisfy them rank higher.
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub preferences: Preferences,
    /// Second-stage field-aware rerank of the top fused candidates.
    pub rerank: bool,
    /// Let the configured model rewrite the query and suggest filters (off by default).
    pub enhance: bool,
    /// Have the configured model write the results summary (offline otherwise).
    pub model_summary: bool,
}

/// How an empty page's reason ends when nothing is offered in its place.
const DROP_IT: &str = "; remove that filter to see results";

/// Why a page is empty, and the filters that would find something when some filter no track
/// passes is dropped.
struct EmptyWhy {
    reason: String,
    /// Filters no track passes, in words.
    blocking: Vec<String>,
    /// The other filters, when dropping the blocking ones is worth a second search.
    without_blocking: Option<Filter>,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            text: String::new(),
            filters: Filter::default(),
            top_k: 10,
            semantic_weight: None,
            parse: true,
            broad: true,
            targeted: true,
            preferences: Preferences::default(),
            rerank: true,
            enhance: false,
            model_summary: false,
        }
    }
}

impl SearchRequest {
    pub fn validate(&self) -> Result<()> {
        if self.text.len() > QUERY_MAX_BYTES {
            return Err(CoreError::invalid(
                "text",
                format!("must be at most {QUERY_MAX_BYTES} bytes"),
            ));
        }
        crate::error::check_count("top_k", self.top_k, TOP_K_MAX)?;
        if let Some(w) = self.semantic_weight.filter(|w| !(0.0..=1.0).contains(w)) {
            return Err(CoreError::invalid(
                "semantic_weight",
                format!("must be between 0 and 1 (got {w})"),
            ));
        }
        if !self.broad && !self.targeted {
            return Err(CoreError::invalid(
                "use_broad_retrieval",
                "at least one of broad and targeted retrieval must be on",
            ));
        }
        self.filters.validate()?;
        self.preferences.validate()
    }
}

/// Results found once the filters that no track passes were dropped.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct RelaxedResults {
    /// The filters left out, in words ("year 1980-1989").
    pub dropped: Vec<String>,
    pub hits: Vec<Hit>,
}

/// Milliseconds spent per stage.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimings {
    pub parse_ms: f64,
    pub embed_ms: f64,
    pub retrieve_ms: f64,
    pub fuse_ms: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    /// Served from the response cache (same request, no write since).
    pub cached: bool,
    pub hits: Vec<Hit>,
    pub parsed: Option<ParsedQuery>,
    /// How the query was read for ranking: `keywords` or `description`.
    pub route: QueryRoute,
    /// When there are no hits: why, in words (which filters no track passes, or an empty
    /// catalog), so an empty page says what to change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_reason: Option<String>,
    /// When no track passes a filter at all: the results without that filter, offered
    /// instead of an empty page (the filters dropped are named).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relaxed: Option<RelaxedResults>,
    /// What the hits share, in a sentence.
    pub summary: ResultsSummary,
    /// A query that seems written in another language than English says so here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// What query enhancement did, when it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhancement: Option<Enhancement>,
    pub timings: StageTimings,
    /// Send this as `previous` to `POST /v1/ask` to refine these results ("only the ones with
    /// piano", "calmer", "more like the second one", "why the third one?").
    pub conversation: Conversation,
}

/// The candidate list length per retriever: deep enough that fusion has material.
pub(crate) fn candidates_for(top_k: usize) -> usize {
    (top_k * 3).max(60)
}

impl Engine {
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
                crate::domain::query::catalogue::fold_catalogue_numbers(req.text.trim()),
                req.filters.clone(),
                req.preferences.clone(),
            ),
        };
        let enhancement = if req.enhance && !req.text.trim().is_empty() {
            let e = match &self.provider {
                Some(model) => crate::app::enhance::enhance(
                    model.as_ref(),
                    &req.text,
                    &*self.store.vocabulary()?,
                ),
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
        // What fitting the preferences means: a genre preferred may also be named by a tag.
        let fits = soft.matching();
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
            tracks.push((true, hard.clone().and(&fits)));
        }
        let filters: Vec<Filter> = tracks.iter().map(|(_, f)| f.clone()).collect();
        // The two retrievers run side by side: with a database each is a round trip and a
        // statement of its own, so a query waits for the slower, not for both.
        let (dense_lists, keyword_lists) = std::thread::scope(|scope| {
            let keyword: Vec<_> = filters
                .iter()
                .map(|f| scope.spawn(|| self.store.keyword_search(&text, f, k)))
                .collect();
            let dense = match &query_vec {
                Some(v) => self.store.dense_search_many(v, &filters, k),
                None => Ok(vec![Vec::new(); filters.len()]),
            };
            let keyword = keyword
                .into_iter()
                .map(|search| {
                    search.join().unwrap_or_else(|_| {
                        Err(CoreError::Internal("keyword search panicked".into()))
                    })
                })
                .collect::<Result<Vec<_>>>();
            (dense, keyword)
        });
        let (mut broad, mut targeted) = (None, None);
        for (((is_targeted, _), dense), keyword) in
            tracks.iter().zip(dense_lists?).zip(keyword_lists?)
        {
            *(if *is_targeted {
                &mut targeted
            } else {
                &mut broad
            }) = Some((dense, keyword));
        }
        timings.retrieve_ms = ms_since(t);

        let t = Instant::now();
        let names_artist = parsed.as_ref().is_some_and(|p| !p.artists.is_empty());
        let route = if names_artist {
            QueryRoute::Keywords
        } else {
            self.route(req, &text, broad.as_ref().or(targeted.as_ref()))?
        };
        let weights = route.weights(req.semantic_weight);
        let fuse = |lists: Option<(Vec<_>, Vec<_>)>| {
            lists
                .map(|(d, k)| rrf(&d, &k, weights.semantic, weights.keyword_strength))
                .unwrap_or_default()
        };
        let mut merged = merge_dual(fuse(broad), fuse(targeted), weights.targeted_boost);
        let rerank = req.rerank && weights.rerank_scale != 0.0;
        let bare_genre = req.parse && is_bare_genre(&req.text, self.store.vocabulary()?.as_ref());
        let rerank_query = rerank.then(|| {
            let wanted = hard.clone().union(&fits);
            RerankQuery::new(&text, &wanted).with_artists(
                parsed
                    .as_ref()
                    .map(|p| p.artists.as_slice())
                    .unwrap_or_default(),
            )
        });
        // A catalogue number names a work exactly, but only in its description, which fusion
        // weighs little: every candidate is reranked then, so the work is never out of reach.
        let depth = match &rerank_query {
            Some(q) if q.names_catalogue_number() => merged.len(),
            _ => rerank_depth(merged.len(), req.top_k),
        };
        // Every track ranking and the hits read, in one call to the store.
        let reads = if rerank {
            depth
        } else {
            merged.len().min(req.top_k)
        };
        let reads = if bare_genre {
            reads.max(merged.len().min(req.top_k * 4))
        } else {
            reads
        };
        let fetched = Fetched::of(
            self.store.as_ref(),
            merged[..reads].iter().map(|(id, _)| id.as_str()),
        )?;
        if let Some(q) = &rerank_query {
            rerank_fetched(&mut merged, &fetched, q, depth, weights.rerank_scale);
        }
        if bare_genre {
            // Named songs of the genre are not buried under captioned clips.
            let pool = merged.len().min(req.top_k * 4);
            let named: Vec<bool> = merged[..pool]
                .iter()
                .map(|(id, _)| {
                    fetched
                        .get(id)
                        .is_some_and(|t| !is_placeholder_artist(&t.artist))
                })
                .collect();
            let order = alternate_named(&named, req.top_k);
            let head: Vec<_> = order.iter().map(|&i| merged[i].clone()).collect();
            merged.splice(..pool, head);
        }
        let hard_desc = hard.describe();
        // Each preference on its own, so a hit's "why" names the ones it fits.
        let soft_parts: Vec<(Filter, crate::domain::retrieval::filter::CompiledFilter)> = fits
            .split_fields()
            .into_iter()
            .map(|f| {
                let c = f.compile();
                (f, c)
            })
            .collect();
        let mut hits = Vec::with_capacity(req.top_k);
        for (id, m) in merged.into_iter().take(req.top_k) {
            let Some(track) = fetched.get(&id) else {
                continue;
            };
            let facets = TrackFacets::of(&track);
            let prefs: Vec<String> = soft_parts
                .iter()
                .filter(|(_, compiled)| compiled.matches(&facets))
                .flat_map(|(part, _)| part.describe())
                .collect();
            let why = explain(&track, &hard_desc, prefs, &m.parts);
            hits.push(Hit {
                track,
                score: m.score,
                retrieval_type: m.retrieval_type,
                scores: m.parts,
                why,
            });
        }
        let summary = self.summary(&hits, &req.text, req.model_summary);
        let (empty_reason, relaxed) = if hits.is_empty() {
            let why = self.why_empty(&hard)?;
            let relaxed = match why.without_blocking {
                Some(filters) => {
                    let again = self.search_uncached(&SearchRequest {
                        text: text.clone(),
                        filters,
                        preferences: soft.clone(),
                        parse: false,
                        enhance: false,
                        model_summary: false,
                        ..req.clone()
                    })?;
                    Some(RelaxedResults {
                        dropped: why.blocking,
                        hits: again.hits,
                    })
                    .filter(|r| !r.hits.is_empty())
                }
                None => None,
            };
            let reason = match &relaxed {
                Some(_) => why
                    .reason
                    .replace(DROP_IT, "; below, the results without that filter"),
                None => why.reason,
            };
            (Some(reason), relaxed)
        } else {
            (None, None)
        };
        timings.fuse_ms = ms_since(t);
        let conversation = Conversation {
            question: req.text.trim().to_string(),
            filters: req.filters.clone(),
            sources: hits
                .iter()
                .take(CONVERSATION_SOURCES_MAX)
                .map(|h| h.track.id.clone())
                .collect(),
        };
        Ok(SearchResponse {
            cached: false,
            conversation,
            hits,
            parsed,
            route,
            empty_reason,
            relaxed,
            summary,
            notice: foreign_language(&req.text).map(language_notice),
            enhancement,
            timings,
        })
    }

    /// Why a search found nothing: an empty catalog, a filter no track passes, or filters that
    /// each pass some tracks but never together (with how many each passes).
    fn why_empty(&self, hard: &Filter) -> Result<EmptyWhy> {
        let total = self.store.count()?;
        if total == 0 {
            return Ok(EmptyWhy {
                reason: "the catalog is empty: add tracks with `music-rag ingest FILE`, \
                       `music-rag init-sample-data` or POST /v1/tracks"
                    .into(),
                blocking: Vec::new(),
                without_blocking: None,
            });
        }
        let (mut parts, mut blocking) = (Vec::new(), Vec::new());
        let mut others = Filter::default();
        for clause in hard.split_fields() {
            let passing = self.store.count_matching(&clause)?;
            let what = clause.describe().join("; ");
            if passing == 0 {
                blocking.push(what);
            } else {
                parts.push(format!("{what} ({passing} tracks)"));
                others = others.and(&clause);
            }
        }
        let reason = if !blocking.is_empty() {
            format!(
                "no track in the catalog has {}{DROP_IT}",
                blocking.join(", nor ")
            )
        } else {
            match parts.len() {
                0 => "nothing matched the query's words or meaning".into(),
                1 => format!("no track matched within {}", parts[0]),
                _ => format!(
                    "no track passes all the filters together: {}; remove one to see results",
                    parts.join(", ")
                ),
            }
        };
        let without_blocking = (!blocking.is_empty()).then_some(others);
        Ok(EmptyWhy {
            reason,
            blocking,
            without_blocking,
        })
    }

    /// How to read the query for ranking: a description only when it is long and names no
    /// one, neither in words ("by X", quotes, capitalised names) nor by covering the title and
    /// artist of one of the best keyword matches (a known item typed in full).
    fn route(
        &self,
        req: &SearchRequest,
        text: &str,
        lists: Option<&(Vec<Candidate>, Vec<Candidate>)>,
    ) -> Result<QueryRoute> {
        if QueryRoute::of(text, false) == QueryRoute::Keywords {
            return Ok(QueryRoute::Keywords);
        }
        let vocab = self.store.vocabulary()?;
        if !named_entities(&req.text, &|phrase| vocab.kind_of(phrase).is_some()).is_empty() {
            return Ok(QueryRoute::Keywords);
        }
        let q = RerankQuery::new(text, &Filter::default());
        let best: Vec<&str> = lists
            .map(|(_, k)| k.as_slice())
            .unwrap_or_default()
            .iter()
            .take(5)
            .map(|c| c.id.as_str())
            .collect();
        if best.is_empty() {
            return Ok(QueryRoute::Description);
        }
        let named = self
            .store
            .get_many(&best)?
            .into_iter()
            .flatten()
            .any(|t| q.names_track(&t));
        Ok(if named {
            QueryRoute::Keywords
        } else {
            QueryRoute::Description
        })
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
            .map(|(i, t)| crate::domain::answer::source_card(i + 1, t))
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
}

/// The words of a hit's "why": filters, preferences, the words the keyword retriever matched
/// and similarity.
fn explain(track: &Track, filters: &[String], preferences: Vec<String>, parts: &ScoreParts) -> Why {
    let matched: Vec<String> = parts
        .keyword_matches
        .iter()
        .map(|m| match m.typo {
            false => m.term.clone(),
            true => format!("{}~{}", m.term, typo_target(track, &m.term)),
        })
        .collect();
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
    let heard = heard_sources(track, &matched, filters, &preferences);
    if !heard.is_empty() {
        summary.push(heard.join(", "));
    }
    Why {
        filters_satisfied: filters.to_vec(),
        preferences_matched: preferences,
        matched_terms: matched,
        heard,
        summary: summary.join("; "),
    }
}

/// "heard: piano 0.91" for each value the sound model heard that a matched word, filter or
/// preference names: where the value came from, shown apart from what the catalog says.
fn heard_sources(
    track: &Track,
    matched: &[String],
    filters: &[String],
    preferences: &[String],
) -> Vec<String> {
    let Some(audio) = &track.audio else {
        return Vec::new();
    };
    let said = format!(
        " {} ",
        normalize_term(&[matched.join(" "), filters.join(" "), preferences.join(" ")].join(" "))
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    );
    audio
        .heard
        .iter()
        .filter(|h| said.contains(&format!(" {} ", normalize_term(&h.word))))
        .filter_map(|h| audio.heard_source(&h.word))
        .collect()
}

/// The title or artist word a typed word was taken for (typos are matched in names only):
/// the closest by edit distance.
fn typo_target(track: &Track, typed: &str) -> String {
    normalize_term(&format!("{} {}", track.name_title(), track.artist))
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .min_by_key(|w| strsim::osa_distance(typed, w))
        .unwrap_or_default()
        .to_string()
}

/// How deep the reranker reorders the fused list.
fn rerank_depth(merged: usize, top_k: usize) -> usize {
    merged.min((top_k * 2).max(RERANK_DEPTH))
}

/// The tracks one search reads (the reranker's depth, the hits), fetched in one call to the
/// store: one statement on PostgreSQL instead of a round trip per track.
struct Fetched(std::collections::HashMap<String, Arc<Track>>);

impl Fetched {
    fn of<'a>(store: &dyn crate::ports::Store, ids: impl Iterator<Item = &'a str>) -> Result<Self> {
        let ids: Vec<&str> = ids.collect();
        let tracks = store.get_many(&ids)?;
        Ok(Self(
            ids.into_iter()
                .zip(tracks)
                .filter_map(|(id, t)| Some((id.to_string(), t?)))
                .collect(),
        ))
    }

    fn get(&self, id: &str) -> Option<Arc<Track>> {
        self.0.get(id).cloned()
    }
}

/// Reorders the first `depth` of the fused list by the field-aware reranker.
fn rerank_fetched(
    merged: &mut [(String, crate::domain::retrieval::fusion::Merged)],
    fetched: &Fetched,
    q: &RerankQuery,
    depth: usize,
    scale: f32,
) {
    let depth = depth.min(merged.len());
    for (id, m) in merged[..depth].iter_mut() {
        if let Some(track) = fetched.get(id) {
            let bonus = scale * q.bonus(&track);
            m.parts.rerank_bonus = Some(bonus);
            m.score += bonus;
        }
    }
    crate::domain::retrieval::fusion::sort_by_score(&mut merged[..depth], |m| m.score);
}
