//! Listen-alike search: tracks whose audio vectors are closest to a clip's or a track's, alone
//! or combined with a text query by `audio_weight`, as the original's `semantic_weight`
//! combined its text and audio embeddings.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::app::search::{SearchRequest, TOP_K_MAX};
use crate::app::Engine;
use crate::domain::catalog::audio::{AudioFeatures, AUDIO_VECTOR_DIM};
use crate::domain::catalog::track::Track;
use crate::domain::retrieval::filter::Filter;
use crate::domain::retrieval::fusion::rank_share;
use crate::domain::retrieval::steer::{steer_scores, steers_in};
use crate::error::{CoreError, Result};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenRequest {
    /// A catalog track to sound like (or upload a clip instead).
    pub track_id: Option<String>,
    /// Words to combine with the sound, e.g. "but calmer".
    pub text: Option<String>,
    /// Weight of audio likeness against the text ranking, 0-1 (used when `text` is given).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub audio_weight: f32,
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub filters: Filter,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    #[serde(deserialize_with = "crate::domain::wire::count")]
    pub top_k: usize,
}

impl Default for ListenRequest {
    fn default() -> Self {
        Self {
            track_id: None,
            text: None,
            audio_weight: 0.7,
            filters: Filter::default(),
            top_k: 10,
        }
    }
}

