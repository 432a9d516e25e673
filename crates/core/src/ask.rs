//! Questions answered from the catalog: retrieve, keep the relevant hits, generate an answer
//! that cites them, check every citation, and fall back to the offline generator when a
//! model provider fails.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::citations::{check_citations, CitationIssue};
use crate::engine::Engine;
use crate::error::{CoreError, Result};
use crate::extractive::Extractive;
use crate::filter::{normalize_term, Filter};
use crate::names::{named_entities, NamedEntity};
use crate::parse::keyword_terms;
use crate::query::{Hit, SearchRequest, QUERY_MAX_BYTES};
use crate::summary::number;
use crate::track::Track;
use crate::traits::{Generator, TokenUsage};

pub const ASK_TOP_K_MAX: usize = 20;

/// Below this cosine similarity a hit only counts as relevant when the question names it or
/// its words cover the question.
const RELEVANT_SIMILARITY: f32 = 0.35;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AskRequest {
    pub question: String,
    /// Hard constraints on the tracks the answer may use.
    pub filters: Filter,
    /// How many tracks to retrieve as sources (1-20).
    pub top_k: usize,
    /// Stream the answer as server-sent events (HTTP only).
    pub stream: bool,
    /// Let the configured model rewrite the query and suggest filters before retrieval.
    pub enhance: bool,
    /// Second-stage rerank of the retrieved candidates.
    pub rerank: bool,
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
        }
    }
}

impl AskRequest {
    pub fn validate(&self) -> Result<()> {
        if self.question.trim().is_empty() {
            return Err(CoreError::invalid("question", "must not be empty"));
        }
        if self.question.len() > QUERY_MAX_BYTES {
            return Err(CoreError::invalid(
                "question",
                format!("must be at most {QUERY_MAX_BYTES} bytes"),
            ));
        }
        crate::error::check_count("top_k", self.top_k, ASK_TOP_K_MAX)?;
        self.filters.validate()
    }
}

/// A fact a question can ask about one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    Tempo,
    Key,
    TimeSignature,
    Duration,
    Genre,
    Year,
    Album,
    Artist,
    Mood,
    Instruments,
    Origin,
}

impl Fact {
    pub fn name(self) -> &'static str {
        match self {
            Fact::Tempo => "tempo",
            Fact::Key => "key",
            Fact::TimeSignature => "time signature",
            Fact::Duration => "duration",
            Fact::Genre => "genre",
            Fact::Year => "release year",
            Fact::Album => "album",
            Fact::Artist => "artist",
            Fact::Mood => "mood",
            Fact::Instruments => "instrumentation",
            Fact::Origin => "origin",
        }
    }

    /// The phrases that ask for each fact, tried in this order.
    const CUES: &'static [(Fact, &'static [&'static str])] = &[
        (Fact::TimeSignature, &["time signature", "meter", "metre"]),
        (
            Fact::Tempo,
            &["tempo", "bpm", "beats per minute", "how fast"],
        ),
        (
            Fact::Key,
            &["what key", "which key", "musical key", "key of", "key is"],
        ),
        (
            Fact::Duration,
            &["how long", "duration", "length", "runtime"],
        ),
        (
            Fact::Genre,
            &["genre", "what kind of music", "what style", "which style"],
        ),
        (
            Fact::Year,
            &[
                "what year",
                "which year",
                "when was",
                "when did",
                "released",
                "release year",
            ],
        ),
        (Fact::Album, &["album", "which record", "what record"]),
        (
            Fact::Artist,
            &[
                "who sang",
                "who sings",
                "who wrote",
                "who composed",
                "who performed",
                "who made",
                "who is the artist",
                "which artist",
                "what artist",
                "who recorded",
            ],
        ),
        (Fact::Instruments, &["instruments", "instrumentation"]),
        (
            Fact::Mood,
            &["mood", "what does it feel", "how does it feel"],
        ),
        (
            Fact::Origin,
            &["where is", "where does", "origin", "what country"],
        ),
    ];

    /// The fact a question asks for, if it asks for one.
    pub fn asked_in(question: &str) -> Option<Fact> {
        let q = format!(" {} ", normalize_term(question));
        Fact::CUES
            .iter()
            .find(|(_, cues)| cues.iter().any(|c| q.contains(&format!(" {c} "))))
            .map(|(f, _)| *f)
    }

    /// The words that only say which fact is asked, not which track.
    fn cue_words() -> impl Iterator<Item = &'static str> {
        Fact::CUES
            .iter()
            .flat_map(|(_, cues)| cues.iter().flat_map(|c| c.split(' ')))
    }

    /// The fact's value on a track, as the answer prints it.
    pub fn value(self, t: &Track) -> Option<String> {
        let m = &t.metadata;
        let list = |v: &[String]| (!v.is_empty()).then(|| v.join(", "));
        match self {
            Fact::Tempo => m.tempo.map(|v| format!("{} BPM", number(v))),
            Fact::Key => m.key.clone(),
            Fact::TimeSignature => m.time_signature.clone(),
            Fact::Duration => m.duration.map(|v| format!("{} seconds", number(v))),
            Fact::Genre => match (&m.genre, &m.subgenre) {
                (Some(g), Some(s)) => Some(format!("{g} ({s})")),
                (g, s) => g.clone().or_else(|| s.clone()),
            },
            Fact::Year => t.year.map(|y| y.to_string()).or_else(|| m.era.clone()),
            Fact::Album => t.album.clone(),
            Fact::Artist => Some(t.artist.clone()),
            Fact::Mood => list(&m.mood),
            Fact::Instruments => list(&m.instrumentation),
            Fact::Origin => m.cultural_origin.clone(),
        }
    }
}

