//! Query enhancement (the original's optional LLM feature): a model may rewrite the query and
//! suggest filters as JSON. Suggestions are checked against the catalog's vocabulary and
//! become preferences next to the offline parser's; unknown terms are reported, not used.

use serde::{Deserialize, Serialize};

use crate::domain::catalog::track::limits;
use crate::domain::catalog::vocabulary::{FacetKind, Vocabulary};
use crate::domain::query::text::normalize_term;
use crate::domain::retrieval::filter::{Preferences, Range};
use crate::error::Result;
use crate::ports::{Generator, TokenUsage};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enhancement {
    /// Whether the model's suggestions were used.
    pub applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewritten_query: Option<String>,
    /// Suggested terms the catalog knows, used as preferences.
    pub accepted: Preferences,
    /// Suggestions that were dropped, with the reason.
    pub rejected: Vec<String>,
    /// Why enhancement was not applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
}

impl Enhancement {
    pub fn not_applied(reason: impl Into<String>) -> Self {
        Self {
            applied: false,
            rewritten_query: None,
            accepted: Preferences::default(),
            rejected: Vec::new(),
            reason: Some(reason.into()),
            usage: None,
        }
    }
}

/// The reply the model is asked for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Suggestion {
    query: Option<String>,
    genres: Vec<String>,
    moods: Vec<String>,
    instruments: Vec<String>,
    tempo_min: Option<f32>,
    tempo_max: Option<f32>,
}

const SYSTEM: &str = "You turn a music search request into a better search query and filters. \
Reply with one JSON object and nothing else: \
{\"query\": string, \"genres\": [string], \"moods\": [string], \"instruments\": [string], \
\"tempo_min\": number or null, \"tempo_max\": number or null}. \
Use only terms from the vocabulary given; leave a list empty when unsure.";

fn vocabulary_hint(vocab: &Vocabulary) -> String {
    let top = |v: &[(String, usize)]| {
        let mut v: Vec<&(String, usize)> = v.iter().collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.1));
        v.iter()
            .take(60)
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "Genres: {}\nMoods: {}\nInstruments: {}",
        top(&vocab.genres()),
        top(&vocab.moods()),
        top(&vocab.instruments())
    )
}

/// The JSON object inside a reply that may wrap it in prose or a code fence.
fn json_object(reply: &str) -> Option<&str> {
    let start = reply.find('{')?;
    let end = reply.rfind('}')?;
    (end > start).then(|| &reply[start..=end])
}

/// Asks `model` for a rewrite and suggestions, and keeps what the catalog knows.
pub fn enhance(model: &dyn Generator, query: &str, vocab: &Vocabulary) -> Enhancement {
    let user = format!(
        "Catalog vocabulary:\n{}\n\nRequest: {query}",
        vocabulary_hint(vocab)
    );
    let generation = match model.complete(SYSTEM, &user) {
        Ok(g) => g,
        Err(e) => return Enhancement::not_applied(e.to_string()),
    };
    let parsed: Result<Suggestion, String> = json_object(&generation.text)
        .ok_or_else(|| "the model's reply holds no JSON object".to_string())
        .and_then(|j| {
            serde_json::from_str(j).map_err(|e| format!("the model's reply is not valid: {e}"))
        });
    let suggestion = match parsed {
        Ok(s) => s,
        Err(reason) => {
            let mut e = Enhancement::not_applied(reason);
            e.usage = generation.usage;
            return e;
        }
    };
    let mut out = validate(suggestion, vocab);
    out.usage = generation.usage;
    out
}

