//! A filter compiled for matching many tracks: its needles prepared once, numeric ranges, and
//! the test each track must pass.

use super::facets::{FacetField, Needle, TextClause, TrackFacets};
use super::instruments::instrument_family;
use super::range::Range;
use super::wire::Filter;
use crate::domain::catalog::key::{time_signature, Key};
use crate::domain::query::text::normalize_term;

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
pub(super) const NOTHING: &[Needle] = &[];

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

impl Filter {
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
}