/// What a generator answers from. Source `n` is `sources[n - 1]`.
#[derive(Debug, Clone)]
pub struct AnswerContext<'a> {
    pub question: &'a str,
    pub sources: &'a [Arc<Track>],
    /// The fact asked for, when the question asks for one.
    pub fact: Option<Fact>,
    /// Source numbers whose title (or, failing that, artist) the question names.
    pub named: Vec<usize>,
}

/// One numbered source of an answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// The number the answer cites it by: `[n]`.
    pub n: usize,
    pub id: String,
    pub title: String,
    pub artist: String,
    pub score: f32,
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
    pub enhancement: Option<crate::enhance::Enhancement>,
    /// Names the question used that the catalog does not hold; the answer says so first and
    /// offers `sources` only as the closest tracks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<NamedEntity>,
    pub timings: AskTimings,
}

/// Sources chosen for a question, waiting for their answer to be written.
#[derive(Debug, Clone)]
pub struct PreparedAnswer {
    sources: Vec<Arc<Track>>,
    response: AskResponse,
}

/// What a streaming caller receives while the answer is written.
#[derive(Debug, Clone, Copy)]
pub enum AnswerEvent<'a> {
    Token(&'a str),
    /// The text streamed so far is void: the provider failed and the fallback starts over.
    Restart,
}

/// The text the answer is phrased as when nothing relevant was found.
pub const NOTHING_FOUND: &str =
    "I found nothing in the catalog that answers this, so I will not guess.";

/// The answer to a question about names the catalog lacks: that first, then the closest
/// tracks, labelled as such.
fn missing_names_answer(missing: &[NamedEntity], sources: &[Arc<Track>]) -> String {
    let named: Vec<String> = missing
        .iter()
        .map(|e| format!("no {} named \"{}\"", e.kind.noun(), e.name))
        .collect();
    let mut text = format!("The catalog has {}.", named.join(" and "));
    if sources.is_empty() {
        text.push_str(" Nothing in it comes close, so I will not guess.");
    } else {
        let listed: Vec<String> = sources
            .iter()
            .enumerate()
            .map(|(i, t)| format!("\"{}\" by {} [{}]", t.title, t.artist, i + 1))
            .collect();
        text.push_str(&format!(
            " The closest tracks it holds, which are not what you asked for: {}.",
            listed.join("; ")
        ));
    }
    text
}

