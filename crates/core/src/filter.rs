//! Metadata filters, applied inside retrieval: every hit satisfies every filter.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::track::Track;

/// Lower-cases and folds separators so "Hip-Hop", "hip_hop" and "hip hop" compare equal.
pub fn normalize_term(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_' || c == '/')
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// An inclusive numeric range; either end may be open.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min: Option<f32>,
    pub max: Option<f32>,
}

impl Range {
    pub fn new(min: Option<f32>, max: Option<f32>) -> Self {
        Self { min, max }
    }

    pub fn contains(&self, v: f32) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }

    /// The overlap of two ranges (both must hold).
    pub fn intersect(self, other: Range) -> Range {
        let pick = |a: Option<f32>, b: Option<f32>, f: fn(f32, f32) -> f32| match (a, b) {
            (Some(x), Some(y)) => Some(f(x, y)),
            (x, y) => x.or(y),
        };
        Range {
            min: pick(self.min, other.min, f32::max),
            max: pick(self.max, other.max, f32::min),
        }
    }

    /// Parses "90-120", "90-", "-120" or "100".
    pub fn parse(field: &str, s: &str) -> Result<Range> {
        let bad = || {
            CoreError::invalid(
                field,
                format!("must be a range like 90-120, 90- or -120 (got {s:?})"),
            )
        };
        let num = |t: &str| -> Result<Option<f32>> {
            let t = t.trim();
            if t.is_empty() {
                Ok(None)
            } else {
                t.parse::<f32>().map(Some).map_err(|_| bad())
            }
        };
        let range = match s.split_once('-') {
            Some((a, b)) => Range::new(num(a)?, num(b)?),
            None => {
                let v = num(s)?.ok_or_else(bad)?;
                Range::new(Some(v), Some(v))
            }
        };
        range.validate(field)?;
        Ok(range)
    }

    pub fn validate(&self, field: &str) -> Result<()> {
        if let (Some(a), Some(b)) = (self.min, self.max) {
            if a > b {
                return Err(CoreError::invalid(
                    field,
                    format!("minimum {a} must not exceed maximum {b}"),
                ));
            }
        }
        if self.min.is_some_and(|v| !v.is_finite()) || self.max.is_some_and(|v| !v.is_finite()) {
            return Err(CoreError::invalid(field, "bounds must be finite numbers"));
        }
        Ok(())
    }
}

