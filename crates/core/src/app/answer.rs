//! The answer use case: retrieve, keep the relevant hits, generate an answer that cites them,
//! check every citation, and fall back to the offline generator when a model provider fails.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::app::extractive::Extractive;
use crate::app::search::{SearchRequest, QUERY_MAX_BYTES};
use crate::app::Engine;
use crate::domain::answer::citations::{check_citations, CitationIssue};
use crate::domain::answer::followup::{read_follow_up, Conversation, CONVERSATION_SOURCES_MAX};
use crate::domain::answer::plan::{
    comparison_answer, comparison_of, intent_of, is_off_topic, planned_answer, scope_words, Intent,
    OFF_TOPIC,
};
use crate::domain::answer::{
    content_terms, is_relevant, missing_names_answer, named_sources, AnswerContext, Fact, Source,
    NOTHING_FOUND,
};
use crate::domain::catalog::track::Track;
use crate::domain::query::entities::{named_entities, NamedEntity};
use crate::domain::query::language::{foreign_language, language_notice};
use crate::domain::query::names::credits;
use crate::domain::query::parse::parse_query;
use crate::domain::retrieval::filter::Filter;
use crate::domain::retrieval::hit::Hit;
use crate::error::{CoreError, Result};
use crate::ports::{Generator, Selection, TokenUsage};

pub const ASK_TOP_K_MAX: usize = 20;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AskRequest {
    /// The question. `/v1` names the words of every request `text`; `question` is accepted too.
    #[serde(rename = "text", alias = "question")]
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, min_length = 1, pattern = r"\S")
    )]
    pub question: String,
    /// Hard constraints on the tracks the answer may use.
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub filters: Filter,
    /// How many tracks to retrieve as sources (1-20).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 20))]
    #[serde(deserialize_with = "crate::domain::wire::count")]
    pub top_k: usize,
    /// Stream the answer as server-sent events (HTTP only).
    pub stream: bool,
    /// Let the configured model rewrite the query and suggest filters before retrieval.
    pub enhance: bool,
    /// Second-stage rerank of the retrieved candidates.
    pub rerank: bool,
    /// The previous answer's `conversation`, to ask a follow-up of it ("only the ones with
    /// piano", "less upbeat", "more like the second one", "why that one?"). A question that is
    /// not a follow-up is asked afresh.
    #[serde(deserialize_with = "crate::domain::wire::optional_object")]
    pub previous: Option<Conversation>,
    /// Let the configured model plan the answer with tools (search, select sorted by a fact,
    /// count, get a track); its answer may name only tracks the tools returned, else the
    /// question is answered offline and `fallback` says why.
    pub tools: bool,
}

impl Default for AskRequest {
    fn default() -> Self {
        Self {
            question: String::new(),
            filters: Filter::default(),
            top_k: 5,
            stream: false,
            enhance: false,
            rerank: true,
            previous: None,
            tools: false,
        }
    }
}

impl AskRequest {
    pub fn validate(&self) -> Result<()> {
        if self.question.trim().is_empty() {
            return Err(CoreError::invalid("text", "must not be empty"));
        }
        if self.question.len() > QUERY_MAX_BYTES {
            return Err(CoreError::invalid(
                "text",
                format!("must be at most {QUERY_MAX_BYTES} bytes"),
            ));
        }
        crate::error::check_count("top_k", self.top_k, ASK_TOP_K_MAX)?;
        if let Some(prev) = &self.previous {
            if prev.question.len() > QUERY_MAX_BYTES {
                return Err(CoreError::invalid(
                    "previous.question",
                    format!("must be at most {QUERY_MAX_BYTES} bytes"),
                ));
            }
            if prev.sources.len() > CONVERSATION_SOURCES_MAX {
                return Err(CoreError::invalid(
                    "previous.sources",
                    format!("must hold at most {CONVERSATION_SOURCES_MAX} ids"),
                ));
            }
            prev.filters.validate()?;
        }
        self.filters.validate()
    }
}

