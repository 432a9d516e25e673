//! The offline generator: deterministic, no model. It picks facts from the sources and
//! phrases them with citations, so every number and name it writes comes from a source.

use crate::domain::answer::summary::{number, summarize};
use crate::domain::answer::{AnswerContext, Fact};
use crate::domain::catalog::track::Track;
use crate::error::Result;
use crate::ports::{Generation, Generator};

/// Sources listed in an answer to an open question.
const LISTED: usize = 5;

pub struct Extractive;

fn name_of(t: &Track) -> String {
    format!("\"{}\" by {}", t.title, t.artist)
}

/// A title, an artist and a fact's value: what recordings of one piece share.
type PieceFact = (String, String, Option<String>);

/// One sentence for the tracks numbered `ns`, which share a title, an artist and the fact's
/// value (recordings of one piece): said once, citing each.
fn fact_sentence(fact: Fact, t: &Track, ns: &[usize]) -> String {
    let mut who = name_of(t);
    if ns.len() > 1 {
        who.push_str(&format!(" ({} recordings)", ns.len()));
    }
    let n = ns
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("] [");
    match fact.value(t) {
        None => format!(
            "The catalog does not record the {} of {who} [{n}].",
            fact.name()
        ),
        Some(v) => match fact {
            Fact::Tempo => format!("{who} runs at {v} [{n}]."),
            Fact::Key => format!("{who} is in {v} [{n}]."),
            Fact::TimeSignature => format!("{who} is in {v} time [{n}]."),
            Fact::Duration => format!("{who} lasts {v} [{n}]."),
            Fact::Genre => format!("{who} is {v} [{n}]."),
            Fact::Year => format!("{who} is from {v} [{n}]."),
            Fact::Album => format!("{who} appears on {v} [{n}]."),
            Fact::Artist => format!("\"{}\" is by {v} [{n}].", t.title),
            Fact::Mood => format!("{who} feels {v} [{n}]."),
            Fact::Instruments => format!("{who} features {v} [{n}]."),
            Fact::Origin => format!("{who} comes from {v} [{n}]."),
        },
    }
}

