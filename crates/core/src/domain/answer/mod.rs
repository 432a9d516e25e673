//! The rules of answering from a catalog: which fact a question asks, which retrieved tracks
//! it names, which are worth answering from, how sources are quoted to a model, and what an
//! answer says when the catalog lacks what was named; citations ([`citations`]) and result
//! summaries ([`summary`]) beside them.

pub mod citations;
pub mod followup;
pub mod plan;
pub mod summary;

use std::sync::Arc;

use serde::Serialize;

use crate::domain::answer::summary::number;
use crate::domain::catalog::track::Track;
use crate::domain::query::entities::NamedEntity;
use crate::domain::query::parse::keyword_terms;
use crate::domain::query::text::normalize_term;
use crate::domain::retrieval::hit::Hit;

/// Below this cosine similarity a hit only counts as relevant when the question names it or
/// its words cover the question.
pub const RELEVANT_SIMILARITY: f32 = 0.35;

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
    /// What a question is searched with: without the words that ask for a fact ("what key is
    /// Op. 27 No. 2 in?" searches "what is Op. 27 No. 2 in?"), which name the fact, not the
    /// track, and would match every description that mentions a key or a tempo. A question
    /// that is nothing but such words is searched as it is.
    pub fn search_text(question: &str) -> String {
        let Some(fact) = Fact::asked_in(question) else {
            return question.to_string();
        };
        // The fact's own nouns only: "album", "year" or an artist's words may be a title's.
        let cues: &[&str] = match fact {
            Fact::Key => &["key"],
            Fact::Tempo => &["tempo", "bpm"],
            Fact::TimeSignature => &["time", "signature", "meter", "metre"],
            Fact::Duration => &["duration", "length", "runtime"],
            Fact::Genre => &["genre"],
            Fact::Mood => &["mood"],
            Fact::Instruments => &["instruments", "instrumentation"],
            Fact::Origin => &["origin"],
            Fact::Year | Fact::Album | Fact::Artist => return question.to_string(),
        };
        let kept: Vec<&str> = question
            .split_whitespace()
            .filter(|w| {
                let bare: String = w
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect::<String>()
                    .to_lowercase();
                !cues.contains(&bare.as_str())
            })
            .collect();
        if content_terms(&kept.join(" ")).is_empty() {
            question.to_string()
        } else {
            kept.join(" ")
        }
    }

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

/// The text the answer is phrased as when nothing relevant was found.
pub const NOTHING_FOUND: &str =
    "I found nothing in the catalog that answers this, so I will not guess.";

/// The answer to a question about names the catalog lacks: that first, then the closest
/// tracks, labelled as such.
pub fn missing_names_answer(missing: &[NamedEntity], sources: &[Arc<Track>]) -> String {
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
        .any(|q| crate::domain::query::text::word_match(q, word).is_some())
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
pub fn content_terms(question: &str) -> Vec<String> {
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
    // "Op. 27 No. 2" is one term, as the keyword index matches it.
    keyword_terms(&crate::domain::query::catalogue::fold_catalogue_numbers(
        question,
    ))
    .into_iter()
    .filter(|w| !QUESTION_WORDS.contains(&w.as_str()) && !cues.contains(&w.as_str()))
    .collect()
}

/// Whether a hit is worth answering from: close in meaning, named by the question, fitting
/// what the parser recognised, or covering most of the question's words.
pub fn is_relevant(hit: &Hit, terms: &[String], recognised: bool, named: bool) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_questions_are_searched_without_the_facts_noun() {
        assert_eq!(
            Fact::search_text("what key is Op. 27 No. 2 in?"),
            "what is Op. 27 No. 2 in?"
        );
        assert_eq!(
            Fact::search_text("what tempo is ABC by the Jackson 5?"),
            "what is ABC by the Jackson 5?"
        );
        // Words that may be a title's stay; so does a question of nothing but the fact.
        assert_eq!(
            Fact::search_text("which album is Thriller on?"),
            "which album is Thriller on?"
        );
        assert_eq!(Fact::search_text("what key?"), "what key?");
        assert_eq!(Fact::search_text("calm piano"), "calm piano");
    }

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
}
