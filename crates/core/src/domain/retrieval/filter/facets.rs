//! Facet values: what a track offers each filter field (normalised, keys by pitch class), the
//! needles a compiled filter looks for, and the index keys stores build from them (PostgreSQL's
//! GIN arrays, the embedded store's bitsets).

use std::collections::HashSet;
use std::sync::Arc;

use super::wire::compact;
use crate::domain::catalog::audio::HeardAspect;
use crate::domain::catalog::key::{time_signature, Key};
use crate::domain::catalog::track::Track;
use crate::domain::query::text::normalize_term;

/// The facets a filter can constrain by value, for stores that index them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacetField {
    Genre,
    Tag,
    Mood,
    Instrument,
    Origin,
    Era,
    Key,
    Mode,
    TimeSignature,
}

/// One wanted value of a compiled filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Needle {
    /// " hip hop ": padded, so containment is whole-word.
    padded: String,
    /// "hiphop": so "hiphop" finds "hip hop" and back.
    compact: String,
    exact: bool,
}

impl Needle {
    /// Matches a stored value that contains it as whole words, or equals it without spaces.
    pub(super) fn new(s: &str) -> Self {
        let n = normalize_term(s);
        Self {
            padded: format!(" {n} "),
            compact: compact(&n),
            exact: false,
        }
    }

    /// Matches only the same value (canonical keys, modes, time signatures).
    pub(super) fn exact(canonical: &str) -> Self {
        let n = facet_value(canonical);
        Self {
            padded: n.clone(),
            compact: n,
            exact: true,
        }
    }

    pub(super) fn matches(&self, value: &FacetValue) -> bool {
        if self.exact {
            return self.padded == value.0.padded;
        }
        value.0.padded.contains(self.padded.as_str()) || value.0.compact == self.compact
    }
}

/// One stored facet value, in the two forms needles compare against. Shared: a catalog keeps
/// one copy of each distinct value however many tracks hold it ([`TrackFacets::intern`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FacetValue(Arc<Forms>);

#[derive(Debug, PartialEq, Eq, Hash)]
struct Forms {
    padded: String,
    compact: String,
}

impl FacetValue {
    pub(super) fn new(s: &str) -> Self {
        let n = normalize_term(s);
        Self(Arc::new(Forms {
            padded: format!(" {n} "),
            compact: compact(&n),
        }))
    }

    pub(super) fn exact(canonical: &str) -> Self {
        let n = facet_value(canonical);
        Self(Arc::new(Forms {
            padded: n.clone(),
            compact: n,
        }))
    }

    /// The value's two forms (padded, compact), for a store that saves it.
    pub fn forms(&self) -> (&str, &str) {
        (&self.0.padded, &self.0.compact)
    }

    /// A value from the forms [`Self::forms`] gave.
    pub fn from_forms(padded: &str, compact: &str) -> Self {
        Self(Arc::new(Forms {
            padded: padded.to_string(),
            compact: compact.to_string(),
        }))
    }

    /// How many holders share this copy of the value (a catalog's table of values counts as
    /// one).
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// The value as normalised, for indexes keyed by it.
    pub fn as_str(&self) -> &str {
        &self.0.padded
    }

    /// The normalised term itself, without the padding.
    pub fn term(&self) -> &str {
        self.0.padded.trim()
    }
}

pub(super) fn facet_value(canonical: &str) -> String {
    canonical.to_lowercase()
}

/// One clause of a compiled filter over a facet: a track passes when any of its values in
/// `field` matches any needle (or, when `negated`, when none does).
#[derive(Debug, Clone, Copy)]
pub struct TextClause<'a> {
    /// The facets whose values may satisfy the clause (any of them).
    pub fields: &'static [FacetField],
    pub needles: &'a [Needle],
    pub negated: bool,
}

