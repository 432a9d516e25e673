//! Metadata filters, applied inside retrieval: every hit satisfies every filter. Each filter
//! reads its own field: genres the genre and subgenre, tags the free-form tags, moods the
//! moods, instruments the instrumentation.

use serde::{Deserialize, Serialize};

use crate::domain::key::{time_signature, Key, Mode};
use crate::domain::text::normalize_term;
use crate::domain::track::Track;
use crate::error::{CoreError, Result};

/// A normalised term without its spaces: "hip hop" and "hiphop" meet here.
fn compact(term: &str) -> String {
    term.chars().filter(|c| *c != ' ').collect()
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

    fn describe(&self, name: &str, unit: &str) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("{name} {a}-{b}{unit}"),
            (Some(a), None) => format!("{name} >= {a}{unit}"),
            (None, Some(b)) => format!("{name} <= {b}{unit}"),
            (None, None) => format!("{name} any"),
        }
    }
}

/// Constraints on metadata. Lists mean "any of"; different fields must all hold.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Genre or subgenre, any of ("Hip-Hop" = "hip hop" = "hiphop").
    pub genres: Vec<String>,
    /// Free-form tags, any of.
    pub tags: Vec<String>,
    /// Genres that a track's genre, subgenre or tags may name: how genre preferences match
    /// ([`Preferences::matching`]), so tags keep helping as ranking evidence while a genre
    /// filter reads the genre only.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub genres_or_tags: Vec<String>,
    pub moods: Vec<String>,
    pub instruments: Vec<String>,
    /// Instruments a track must not have ("without vocals").
    pub exclude_instruments: Vec<String>,
    pub origins: Vec<String>,
    pub eras: Vec<String>,
    /// Keys, any of, e.g. "A minor" (enharmonic spellings are the same key).
    pub keys: Vec<String>,
    /// Only major or only minor keys.
    pub mode: Option<Mode>,
    /// Time signatures, any of, e.g. "3/4".
    pub time_signatures: Vec<String>,
    #[serde(deserialize_with = "crate::domain::wire::optional_object")]
    pub tempo: Option<Range>,
    #[serde(deserialize_with = "crate::domain::wire::optional_object")]
    pub year: Option<Range>,
    pub live: Option<bool>,
    /// Set when two filters were combined that no track can satisfy together.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub contradictory: bool,
}

/// Soft constraints: hits that satisfy them rank higher (the targeted track), the others still
/// come. Written like a [`Filter`] (the same fields on the wire), but matched more loosely: a
/// preferred genre may also be named by a track's tags, while a genre filter reads the genre.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = Filter))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Preferences(Filter);

impl Preferences {
    /// The filter a track passes when it fits these preferences.
    pub fn matching(&self) -> Filter {
        let mut f = self.0.clone();
        for g in std::mem::take(&mut f.genres) {
            if !f.genres_or_tags.contains(&g) {
                f.genres_or_tags.push(g);
            }
        }
        f
    }

    /// Either set's preferences: lists are joined, ranges kept from `self` first.
    pub fn union(self, other: &Preferences) -> Preferences {
        Preferences(self.0.union(&other.0))
    }
}

impl From<Filter> for Preferences {
    fn from(wanted: Filter) -> Self {
        Preferences(wanted)
    }
}

/// Preferences read (and, while a parser builds them, written) field by field as a filter's.
impl std::ops::Deref for Preferences {
    type Target = Filter;
    fn deref(&self) -> &Filter {
        &self.0
    }
}

impl std::ops::DerefMut for Preferences {
    fn deref_mut(&mut self) -> &mut Filter {
        &mut self.0
    }
}

type ListRef = fn(&Filter) -> &Vec<String>;
type ListMut = fn(&mut Filter) -> &mut Vec<String>;

