//! Second-stage rerank: a field-aware score over the top fused candidates. Fusion sees only
//! ranks; the reranker looks at which fields the query's words hit (a named title or artist,
//! a genre, mood or instrument the track carries) and at tempo and year preferences.

use crate::domain::catalog::track::Track;
use crate::domain::query::parse::keyword_terms;
use crate::domain::query::text::normalize_term;
use crate::domain::retrieval::filter::{Filter, Range};

/// How many fused candidates the reranker reorders, at least.
pub const RERANK_DEPTH: usize = 40;

/// Weights of the field features, added to the fused score (rank 1 in both lists is 1.0).
const TITLE_WEIGHT: f32 = 0.6;
const ARTIST_WEIGHT: f32 = 0.4;
const FACET_WEIGHT: f32 = 0.5;
const TEMPO_WEIGHT: f32 = 0.2;
const YEAR_WEIGHT: f32 = 0.2;
/// A typo match of a name's word of at most `SHORT_WORD` letters counts for this, against 1.
const SHORT_WORD: usize = 4;
const SHORT_TYPO_WEIGHT: f32 = 0.5;
/// A catalog artist the query names outranks every facet match: names beat vocabulary.
const NAMED_ARTIST_WEIGHT: f32 = 1.0;
/// A work's catalogue number the query names ("Op. 27 No. 2") and the track carries in its
/// title or description names the work as surely as a whole title.
const CATALOGUE_WEIGHT: f32 = 1.0;

/// What the reranker knows of the query.
pub struct RerankQuery {
    words: Vec<String>,
    padded: String,
    tempo: Option<Range>,
    year: Option<Range>,
    /// Catalog artists the query names (as `CatalogNames::artist_named` returns them).
    artists: Vec<String>,
    /// Catalogue numbers the query names, folded ("op27no2", "bwv1007").
    catalogue: Vec<String>,
}