/// A few words on a track for a list: genre, moods, instruments, tempo, year.
fn descriptors(t: &Track) -> String {
    let m = &t.metadata;
    let mut parts: Vec<String> = Vec::new();
    if let Some(g) = &m.genre {
        parts.push(g.clone());
    }
    if !m.mood.is_empty() {
        parts.push(
            m.mood
                .iter()
                .take(2)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if !m.instrumentation.is_empty() {
        parts.push(
            m.instrumentation
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(tempo) = m.tempo {
        parts.push(format!("{} BPM", number(tempo)));
    }
    if let Some(y) = t.year {
        parts.push(y.to_string());
    }
    parts.join("; ")
}

impl Generator for Extractive {
    fn name(&self) -> &str {
        "extractive"
    }

    fn answer(
        &self,
        ctx: &AnswerContext<'_>,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let mut sentences = Vec::new();
        match ctx.fact {
            Some(fact) => {
                // About the tracks the question names, or the best match when it names none.
                let about: Vec<usize> = if ctx.named.is_empty() {
                    vec![1]
                } else {
                    ctx.named.iter().copied().take(3).collect()
                };
                // Recordings of one piece (same title, artist and value) are said once.
                let mut said: Vec<(PieceFact, Vec<usize>)> = Vec::new();
                for n in about {
                    let t = &ctx.sources[n - 1];
                    let key = (t.title.clone(), t.artist.clone(), fact.value(t));
                    match said.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, ns)) => ns.push(n),
                        None => said.push((key, vec![n])),
                    }
                }
                for (_, ns) in said {
                    sentences.push(fact_sentence(fact, &ctx.sources[ns[0] - 1], &ns));
                }
            }
            None => {
                let listed: Vec<String> = ctx
                    .sources
                    .iter()
                    .take(LISTED)
                    .enumerate()
                    .map(|(i, t)| {
                        let d = descriptors(t);
                        if d.is_empty() {
                            format!("{} [{}]", name_of(t), i + 1)
                        } else {
                            format!("{} ({d}) [{}]", name_of(t), i + 1)
                        }
                    })
                    .collect();
                sentences.push(format!("From the catalog: {}.", listed.join("; ")));
                let tracks: Vec<&Track> = ctx.sources.iter().map(|t| t.as_ref()).collect();
                if tracks.len() >= 2 {
                    let shared = summarize(&tracks);
                    if shared.starts_with("Most") {
                        sentences.push(shared);
                    }
                }
            }
        }
        let text = sentences.join(" ");
        // Stream word by word, as a model would, so both generators look alike to clients.
        for (i, word) in text.split(' ').enumerate() {
            if i > 0 {
                on_token(" ");
            }
            on_token(word);
        }
        Ok(Generation { text, usage: None })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::catalog::track::Metadata;

    fn abc() -> Arc<Track> {
        Arc::new(Track {
            id: "harmonix:0004_abc".into(),
            title: "ABC".into(),
            artist: "The Jackson 5".into(),
            metadata: Metadata {
                tempo: Some(94.0),
                genre: Some("Pop-Rock".into()),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn run(ctx: &AnswerContext<'_>) -> (String, String) {
        let mut streamed = String::new();
        let g = Extractive
            .answer(ctx, &mut |t| streamed.push_str(t))
            .expect("extractive answers");
        (g.text, streamed)
    }

    #[test]
    fn answers_a_fact_about_the_named_track() {
        let sources = vec![abc()];
        let ctx = AnswerContext {
            question: "what tempo is ABC by the Jackson 5?",
            sources: &sources,
            fact: Some(Fact::Tempo),
            named: vec![1],
        };
        let (text, streamed) = run(&ctx);
        assert_eq!(text, "\"ABC\" by The Jackson 5 runs at 94 BPM [1].");
        assert_eq!(streamed, text);
    }

    #[test]
    fn recordings_of_one_piece_are_said_once_citing_each() {
        let recording = |id: &str, tempo: f32| {
            Arc::new(Track {
                id: id.into(),
                metadata: Metadata {
                    tempo: Some(tempo),
                    ..Default::default()
                },
                ..(*abc()).clone()
            })
        };
        let sources = vec![
            recording("a", 94.0),
            recording("b", 94.0),
            recording("c", 97.0),
        ];
        let ctx = AnswerContext {
            question: "what tempo is ABC?",
            sources: &sources,
            fact: Some(Fact::Tempo),
            named: vec![1, 2, 3],
        };
        let (text, _) = run(&ctx);
        assert_eq!(
            text,
            "\"ABC\" by The Jackson 5 (2 recordings) runs at 94 BPM [1] [2]. \
             \"ABC\" by The Jackson 5 runs at 97 BPM [3]."
        );
    }

    #[test]
    fn says_when_a_fact_is_not_recorded() {
        let sources = vec![abc()];
        let ctx = AnswerContext {
            question: "what key is ABC in?",
            sources: &sources,
            fact: Some(Fact::Key),
            named: vec![1],
        };
        assert_eq!(
            run(&ctx).0,
            "The catalog does not record the key of \"ABC\" by The Jackson 5 [1]."
        );
    }

    #[test]
    fn lists_sources_for_open_questions() {
        let sources = vec![abc(), abc()];
        let ctx = AnswerContext {
            question: "upbeat pop",
            sources: &sources,
            fact: None,
            named: vec![],
        };
        let text = run(&ctx).0;
        assert!(
            text.starts_with("From the catalog: \"ABC\" by The Jackson 5 (Pop-Rock; 94 BPM) [1];")
        );
        assert!(
            text.contains("Most results share genre Pop-Rock; artist The Jackson 5; tempo 94 BPM."),
            "{text}"
        );
    }
}
