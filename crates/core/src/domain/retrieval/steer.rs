//! Steering a sounds-like search with words that compare ("like this but calmer", "faster",
//! "darker"): each steer names a measured quality of the sound and a direction from the seed.
//! Candidates that moved that way from the seed are ranked by how far, and that ranking is
//! blended with the sound-alike ranking, so the words really move the result.

use crate::domain::catalog::audio::AudioFeatures;
use crate::domain::query::text::normalize_term;

/// A measured quality of the sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    /// Loudness and how busy the onsets are.
    Energy,
    /// Beats per minute.
    Tempo,
    /// Spectral centroid: where the sound's weight sits.
    Brightness,
}

/// One steer: a quality, more of it (`up`) or less.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steer {
    pub quality: Quality,
    pub up: bool,
}

const WORDS: &[(&str, Quality, bool)] = &[
    ("calmer", Quality::Energy, false),
    ("calm", Quality::Energy, false),
    ("softer", Quality::Energy, false),
    ("quieter", Quality::Energy, false),
    ("gentler", Quality::Energy, false),
    ("mellower", Quality::Energy, false),
    ("relaxed", Quality::Energy, false),
    ("louder", Quality::Energy, true),
    ("harder", Quality::Energy, true),
    ("heavier", Quality::Energy, true),
    ("wilder", Quality::Energy, true),
    ("energetic", Quality::Energy, true),
    ("intense", Quality::Energy, true),
    ("faster", Quality::Tempo, true),
    ("quicker", Quality::Tempo, true),
    ("slower", Quality::Tempo, false),
    ("brighter", Quality::Brightness, true),
    ("darker", Quality::Brightness, false),
    ("warmer", Quality::Brightness, false),
];

/// The steers a text asks for, and whether the text says nothing else (then it is not also
/// searched as a description).
pub fn steers_in(text: &str) -> (Vec<Steer>, bool) {
    let t = normalize_term(text);
    let words: Vec<&str> = t
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut steers: Vec<Steer> = Vec::new();
    let mut other = false;
    for w in &words {
        match WORDS.iter().find(|(s, _, _)| s == w) {
            Some((_, quality, up)) => {
                let s = Steer {
                    quality: *quality,
                    up: *up,
                };
                if !steers.contains(&s) {
                    steers.push(s);
                }
            }
            None => {
                other |= !matches!(
                    *w,
                    "but"
                        | "a"
                        | "bit"
                        | "more"
                        | "less"
                        | "and"
                        | "little"
                        | "much"
                        | "slightly"
                        | "somewhat"
                        | "like"
                        | "this"
                        | "that"
                        | "it"
                );
            }
        }
    }
    (steers, !other)
}

/// The quality's value in a track's analysis.
pub fn measure(f: &AudioFeatures, q: Quality) -> Option<f32> {
    match q {
        // Decibels, plus onsets per second weighted so a busy track counts as energetic.
        Quality::Energy => Some(f.loudness_dbfs + 3.0 * f.onset_density),
        Quality::Tempo => f.tempo_bpm,
        Quality::Brightness => Some(f.spectral_centroid_hz),
    }
    .filter(|v| v.is_finite())
}

/// For each candidate, its steer ranking score in `[0, 1]`: candidates that moved from the
/// seed in every asked direction, the farthest first (averaged over the steers); those that
/// did not move that way score 0.
pub fn steer_scores(
    seed: &AudioFeatures,
    candidates: &[Option<&AudioFeatures>],
    steers: &[Steer],
) -> Vec<f32> {
    let mut scores = vec![0.0f32; candidates.len()];
    if steers.is_empty() {
        return scores;
    }
    for s in steers {
        let Some(from) = measure(seed, s.quality) else {
            continue;
        };
        let mut moved: Vec<(usize, f32)> = candidates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let v = measure((*c)?, s.quality)?;
                let d = if s.up { v - from } else { from - v };
                (d > 0.0).then_some((i, d))
            })
            .collect();
        moved.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let n = moved.len() as f32;
        for (rank, (i, _)) in moved.iter().enumerate() {
            scores[*i] += (1.0 - rank as f32 / n.max(1.0)) / steers.len() as f32;
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(loudness: f32, tempo: f32) -> AudioFeatures {
        AudioFeatures {
            loudness_dbfs: loudness,
            tempo_bpm: Some(tempo),
            ..Default::default()
        }
    }

    #[test]
    fn words_name_steers_and_only_moves_that_way_score() {
        let (s, only) = steers_in("but calmer");
        assert_eq!(
            s,
            [Steer {
                quality: Quality::Energy,
                up: false
            }]
        );
        assert!(only);
        let (s, only) = steers_in("faster jazz");
        assert_eq!(
            s,
            [Steer {
                quality: Quality::Tempo,
                up: true
            }]
        );
        assert!(!only);
        let seed = features(-10.0, 120.0);
        let quieter = features(-20.0, 120.0);
        let a_bit_quieter = features(-12.0, 120.0);
        let louder = features(-5.0, 120.0);
        let cands = [Some(&louder), Some(&a_bit_quieter), Some(&quieter), None];
        let scores = steer_scores(&seed, &cands, &steers_in("calmer").0);
        assert_eq!(scores[0], 0.0);
        assert!(scores[2] > scores[1] && scores[1] > 0.0, "{scores:?}");
        assert_eq!(scores[3], 0.0);
    }
}