fn validate(s: Suggestion, vocab: &Vocabulary) -> Enhancement {
    let mut accepted = Preferences::default();
    let mut rejected = Vec::new();
    let suggested = s
        .genres
        .iter()
        .map(|t| ("genre", t))
        .chain(s.moods.iter().map(|t| ("mood", t)))
        .chain(s.instruments.iter().map(|t| ("instrument", t)));
    for (field, term) in suggested {
        let key = normalize_term(term);
        // A known term goes to the field the catalog uses it in, whatever the model said.
        let list = match vocab.kind_of(&key) {
            Some(FacetKind::Genre) => &mut accepted.genres,
            Some(FacetKind::Mood) => &mut accepted.moods,
            Some(FacetKind::Instrument) => &mut accepted.instruments,
            Some(FacetKind::Origin) => &mut accepted.origins,
            Some(FacetKind::Tag) => &mut accepted.tags,
            None => {
                rejected.push(format!(
                    "{field} \"{term}\": not in the catalog's vocabulary"
                ));
                continue;
            }
        };
        if !list.contains(&key) {
            list.push(key);
        }
    }
    let valid = |v: Option<f32>| v.filter(|t| (limits::TEMPO_MIN..=limits::TEMPO_MAX).contains(t));
    let (lo, hi) = (valid(s.tempo_min), valid(s.tempo_max));
    if s.tempo_min.is_some() && lo.is_none() || s.tempo_max.is_some() && hi.is_none() {
        rejected.push(format!(
            "tempo: must be between {} and {} BPM",
            limits::TEMPO_MIN,
            limits::TEMPO_MAX
        ));
    } else if lo.zip(hi).is_some_and(|(a, b)| a > b) {
        rejected.push("tempo: tempo_min is above tempo_max".into());
    } else if lo.is_some() || hi.is_some() {
        accepted.tempo = Some(Range::new(lo, hi));
    }
    let rewritten = s
        .query
        .map(|q| q.trim().to_string())
        .filter(|q| !q.is_empty() && q.len() <= crate::domain::catalog::limits::QUERY_MAX_BYTES);
    Enhancement {
        applied: true,
        rewritten_query: rewritten,
        accepted,
        rejected,
        reason: None,
        usage: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Generation;

    struct Canned(&'static str);

    impl Generator for Canned {
        fn name(&self) -> &str {
            "canned"
        }
        fn answer(
            &self,
            _ctx: &crate::domain::answer::AnswerContext<'_>,
            _on_token: &mut dyn FnMut(&str),
        ) -> Result<Generation> {
            unreachable!("enhancement never asks for an answer")
        }
        fn complete(&self, _system: &str, _user: &str) -> Result<Generation> {
            Ok(Generation {
                text: self.0.to_string(),
                usage: None,
            })
        }
    }

    fn vocab() -> Vocabulary {
        Vocabulary::new(
            vec![("jazz".into(), 4)],
            vec![("sad".into(), 3)],
            vec![("piano".into(), 5)],
            vec![],
            vec![],
        )
    }

    #[test]
    fn known_terms_are_accepted_in_their_field_and_unknown_rejected() {
        let reply = "Sure! ```json\n{\"query\": \"melancholic jazz piano\", \"genres\": [\"Jazz\", \"vaporwave\"], \"moods\": [\"piano\"], \"tempo_min\": 60, \"tempo_max\": 90}\n```";
        let e = enhance(&Canned(reply), "sad jazz", &vocab());
        assert!(e.applied);
        assert_eq!(e.rewritten_query.as_deref(), Some("melancholic jazz piano"));
        assert_eq!(e.accepted.genres, vec!["jazz"]);
        assert_eq!(e.accepted.instruments, vec!["piano"]);
        assert_eq!(e.accepted.tempo, Some(Range::new(Some(60.0), Some(90.0))));
        assert_eq!(e.rejected.len(), 1);
        assert!(e.rejected[0].contains("vaporwave"));
    }

    #[test]
    fn bad_replies_are_not_applied() {
        let e = enhance(&Canned("no json here"), "x", &vocab());
        assert!(!e.applied);
        assert!(e.reason.unwrap().contains("no JSON"));
        let e = enhance(&Canned("{\"tempo_min\": 900}"), "x", &vocab());
        assert!(e.applied);
        assert!(e.accepted.tempo.is_none());
        assert!(e.rejected[0].starts_with("tempo"));
    }
}