/// The list fields, in the order explanations name them.
const LIST_FIELDS: [(&str, ListRef, ListMut); 10] = [
    ("genre", |f| &f.genres, |f| &mut f.genres),
    (
        "genre or tag",
        |f| &f.genres_or_tags,
        |f| &mut f.genres_or_tags,
    ),
    ("tag", |f| &f.tags, |f| &mut f.tags),
    ("mood", |f| &f.moods, |f| &mut f.moods),
    ("instrument", |f| &f.instruments, |f| &mut f.instruments),
    (
        "without",
        |f| &f.exclude_instruments,
        |f| &mut f.exclude_instruments,
    ),
    ("origin", |f| &f.origins, |f| &mut f.origins),
    ("era", |f| &f.eras, |f| &mut f.eras),
    ("key", |f| &f.keys, |f| &mut f.keys),
    (
        "time signature",
        |f| &f.time_signatures,
        |f| &mut f.time_signatures,
    ),
];

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Both filters must hold: lists of the same field are intersected when both are set.
    pub fn and(mut self, other: &Filter) -> Filter {
        for (name, get, slot) in LIST_FIELDS {
            let theirs = get(other);
            let mine = slot(&mut self);
            if name == "without" {
                // Exclusions add up.
                for e in theirs {
                    if !mine.contains(e) {
                        mine.push(e.clone());
                    }
                }
            } else if mine.is_empty() {
                mine.extend_from_slice(theirs);
            } else if !theirs.is_empty() {
                let bn: Vec<String> = theirs.iter().map(|s| normalize_term(s)).collect();
                mine.retain(|x| bn.contains(&normalize_term(x)));
                // Disjoint "any of" lists: no track can satisfy both.
                let disjoint = mine.is_empty();
                self.contradictory |= disjoint;
            }
        }
        let range = |a: Option<Range>, b: Option<Range>| match (a, b) {
            (Some(a), Some(b)) => Some(a.intersect(b)),
            (a, b) => a.or(b),
        };
        self.tempo = range(self.tempo, other.tempo);
        self.year = range(self.year, other.year);
        match (self.mode, other.mode) {
            (Some(a), Some(b)) if a != b => self.contradictory = true,
            (a, b) => self.mode = a.or(b),
        }
        match (self.live, other.live) {
            (Some(a), Some(b)) if a != b => self.contradictory = true,
            (a, b) => self.live = a.or(b),
        }
        self.contradictory |= other.contradictory;
        self
    }

    /// Either filter's preferences: lists are joined ("any of" grows), ranges kept from `self`
    /// first.
    pub fn union(mut self, other: &Filter) -> Filter {
        for (_, get, slot) in LIST_FIELDS {
            let theirs = get(other);
            let mine = slot(&mut self);
            for x in theirs {
                if !mine.iter().any(|y| normalize_term(y) == normalize_term(x)) {
                    mine.push(x.clone());
                }
            }
        }
        self.tempo = self.tempo.or(other.tempo);
        self.year = self.year.or(other.year);
        self.mode = self.mode.or(other.mode);
        self.live = self.live.or(other.live);
        self
    }

    /// One filter per constrained field (the parts that together make this one).
    pub fn split_fields(&self) -> Vec<Filter> {
        let mut out = Vec::new();
        for (_, get, slot) in LIST_FIELDS {
            let values = get(self);
            if !values.is_empty() {
                let mut f = Filter::default();
                *slot(&mut f) = values.clone();
                out.push(f);
            }
        }
        let singles = [
            Filter {
                tempo: self.tempo,
                ..Default::default()
            },
            Filter {
                year: self.year,
                ..Default::default()
            },
            Filter {
                mode: self.mode,
                ..Default::default()
            },
            Filter {
                live: self.live,
                ..Default::default()
            },
        ];
        out.extend(singles.into_iter().filter(|f| !f.is_empty()));
        out
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(t) = &self.tempo {
            t.validate("filters.tempo")?;
        }
        if let Some(y) = &self.year {
            y.validate("filters.year")?;
        }
        for k in &self.keys {
            Key::parse(k).ok_or_else(|| {
                CoreError::invalid(
                    "filters.keys",
                    format!("{k:?} is not a key; write it like \"A minor\" or \"F# major\""),
                )
            })?;
        }
        for t in &self.time_signatures {
            time_signature(t).ok_or_else(|| {
                CoreError::invalid(
                    "filters.time_signatures",
                    format!("{t:?} is not a time signature; write it like \"3/4\""),
                )
            })?;
        }
        Ok(())
    }

    /// Compiles the filter once per query so matching a track is cheap.
    pub fn compile(&self) -> CompiledFilter {
        let terms = |v: &Vec<String>| -> Vec<Needle> { v.iter().map(|s| Needle::new(s)).collect() };
        CompiledFilter {
            never: self.contradictory,
            genres: terms(&self.genres),
            genres_or_tags: terms(&self.genres_or_tags),
            tags: terms(&self.tags),
            moods: terms(&self.moods),
            instruments: terms(&self.instruments),
            exclude_instruments: self
                .exclude_instruments
                .iter()
                .flat_map(|s| instrument_family(&normalize_term(s)))
                .map(|s| Needle::new(&s))
                .collect(),
            origins: terms(&self.origins),
            eras: terms(&self.eras),
            // Unparseable keys were refused by `validate`; here they match nothing.
            keys: self
                .keys
                .iter()
                .map(|k| Needle::exact(&Key::parse(k).map(|k| k.to_string()).unwrap_or_default()))
                .collect(),
            modes: self.mode.iter().map(|m| Needle::exact(m.name())).collect(),
            time_signatures: self
                .time_signatures
                .iter()
                .map(|t| Needle::exact(&time_signature(t).unwrap_or_default()))
                .collect(),
            tempo: self.tempo,
            year: self.year,
            live: self.live,
        }
    }

    /// Human-readable clauses, for explanations.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, get, _) in LIST_FIELDS {
            let v = get(self);
            if !v.is_empty() {
                out.push(format!("{name}: {}", v.join(" | ")));
            }
        }
        if let Some(m) = self.mode {
            out.push(format!("mode: {m}"));
        }
        out.extend(self.tempo.map(|r| r.describe("tempo", " bpm")));
        out.extend(self.year.map(|r| r.describe("year", "")));
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
    fn new(s: &str) -> Self {
        let n = normalize_term(s);
        Self {
            padded: format!(" {n} "),
            compact: compact(&n),
            exact: false,
        }
    }

    /// Matches only the same value (canonical keys, modes, time signatures).
    fn exact(canonical: &str) -> Self {
        let n = facet_value(canonical);
        Self {
            padded: n.clone(),
            compact: n,
            exact: true,
        }
    }

    fn matches(&self, value: &FacetValue) -> bool {
        if self.exact {
            return self.padded == value.padded;
        }
        value.padded.contains(self.padded.as_str()) || value.compact == self.compact
    }
}

