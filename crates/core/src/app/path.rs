//! Song paths: from one track to another in a given number of steps, each a small move in
//! meaning (and in sound, when both ends were analysed), starting at the first track and
//! ending at the second. Each step aims at a point on the straight line between the two
//! tracks' vectors and takes the nearest unused track there; the same walk serves the
//! OpenSubsonic `findSonicPath` to come.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::app::playlist::assemble;
use crate::app::Engine;
use crate::domain::catalog::audio::AUDIO_VECTOR_DIM;
use crate::domain::catalog::track::Track;
use crate::domain::playlist::{song_key, Playlist};
use crate::domain::retrieval::filter::Filter;
use crate::domain::retrieval::vector::{dot, normalized};
use crate::error::{CoreError, Result};

/// The most tracks a path may hold, ends included.
pub const PATH_LENGTH_MAX: usize = 50;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathRequest {
    /// The track the path starts at.
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, min_length = 1, pattern = r"\S")
    )]
    pub from: String,
    /// The track the path ends at (another than `from`).
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, min_length = 1, pattern = r"\S")
    )]
    pub to: String,
    /// Tracks in the path, both ends included (2-50).
    #[cfg_attr(feature = "openapi", schema(minimum = 2, maximum = 50))]
    #[serde(deserialize_with = "crate::domain::wire::count")]
    pub length: usize,
    /// Only tracks passing these filters make the steps between the ends.
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub filters: Filter,
}

impl Default for PathRequest {
    fn default() -> Self {
        Self {
            from: String::new(),
            to: String::new(),
            length: 8,
            filters: Filter::default(),
        }
    }
}

impl PathRequest {
    pub fn validate(&self) -> Result<()> {
        for (field, id) in [("from", &self.from), ("to", &self.to)] {
            if id.trim().is_empty() {
                return Err(CoreError::invalid(field, "must name a track id"));
            }
        }
        if self.from == self.to {
            return Err(CoreError::invalid("to", "must differ from `from`"));
        }
        if !(2..=PATH_LENGTH_MAX).contains(&self.length) {
            return Err(CoreError::invalid(
                "length",
                format!("must be between 2 and {PATH_LENGTH_MAX}"),
            ));
        }
        self.filters.validate()
    }
}

/// A usable audio vector of a track.
pub(crate) fn audio_vector(t: &Track) -> Option<Vec<f32>> {
    t.audio
        .as_ref()
        .map(|a| a.vector.clone())
        .filter(|v| v.len() == AUDIO_VECTOR_DIM && v.iter().any(|x| *x != 0.0))
}

/// The point `f` of the way from `a` to `b`, at unit length.
fn between(a: &[f32], b: &[f32], f: f32) -> Vec<f32> {
    normalized(
        a.iter()
            .zip(b)
            .map(|(x, y)| x * (1.0 - f) + y * f)
            .collect(),
    )
}

impl Engine {
    /// A path of `length` tracks from `from` to `to`.
    pub fn path(&self, req: &PathRequest) -> Result<Playlist> {
        req.validate()?;
        let end = |field: &str, id: &str| -> Result<(Arc<Track>, Vec<f32>)> {
            let t = self
                .store()
                .get(id)?
                .ok_or_else(|| CoreError::NotFound(format!("{field}: unknown track id: {id}")))?;
            let v = self.store().get_embedding(id)?.ok_or_else(|| {
                CoreError::Unavailable(format!("{field}: track {id} has no stored vector"))
            })?;
            Ok((t, v))
        };
        let (first, text_a) = end("from", &req.from)?;
        let (last, text_b) = end("to", &req.to)?;
        // Sound counts when both ends were analysed; meaning always does.
        let sound = audio_vector(&first).zip(audio_vector(&last));
        let mut used: HashSet<String> = [song_key(&first), song_key(&last)].into();
        let mut path = vec![first.clone()];
        let steps = req.length - 1;
        let pool = (req.length * 3).max(20);
        for i in 1..steps {
            let f = i as f32 / steps as f32;
            let text_target = between(&text_a, &text_b, f);
            let mut ids: Vec<String> = self
                .store()
                .dense_search(&text_target, &req.filters, pool)?
                .into_iter()
                .map(|c| c.id)
                .collect();
            let sound_target = sound.as_ref().map(|(a, b)| between(a, b, f));
            if let Some(target) = &sound_target {
                ids.extend(
                    self.store()
                        .audio_search(target, &req.filters, pool)?
                        .into_iter()
                        .map(|c| c.id),
                );
            }
            let mut best: Option<(f32, Arc<Track>)> = None;
            for id in ids {
                let Some(t) = self.store().get(&id)? else {
                    continue;
                };
                if used.contains(&song_key(&t)) {
                    continue;
                }
                let Some(text) = self.store().get_embedding(&id)? else {
                    continue;
                };
                let mut score = dot(&text, &text_target);
                if let Some(target) = &sound_target {
                    // Half meaning, half sound; a track never analysed scores no sound.
                    let heard = audio_vector(&t).map_or(0.0, |v| dot(&normalized(v), target));
                    score = 0.5 * score + 0.5 * heard;
                }
                if best.as_ref().is_none_or(|(s, _)| score > *s) {
                    best = Some((score, t));
                }
            }
            let Some((_, next)) = best else {
                break;
            };
            used.insert(song_key(&next));
            path.push(next);
        }
        path.push(last.clone());
        Ok(assemble(
            format!("From {} to {}", first.title, last.title),
            &path,
        ))
    }
}
