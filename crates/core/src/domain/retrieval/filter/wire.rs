//! The filter as requests send it (`filters` in JSON, the CLI's filter options): its fields,
//! their normalisation and checks, what each field reads of a track, and how it explains itself.

use serde::{Deserialize, Serialize};

use super::range::Range;
use crate::domain::catalog::key::{time_signature, Key, Mode};
use crate::domain::query::text::normalize_term;
use crate::error::{CoreError, Result};

/// A normalised term without its spaces: "hip hop" and "hiphop" meet here.
pub(super) fn compact(term: &str) -> String {
    term.chars().filter(|c| *c != ' ').collect()
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

pub(super) type ListRef = fn(&Filter) -> &Vec<String>;
pub(super) type ListMut = fn(&mut Filter) -> &mut Vec<String>;

/// The list fields, in the order explanations name them.
pub(super) const LIST_FIELDS: [(&str, ListRef, ListMut); 10] = [
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