/// Constraints on metadata. Lists mean "any of"; different fields must all hold.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    pub genres: Vec<String>,
    pub moods: Vec<String>,
    pub instruments: Vec<String>,
    /// Instruments a track must not have ("without vocals").
    pub exclude_instruments: Vec<String>,
    pub origins: Vec<String>,
    pub eras: Vec<String>,
    pub keys: Vec<String>,
    pub tempo: Option<Range>,
    pub year: Option<Range>,
    pub live: Option<bool>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Both filters must hold: lists of the same field are intersected when both are set.
    pub fn and(mut self, other: &Filter) -> Filter {
        fn merge(a: &mut Vec<String>, b: &[String]) {
            if a.is_empty() {
                a.extend_from_slice(b);
            } else if !b.is_empty() {
                let bn: Vec<String> = b.iter().map(|s| normalize_term(s)).collect();
                a.retain(|x| bn.contains(&normalize_term(x)));
                if a.is_empty() {
                    // Disjoint "any of" lists can match nothing; keep an impossible term.
                    a.push("\u{0}".into());
                }
            }
        }
        merge(&mut self.genres, &other.genres);
        merge(&mut self.moods, &other.moods);
        merge(&mut self.instruments, &other.instruments);
        merge(&mut self.origins, &other.origins);
        merge(&mut self.eras, &other.eras);
        merge(&mut self.keys, &other.keys);
        for e in &other.exclude_instruments {
            if !self.exclude_instruments.contains(e) {
                self.exclude_instruments.push(e.clone());
            }
        }
        self.tempo = match (self.tempo, other.tempo) {
            (Some(a), Some(b)) => Some(a.intersect(b)),
            (a, b) => a.or(b),
        };
        self.year = match (self.year, other.year) {
            (Some(a), Some(b)) => Some(a.intersect(b)),
            (a, b) => a.or(b),
        };
        self.live = self.live.or(other.live);
        self
    }

    /// Either filter's preferences: lists are joined ("any of" grows), ranges kept from `self`
    /// first.
    pub fn union(mut self, other: &Filter) -> Filter {
        fn join(a: &mut Vec<String>, b: &[String]) {
            for x in b {
                if !a.iter().any(|y| normalize_term(y) == normalize_term(x)) {
                    a.push(x.clone());
                }
            }
        }
        join(&mut self.genres, &other.genres);
        join(&mut self.moods, &other.moods);
        join(&mut self.instruments, &other.instruments);
        join(&mut self.exclude_instruments, &other.exclude_instruments);
        join(&mut self.origins, &other.origins);
        join(&mut self.eras, &other.eras);
        join(&mut self.keys, &other.keys);
        self.tempo = self.tempo.or(other.tempo);
        self.year = self.year.or(other.year);
        self.live = self.live.or(other.live);
        self
    }

    /// One filter per constrained field (the parts that together make this one).
    pub fn split_fields(&self) -> Vec<Filter> {
        type ListField = fn(&mut Filter) -> &mut Vec<String>;
        let lists: [(&Vec<String>, ListField); 7] = [
            (&self.genres, |f| &mut f.genres),
            (&self.moods, |f| &mut f.moods),
            (&self.instruments, |f| &mut f.instruments),
            (&self.exclude_instruments, |f| &mut f.exclude_instruments),
            (&self.origins, |f| &mut f.origins),
            (&self.eras, |f| &mut f.eras),
            (&self.keys, |f| &mut f.keys),
        ];
        let mut out = Vec::new();
        for (values, slot) in lists {
            if !values.is_empty() {
                let mut f = Filter::default();
                *slot(&mut f) = values.clone();
                out.push(f);
            }
        }
        if self.tempo.is_some() {
            out.push(Filter {
                tempo: self.tempo,
                ..Default::default()
            });
        }
        if self.year.is_some() {
            out.push(Filter {
                year: self.year,
                ..Default::default()
            });
        }
        if self.live.is_some() {
            out.push(Filter {
                live: self.live,
                ..Default::default()
            });
        }
        out
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(t) = &self.tempo {
            t.validate("filters.tempo")?;
        }
        if let Some(y) = &self.year {
            y.validate("filters.year")?;
        }
        Ok(())
    }

    /// Compiles the filter once per query so matching a track is cheap.
    pub fn compile(&self) -> CompiledFilter {
        let pad = |v: &Vec<String>| -> Vec<String> {
            v.iter()
                .map(|s| format!(" {} ", normalize_term(s)))
                .collect()
        };
        CompiledFilter {
            genres: pad(&self.genres),
            moods: pad(&self.moods),
            instruments: pad(&self.instruments),
            exclude_instruments: self
                .exclude_instruments
                .iter()
                .flat_map(|s| instrument_family(&normalize_term(s)))
                .map(|s| format!(" {s} "))
                .collect(),
            origins: pad(&self.origins),
            eras: pad(&self.eras),
            keys: self.keys.iter().map(|s| normalize_term(s)).collect(),
            tempo: self.tempo,
            year: self.year,
            live: self.live,
        }
    }

    /// Human-readable clauses, for explanations.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut list = |name: &str, v: &Vec<String>| {
            if !v.is_empty() {
                out.push(format!("{name}: {}", v.join(" | ")));
            }
        };
        list("genre", &self.genres);
        list("mood", &self.moods);
        list("instrument", &self.instruments);
        list("without", &self.exclude_instruments);
        list("origin", &self.origins);
        list("era", &self.eras);
        list("key", &self.keys);
        let range = |name: &str, r: &Option<Range>, unit: &str| {
            r.map(|r| match (r.min, r.max) {
                (Some(a), Some(b)) => format!("{name} {a}-{b}{unit}"),
                (Some(a), None) => format!("{name} >= {a}{unit}"),
                (None, Some(b)) => format!("{name} <= {b}{unit}"),
                (None, None) => format!("{name} any"),
            })
        };
        out.extend(range("tempo", &self.tempo, " bpm"));
        out.extend(range("year", &self.year, ""));
        if let Some(l) = self.live {
            out.push(if l { "live" } else { "studio" }.to_string());
        }
        out
    }
}

