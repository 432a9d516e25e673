//! The playlist use case: gather candidates for a prompt and seeds, then order them to flow.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::app::recommend::RecommendRequest;
use crate::app::search::{SearchRequest, TOP_K_MAX};
use crate::app::Engine;
use crate::domain::catalog::track::Track;
use crate::domain::playlist::{
    choose, order, transition, Playlist, PlaylistEntry, Target, ASSUMED_SECONDS,
};
use crate::domain::retrieval::filter::Filter;
use crate::error::{CoreError, Result};

pub const LENGTH_MAX: usize = 100;
pub const MINUTES_MAX: f32 = 600.0;
/// Tracks a request may ask to avoid.
pub const AVOID_MAX: usize = 1000;
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaylistRequest {
    /// What the playlist is about, in plain words. `/v1` names the words of every request
    /// `text`; `prompt` is accepted too.
    #[serde(rename = "text", alias = "prompt")]
    pub prompt: Option<String>,
    /// Tracks to build around; they open the playlist.
    pub seed_ids: Vec<String>,
    /// Number of tracks (default 20 when `minutes` is not given).
    #[serde(deserialize_with = "crate::domain::wire::optional_count")]
    pub length: Option<usize>,
    /// Target running time; used instead of `length`.
    pub minutes: Option<f32>,
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub filters: Filter,
    /// A playlist exactly as given: these ids in this order, nothing chosen or reordered
    /// (how a front end exports a playlist its user edited). Not combined with the others.
    pub tracks: Vec<String>,
    /// Title of a playlist given by `tracks`.
    pub title: Option<String>,
    /// An existing playlist to extend: kept as it is, in this order, followed by `length`
    /// (default 10) or `minutes` more tracks that fit it, flowing on from its last track, no
    /// track twice, and no artist or album more often than the playlist's caps allow. `text`
    /// may steer what is added. Not combined with `seed_ids` or `tracks`.
    pub expand: Vec<String>,
    /// Tracks to leave out if the playlist can do without them (played recently, when a saved
    /// playlist is refreshed): left out when at least twice the playlist's length of other
    /// candidates remain, else considered after every other. Never seeds or tracks of
    /// `expand`. At most 1,000.
    pub avoid: Vec<String>,
    /// Let other versions of one song in (live and studio, remasters, edits: the same title
    /// and artist); by default a song comes once.
    pub allow_versions: bool,
}

impl PlaylistRequest {
    pub fn validate(&self) -> Result<()> {
        let prompt = self.prompt.as_deref().map(str::trim).unwrap_or("");
        if !self.tracks.is_empty() {
            if !prompt.is_empty()
                || !self.seed_ids.is_empty()
                || self.length.is_some()
                || self.minutes.is_some()
            {
                return Err(CoreError::invalid(
                    "tracks",
                    "gives the whole playlist; it cannot be combined with text, seed_ids, length or minutes",
                ));
            }
            return crate::error::check_count("tracks", self.tracks.len(), LENGTH_MAX);
        }
        if !self.expand.is_empty() {
            if !self.seed_ids.is_empty() {
                return Err(CoreError::invalid(
                    "expand",
                    "extends the playlist it gives; it cannot be combined with seed_ids",
                ));
            }
            crate::error::check_count("expand", self.expand.len(), LENGTH_MAX)?;
        }
        if prompt.is_empty() && self.seed_ids.is_empty() && self.expand.is_empty() {
            return Err(CoreError::invalid(
                "text",
                "or seed_ids must be given: a playlist needs a theme or seed tracks",
            ));
        }
        if prompt.len() > crate::domain::catalog::limits::QUERY_MAX_BYTES {
            return Err(CoreError::invalid(
                "text",
                format!(
                    "must be at most {} bytes",
                    crate::domain::catalog::limits::QUERY_MAX_BYTES
                ),
            ));
        }
        if self.length.is_some() && self.minutes.is_some() {
            return Err(CoreError::invalid(
                "minutes",
                "cannot be combined with length",
            ));
        }
        if let Some(n) = self.length {
            crate::error::check_count("length", n, LENGTH_MAX)?;
        }
        if let Some(m) = self.minutes {
            if !(m > 0.0 && m <= MINUTES_MAX) {
                return Err(CoreError::invalid(
                    "minutes",
                    format!("must be above 0 and at most {MINUTES_MAX} (got {m})"),
                ));
            }
        }
        if self.avoid.len() > AVOID_MAX {
            return Err(CoreError::invalid(
                "avoid",
                format!(
                    "must hold at most {AVOID_MAX} ids (got {})",
                    self.avoid.len()
                ),
            ));
        }
        if self.seed_ids.len() > crate::app::recommend::SEEDS_MAX {
            return Err(CoreError::invalid(
                "seed_ids",
                format!("must hold at most {} ids", crate::app::recommend::SEEDS_MAX),
            ));
        }
        self.filters.validate()
    }
}