impl TextClause<'_> {
    /// Whether one stored facet value satisfies the needles.
    pub fn matches_value(&self, value: &FacetValue) -> bool {
        self.needles.iter().any(|n| n.matches(value))
    }

    /// The index keys (see [`TrackFacets::index_keys`]) of which a track must hold at least
    /// one to satisfy the clause's needles: a clause is then one set-overlap test, which an
    /// inverted index (PostgreSQL's GIN) answers without reading the tracks.
    pub fn index_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for field in self.fields {
            for n in self.needles {
                if n.exact {
                    out.push(format!("{}={}", field.code(), n.padded));
                } else {
                    out.push(format!("{}={}", field.code(), n.padded.trim()));
                    out.push(format!("{}~{}", field.code(), n.compact));
                }
            }
        }
        out
    }

    /// Keys of which a track holds one when it records any value in the clause's fields: a
    /// negated clause holds only for such tracks (see [`CompiledFilter::matches`]).
    pub fn known_keys(&self) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| format!("{}*", f.code()))
            .collect()
    }
}

impl FacetField {
    /// A short stable prefix for index keys. Stored keys carry it: changing one needs a
    /// re-index of stores that keep keys.
    pub(super) fn code(self) -> &'static str {
        match self {
            FacetField::Genre => "g",
            FacetField::Tag => "t",
            FacetField::Mood => "m",
            FacetField::Instrument => "i",
            FacetField::Origin => "o",
            FacetField::Era => "e",
            FacetField::Key => "k",
            FacetField::Mode => "mo",
            FacetField::TimeSignature => "ts",
        }
    }
}

/// The fields of [`TrackFacets`], for a store that saves them in a form of its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FacetParts {
    pub lists: [Vec<FacetValue>; 4],
    pub single: [Option<FacetValue>; 5],
    pub tempo: Option<f32>,
    pub year: Option<i32>,
    pub live: Option<bool>,
}

/// Normalised facets of one track, computed once when the track is loaded.
#[derive(Debug, Clone, Default)]
pub struct TrackFacets {
    // Boxed slices, not vectors: a store keeps these for every track.
    genres: Box<[FacetValue]>,
    tags: Box<[FacetValue]>,
    moods: Box<[FacetValue]>,
    instruments: Box<[FacetValue]>,
    origin: Option<FacetValue>,
    era: Option<FacetValue>,
    key: Option<FacetValue>,
    mode: Option<FacetValue>,
    time_signature: Option<FacetValue>,
    pub tempo: Option<f32>,
    pub year: Option<i32>,
    pub live: Option<bool>,
}

impl TrackFacets {
    pub(super) fn field(&self, field: FacetField) -> &[FacetValue] {
        match field {
            FacetField::Genre => &self.genres,
            FacetField::Tag => &self.tags,
            FacetField::Mood => &self.moods,
            FacetField::Instrument => &self.instruments,
            FacetField::Origin => self.origin.as_slice(),
            FacetField::Era => self.era.as_slice(),
            FacetField::Key => self.key.as_slice(),
            FacetField::Mode => self.mode.as_slice(),
            FacetField::TimeSignature => self.time_signature.as_slice(),
        }
    }

    /// Every facet value of the track, in the form clauses match against.
    pub fn values(&self) -> impl Iterator<Item = (FacetField, &FacetValue)> {
        const ALL: [FacetField; 9] = [
            FacetField::Genre,
            FacetField::Tag,
            FacetField::Mood,
            FacetField::Instrument,
            FacetField::Origin,
            FacetField::Era,
            FacetField::Key,
            FacetField::Mode,
            FacetField::TimeSignature,
        ];
        ALL.into_iter()
            .flat_map(move |f| self.field(f).iter().map(move |v| (f, v)))
    }

