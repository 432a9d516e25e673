//! "More like these, less like those": recommendations from seed tracks' vectors.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::app::search::TOP_K_MAX;
use crate::app::Engine;
use crate::domain::catalog::audio::AudioFeatures;
use crate::domain::catalog::track::Track;
use crate::domain::retrieval::filter::Filter;
use crate::domain::retrieval::fusion::rank_share;
use crate::domain::retrieval::steer::{steer_scores, steers_in};
use crate::domain::retrieval::vector::{dot, normalized};
use crate::error::{CoreError, Result};

pub const SEEDS_MAX: usize = 50;
/// How much a negative seed's likeness counts against a candidate.
const NEGATIVE_WEIGHT: f32 = 0.5;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendRequest {
    /// Ids of tracks to find more like (1-50).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
    pub positive: Vec<String>,
    /// Ids of tracks to steer away from (0-50).
    pub negative: Vec<String>,
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub filters: Filter,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100))]
    #[serde(deserialize_with = "crate::domain::wire::count")]
    pub top_k: usize,
    /// Words that compare ("but calmer", "faster", "darker") steer the result from the
    /// positive seeds' measured sound (their mean tempo, energy, brightness): tracks that moved
    /// the asked way rise, the farthest first. Other words are not read here (search reads
    /// them). At most 2,048 bytes.
    pub text: Option<String>,
}

impl Default for RecommendRequest {
    fn default() -> Self {
        Self {
            positive: Vec::new(),
            negative: Vec::new(),
            filters: Filter::default(),
            top_k: 10,
            text: None,
        }
    }
}

impl RecommendRequest {
    pub fn validate(&self) -> Result<()> {
        if self.positive.is_empty() {
            return Err(CoreError::invalid(
                "positive",
                "must name at least one track id",
            ));
        }
        for (field, ids) in [("positive", &self.positive), ("negative", &self.negative)] {
            if ids.len() > SEEDS_MAX {
                return Err(CoreError::invalid(
                    field,
                    format!("must hold at most {SEEDS_MAX} ids (got {})", ids.len()),
                ));
            }
        }
        if let Some(id) = self.positive.iter().find(|id| self.negative.contains(id)) {
            return Err(CoreError::invalid(
                "negative",
                format!("must not repeat a positive id ({id})"),
            ));
        }
        crate::error::check_count("top_k", self.top_k, TOP_K_MAX)?;
        if let Some(t) = &self.text {
            if t.len() > crate::domain::catalog::limits::QUERY_MAX_BYTES {
                return Err(CoreError::invalid(
                    "text",
                    format!(
                        "must be at most {} bytes",
                        crate::domain::catalog::limits::QUERY_MAX_BYTES
                    ),
                ));
            }
        }
        self.filters.validate()
    }
}