/// One stored facet value, in the two forms needles compare against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FacetValue {
    padded: String,
    compact: String,
}

impl FacetValue {
    fn new(s: &str) -> Self {
        let n = normalize_term(s);
        Self {
            padded: format!(" {n} "),
            compact: compact(&n),
        }
    }

    fn exact(canonical: &str) -> Self {
        let n = facet_value(canonical);
        Self {
            padded: n.clone(),
            compact: n,
        }
    }

    /// The value as normalised, for indexes keyed by it.
    pub fn as_str(&self) -> &str {
        &self.padded
    }

    /// The normalised term itself, without the padding.
    pub fn term(&self) -> &str {
        self.padded.trim()
    }
}

fn facet_value(canonical: &str) -> String {
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
    fn code(self) -> &'static str {
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

/// Normalised facets of one track, computed once when the track is loaded.
#[derive(Debug, Clone, Default)]
pub struct TrackFacets {
    genres: Vec<FacetValue>,
    tags: Vec<FacetValue>,
    moods: Vec<FacetValue>,
    instruments: Vec<FacetValue>,
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
    fn field(&self, field: FacetField) -> &[FacetValue] {
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
            if value.padded == value.compact {
                // Canonical values are stored unpadded and matched whole.
                out.push(format!("{code}={}", value.padded));
                continue;
            }
            let words: Vec<&str> = value.term().split(' ').collect();
            for start in 0..words.len() {
                for end in start..words.len() {
                    out.push(format!("{code}={}", words[start..=end].join(" ")));
                }
            }
            out.push(format!("{code}~{}", value.compact));
        }
        out.sort();
        out.dedup();
        out
    }

    pub fn of(t: &Track) -> Self {
        let m = &t.metadata;
        let list = |v: &[String]| v.iter().map(|s| FacetValue::new(s)).collect();
        let key = m.key.as_deref().and_then(Key::parse);
        TrackFacets {
            genres: m
                .genre
                .iter()
                .chain(m.subgenre.iter())
                .map(|s| FacetValue::new(s))
                .collect(),
            tags: list(&t.tags),
            moods: list(&m.mood),
            instruments: list(&m.instrumentation),
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

/// A filter prepared for matching many tracks.
#[derive(Debug, Clone, Default)]
pub struct CompiledFilter {
    never: bool,
    genres: Vec<Needle>,
    genres_or_tags: Vec<Needle>,
    tags: Vec<Needle>,
    moods: Vec<Needle>,
    instruments: Vec<Needle>,
    exclude_instruments: Vec<Needle>,
    origins: Vec<Needle>,
    eras: Vec<Needle>,
    keys: Vec<Needle>,
    modes: Vec<Needle>,
    time_signatures: Vec<Needle>,
    tempo: Option<Range>,
    year: Option<Range>,
    live: Option<bool>,
}

/// A clause with no needles: no value satisfies it, so no track passes.
const NOTHING: &[Needle] = &[];

impl CompiledFilter {
    pub fn is_empty(&self) -> bool {
        !self.never
            && [
                &self.genres,
                &self.genres_or_tags,
                &self.tags,
                &self.moods,
                &self.instruments,
                &self.exclude_instruments,
                &self.origins,
                &self.eras,
                &self.keys,
                &self.modes,
                &self.time_signatures,
            ]
            .iter()
            .all(|n| n.is_empty())
            && !self.has_numeric()
    }

    /// The clauses over facet values, for stores that evaluate them with an index. A
    /// contradictory filter yields one clause nothing satisfies.
    pub fn text_clauses(&self) -> Vec<TextClause<'_>> {
        if self.never {
            return vec![TextClause {
                fields: &[FacetField::Genre],
                needles: NOTHING,
                negated: false,
            }];
        }
        let mut out = Vec::new();
        let clauses: [(&'static [FacetField], &Vec<Needle>); 10] = [
            (&[FacetField::Genre], &self.genres),
            (&[FacetField::Genre, FacetField::Tag], &self.genres_or_tags),
            (&[FacetField::Tag], &self.tags),
            (&[FacetField::Mood], &self.moods),
            (&[FacetField::Instrument], &self.instruments),
            (&[FacetField::Origin], &self.origins),
            (&[FacetField::Era], &self.eras),
            (&[FacetField::Key], &self.keys),
            (&[FacetField::Mode], &self.modes),
            (&[FacetField::TimeSignature], &self.time_signatures),
        ];
        for (fields, needles) in clauses {
            if !needles.is_empty() {
                out.push(TextClause {
                    fields,
                    needles,
                    negated: false,
                });
            }
        }
        if !self.exclude_instruments.is_empty() {
            out.push(TextClause {
                fields: &[FacetField::Instrument],
                needles: &self.exclude_instruments,
                negated: true,
            });
        }
        out
    }

    /// The tempo, year and live clauses, for stores that compare them on columns.
    pub fn numeric(&self) -> (Option<Range>, Option<Range>, Option<bool>) {
        (self.tempo, self.year, self.live)
    }

    pub fn has_numeric(&self) -> bool {
        self.tempo.is_some() || self.year.is_some() || self.live.is_some()
    }

    /// Whether tempo, year and live hold (the parts `text_clauses` leaves out).
    pub fn matches_numeric(&self, f: &TrackFacets) -> bool {
        self.matches_ranges(f.tempo, f.year)
            && self.live.is_none_or(|l| f.live.unwrap_or(false) == l)
    }

    /// Whether the filter has a tempo or year range.
    pub fn has_ranges(&self) -> bool {
        self.tempo.is_some() || self.year.is_some()
    }

    /// Whether tempo and year hold, given alone (a store may keep them apart from the rest of
    /// the facets, in columns that scan faster).
    pub fn matches_ranges(&self, tempo: Option<f32>, year: Option<i32>) -> bool {
        self.tempo
            .is_none_or(|r| tempo.is_some_and(|t| r.contains(t)))
            && self
                .year
                .is_none_or(|r| year.is_some_and(|y| r.contains(y as f32)))
    }

    /// Live performances only (`true`) or studio ones only (`false`: a track that does not
    /// say counts as studio).
    pub fn live(&self) -> Option<bool> {
        self.live
    }

    /// A negated clause ("without vocals") holds only for a track that records values in its
    /// fields and none of them matches: a track that lists no instruments is not known to be
    /// without vocals.
    pub fn matches(&self, f: &TrackFacets) -> bool {
        self.text_clauses().iter().all(|c| {
            let any = c
                .fields
                .iter()
                .any(|&field| f.field(field).iter().any(|v| c.matches_value(v)));
            if c.negated {
                let known = c.fields.iter().any(|&field| !f.field(field).is_empty());
                known && !any
            } else {
                any
            }
        }) && self.matches_numeric(f)
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
        // A track that lists no instruments is not known to be without drums.
        let mut unknown = track();
        unknown.metadata.instrumentation.clear();
        let without_drums = Filter {
            exclude_instruments: vec!["drums".into()],
            ..Default::default()
        };
        assert!(!without_drums.compile().matches(&TrackFacets::of(&unknown)));
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

    #[test]
    fn a_preferred_genre_is_fitted_by_a_tag_a_genre_filter_is_not() {
        let mut t = track();
        t.metadata.genre = Some("dance".into());
        t.tags = vec!["hip hop feel".into()];
        let asked = Filter {
            genres: vec!["Hip-Hop".into()],
            moods: vec!["happy".into()],
            ..Default::default()
        };
        assert!(!asked.compile().matches(&TrackFacets::of(&t)));
        let preferred = Preferences::from(asked.clone());
        assert!(preferred.matching().compile().matches(&TrackFacets::of(&t)));
        // The other fields mean the same in both.
        t.metadata.mood.clear();
        assert!(!preferred.matching().compile().matches(&TrackFacets::of(&t)));
        // On the wire they are a filter's fields, as asked.
        assert_eq!(
            serde_json::to_value(&preferred).unwrap(),
            serde_json::to_value(&asked).unwrap()
        );
    }

    #[test]
    fn genre_reads_genre_and_subgenre_not_tags() {
        let mut t = track();
        t.metadata.genre = Some("dance".into());
        t.tags = vec!["hip hop feel".into()];
        let hip_hop = Filter {
            genres: vec!["Hip-Hop".into()],
            ..Default::default()
        };
        assert!(!hip_hop.compile().matches(&TrackFacets::of(&t)));
        let tag = Filter {
            tags: vec!["hip hop feel".into()],
            ..Default::default()
        };
        assert!(tag.compile().matches(&TrackFacets::of(&t)));
        t.metadata.subgenre = Some("hip hop".into());
        for spelling in ["Hip-Hop", "hip hop", "HIPHOP", "hip_hop"] {
            let f = Filter {
                genres: vec![spelling.into()],
                ..Default::default()
            };
            assert!(f.compile().matches(&TrackFacets::of(&t)), "{spelling}");
        }
        t.metadata.genre = Some("R&B".into());
        for spelling in ["r&b", "R and B", "r & b"] {
            let f = Filter {
                genres: vec![spelling.into()],
                ..Default::default()
            };
            assert!(f.compile().matches(&TrackFacets::of(&t)), "{spelling}");
        }
    }

    #[test]
    fn keys_modes_and_time_signatures() {
        let mut t = track();
        t.metadata.time_signature = Some("3/4".into());
        let facets = TrackFacets::of(&t);
        let f = |f: Filter| f.compile().matches(&facets);
        assert!(f(Filter {
            keys: vec!["Am".into()],
            ..Default::default()
        }));
        assert!(f(Filter {
            mode: Some(Mode::Minor),
            ..Default::default()
        }));
        assert!(!f(Filter {
            mode: Some(Mode::Major),
            ..Default::default()
        }));
        assert!(f(Filter {
            time_signatures: vec!["3/4".into()],
            ..Default::default()
        }));
        assert!(!f(Filter {
            time_signatures: vec!["6/8".into()],
            ..Default::default()
        }));
        let bad = Filter {
            keys: vec!["H major".into()],
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            CoreError::invalid("filters.keys", "x").to_string().replace(
                "x",
                "\"H major\" is not a key; write it like \"A minor\" or \"F# major\""
            )
        );
    }

    #[test]
    fn contradictions_match_nothing() {
        let f = Filter {
            mode: Some(Mode::Major),
            ..Default::default()
        }
        .and(&Filter {
            mode: Some(Mode::Minor),
            ..Default::default()
        });
        assert!(f.contradictory);
        assert!(!f.compile().matches(&TrackFacets::of(&track())));
        assert!(!f.compile().is_empty());
    }

    /// The set-overlap form of each clause (what the PostgreSQL store evaluates with its GIN
    /// index) decides every filter exactly as matching the values does.
    #[test]
    fn index_keys_decide_every_clause_as_matching_does() {
        use std::collections::HashSet;
        fn by_keys(c: &CompiledFilter, f: &TrackFacets) -> bool {
            let keys: HashSet<String> = f.index_keys().into_iter().collect();
            let holds = |ks: Vec<String>| ks.iter().any(|k| keys.contains(k));
            c.text_clauses().iter().all(|cl| {
                let any = holds(cl.index_keys());
                if cl.negated {
                    holds(cl.known_keys()) && !any
                } else {
                    any
                }
            }) && c.matches_numeric(f)
        }
        let mut tracks = vec![track(), Track::default()];
        let mut t = track();
        t.metadata.genre = Some("West Coast Hip-Hop".into());
        t.metadata.subgenre = Some("R&B".into());
        t.tags = vec!["hiphop feel".into(), "late night".into()];
        t.metadata.instrumentation = vec!["drum kit".into(), "bass".into()];
        t.metadata.key = Some("E-flat minor".into());
        t.metadata.time_signature = Some("3/4".into());
        tracks.push(t);
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let filters = [
            Filter::default(),
            Filter {
                genres: list(&["hip hop"]),
                ..Default::default()
            },
            Filter {
                genres: list(&["HipHop"]),
                ..Default::default()
            },
            Filter {
                genres: list(&["coast hip"]),
                ..Default::default()
            },
            Filter {
                genres: list(&["po", "jazz"]),
                ..Default::default()
            },
            Filter {
                genres: list(&["synth pop", "r and b"]),
                ..Default::default()
            },
            Filter {
                genres_or_tags: list(&["hip hop"]),
                ..Default::default()
            },
            Filter {
                tags: list(&["night"]),
                ..Default::default()
            },
            Filter {
                moods: list(&["energetic"]),
                ..Default::default()
            },
            Filter {
                instruments: list(&["drum"]),
                ..Default::default()
            },
            Filter {
                exclude_instruments: list(&["vocals"]),
                ..Default::default()
            },
            Filter {
                exclude_instruments: list(&["drums"]),
                ..Default::default()
            },
            Filter {
                origins: list(&["kingdom"]),
                ..Default::default()
            },
            Filter {
                keys: list(&["D# minor"]),
                ..Default::default()
            },
            Filter {
                keys: list(&["A minor"]),
                mode: Some(Mode::Minor),
                ..Default::default()
            },
            Filter {
                mode: Some(Mode::Major),
                ..Default::default()
            },
            Filter {
                time_signatures: list(&["3/4"]),
                ..Default::default()
            },
            Filter {
                tempo: Some(Range::new(Some(100.0), None)),
                ..Default::default()
            },
            Filter {
                genres: list(&["pop"]),
                contradictory: true,
                ..Default::default()
            },
        ];
        let mut passed = 0;
        for f in &filters {
            let c = f.compile();
            for t in &tracks {
                let facets = TrackFacets::of(t);
                let expected = c.matches(&facets);
                assert_eq!(by_keys(&c, &facets), expected, "{f:?} on {:?}", t.metadata);
                passed += usize::from(expected);
            }
        }
        // Both outcomes occur, so the comparison is not vacuous.
        assert!(passed > filters.len() && passed < filters.len() * tracks.len());
    }
}