    /// The track's facets as a set of keys such that a clause's needles match one of its
    /// values exactly when the two key sets overlap: every run of whole words of a value
    /// (`g=hip hop`, for "west coast hip hop"), the value without spaces (`g~westcoasthiphop`),
    /// canonical values as they are (keys, modes, time signatures), and `g*` for a field that
    /// holds any value.
    pub fn index_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut last = None;
        for (field, value) in self.values() {
            let code = field.code();
            if last != Some(field) {
                out.push(format!("{code}*"));
                last = Some(field);
            }
            if value.0.padded == value.0.compact {
                // Canonical values are stored unpadded and matched whole.
                out.push(format!("{code}={}", value.0.padded));
                continue;
            }
            let words: Vec<&str> = value.term().split(' ').collect();
            for start in 0..words.len() {
                for end in start..words.len() {
                    out.push(format!("{code}={}", words[start..=end].join(" ")));
                }
            }
            out.push(format!("{code}~{}", value.0.compact));
        }
        out.sort();
        out.dedup();
        out
    }

    /// The facets as parts: genres, tags, moods, instruments; origin, era, key, mode, time
    /// signature; tempo, year, live.
    pub fn into_parts(self) -> FacetParts {
        FacetParts {
            lists: [self.genres, self.tags, self.moods, self.instruments].map(Vec::from),
            single: [
                self.origin,
                self.era,
                self.key,
                self.mode,
                self.time_signature,
            ],
            tempo: self.tempo,
            year: self.year,
            live: self.live,
        }
    }

    pub fn from_parts(parts: FacetParts) -> Self {
        let [genres, tags, moods, instruments] = parts.lists.map(Vec::into_boxed_slice);
        let [origin, era, key, mode, time_signature] = parts.single;
        Self {
            genres,
            tags,
            moods,
            instruments,
            origin,
            era,
            key,
            mode,
            time_signature,
            tempo: parts.tempo,
            year: parts.year,
            live: parts.live,
        }
    }

    /// Replaces each value with the copy `values` holds (adding the ones it lacks), so tracks
    /// that share a value share its memory.
    pub fn intern(&mut self, values: &mut HashSet<FacetValue>) {
        let mut one = |v: &mut FacetValue| match values.get(v) {
            Some(shared) => *v = shared.clone(),
            None => {
                values.insert(v.clone());
            }
        };
        for list in [
            &mut self.genres,
            &mut self.tags,
            &mut self.moods,
            &mut self.instruments,
        ] {
            list.iter_mut().for_each(&mut one);
        }
        for value in [
            &mut self.origin,
            &mut self.era,
            &mut self.key,
            &mut self.mode,
            &mut self.time_signature,
        ] {
            value.iter_mut().for_each(&mut one);
        }
    }

    pub fn of(t: &Track) -> Self {
        let m = &t.metadata;
        let list =
            |v: &[String]| -> Vec<FacetValue> { v.iter().map(|s| FacetValue::new(s)).collect() };
        let key = m.key.as_deref().and_then(Key::parse);
        // What the sound model heard counts beside what the catalog says (never instead).
        let heard = |aspect: HeardAspect| -> Vec<FacetValue> {
            t.audio
                .iter()
                .flat_map(|a| a.heard_words(aspect))
                .map(FacetValue::new)
                .collect()
        };
        let with_heard = |mut own: Vec<FacetValue>, aspect| {
            for v in heard(aspect) {
                if !own.contains(&v) {
                    own.push(v);
                }
            }
            own
        };
        TrackFacets {
            genres: with_heard(
                m.genre
                    .iter()
                    .chain(m.subgenre.iter())
                    .map(|s| FacetValue::new(s))
                    .collect(),
                HeardAspect::Genre,
            )
            .into_boxed_slice(),
            tags: list(&t.tags).into_boxed_slice(),
            moods: with_heard(list(&m.mood), HeardAspect::Mood).into_boxed_slice(),
            instruments: with_heard(list(&m.instrumentation), HeardAspect::Instrument)
                .into_boxed_slice(),
            origin: m.cultural_origin.as_deref().map(FacetValue::new),
            era: m.era.as_deref().map(FacetValue::new),
            key: key.map(|k| FacetValue::exact(&k.to_string())),
            mode: key.map(|k| FacetValue::exact(k.mode.name())),
            time_signature: m
                .time_signature
                .as_deref()
                .and_then(time_signature)
                .map(|s| FacetValue::exact(&s)),
            tempo: m.tempo,
            year: t.year,
            live: m.is_live_performance,
        }
    }
}