/// Words of `haystack` (normalised), for matching question words.
fn words(haystack: &str) -> Vec<String> {
    normalize_term(haystack)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn word_in(word: &str, question: &[String]) -> bool {
    question
        .iter()
        .any(|q| q == word || (word.len() >= 4 && strsim::damerau_levenshtein(q, word) <= 1))
}

/// Whether every content word of `name` appears in the question (typos of one edit allowed).
fn names(name: &str, question: &[String]) -> bool {
    let ws: Vec<String> = words(name)
        .into_iter()
        .filter(|w| w != "the" && w != "a" && w != "an")
        .collect();
    match ws.as_slice() {
        [] => false,
        // A one-word name must be typed exactly: "france" is not the title "Trance".
        [only] => question.contains(only),
        _ => ws.iter().all(|w| word_in(w, question)),
    }
}

/// Source numbers the question names: by title first, by artist when no title is named.
pub fn named_sources(question: &str, sources: &[Arc<Track>]) -> Vec<usize> {
    let q = words(question);
    let by_title: Vec<usize> = sources
        .iter()
        .enumerate()
        .filter(|(_, t)| names(&t.title, &q))
        .map(|(i, _)| i + 1)
        .collect();
    if !by_title.is_empty() {
        // A title and its artist both named beat a title alone ("ABC by the Jackson 5").
        let both: Vec<usize> = by_title
            .iter()
            .copied()
            .filter(|&n| names(&sources[n - 1].artist, &q))
            .collect();
        return if both.is_empty() { by_title } else { both };
    }
    sources
        .iter()
        .enumerate()
        .filter(|(_, t)| names(&t.artist, &q))
        .map(|(i, _)| i + 1)
        .collect()
}

/// The question's words that say what it is about (not filler, not which fact it asks).
fn content_terms(question: &str) -> Vec<String> {
    const QUESTION_WORDS: &[&str] = &[
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "does",
        "do",
        "did",
        "it",
        "its",
        "that",
        "this",
        "there",
        "any",
        "tell",
        "about",
        "can",
        "you",
        "recommend",
        "song",
        "songs",
        "track",
        "tracks",
        "music",
        "piece",
        "something",
        "like",
        "please",
        "have",
        "has",
        "many",
        "much",
    ];
    let cues: Vec<&str> = Fact::cue_words().collect();
    keyword_terms(question)
        .into_iter()
        .filter(|w| !QUESTION_WORDS.contains(&w.as_str()) && !cues.contains(&w.as_str()))
        .collect()
}

/// Whether a hit is worth answering from: close in meaning, named by the question, fitting
/// what the parser recognised, or covering most of the question's words.
fn is_relevant(hit: &Hit, terms: &[String], recognised: bool, named: bool) -> bool {
    if named || recognised {
        return true;
    }
    if hit.scores.dense_similarity.unwrap_or(0.0) >= RELEVANT_SIMILARITY {
        return true;
    }
    if terms.is_empty() {
        return false;
    }
    // Only exact word matches: a one-letter typo match ("france" ~ "trance") is too weak.
    let matched = terms
        .iter()
        .filter(|t| hit.why.matched_terms.iter().any(|m| m == *t))
        .count();
    matched * 2 >= terms.len() && matched >= 1
}

/// One line per source, as model prompts quote them.
pub fn source_card(n: usize, t: &Track) -> String {
    let mut fields = vec![format!("[{n}] \"{}\" by {}", t.title, t.artist)];
    let facts = [
        Fact::Album,
        Fact::Year,
        Fact::Genre,
        Fact::Tempo,
        Fact::Key,
        Fact::TimeSignature,
        Fact::Duration,
        Fact::Mood,
        Fact::Instruments,
        Fact::Origin,
    ];
    for f in facts {
        if let Some(v) = f.value(t) {
            fields.push(format!("{}: {v}", f.name()));
        }
    }
    if let Some(d) = &t.description {
        fields.push(format!("description: {}", truncate(d, 400)));
    }
    if !t.tags.is_empty() {
        fields.push(format!("tags: {}", t.tags.join(", ")));
    }
    fields.join(" | ")
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The instructions and sources a model answers from.
pub fn answer_prompt(ctx: &AnswerContext<'_>) -> (String, String) {
    let system = "You answer questions about music using ONLY the numbered sources given. \
Cite every fact with the number of its source in square brackets, like [1] or [2][3]. \
Never state a fact, number, title or name that is not in the sources. \
If the sources do not answer the question, say that the catalog does not hold the answer. \
Be brief: at most four sentences."
        .to_string();
    let cards: Vec<String> = ctx
        .sources
        .iter()
        .enumerate()
        .map(|(i, t)| source_card(i + 1, t))
        .collect();
    let user = format!(
        "Sources:\n{}\n\nQuestion: {}",
        cards.join("\n"),
        ctx.question
    );
    (system, user)
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
        let t = Instant::now();
        let search = SearchRequest {
            text: req.question.clone(),
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
            timings: AskTimings {
                retrieve_ms,
                generate_ms: 0.0,
            },
        };
        Ok(PreparedAnswer { sources, response })
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
        } = prepared;
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
        let generation = match &self.provider() {
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

    fn t(id: &str, title: &str, artist: &str) -> Arc<Track> {
        Arc::new(Track {
            id: id.into(),
            title: title.into(),
            artist: artist.into(),
            ..Default::default()
        })
    }

    #[test]
    fn facts_are_recognised_in_questions() {
        assert_eq!(Fact::asked_in("What tempo is ABC?"), Some(Fact::Tempo));
        assert_eq!(Fact::asked_in("how fast is thriller"), Some(Fact::Tempo));
        assert_eq!(
            Fact::asked_in("What's the time signature of Money?"),
            Some(Fact::TimeSignature)
        );
        assert_eq!(Fact::asked_in("who sang Halo"), Some(Fact::Artist));
        assert_eq!(Fact::asked_in("sad piano ballads"), None);
    }

    #[test]
    fn named_sources_prefer_title_and_artist() {
        let sources = vec![
            t("a", "I Want You Back", "The Jackson 5"),
            t("b", "ABC", "The Jackson 5"),
            t("c", "ABC", "Someone Else"),
        ];
        assert_eq!(
            named_sources("what tempo is ABC by the Jackson 5?", &sources),
            vec![2]
        );
        assert_eq!(named_sources("songs by the jacksn 5", &sources), vec![1, 2]);
        assert!(named_sources("sad songs", &sources).is_empty());
    }

    #[test]
    fn content_terms_drop_question_and_fact_words() {
        assert_eq!(
            content_terms("What tempo is ABC by the Jackson 5?"),
            vec!["abc", "jackson", "5"]
        );
    }

    #[test]
    fn ask_requests_are_validated_by_field() {
        let bad = AskRequest {
            question: " ".into(),
            ..Default::default()
        };
        let Err(CoreError::Invalid(e)) = bad.validate() else {
            panic!("empty question accepted");
        };
        assert_eq!(e.field, "question");
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