/// The seeds' sound as one: the mean of each quality a steer reads, over the seeds that were
/// analysed.
fn mean_sound(seeds: &[AudioFeatures]) -> Option<AudioFeatures> {
    if seeds.is_empty() {
        return None;
    }
    let n = seeds.len() as f32;
    let tempos: Vec<f32> = seeds.iter().filter_map(|a| a.tempo_bpm).collect();
    Some(AudioFeatures {
        loudness_dbfs: seeds.iter().map(|a| a.loudness_dbfs).sum::<f32>() / n,
        onset_density: seeds.iter().map(|a| a.onset_density).sum::<f32>() / n,
        spectral_centroid_hz: seeds.iter().map(|a| a.spectral_centroid_hz).sum::<f32>() / n,
        tempo_bpm: (!tempos.is_empty()).then(|| tempos.iter().sum::<f32>() / tempos.len() as f32),
        ..Default::default()
    })
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    #[cfg_attr(feature = "openapi", schema(value_type = Track))]
    pub track: Arc<Track>,
    /// Mean likeness to the positive seeds minus half the likeness to the closest negative;
    /// text and audio likeness averaged when the seeds and the track have audio. With words
    /// that compare (`text`), a fused rank score: half the likeness rank, half how far the
    /// track moved the asked ways.
    pub score: f32,
    /// The positive seed this track is most like in meaning.
    pub closest_seed: String,
    pub closest_similarity: f32,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct RecommendResponse {
    pub hits: Vec<Recommendation>,
}

impl Engine {
    /// Every seed's vector, or a not-found error naming all unknown ids.
    fn seed_vectors(&self, field: &str, ids: &[String]) -> Result<Vec<(String, Vec<f32>)>> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            match self.store().get_embedding(id)? {
                Some(v) => found.push((id.clone(), v)),
                None => missing.push(id.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(CoreError::NotFound(format!(
                "{field}: unknown track ids: {}",
                missing.join(", ")
            )));
        }
        Ok(found)
    }

    /// Tracks like the positive seeds and unlike the negative ones; seeds are never returned.
    pub fn recommend(&self, req: &RecommendRequest) -> Result<RecommendResponse> {
        req.validate()?;
        let positive = self.seed_vectors("positive", &req.positive)?;
        let negative = self.seed_vectors("negative", &req.negative)?;
        let dim = positive[0].1.len();
        let mut centre = vec![0.0f32; dim];
        for (_, v) in &positive {
            centre
                .iter_mut()
                .zip(v)
                .for_each(|(c, x)| *c += x / positive.len() as f32);
        }
        for (_, v) in &negative {
            centre
                .iter_mut()
                .zip(v)
                .for_each(|(c, x)| *c -= NEGATIVE_WEIGHT * x / negative.len() as f32);
        }
        let centre = normalized(centre);
        let seeds = positive.len() + negative.len();
        let k = crate::app::search::candidates_for(req.top_k) + seeds;
        let mut candidates: Vec<String> = self
            .store()
            .dense_search(&centre, &req.filters, k)?
            .into_iter()
            .map(|c| c.id)
            .collect();
        // Audio vectors join when the seeds have them: the sound is half the likeness.
        let audio_of = |ids: &[String]| -> Result<Vec<Vec<f32>>> {
            let mut out = Vec::new();
            for id in ids {
                if let Some(a) = self.store().get(id)?.and_then(|t| t.audio.clone()) {
                    out.push(a.vector);
                }
            }
            Ok(out)
        };
        let audio_positive = audio_of(&req.positive)?;
        let audio_negative = audio_of(&req.negative)?;
        if !audio_positive.is_empty() {
            let mut c = vec![0.0f32; audio_positive[0].len()];
            for v in &audio_positive {
                c.iter_mut().zip(v).for_each(|(x, y)| *x += y);
            }
            for c in self.store().audio_search(&normalized(c), &req.filters, k)? {
                if !candidates.contains(&c.id) {
                    candidates.push(c.id);
                }
            }
        }
        let likeness = |v: &[f32], pos: &[&[f32]], neg: &[&[f32]]| -> (f32, usize, f32) {
            let sims: Vec<f32> = pos.iter().map(|p| dot(v, p)).collect();
            let (best, best_sim) = sims
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, s)| (i, *s))
                .unwrap_or((0, 0.0));
            let mean = sims.iter().sum::<f32>() / sims.len().max(1) as f32;
            let against = neg.iter().map(|n| dot(v, n)).fold(0.0f32, f32::max);
            (mean - NEGATIVE_WEIGHT * against, best, best_sim)
        };
        let text_pos: Vec<&[f32]> = positive.iter().map(|(_, v)| v.as_slice()).collect();
        let text_neg: Vec<&[f32]> = negative.iter().map(|(_, v)| v.as_slice()).collect();
        let audio_pos: Vec<&[f32]> = audio_positive.iter().map(Vec::as_slice).collect();
        let audio_neg: Vec<&[f32]> = audio_negative.iter().map(Vec::as_slice).collect();
        let mut hits = Vec::new();
        for id in candidates {
            if req.positive.contains(&id) || req.negative.contains(&id) {
                continue;
            }
            let (Some(v), Some(track)) = (self.store().get_embedding(&id)?, self.store().get(&id)?)
            else {
                continue;
            };
            let (text_score, best, best_sim) = likeness(&v, &text_pos, &text_neg);
            let score = match (&track.audio, audio_pos.is_empty()) {
                (Some(a), false) => {
                    0.5 * text_score + 0.5 * likeness(&a.vector, &audio_pos, &audio_neg).0
                }
                _ => text_score,
            };
            hits.push(Recommendation {
                track,
                score,
                closest_seed: positive[best].0.clone(),
                closest_similarity: best_sim,
            });
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.track.id.cmp(&b.track.id))
        });
        // Words that compare move the list: half of each score becomes how far the track moved
        // from the seeds' sound the asked ways (as a sounds-like search is steered).
        let steers = req
            .text
            .as_deref()
            .map(|t| steers_in(t).0)
            .unwrap_or_default();
        let seed_sounds: Vec<AudioFeatures> = req
            .positive
            .iter()
            .filter_map(|id| self.store().get(id).ok().flatten())
            .filter_map(|t| t.audio.clone())
            .collect();
        if let (false, Some(from)) = (steers.is_empty(), mean_sound(&seed_sounds)) {
            let sounds: Vec<Option<&AudioFeatures>> =
                hits.iter().map(|h| h.track.audio.as_ref()).collect();
            let moved = steer_scores(&from, &sounds, &steers);
            let rescored: Vec<f32> = moved
                .iter()
                .enumerate()
                .map(|(i, m)| 0.5 * rank_share(i) + 0.5 * m * rank_share(0))
                .collect();
            for (h, s) in hits.iter_mut().zip(rescored) {
                h.score = s;
            }
            hits.sort_by(|a, b| {
                b.score
                    .total_cmp(&a.score)
                    .then(a.track.id.cmp(&b.track.id))
            });
        }
        hits.truncate(req.top_k);
        Ok(RecommendResponse { hits })
    }
}