impl Engine {
    pub fn playlist(&self, req: &PlaylistRequest) -> Result<Playlist> {
        req.validate()?;
        if !req.tracks.is_empty() {
            let mut given = Vec::with_capacity(req.tracks.len());
            for (i, id) in req.tracks.iter().enumerate() {
                given.push(self.store().get(id)?.ok_or_else(|| {
                    CoreError::invalid(format!("tracks[{i}]"), format!("unknown track id: {id}"))
                })?);
            }
            let title = req.title.clone().filter(|t| !t.trim().is_empty());
            return Ok(assemble(
                title.unwrap_or_else(|| DEFAULT_TITLE.into()),
                &given,
            ));
        }
        let expanding = !req.expand.is_empty();
        let length = req.length.unwrap_or(if expanding { 10 } else { 20 });
        let mut pool: Vec<Arc<Track>> = Vec::new();
        let mut ids = HashSet::new();
        let (given, field) = if expanding {
            (&req.expand, "expand")
        } else {
            (&req.seed_ids, "seed_ids")
        };
        for id in given {
            let t = self
                .store()
                .get(id)?
                .ok_or_else(|| CoreError::NotFound(format!("{field}: unknown track id: {id}")))?;
            if ids.insert(t.id.clone()) {
                pool.push(t);
            }
        }
        let seeds = pool.len();
        // An extended playlist is recommended from its last tracks: where the flow goes on.
        let seed_ids: Vec<String> = pool
            .iter()
            .skip(seeds.saturating_sub(crate::app::recommend::SEEDS_MAX))
            .map(|t| t.id.clone())
            .collect();
        let prompt = req.prompt.as_deref().map(str::trim).unwrap_or("");
        let mut empty_reason = None;
        if !prompt.is_empty() {
            let resp = self.search(&SearchRequest {
                text: prompt.to_string(),
                filters: req.filters.clone(),
                top_k: TOP_K_MAX,
                ..Default::default()
            })?;
            // The search's reason, without what it did about it (it shows relaxed results;
            // a playlist does not).
            empty_reason = resp
                .empty_reason
                .as_deref()
                .map(|r| r.split("; below").next().unwrap_or(r).to_string());
            for h in resp.hits {
                if ids.insert(h.track.id.clone()) {
                    pool.push(h.track);
                }
            }
        }
        if !seed_ids.is_empty() {
            let recs = self.recommend(&RecommendRequest {
                positive: seed_ids,
                filters: req.filters.clone(),
                top_k: TOP_K_MAX,
                ..Default::default()
            })?;
            for r in recs.hits {
                if ids.insert(r.track.id.clone()) {
                    pool.push(r.track);
                }
            }
        }
        // Tracks to avoid leave the candidates when enough others remain (twice what the
        // playlist needs, so the flow still has choices); otherwise they go to the back.
        if !req.avoid.is_empty() {
            let avoid: HashSet<&str> = req.avoid.iter().map(String::as_str).collect();
            let (mut kept, avoided): (Vec<_>, Vec<_>) = pool
                .drain(seeds..)
                .partition(|t| !avoid.contains(t.id.as_str()));
            let needed = match req.minutes {
                Some(m) => (m * 60.0 / ASSUMED_SECONDS).ceil() as usize,
                None => length,
            };
            if kept.len() < 2 * needed {
                kept.extend(avoided);
            }
            pool.extend(kept);
        }
        // Extending adds to what is there: the target counts the given tracks too.
        let (given_tracks, given_seconds) = if expanding {
            let seconds = pool[..seeds]
                .iter()
                .map(|t| t.metadata.duration.unwrap_or(ASSUMED_SECONDS))
                .sum::<f32>();
            (seeds, seconds)
        } else {
            (0, 0.0)
        };
        let target = match req.minutes {
            Some(m) => Target::Seconds(given_seconds + m * 60.0),
            None => Target::Tracks(given_tracks + length),
        };
        let chosen = choose(&pool, seeds, target, req.allow_versions);
        let vectors: std::collections::HashMap<String, Vec<f32>> = chosen
            .iter()
            .filter(|t| t.metadata.tempo.is_none())
            .filter_map(|t| {
                self.store()
                    .get_embedding(&t.id)
                    .ok()
                    .flatten()
                    .map(|v| (t.id.clone(), v))
            })
            .collect();
        let likeness = |a: &Track, b: &Track| match (vectors.get(&a.id), vectors.get(&b.id)) {
            (Some(x), Some(y)) => x.iter().zip(y).map(|(p, q)| p * q).sum(),
            _ => 0.0,
        };
        let ordered = order(chosen, seeds, &likeness);
        let title = if prompt.is_empty() {
            DEFAULT_TITLE.to_string()
        } else {
            prompt.to_string()
        };
        let mut playlist = assemble(title, &ordered);
        if playlist.entries.is_empty() {
            playlist.empty_reason = Some(empty_reason.unwrap_or_else(|| {
                format!("nothing in the catalog fits \"{prompt}\" with these filters")
            }));
        }
        Ok(playlist)
    }
}

const DEFAULT_TITLE: &str = "Music RAG playlist";

/// Tracks in their final order with positions, transitions and running time.
pub(crate) fn assemble(title: String, ordered: &[Arc<Track>]) -> Playlist {
    let mut entries = Vec::with_capacity(ordered.len());
    let (mut total, mut unknown) = (0.0, 0);
    let mut max_step: Option<f32> = None;
    for (i, t) in ordered.iter().enumerate() {
        match t.metadata.duration {
            Some(d) => total += d,
            None => unknown += 1,
        }
        let transition = (i > 0).then(|| transition(&ordered[i - 1], t));
        if let Some(step) = transition.as_ref().and_then(|tr| tr.tempo_step) {
            max_step = Some(max_step.map_or(step, |m: f32| m.max(step)));
        }
        entries.push(PlaylistEntry {
            position: i + 1,
            track: t.clone(),
            transition,
        });
    }
    Playlist {
        title,
        entries,
        total_seconds: total,
        duration_estimated: unknown > 0,
        unknown_durations: unknown,
        estimated_seconds: total + unknown as f32 * ASSUMED_SECONDS,
        assumed_seconds_each: ASSUMED_SECONDS,
        max_tempo_step: max_step,
        empty_reason: None,
    }
}