/// Whether `term` names a family of instruments a query can exclude ("no vocals").
pub fn is_instrument_family_word(term: &str) -> bool {
    instrument_family(term).len() > 1
}

/// Words that name the same family of instruments, so "without vocals" also excludes
/// "female vocal", "singer" and "choir".
fn instrument_family(term: &str) -> Vec<String> {
    const FAMILIES: &[&[&str]] = &[
        &[
            "vocals", "vocal", "voice", "voices", "singer", "singing", "choir", "vocalist",
            "rapping", "rap",
        ],
        &["drums", "drum", "percussion", "drum kit", "drummer"],
        &["guitar", "guitars", "guitarist"],
        &["piano", "pianist", "keys"],
    ];
    for fam in FAMILIES {
        if fam.contains(&term) {
            return fam.iter().map(|s| s.to_string()).collect();
        }
    }
    vec![term.to_string()]
}

/// The text facets a filter can constrain, for stores that index them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacetField {
    Genre,
    Mood,
    Instrument,
    Origin,
    Era,
    Key,
}

impl FacetField {
    pub const ALL: [FacetField; 6] = [
        FacetField::Genre,
        FacetField::Mood,
        FacetField::Instrument,
        FacetField::Origin,
        FacetField::Era,
        FacetField::Key,
    ];
}

/// One clause of a compiled filter over a text facet: a track passes when any of its values
/// in `field` matches any needle (or, when `negated`, when none does).
#[derive(Debug, Clone, Copy)]
pub struct TextClause<'a> {
    pub field: FacetField,
    pub needles: &'a [String],
    pub negated: bool,
}

impl TextClause<'_> {
    /// Whether one stored facet value satisfies the needles.
    pub fn matches_value(&self, value: &str) -> bool {
        match self.field {
            FacetField::Key => self.needles.iter().any(|n| n == value),
            _ => self.needles.iter().any(|n| value.contains(n.as_str())),
        }
    }
}

/// Normalised facets of one track, computed once when the track is loaded.
#[derive(Debug, Clone, Default)]
pub struct TrackFacets {
    genres: Vec<String>,
    moods: Vec<String>,
    instruments: Vec<String>,
    origin: String,
    era: String,
    key: String,
    pub tempo: Option<f32>,
    pub year: Option<i32>,
    pub live: Option<bool>,
}

impl TrackFacets {
    /// Every text facet value of the track, in the form clauses match against.
    pub fn values(&self) -> impl Iterator<Item = (FacetField, &str)> {
        let lists = [
            (FacetField::Genre, &self.genres),
            (FacetField::Mood, &self.moods),
            (FacetField::Instrument, &self.instruments),
        ];
        let singles = [
            (FacetField::Origin, &self.origin),
            (FacetField::Era, &self.era),
            (FacetField::Key, &self.key),
        ];
        lists
            .into_iter()
            .flat_map(|(f, v)| v.iter().map(move |s| (f, s.as_str())))
            .chain(
                singles
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(f, v)| (f, v.as_str())),
            )
    }

    pub fn of(t: &Track) -> Self {
        let pad = |s: &str| format!(" {} ", normalize_term(s));
        let m = &t.metadata;
        let mut genres: Vec<String> = m
            .genre
            .iter()
            .chain(m.subgenre.iter())
            .map(|s| pad(s))
            .collect();
        // Tags often carry genres (MusicCaps aspects, MTG-Jamendo tags).
        genres.extend(t.tags.iter().map(|s| pad(s)));
        TrackFacets {
            genres,
            moods: m.mood.iter().map(|s| pad(s)).collect(),
            instruments: m.instrumentation.iter().map(|s| pad(s)).collect(),
            origin: m.cultural_origin.as_deref().map(pad).unwrap_or_default(),
            era: m.era.as_deref().map(pad).unwrap_or_default(),
            key: m.key.as_deref().map(normalize_term).unwrap_or_default(),
            tempo: m.tempo,
            year: t.year,
            live: m.is_live_performance,
        }
    }
}

