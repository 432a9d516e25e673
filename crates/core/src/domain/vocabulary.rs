//! The catalog's own words: the genres, moods, instruments, origins and tags it uses, how many
//! tracks use each, and its names, so queries are read in the catalog's terms.

use std::collections::HashMap;

use serde::Serialize;

/// Which metadata field a vocabulary term belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FacetKind {
    Genre,
    Mood,
    Instrument,
    Origin,
    Tag,
}

impl FacetKind {
    pub fn name(self) -> &'static str {
        match self {
            FacetKind::Genre => "genre",
            FacetKind::Mood => "mood",
            FacetKind::Instrument => "instrument",
            FacetKind::Origin => "origin",
            FacetKind::Tag => "tag",
        }
    }
}

/// The catalog's own vocabulary (normalised terms) with how many tracks use each term.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Vocabulary {
    pub genres: Vec<(String, usize)>,
    pub moods: Vec<(String, usize)>,
    pub instruments: Vec<(String, usize)>,
    pub origins: Vec<(String, usize)>,
    pub tags: Vec<(String, usize)>,
    #[serde(skip)]
    lookup: HashMap<String, (FacetKind, usize)>,
    /// Artists, titles and albums, for questions that name one.
    #[serde(skip)]
    pub names: crate::domain::names::CatalogNames,
}

impl Vocabulary {
    pub fn new(
        genres: Vec<(String, usize)>,
        moods: Vec<(String, usize)>,
        instruments: Vec<(String, usize)>,
        origins: Vec<(String, usize)>,
        tags: Vec<(String, usize)>,
    ) -> Self {
        let mut lookup: HashMap<String, (FacetKind, usize)> = HashMap::new();
        for (kind, list) in [
            (FacetKind::Genre, &genres),
            (FacetKind::Mood, &moods),
            (FacetKind::Instrument, &instruments),
            (FacetKind::Origin, &origins),
        ] {
            for (term, count) in list {
                let key = crate::domain::text::normalize_term(term);
                // A term used in several fields belongs to the one that uses it most.
                match lookup.get(&key) {
                    Some((_, c)) if c >= count => {}
                    _ => {
                        lookup.insert(key, (kind, *count));
                    }
                }
            }
        }
        // A tag is a preference of its own only when no field claims the term.
        for (term, count) in &tags {
            lookup
                .entry(crate::domain::text::normalize_term(term))
                .or_insert((FacetKind::Tag, *count));
        }
        Self {
            genres,
            moods,
            instruments,
            origins,
            tags,
            lookup,
            names: crate::domain::names::CatalogNames::default(),
        }
    }

    /// The vocabulary with the catalog's names, for name detection.
    pub fn with_names(mut self, names: crate::domain::names::CatalogNames) -> Self {
        self.names = names;
        self
    }

    /// The field a normalised term belongs to, if the catalog uses it.
    pub fn kind_of(&self, term: &str) -> Option<FacetKind> {
        self.lookup.get(term).map(|(k, _)| *k)
    }
}

