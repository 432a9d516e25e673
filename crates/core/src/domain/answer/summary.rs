//! What a set of results shares, in a sentence: the offline explanation summary.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::catalog::track::Track;
use crate::domain::query::text::normalize_term;

/// Who wrote a results summary.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryAuthor {
    Offline,
    Model,
}

/// A short summary of what the results share.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultsSummary {
    pub text: String,
    pub written_by: SummaryAuthor,
    /// Why the model could not write it, when it was asked to and the offline summary stands in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
}

/// Values held by at least half of the tracks (and by two or more), most common first, spelled
/// as the first track that holds them spells them.
fn shared<'a>(values: impl Iterator<Item = Vec<&'a str>>, n: usize, max: usize) -> Vec<String> {
    let mut counts: HashMap<String, (usize, usize, &'a str)> = HashMap::new();
    for (order, vs) in values.enumerate() {
        let mut seen: Vec<String> = Vec::new();
        for v in vs {
            let key = normalize_term(v);
            if key.is_empty() || seen.contains(&key) {
                continue;
            }
            seen.push(key.clone());
            counts.entry(key).or_insert((0, order, v)).0 += 1;
        }
    }
    let mut common: Vec<(usize, usize, &str)> = counts
        .into_values()
        .filter(|(c, _, _)| *c >= 2 && *c * 2 >= n)
        .collect();
    common.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    common
        .into_iter()
        .take(max)
        .map(|(_, _, v)| v.to_string())
        .collect()
}

fn fmt_number(v: f32) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Offline: the genres, moods, instruments and artists most of the tracks share, and their
/// tempo and year spans. Every value comes from the tracks themselves.
pub fn summarize(tracks: &[&Track]) -> String {
    let n = tracks.len();
    if n == 0 {
        return "No tracks matched.".into();
    }
    if n == 1 {
        // One hit shares nothing with anything: say what it is instead.
        let t = tracks[0];
        return format!("One track matched: \"{}\" by {}.", t.title, t.artist);
    }
    let mut parts = Vec::new();
    let genres = shared(
        tracks.iter().map(|t| {
            t.metadata
                .genre
                .iter()
                .chain(t.metadata.subgenre.iter())
                .map(String::as_str)
                .collect()
        }),
        n,
        2,
    );
    if !genres.is_empty() {
        parts.push(format!("genre {}", genres.join(", ")));
    }
    let moods = shared(
        tracks
            .iter()
            .map(|t| t.metadata.mood.iter().map(String::as_str).collect()),
        n,
        3,
    );
    if !moods.is_empty() {
        parts.push(format!("mood {}", moods.join(", ")));
    }
    let instruments = shared(
        tracks.iter().map(|t| {
            t.metadata
                .instrumentation
                .iter()
                .map(String::as_str)
                .collect()
        }),
        n,
        3,
    );
    if !instruments.is_empty() {
        parts.push(format!("instruments {}", instruments.join(", ")));
    }
    let artists = shared(tracks.iter().map(|t| vec![t.artist.as_str()]), n, 2);
    let artists: Vec<String> = artists
        .into_iter()
        .filter(|a| !crate::domain::catalog::track::is_placeholder_artist(a))
        .collect();
    if !artists.is_empty() {
        parts.push(format!("artist {}", artists.join(", ")));
    }
    let tempos: Vec<f32> = tracks.iter().filter_map(|t| t.metadata.tempo).collect();
    if tempos.len() >= 2 && tempos.len() * 2 >= n {
        let lo = tempos.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = tempos.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        parts.push(if hi - lo < 0.05 {
            format!("tempo {} BPM", fmt_number(lo))
        } else {
            format!("tempo {}-{} BPM", fmt_number(lo), fmt_number(hi))
        });
    }
    let years: Vec<i32> = tracks.iter().filter_map(|t| t.year).collect();
    if years.len() >= 2 && years.len() * 2 >= n {
        let lo = years.iter().min().copied().unwrap_or_default();
        let hi = years.iter().max().copied().unwrap_or_default();
        parts.push(if lo == hi {
            format!("year {lo}")
        } else {
            format!("years {lo}-{hi}")
        });
    }
    if parts.is_empty() {
        "The results share no genre, mood or instrument.".into()
    } else {
        format!("Most results share {}.", parts.join("; "))
    }
}

/// A number as answers print it: whole numbers without decimals.
pub(crate) fn number(v: f32) -> String {
    fmt_number(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::track::Metadata;

    fn track(genre: &str, moods: &[&str], tempo: Option<f32>) -> Track {
        Track {
            id: genre.into(),
            title: "t".into(),
            artist: "Unknown artist".into(),
            metadata: Metadata {
                genre: Some(genre.into()),
                mood: moods.iter().map(|s| s.to_string()).collect(),
                tempo,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn names_what_most_tracks_share() {
        let a = track("Jazz", &["calm", "warm"], Some(90.0));
        let b = track("jazz", &["calm"], Some(104.5));
        let c = track("rock", &["angry"], None);
        let s = summarize(&[&a, &b, &c]);
        assert_eq!(
            s,
            "Most results share genre Jazz; mood calm; tempo 90-104.5 BPM."
        );
    }

    #[test]
    fn a_single_hit_is_named_not_compared() {
        let a = track("jazz", &[], None);
        assert!(summarize(&[&a]).starts_with("One track matched: "));
    }

    #[test]
    fn says_so_when_nothing_is_shared() {
        let a = track("jazz", &[], None);
        let b = track("rock", &[], None);
        assert_eq!(
            summarize(&[&a, &b]),
            "The results share no genre, mood or instrument."
        );
        assert_eq!(summarize(&[]), "No tracks matched.");
    }
}