/// A filter prepared for matching many tracks.
#[derive(Debug, Clone, Default)]
pub struct CompiledFilter {
    genres: Vec<String>,
    moods: Vec<String>,
    instruments: Vec<String>,
    exclude_instruments: Vec<String>,
    origins: Vec<String>,
    eras: Vec<String>,
    keys: Vec<String>,
    tempo: Option<Range>,
    year: Option<Range>,
    live: Option<bool>,
}

/// Whole-word containment: " rock " is in " hard rock ".
fn any_contains(haystacks: &[String], needles: &[String]) -> bool {
    needles.is_empty()
        || needles
            .iter()
            .any(|n| haystacks.iter().any(|h| h.contains(n.as_str())))
}

impl CompiledFilter {
    pub fn is_empty(&self) -> bool {
        self.genres.is_empty()
            && self.moods.is_empty()
            && self.instruments.is_empty()
            && self.exclude_instruments.is_empty()
            && self.origins.is_empty()
            && self.eras.is_empty()
            && self.keys.is_empty()
            && self.tempo.is_none()
            && self.year.is_none()
            && self.live.is_none()
    }

    /// The clauses over text facets, for stores that evaluate them with an index.
    pub fn text_clauses(&self) -> Vec<TextClause<'_>> {
        let mut out = Vec::new();
        for (field, needles) in [
            (FacetField::Genre, &self.genres),
            (FacetField::Mood, &self.moods),
            (FacetField::Instrument, &self.instruments),
            (FacetField::Origin, &self.origins),
            (FacetField::Era, &self.eras),
            (FacetField::Key, &self.keys),
        ] {
            if !needles.is_empty() {
                out.push(TextClause {
                    field,
                    needles,
                    negated: false,
                });
            }
        }
        if !self.exclude_instruments.is_empty() {
            out.push(TextClause {
                field: FacetField::Instrument,
                needles: &self.exclude_instruments,
                negated: true,
            });
        }
        out
    }

    pub fn has_numeric(&self) -> bool {
        self.tempo.is_some() || self.year.is_some() || self.live.is_some()
    }

    /// Whether tempo, year and live hold (the parts `text_clauses` leaves out).
    pub fn matches_numeric(&self, f: &TrackFacets) -> bool {
        self.tempo
            .is_none_or(|r| f.tempo.is_some_and(|t| r.contains(t)))
            && self
                .year
                .is_none_or(|r| f.year.is_some_and(|y| r.contains(y as f32)))
            && self.live.is_none_or(|l| f.live.unwrap_or(false) == l)
    }

    pub fn matches(&self, f: &TrackFacets) -> bool {
        any_contains(&f.genres, &self.genres)
            && any_contains(&f.moods, &self.moods)
            && any_contains(&f.instruments, &self.instruments)
            && !self
                .exclude_instruments
                .iter()
                .any(|n| f.instruments.iter().any(|h| h.contains(n.as_str())))
            && (self.origins.is_empty()
                || self.origins.iter().any(|o| f.origin.contains(o.as_str())))
            && (self.eras.is_empty() || self.eras.iter().any(|e| f.era.contains(e.as_str())))
            && (self.keys.is_empty() || self.keys.contains(&f.key))
            && self
                .tempo
                .is_none_or(|r| f.tempo.is_some_and(|t| r.contains(t)))
            && self
                .year
                .is_none_or(|r| f.year.is_some_and(|y| r.contains(y as f32)))
            && self.live.is_none_or(|l| f.live.unwrap_or(false) == l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track() -> Track {
        let mut t = Track {
            id: "a".into(),
            title: "t".into(),
            artist: "a".into(),
            year: Some(1984),
            ..Default::default()
        };
        t.metadata.genre = Some("Synth-Pop".into());
        t.metadata.mood = vec!["happy".into(), "Energetic".into()];
        t.metadata.instrumentation = vec!["synthesizer".into(), "female vocal".into()];
        t.metadata.tempo = Some(128.0);
        t.metadata.cultural_origin = Some("United Kingdom".into());
        t.metadata.key = Some("A minor".into());
        t
    }

    fn matches(f: Filter) -> bool {
        f.compile().matches(&TrackFacets::of(&track()))
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert!(matches(Filter::default()));
    }

    #[test]
    fn genre_is_normalised_and_word_contained() {
        assert!(matches(Filter {
            genres: vec!["synth pop".into()],
            ..Default::default()
        }));
        assert!(matches(Filter {
            genres: vec!["POP".into()],
            ..Default::default()
        }));
        assert!(!matches(Filter {
            genres: vec!["po".into()],
            ..Default::default()
        }));
        assert!(!matches(Filter {
            genres: vec!["jazz".into()],
            ..Default::default()
        }));
    }

    #[test]
    fn mood_filter_looks_at_every_mood() {
        assert!(matches(Filter {
            moods: vec!["energetic".into()],
            ..Default::default()
        }));
        assert!(matches(Filter {
            moods: vec!["sad".into(), "happy".into()],
            ..Default::default()
        }));
        assert!(!matches(Filter {
            moods: vec!["sad".into()],
            ..Default::default()
        }));
    }

    #[test]
    fn negation_excludes_the_instrument_family() {
        assert!(!matches(Filter {
            exclude_instruments: vec!["vocals".into()],
            ..Default::default()
        }));
        assert!(matches(Filter {
            exclude_instruments: vec!["drums".into()],
            ..Default::default()
        }));
    }

    #[test]
    fn ranges_need_a_value() {
        assert!(matches(Filter {
            tempo: Some(Range::new(Some(120.0), Some(130.0))),
            ..Default::default()
        }));
        assert!(!matches(Filter {
            tempo: Some(Range::new(None, Some(127.0))),
            ..Default::default()
        }));
        assert!(matches(Filter {
            year: Some(Range::new(Some(1980.0), Some(1989.0))),
            ..Default::default()
        }));
        let mut no_tempo = track();
        no_tempo.metadata.tempo = None;
        let f = Filter {
            tempo: Some(Range::new(Some(1.0), None)),
            ..Default::default()
        };
        assert!(!f.compile().matches(&TrackFacets::of(&no_tempo)));
    }

    #[test]
    fn live_key_origin() {
        assert!(matches(Filter {
            live: Some(false),
            ..Default::default()
        }));
        assert!(!matches(Filter {
            live: Some(true),
            ..Default::default()
        }));
        assert!(matches(Filter {
            keys: vec!["a minor".into()],
            ..Default::default()
        }));
        assert!(!matches(Filter {
            keys: vec!["a major".into()],
            ..Default::default()
        }));
        assert!(matches(Filter {
            origins: vec!["united kingdom".into()],
            ..Default::default()
        }));
    }

    #[test]
    fn and_intersects_lists_and_ranges() {
        let a = Filter {
            genres: vec!["pop".into(), "rock".into()],
            tempo: Some(Range::new(Some(100.0), None)),
            ..Default::default()
        };
        let b = Filter {
            genres: vec!["rock".into()],
            tempo: Some(Range::new(None, Some(140.0))),
            ..Default::default()
        };
        let c = a.and(&b);
        assert_eq!(c.genres, vec!["rock"]);
        assert_eq!(c.tempo, Some(Range::new(Some(100.0), Some(140.0))));
        let d = Filter {
            genres: vec!["jazz".into()],
            ..Default::default()
        }
        .and(&Filter {
            genres: vec!["pop".into()],
            ..Default::default()
        });
        assert!(!d.compile().matches(&TrackFacets::of(&track())));
    }

    #[test]
    fn split_fields_recombine_to_the_whole() {
        let f = Filter {
            genres: vec!["pop".into()],
            moods: vec!["happy".into()],
            tempo: Some(Range::new(Some(100.0), None)),
            ..Default::default()
        };
        let parts = f.split_fields();
        assert_eq!(parts.len(), 3);
        let whole = parts.iter().fold(Filter::default(), |acc, p| acc.and(p));
        assert_eq!(whole, f);
    }

    #[test]
    fn range_parsing() {
        assert_eq!(
            Range::parse("tempo", "90-120").unwrap(),
            Range::new(Some(90.0), Some(120.0))
        );
        assert_eq!(
            Range::parse("tempo", "90-").unwrap(),
            Range::new(Some(90.0), None)
        );
        assert_eq!(
            Range::parse("tempo", "-120").unwrap(),
            Range::new(None, Some(120.0))
        );
        assert!(Range::parse("tempo", "120-90").is_err());
        assert!(Range::parse("tempo", "fast").is_err());
    }
}