impl RerankQuery {
    /// `text` is the query as typed; `wanted` holds its filters and preferences.
    pub fn new(text: &str, wanted: &Filter) -> Self {
        let normalized = normalize_term(text);
        let catalogue = crate::domain::query::catalogue::fold_catalogue_numbers(&normalized)
            .split_whitespace()
            .map(str::to_string)
            .filter(|w| crate::domain::query::catalogue::is_catalogue_number(w))
            .collect();
        Self {
            catalogue,
            words: keyword_terms(&normalized),
            padded: format!(
                " {} ",
                normalized
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            tempo: wanted.tempo,
            year: wanted.year,
            artists: Vec::new(),
        }
    }

    /// Whether the query names a work by its catalogue number.
    pub fn names_catalogue_number(&self) -> bool {
        !self.catalogue.is_empty()
    }

    /// Tracks by these artists (as the parser named them) get the named-artist bonus.
    pub fn with_artists(mut self, artists: &[String]) -> Self {
        self.artists = artists.to_vec();
        self
    }

    /// How well the query holds a word: 1 exactly or with a typo in a long word, less with a
    /// typo in a short one (one edit in four letters is weak evidence: "good" is not "Gold"),
    /// 0 not at all.
    fn word_weight(&self, w: &str) -> f32 {
        self.words
            .iter()
            .filter_map(|q| crate::domain::query::text::word_match(q, w))
            .map(|m| match m {
                crate::domain::query::text::WordMatch::Typo if w.chars().count() <= SHORT_WORD => {
                    SHORT_TYPO_WEIGHT
                }
                _ => 1.0,
            })
            .fold(0.0, f32::max)
    }

    /// Share of a name's words the query holds, squared so a whole name beats a part.
    fn name_cover(&self, name: &str) -> f32 {
        let ws = keyword_terms(&normalize_term(&crate::domain::query::names::unstylize(
            name,
        )));
        if ws.is_empty() {
            return 0.0;
        }
        let hit: f32 = ws.iter().map(|w| self.word_weight(w)).sum();
        (hit / ws.len() as f32).powi(2)
    }

    /// Share of the query's words found in the track's genres, moods, instruments and tags; a
    /// word found only among what the sound model heard counts by the model's confidence, so
    /// the surest "piano" comes first.
    fn facet_cover(&self, t: &Track) -> f32 {
        if self.words.is_empty() {
            return 0.0;
        }
        let m = &t.metadata;
        let stated = m
            .genre
            .iter()
            .chain(m.subgenre.iter())
            .chain(m.mood.iter())
            .chain(m.instrumentation.iter())
            .chain(t.tags.iter())
            .map(|v| (v.as_str(), 1.0f32));
        let heard = t
            .audio
            .iter()
            .flat_map(|a| a.heard.iter())
            .map(|h| (h.word.as_str(), h.confidence.clamp(0.0, 1.0)));
        let mut covered: Vec<(&str, f32)> = Vec::new();
        for (v, weight) in stated.chain(heard) {
            let v = normalize_term(v);
            if v.is_empty() || !self.padded.contains(&format!(" {v} ")) {
                continue;
            }
            for w in self.words.iter().filter(|w| v.split(' ').any(|x| x == *w)) {
                match covered.iter_mut().find(|(c, _)| *c == w.as_str()) {
                    Some((_, best)) => *best = best.max(weight),
                    None => covered.push((w, weight)),
                }
            }
        }
        covered.iter().map(|(_, weight)| weight).sum::<f32>() / self.words.len() as f32
    }

    /// Whether the query names this track: most of its title's words and of its artist's are
    /// in it (typos allowed), as in "bohemian rapsody queen".
    pub fn names_track(&self, t: &Track) -> bool {
        self.name_cover(t.name_title()) >= 0.4 && self.name_cover(&t.artist) >= 0.4
    }

    /// The field bonus of one track.
    pub fn bonus(&self, t: &Track) -> f32 {
        let named = self
            .artists
            .iter()
            .any(|a| crate::domain::query::names::credits(&t.artist, a));
        let mut b = if named { NAMED_ARTIST_WEIGHT } else { 0.0 };
        b += TITLE_WEIGHT * self.name_cover(t.name_title())
            + ARTIST_WEIGHT * self.name_cover(&t.artist)
            + FACET_WEIGHT * self.facet_cover(t);
        if let (Some(r), Some(v)) = (self.tempo, t.metadata.tempo) {
            if r.contains(v) {
                b += TEMPO_WEIGHT;
            }
        }
        if let (Some(r), Some(y)) = (self.year, t.year) {
            if r.contains(y as f32) {
                b += YEAR_WEIGHT;
            }
        }
        if !self.catalogue.is_empty() {
            let carried = format!(
                "{} {}",
                t.title,
                t.description.as_deref().unwrap_or_default()
            )
            .to_lowercase();
            let carries = carried
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| self.catalogue.iter().any(|c| c == w));
            if carries {
                b += CATALOGUE_WEIGHT;
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::track::Metadata;

    fn track(title: &str, artist: &str, genre: &str, moods: &[&str]) -> Track {
        Track {
            title: title.into(),
            artist: artist.into(),
            metadata: Metadata {
                genre: Some(genre.into()),
                mood: moods.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn named_titles_and_artists_outscore_partial_ones() {
        let q = RerankQuery::new("jacksn 5 abc", &Filter::default());
        let abc = track("ABC", "The Jackson 5", "pop", &[]);
        let other = track("I Want You Back", "The Jackson 5", "pop", &[]);
        let stranger = track("Five Magics", "Megadeth", "metal", &[]);
        assert!(q.bonus(&abc) > q.bonus(&other));
        assert!(q.bonus(&other) > q.bonus(&stranger));
    }

    #[test]
    fn facets_the_query_names_count() {
        let q = RerankQuery::new("sad jazz", &Filter::default());
        let both = track("x", "y", "jazz", &["sad"]);
        let one = track("x", "y", "jazz", &["happy"]);
        assert!((q.facet_cover(&both) - 1.0).abs() < 1e-6);
        assert!((q.facet_cover(&one) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn tempo_and_year_preferences_add() {
        let wanted = Filter {
            tempo: Some(Range::new(Some(120.0), Some(130.0))),
            ..Default::default()
        };
        let q = RerankQuery::new("", &wanted);
        let mut t = track("x", "y", "z", &[]);
        assert_eq!(q.bonus(&t), 0.0);
        t.metadata.tempo = Some(125.0);
        assert!((q.bonus(&t) - TEMPO_WEIGHT).abs() < 1e-6);
    }
}