/// Why the answer came from the offline generator instead of the configured model.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fallback {
    pub from: String,
    pub reason: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AskTimings {
    pub retrieve_ms: f64,
    pub generate_ms: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AskResponse {
    pub question: String,
    /// The answer, citing sources as `[n]`; invalid citations already removed.
    pub answer: String,
    /// False when nothing relevant was retrieved and the answer says so.
    pub grounded: bool,
    pub sources: Vec<Source>,
    /// Source numbers the answer cites.
    pub cited: Vec<usize>,
    /// Citations removed from the generated text.
    pub citation_issues: Vec<CitationIssue>,
    /// The generator that wrote `answer`: `extractive` or the provider's name.
    pub generator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhancement: Option<crate::app::enhance::Enhancement>,
    /// Names the question used that the catalog does not hold; the answer says so first and
    /// offers `sources` only as the closest tracks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<NamedEntity>,
    /// A question that seems written in another language than English says so here; so does
    /// a follow-up that had to search again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    pub timings: AskTimings,
    /// Send this back as `previous` to ask a follow-up of this answer.
    pub conversation: Conversation,
}

/// Sources chosen for a question, waiting for their answer to be written.
#[derive(Debug, Clone)]
pub struct PreparedAnswer {
    sources: Vec<Arc<Track>>,
    pub(crate) response: AskResponse,
    /// The answer of a planned question (a count, a list, a superlative, existence, off
    /// topic): computed from the catalog, so no generator writes it.
    pub(crate) planned: Option<String>,
    /// Written by the offline generator even when a model is configured (the model's own
    /// attempt, with tools, was refused).
    pub(crate) offline: bool,
}

impl PreparedAnswer {
    /// What a follow-up of this answer starts from: the question as read, its filters, and
    /// this answer's sources.
    pub(crate) fn continue_from(&mut self, question: String, filters: Filter) {
        self.response.conversation = Conversation {
            question,
            filters,
            sources: self.response.sources.iter().map(|s| s.id.clone()).collect(),
        };
    }
}

/// The generator name of answers computed by the question planner.
pub const PLANNER: &str = "planner";

/// What a streaming caller receives while the answer is written.
#[derive(Debug, Clone, Copy)]
pub enum AnswerEvent<'a> {
    Token(&'a str),
    /// The text streamed so far is void: the provider failed and the fallback starts over.
    Restart,
}

impl Engine {
    /// Answers a question from the catalog. `on_event` receives the answer as it is written;
    /// the returned answer is the checked one (invalid citations removed).
    pub fn ask(
        &self,
        req: &AskRequest,
        on_event: &mut dyn FnMut(AnswerEvent<'_>),
    ) -> Result<AskResponse> {
        let prepared = self.prepare_answer(req)?;
        self.write_answer(prepared, on_event)
    }

    /// The retrieval half of `ask` (CPU-bound): the sources the answer may use.
    pub fn prepare_answer(&self, req: &AskRequest) -> Result<PreparedAnswer> {
        req.validate()?;
        if let Some(prev) = &req.previous {
            if let Some(turn) = read_follow_up(&req.question) {
                return self.follow_up(req, prev, turn, Instant::now());
            }
        }
        let planned_by_model = if req.tools {
            self.answer_with_tools(req, Instant::now())?
        } else {
            None
        };
        let mut prepared = match planned_by_model {
            Some(p) => p,
            None => self.prepare_fresh(req)?,
        };
        prepared.continue_from(req.question.clone(), req.filters.clone());
        Ok(prepared)
    }

    /// A question answered on its own: planned, or from a search.
    pub(crate) fn prepare_fresh(&self, req: &AskRequest) -> Result<PreparedAnswer> {
        let t = Instant::now();
        if let Some(planned) = self.plan_answer(req, t)? {
            return Ok(planned);
        }
        let search = SearchRequest {
            text: Fact::search_text(&req.question),
            filters: req.filters.clone(),
            top_k: req.top_k,
            enhance: req.enhance,
            rerank: req.rerank,
            ..Default::default()
        };
        let resp = self.search(&search)?;
        let recognised = resp
            .parsed
            .as_ref()
            .is_some_and(|p| !p.recognized.is_empty())
            || !req.filters.is_empty();
        let all: Vec<Arc<Track>> = resp.hits.iter().map(|h| h.track.clone()).collect();
        let named_all = named_sources(&req.question, &all);
        let terms = content_terms(&req.question);
        // A factual question about named tracks is answered from those tracks alone.
        let only_named = Fact::asked_in(&req.question).is_some() && !named_all.is_empty();
        let kept: Vec<&Hit> = resp
            .hits
            .iter()
            .enumerate()
            .filter(|(i, h)| {
                let named = named_all.contains(&(i + 1));
                if only_named {
                    named
                } else {
                    is_relevant(h, &terms, recognised, named)
                }
            })
            .map(|(_, h)| h)
            .collect();
        let vocab = self.store().vocabulary()?;
        let missing: Vec<NamedEntity> = if vocab.names.is_empty() {
            Vec::new()
        } else {
            named_entities(&req.question, &|phrase| vocab.kind_of(phrase).is_some())
                .into_iter()
                .filter(|e| !vocab.names.holds(e.kind, &e.name))
                .collect()
        };
        let retrieve_ms = t.elapsed().as_secs_f64() * 1000.0;
        let sources: Vec<Arc<Track>> = kept.iter().map(|h| h.track.clone()).collect();
        let listed: Vec<Source> = kept
            .iter()
            .enumerate()
            .map(|(i, h)| Source {
                n: i + 1,
                id: h.track.id.clone(),
                title: h.track.title.clone(),
                artist: h.track.artist.clone(),
                score: h.score,
            })
            .collect();
        let response = AskResponse {
            question: req.question.clone(),
            answer: String::new(),
            grounded: !sources.is_empty() && missing.is_empty(),
            sources: listed,
            cited: Vec::new(),
            citation_issues: Vec::new(),
            generator: Extractive.name().to_string(),
            fallback: None,
            usage: None,
            enhancement: resp.enhancement.clone(),
            missing,
            notice: foreign_language(&req.question).map(language_notice),
            timings: AskTimings {
                retrieve_ms,
                generate_ms: 0.0,
            },
            conversation: Conversation::default(),
        };
        Ok(PreparedAnswer {
            sources,
            response,
            planned: None,
            offline: false,
        })
    }

    /// A question read into a plan and executed on the store: off-topic questions answered
    /// as such, superlatives, counts, lists and existence from the exact set of tracks that
    /// fit. `None`: the question is answered from a search.
    fn plan_answer(&self, req: &AskRequest, started: Instant) -> Result<Option<PreparedAnswer>> {
        let vocab = self.store().vocabulary()?;
        let term = |w: &str| vocab.kind_of(w).is_some();
        let name = |words: &[String]| {
            vocab.names.artist_named(words).is_some() || vocab.names.title_named(words).is_some()
        };
        if comparison_of(&req.question).is_some() {
            // A comparison is about music even when a name is not found: then the search
            // says which one the catalog lacks.
            return self.comparison(req, started);
        }
        let Some((intent, rest)) = intent_of(&req.question) else {
            // A question that asks nothing of the catalog's shape may still be off topic.
            if req.filters.is_empty() && is_off_topic(&req.question, &term, &name) {
                let text = OFF_TOPIC.to_string();
                return Ok(Some(self.planned(req, Vec::new(), text, started)));
            }
            return Ok(None);
        };
        let parsed = parse_query(&rest, &vocab);
        // What the question names is the scope: its filters, and its preferences read as
        // filters (a "metal song" is a metal song here), but not tempo or year words, which a
        // superlative sorts by instead.
        let mut wished = parsed.preferences.matching();
        wished.tempo = None;
        wished.year = None;
        let filter = req.filters.clone().and(&parsed.filters).and(&wished);
        let artists = parsed.artists.clone();
        // Nothing the parser could read as a scope: a list or existence question is a search;
        // so is any question whose remaining words name something unrecognised ("the
        // slowest song by someone the catalog lacks"), which the search says it lacks.
        let unscoped = artists.is_empty() && parsed.filters.is_empty() && wished.is_empty();
        if unscoped
            && (matches!(intent, Intent::List | Intent::Existence)
                || !content_terms(&rest).is_empty())
        {
            return Ok(None);
        }
        let order = match intent {
            Intent::Superlative { measure, highest } => Some((measure, highest)),
            _ => None,
        };
        let selected = self.store().select(&Selection {
            filter: filter.clone(),
            artists: artists.clone(),
            order,
            offset: 0,
            limit: req.top_k,
        })?;
        if selected.total == 0 && !artists.is_empty() && intent == Intent::Existence {
            return Ok(None);
        }
        let artist = artists.first().map(|named| {
            selected
                .tracks
                .iter()
                .find(|t| {
                    credits(&t.artist, named)
                        && t.artist.split_whitespace().count() == named.split(' ').count()
                })
                .map(|t| t.artist.clone())
                .unwrap_or_else(|| named.clone())
        });
        let scope = scope_words(&filter.describe(), artist.as_deref());
        let text = planned_answer(intent, &scope, selected.total, &selected.tracks);
        Ok(Some(self.planned(req, selected.tracks, text, started)))
    }

    /// "Is X faster than Y?": both tracks found as a search finds a named track, their facts
    /// compared. `None` when the question compares nothing or a name is not found (the search
    /// then says what it lacks).
    fn comparison(&self, req: &AskRequest, started: Instant) -> Result<Option<PreparedAnswer>> {
        let Some((measure, more, a, b)) = comparison_of(&req.question) else {
            return Ok(None);
        };
        let mut found = Vec::with_capacity(2);
        for name in [&a, &b] {
            let hits = self
                .search(&SearchRequest {
                    text: name.clone(),
                    filters: req.filters.clone(),
                    top_k: 5,
                    ..Default::default()
                })?
                .hits;
            let tracks: Vec<Arc<Track>> = hits.iter().map(|h| h.track.clone()).collect();
            // The hit the words name (title, or title and artist), not merely the first.
            let Some(&n) = named_sources(name, &tracks).first() else {
                return Ok(None);
            };
            found.push(tracks[n - 1].clone());
        }
        if found[0].id == found[1].id {
            return Ok(None);
        }
        let text = comparison_answer(measure, more, &found[0], &found[1]);
        Ok(Some(self.planned(req, found, text, started)))
    }

    /// A prepared answer whose text is already known.
    pub(crate) fn planned(
        &self,
        req: &AskRequest,
        sources: Vec<Arc<Track>>,
        text: String,
        started: Instant,
    ) -> PreparedAnswer {
        let listed = sources
            .iter()
            .enumerate()
            .map(|(i, t)| Source {
                n: i + 1,
                id: t.id.clone(),
                title: t.title.clone(),
                artist: t.artist.clone(),
                score: 1.0,
            })
            .collect();
        PreparedAnswer {
            response: AskResponse {
                question: req.question.clone(),
                answer: String::new(),
                grounded: !sources.is_empty(),
                sources: listed,
                cited: Vec::new(),
                citation_issues: Vec::new(),
                generator: PLANNER.to_string(),
                fallback: None,
                usage: None,
                enhancement: None,
                missing: Vec::new(),
                notice: foreign_language(&req.question).map(language_notice),
                timings: AskTimings {
                    retrieve_ms: started.elapsed().as_secs_f64() * 1000.0,
                    generate_ms: 0.0,
                },
                conversation: Conversation::default(),
            },
            sources,
            planned: Some(text),
            offline: false,
        }
    }

    /// The writing half of `ask`: may wait on a model server, so callers run it outside any
    /// limit on concurrent searches.
    pub fn write_answer(
        &self,
        prepared: PreparedAnswer,
        on_event: &mut dyn FnMut(AnswerEvent<'_>),
    ) -> Result<AskResponse> {
        let t = Instant::now();
        let PreparedAnswer {
            sources,
            mut response,
            planned,
            offline,
        } = prepared;
        if let Some(text) = planned {
            on_event(AnswerEvent::Token(&text));
            let ids: Vec<&str> = sources.iter().map(|t| t.id.as_str()).collect();
            let checked = check_citations(&text, &ids);
            response.answer = checked.text;
            response.cited = checked.cited;
            response.citation_issues = checked.issues;
            response.timings.generate_ms = t.elapsed().as_secs_f64() * 1000.0;
            return Ok(response);
        }
        let extractive = Extractive;
        if !response.missing.is_empty() {
            let text = missing_names_answer(&response.missing, &sources);
            on_event(AnswerEvent::Token(&text));
            let ids: Vec<&str> = sources.iter().map(|t| t.id.as_str()).collect();
            let checked = check_citations(&text, &ids);
            response.answer = checked.text;
            response.cited = checked.cited;
            response.timings.generate_ms = t.elapsed().as_secs_f64() * 1000.0;
            return Ok(response);
        }
        if sources.is_empty() {
            on_event(AnswerEvent::Token(NOTHING_FOUND));
            response.answer = NOTHING_FOUND.to_string();
            response.timings.generate_ms = t.elapsed().as_secs_f64() * 1000.0;
            return Ok(response);
        }
        let question = response.question.clone();
        let ctx = AnswerContext {
            question: &question,
            named: named_sources(&question, &sources),
            fact: Fact::asked_in(&question),
            sources: &sources,
        };
        let generation = match self.provider().filter(|_| !offline) {
            Some(provider) => {
                let mut streamed = false;
                let attempt = provider.answer(&ctx, &mut |tok| {
                    streamed = true;
                    on_event(AnswerEvent::Token(tok));
                });
                match attempt {
                    Ok(g) => {
                        response.generator = provider.name().to_string();
                        g
                    }
                    Err(e) => {
                        response.fallback = Some(Fallback {
                            from: provider.name().to_string(),
                            reason: e.to_string(),
                        });
                        if streamed {
                            on_event(AnswerEvent::Restart);
                        }
                        extractive.answer(&ctx, &mut |tok| on_event(AnswerEvent::Token(tok)))?
                    }
                }
            }
            None => extractive.answer(&ctx, &mut |tok| on_event(AnswerEvent::Token(tok)))?,
        };
        let ids: Vec<&str> = sources.iter().map(|t| t.id.as_str()).collect();
        let checked = check_citations(&generation.text, &ids);
        response.answer = checked.text;
        response.cited = checked.cited;
        response.citation_issues = checked.issues;
        response.usage = generation.usage;
        response.timings.generate_ms = t.elapsed().as_secs_f64() * 1000.0;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ask_requests_are_validated_by_field() {
        let bad = AskRequest {
            question: " ".into(),
            ..Default::default()
        };
        let Err(CoreError::Invalid(e)) = bad.validate() else {
            panic!("empty question accepted");
        };
        assert_eq!(e.field, "text");
        let bad = AskRequest {
            question: "x".into(),
            top_k: 21,
            ..Default::default()
        };
        let Err(CoreError::Invalid(e)) = bad.validate() else {
            panic!("top_k 21 accepted");
        };
        assert_eq!(e.field, "top_k");
    }
}