impl ListenRequest {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.audio_weight) {
            return Err(CoreError::invalid(
                "audio_weight",
                format!("must be between 0 and 1 (got {})", self.audio_weight),
            ));
        }
        crate::error::check_count("top_k", self.top_k, TOP_K_MAX)?;
        self.filters.validate()
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct ListenHit {
    #[cfg_attr(feature = "openapi", schema(value_type = Track))]
    pub track: Arc<Track>,
    pub score: f32,
    /// Cosine similarity of the audio vectors, when the audio list held the track.
    pub audio_similarity: Option<f32>,
    /// Rank in the text search, when text was given and held the track.
    pub text_rank: Option<usize>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct ListenResponse {
    pub hits: Vec<ListenHit>,
}

/// A candidate's fused score, audio similarity and text rank.
#[derive(Default)]
struct Parts {
    score: f32,
    audio_similarity: Option<f32>,
    text_rank: Option<usize>,
}

impl Engine {
    /// The audio analysis of a catalog track, or a clear error.
    pub fn audio_of(&self, id: &str) -> Result<AudioFeatures> {
        let track = self
            .store()
            .get(id)?
            .ok_or_else(|| CoreError::NotFound(format!("track_id: unknown track id: {id}")))?;
        track.audio.clone().ok_or_else(|| {
            CoreError::invalid(
                "track_id",
                format!("track {id} has no audio analysis; ingest it from an audio file"),
            )
        })
    }

    /// The `k` tracks that sound most like `seed`: nearest by the measured sound (the store's
    /// audio index), re-scored over a wider pool with the sound model's embedding where both
    /// sides have one (an equal blend of the two cosines), so what the model hears (instruments,
    /// genre) counts beside tempo, key and timbre statistics.
    fn sound_alike(
        &self,
        seed: &AudioFeatures,
        filters: &crate::domain::retrieval::filter::Filter,
        k: usize,
    ) -> Result<Vec<crate::domain::retrieval::hit::Candidate>> {
        let Some(seed_embedding) = &seed.sound_embedding else {
            return self.store().audio_search(&seed.vector, filters, k);
        };
        let pool = (k * SOUND_POOL_FACTOR).min(SOUND_POOL_MAX).max(k);
        let mut candidates = self.store().audio_search(&seed.vector, filters, pool)?;
        for c in &mut candidates {
            let learned = self
                .store()
                .get(&c.id)?
                .and_then(|t| {
                    t.audio
                        .as_ref()
                        .and_then(|a| a.sound_embedding.as_deref())
                        .map(|e| cosine(seed_embedding, e))
                })
                .flatten();
            if let Some(learned) = learned {
                c.score = (1.0 - LEARNED_WEIGHT) * c.score + LEARNED_WEIGHT * learned;
            }
        }
        candidates.sort_by(crate::domain::retrieval::hit::Candidate::rank_order);
        candidates.truncate(k);
        Ok(candidates)
    }

    /// Tracks that sound like `clip` (an analysed upload) or like `req.track_id`; words that
    /// compare in `req.text` ("but calmer", "faster") steer from the seed's measured sound.
    pub fn listen(
        &self,
        req: &ListenRequest,
        clip: Option<AudioFeatures>,
    ) -> Result<ListenResponse> {
        req.validate()?;
        let seed_sound = match (clip, &req.track_id) {
            (Some(f), _) => f,
            (None, Some(id)) => self.audio_of(id)?,
            (None, None) => {
                return Err(CoreError::invalid(
                    "track_id",
                    "or an uploaded clip is required",
                ))
            }
        };
        let vector = seed_sound.vector.clone();
        if vector.len() != AUDIO_VECTOR_DIM {
            return Err(CoreError::Internal("audio vector of the wrong size".into()));
        }
        let k = crate::app::search::candidates_for(req.top_k) + 1;
        let audio = self.sound_alike(&seed_sound, &req.filters, k)?;
        let text = req.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let (steers, only_steers) = text.map(steers_in).unwrap_or_default();
        // Text that only compares ("but calmer") steers; other words are also searched.
        let text_hits = match text {
            Some(t) if !only_steers => {
                self.search(&SearchRequest {
                    text: t.to_string(),
                    filters: req.filters.clone(),
                    top_k: TOP_K_MAX,
                    ..Default::default()
                })?
                .hits
            }
            _ => Vec::new(),
        };
        let w = if text.is_some() {
            req.audio_weight
        } else {
            1.0
        };
        // How far each sound-alike candidate moved from the seed the asked ways.
        let steered: Vec<f32> = if steers.is_empty() {
            Vec::new()
        } else {
            let tracks: Vec<Option<Arc<Track>>> = audio
                .iter()
                .map(|c| self.store().get(&c.id))
                .collect::<Result<_>>()?;
            let sounds: Vec<Option<&AudioFeatures>> = tracks
                .iter()
                .map(|t| t.as_ref().and_then(|t| t.audio.as_ref()))
                .collect();
            steer_scores(&seed_sound, &sounds, &steers)
        };
        let mut parts: HashMap<String, Parts> = HashMap::new();
        let seed = req.track_id.as_deref();
        for (i, c) in audio.iter().enumerate() {
            let e = parts.entry(c.id.clone()).or_default();
            e.score += w * rank_share(i);
            e.audio_similarity = Some(c.score);
            if let Some(moved) = steered.get(i) {
                // The steer takes the share the text would: a candidate that did not move the
                // asked way gets none of it.
                e.score += (1.0 - w) * moved * rank_share(0);
            }
        }
        for (i, h) in text_hits.iter().enumerate() {
            let e = parts.entry(h.track.id.clone()).or_default();
            e.score += (1.0 - w) * rank_share(i);
            e.text_rank = Some(i + 1);
        }
        let mut ranked: Vec<(String, Parts)> = parts
            .into_iter()
            .filter(|(id, _)| Some(id.as_str()) != seed)
            .collect();
        crate::domain::retrieval::fusion::sort_by_score(&mut ranked, |p| p.score);
        let mut hits = Vec::with_capacity(req.top_k);
        for (id, p) in ranked {
            if hits.len() == req.top_k {
                break;
            }
            if let Some(track) = self.store().get(&id)? {
                hits.push(ListenHit {
                    track,
                    score: p.score,
                    audio_similarity: p.audio_similarity,
                    text_rank: p.text_rank,
                });
            }
        }
        Ok(ListenResponse { hits })
    }
}

/// Share of the sound-alike score that comes from the sound model's embedding.
const LEARNED_WEIGHT: f32 = 0.5;
/// The pool re-scored with the embedding: this many times the candidates asked for, at most
/// `SOUND_POOL_MAX` (the store indexes the measured sound only).
const SOUND_POOL_FACTOR: usize = 4;
const SOUND_POOL_MAX: usize = 400;

/// Cosine of two embeddings of the same length; None when either is missing or zero.
fn cosine(a: &[f32], b: &[f32]) -> Option<f32> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    (na > 0.0 && nb > 0.0).then(|| dot / (na * nb))
}
