//! Follow-up questions (`AskRequest::previous`): the previous answer's conversation refined by
//! one turn — narrowed to the sources that fit more words, moved calmer or livelier, more like
//! one source, or why one source was chosen. Each turn's answer is written here from what the
//! store returns (the planner's generator), cites only those tracks, and carries the
//! conversation for the next turn.

use std::sync::Arc;
use std::time::Instant;

use crate::app::answer::{AskRequest, PreparedAnswer};
use crate::app::recommend::RecommendRequest;
use crate::app::search::SearchRequest;
use crate::app::Engine;
use crate::domain::answer::followup::{Conversation, FollowUp};
use crate::domain::catalog::measure::Measure;
use crate::domain::catalog::track::Track;
use crate::domain::query::names::credits;
use crate::domain::retrieval::filter::TrackFacets;
use crate::error::{CoreError, Result};

fn cite(tracks: &[Arc<Track>], with_tempo: bool) -> String {
    tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let tempo = match (with_tempo, Measure::Tempo.of(t)) {
                (true, Some(bpm)) => format!(", {}", Measure::Tempo.describe(bpm)),
                _ => String::new(),
            };
            format!("\"{}\" by {}{tempo} [{}]", t.title, t.artist, i + 1)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn ids(tracks: &[Arc<Track>]) -> Vec<String> {
    tracks.iter().map(|t| t.id.clone()).collect()
}

impl Engine {
    /// Answers `turn`, a follow-up of the conversation `prev`.
    pub(crate) fn follow_up(
        &self,
        req: &AskRequest,
        prev: &Conversation,
        turn: FollowUp,
        started: Instant,
    ) -> Result<PreparedAnswer> {
        let asked: Vec<&str> = prev.sources.iter().map(String::as_str).collect();
        let previous: Vec<Arc<Track>> = self
            .store()
            .get_many(&asked)?
            .into_iter()
            .flatten()
            .collect();
        let pick = |n: usize| -> Result<Arc<Track>> {
            let index = if n == 0 { previous.len() } else { n };
            previous.get(index.wrapping_sub(1)).cloned().ok_or_else(|| {
                CoreError::invalid(
                    "previous.sources",
                    format!(
                        "the previous answer has {} source{}; there is no number {n}",
                        previous.len(),
                        if previous.len() == 1 { "" } else { "s" }
                    ),
                )
            })
        };
        match turn {
            FollowUp::Narrow(words) => {
                let parsed = self.parse(&words)?;
                let filter = parsed.filters.clone().and(&parsed.preferences.matching());
                let artists = parsed.artists.clone();
                let question = format!("{} {words}", prev.question).trim().to_string();
                if filter.is_empty() && artists.is_empty() {
                    // Words the catalog's vocabulary does not know: the question asked again
                    // with them.
                    return self.fresh_turn(req, question, prev.filters.clone(), None);
                }
                let compiled = filter.compile();
                let kept: Vec<Arc<Track>> = previous
                    .iter()
                    .filter(|t| {
                        compiled.matches(&TrackFacets::of(t))
                            && (artists.is_empty() || artists.iter().any(|a| credits(&t.artist, a)))
                    })
                    .cloned()
                    .collect();
                let filters = prev.filters.clone().and(&filter);
                if kept.is_empty() {
                    let note = format!(
                        "None of the previous {} tracks fits \"{words}\"; these are other tracks that do.",
                        previous.len()
                    );
                    return self.fresh_turn(req, prev.question.clone(), filters, Some(note));
                }
                let text = format!(
                    "Of the previous {} tracks, {} fit{} \"{words}\": {}.",
                    previous.len(),
                    kept.len(),
                    if kept.len() == 1 { "s" } else { "" },
                    cite(&kept, false)
                );
                let mut p = self.planned(req, kept, text, started);
                p.continue_from(question, filters);
                Ok(p)
            }
            FollowUp::Shift { calmer } => {
                if previous.is_empty() {
                    return Err(CoreError::invalid(
                        "previous.sources",
                        "must name the previous answer's tracks to move from",
                    ));
                }
                let word = if calmer { "calmer" } else { "more upbeat" };
                let found = self.recommend(&RecommendRequest {
                    positive: ids(&previous),
                    filters: prev.filters.clone(),
                    top_k: req.top_k,
                    text: Some(word.to_string()),
                    ..Default::default()
                })?;
                let tracks: Vec<Arc<Track>> = found.hits.into_iter().map(|h| h.track).collect();
                let before = mean_tempo(&previous);
                let text = if tracks.is_empty() {
                    format!("I found nothing {word} than the previous tracks, so I will not guess.")
                } else {
                    format!(
                        "Like the previous tracks{} but {word}: {}.",
                        before
                            .map(|b| format!(" (around {b:.0} BPM)"))
                            .unwrap_or_default(),
                        cite(&tracks, true)
                    )
                };
                let question = format!("{} {word}", prev.question).trim().to_string();
                let mut p = self.planned(req, tracks, text, started);
                p.continue_from(question, prev.filters.clone());
                Ok(p)
            }
            FollowUp::MoreLike(n) => {
                let seed = pick(n)?;
                let found = self.recommend(&RecommendRequest {
                    positive: vec![seed.id.clone()],
                    negative: Vec::new(),
                    filters: prev.filters.clone(),
                    top_k: req.top_k,
                    text: None,
                })?;
                let tracks: Vec<Arc<Track>> = found.hits.into_iter().map(|h| h.track).collect();
                let text = if tracks.is_empty() {
                    format!(
                        "I found nothing like \"{}\" by {} within the same filters, so I will not guess.",
                        seed.title, seed.artist
                    )
                } else {
                    format!(
                        "Tracks like \"{}\" by {}: {}.",
                        seed.title,
                        seed.artist,
                        cite(&tracks, false)
                    )
                };
                let question = format!("tracks like {} by {}", seed.title, seed.artist);
                let mut p = self.planned(req, tracks, text, started);
                p.continue_from(question, prev.filters.clone());
                Ok(p)
            }
            FollowUp::Why(n) => {
                let track = pick(n)?;
                // The previous search once more, to read what it found in this track.
                let again = self.search(&SearchRequest {
                    text: prev.question.clone(),
                    filters: prev.filters.clone(),
                    top_k: 50,
                    ..Default::default()
                })?;
                let why = again
                    .hits
                    .iter()
                    .position(|h| h.track.id == track.id)
                    .map(|rank| (rank, again.hits[rank].why.summary.clone()));
                let facts = facts_of(&track);
                let text = match why {
                    Some((rank, summary)) if !summary.is_empty() => format!(
                        "\"{}\" by {} [1] ranks {} for \"{}\": {summary}.{facts}",
                        track.title,
                        track.artist,
                        rank + 1,
                        prev.question
                    ),
                    _ => format!(
                        "\"{}\" by {} [1] was among the previous answer's tracks for \"{}\".{facts}",
                        track.title, track.artist, prev.question
                    ),
                };
                let mut p = self.planned(req, vec![track.clone()], text, started);
                // Asking why changes nothing: the conversation goes on from the same answer.
                p.response.conversation = prev.clone();
                Ok(p)
            }
        }
    }

    /// A turn answered as a fresh question (with the filters the conversation has reached).
    fn fresh_turn(
        &self,
        req: &AskRequest,
        question: String,
        filters: crate::domain::retrieval::filter::Filter,
        note: Option<String>,
    ) -> Result<PreparedAnswer> {
        let fresh = AskRequest {
            question: question.clone(),
            filters: filters.clone(),
            previous: None,
            ..req.clone()
        };
        let mut p = self.prepare_fresh(&fresh)?;
        p.response.question = req.question.clone();
        if note.is_some() {
            p.response.notice = note;
        }
        p.continue_from(question, filters);
        Ok(p)
    }
}

fn mean_tempo(tracks: &[Arc<Track>]) -> Option<f64> {
    let tempos: Vec<f64> = tracks.iter().filter_map(|t| Measure::Tempo.of(t)).collect();
    (!tempos.is_empty()).then(|| tempos.iter().sum::<f64>() / tempos.len() as f64)
}

/// " It is Jazz, 92 BPM, in A minor, calm." — what the catalog says of the track.
fn facts_of(t: &Track) -> String {
    let mut facts: Vec<String> = Vec::new();
    if let Some(g) = &t.metadata.genre {
        facts.push(g.clone());
    }
    if let Some(bpm) = Measure::Tempo.of(t) {
        facts.push(Measure::Tempo.describe(bpm));
    }
    if let Some(k) = &t.metadata.key {
        facts.push(format!("in {k}"));
    }
    facts.extend(t.metadata.mood.iter().take(2).cloned());
    facts.extend(t.metadata.instrumentation.iter().take(3).cloned());
    if facts.is_empty() {
        String::new()
    } else {
        format!(" The catalog says: {}.", facts.join(", "))
    }
}
