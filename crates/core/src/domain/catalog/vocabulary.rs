//! The catalog's own words: the genres, moods, instruments, origins and tags it uses, how many
//! tracks use each, and its names, so queries are read in the catalog's terms. Kept up to date
//! track by track as the catalog changes, so reading a query never rebuilds it.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::catalog::track::Track;
use crate::domain::query::names::CatalogNames;
use crate::domain::query::text::normalize_term;
use crate::domain::retrieval::filter::{FacetField, TrackFacets};

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
    pub const ALL: [FacetKind; 5] = [
        FacetKind::Genre,
        FacetKind::Mood,
        FacetKind::Instrument,
        FacetKind::Origin,
        FacetKind::Tag,
    ];

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

/// The names of a track the vocabulary counts: its artist, its title when the title names it
/// ([`Track::name_title`]), its album. What an in-memory catalog keeps of a track whose
/// document stays on disk: one allocation for the three (a million tracks hold them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackNames {
    /// Artist, title and album one after the other, split at `ends`.
    joined: Box<str>,
    ends: [u32; 2],
    has_album: bool,
}

impl TrackNames {
    pub fn of(t: &Track) -> Self {
        let (artist, title) = (t.artist.as_str(), t.name_title());
        let joined = [artist, title, t.album.as_deref().unwrap_or("")].concat();
        Self {
            joined: joined.into(),
            ends: [artist.len() as u32, (artist.len() + title.len()) as u32],
            has_album: t.album.is_some(),
        }
    }

    /// The names joined, where the artist and the title end, and whether there is an album:
    /// for a store that saves them.
    pub fn parts(&self) -> (&str, [u32; 2], bool) {
        (&self.joined, self.ends, self.has_album)
    }

    /// Names from [`Self::parts`]; `None` when the ends do not fall on character boundaries
    /// of `joined` in order (a damaged file).
    pub fn from_parts(joined: &str, ends: [u32; 2], has_album: bool) -> Option<Self> {
        let (a, t) = (ends[0] as usize, ends[1] as usize);
        if a > t || t > joined.len() || !joined.is_char_boundary(a) || !joined.is_char_boundary(t) {
            return None;
        }
        Some(Self {
            joined: joined.into(),
            ends,
            has_album,
        })
    }

    pub fn artist(&self) -> &str {
        &self.joined[..self.ends[0] as usize]
    }

    pub fn title(&self) -> &str {
        &self.joined[self.ends[0] as usize..self.ends[1] as usize]
    }

    pub fn album(&self) -> Option<&str> {
        self.has_album
            .then(|| &self.joined[self.ends[1] as usize..])
    }
}

/// The catalog's own vocabulary (normalised terms) with how many tracks use each term in
/// each field, and its names.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Tracks using each term, per field in `FacetKind::ALL` order.
    /// Hashed like the names index (seeded, fast on short strings): every track's terms are
    /// counted at open.
    terms: HashMap<String, [u32; 5], foldhash::fast::RandomState>,
    /// Artists, titles and albums, for queries and questions that name one.
    pub names: CatalogNames,
}

impl Vocabulary {
    /// A vocabulary from term lists with counts (tests, imports of counts).
    pub fn new(
        genres: Vec<(String, usize)>,
        moods: Vec<(String, usize)>,
        instruments: Vec<(String, usize)>,
        origins: Vec<(String, usize)>,
        tags: Vec<(String, usize)>,
    ) -> Self {
        let mut v = Vocabulary::default();
        for (i, list) in [genres, moods, instruments, origins, tags]
            .into_iter()
            .enumerate()
        {
            for (term, count) in list {
                let n = normalize_term(&term);
                if !n.is_empty() {
                    v.terms.entry(n).or_default()[i] += count as u32;
                }
            }
        }
        v
    }

    /// Counts a track's terms and names in (`added`) or out.
    /// The track's facets are the ones the store already computed for filtering, so terms are
    /// normalised once.
    pub fn count_track(&mut self, t: &Track, facets: &TrackFacets, added: bool) {
        self.count_terms(facets, added);
        self.names
            .count(&t.artist, t.name_title(), t.album.as_deref(), added);
    }

    /// [`Self::count_track`] for a store that keeps a track's names and facets but not the
    /// track itself.
    pub fn count_names(&mut self, names: &TrackNames, facets: &TrackFacets, added: bool) {
        self.count_terms(facets, added);
        self.names
            .count(names.artist(), names.title(), names.album(), added);
    }

    /// Counts many tracks at once (a catalog's open): the titles, one per track and the most
    /// work, on another thread. `tracks` is called once per thread.
    pub fn count_many<'a, I>(&mut self, tracks: impl Fn() -> I + Sync)
    where
        I: Iterator<Item = (&'a TrackNames, &'a TrackFacets)>,
    {
        // The names are taken out so the terms can be counted meanwhile.
        let names = std::mem::take(&mut self.names);
        self.names = names.counted_with(
            || tracks().map(|(n, _)| (n.artist(), n.title(), n.album())),
            || {
                for (_, facets) in tracks() {
                    self.count_terms(facets, true);
                }
            },
        );
    }

    fn count_terms(&mut self, facets: &TrackFacets, added: bool) {
        for (field, value) in facets.values() {
            let i = match field {
                FacetField::Genre => 0,
                FacetField::Mood => 1,
                FacetField::Instrument => 2,
                FacetField::Origin => 3,
                FacetField::Tag => 4,
                _ => continue,
            };
            let term = value.term();
            if term.is_empty() {
                continue;
            }
            if added {
                // Looked up before a key is made: nearly every track's terms are known.
                match self.terms.get_mut(term) {
                    Some(c) => c[i] += 1,
                    None => self.terms.entry(term.to_string()).or_default()[i] += 1,
                }
            } else if let Some(c) = self.terms.get_mut(term) {
                c[i] = c[i].saturating_sub(1);
                if c.iter().all(|&x| x == 0) {
                    self.terms.remove(term);
                }
            }
        }
    }

    /// The field a normalised term belongs to, if the catalog uses it: the field that uses it
    /// most; a tag only when no other field uses it.
    pub fn kind_of(&self, term: &str) -> Option<FacetKind> {
        let c = self.terms.get(term)?;
        let (best, count) = (0..4).map(|i| (i, c[i])).max_by_key(|&(i, n)| (n, 4 - i))?;
        if count > 0 {
            Some(FacetKind::ALL[best])
        } else if c[4] > 0 {
            Some(FacetKind::Tag)
        } else {
            None
        }
    }

    /// The terms of one field with their track counts, most used first.
    pub fn terms(&self, kind: FacetKind) -> Vec<(String, usize)> {
        let i = FacetKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        let mut out: Vec<(String, usize)> = self
            .terms
            .iter()
            .filter(|(_, c)| c[i] > 0)
            .map(|(t, c)| (t.clone(), c[i] as usize))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    pub fn genres(&self) -> Vec<(String, usize)> {
        self.terms(FacetKind::Genre)
    }

    pub fn moods(&self) -> Vec<(String, usize)> {
        self.terms(FacetKind::Mood)
    }

    pub fn instruments(&self) -> Vec<(String, usize)> {
        self.terms(FacetKind::Instrument)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_names_read_back_as_given() {
        let mut t = Track {
            artist: "Simon & Garfunkel\0".into(),
            title: "The Boxer".into(),
            ..Default::default()
        };
        let n = TrackNames::of(&t);
        assert_eq!(
            (n.artist(), n.title(), n.album()),
            ("Simon & Garfunkel\0", t.name_title(), None)
        );
        t.album = Some(String::new());
        assert_eq!(
            TrackNames::of(&t).album(),
            Some(""),
            "an empty album is not no album"
        );
        t.album = Some("Bridge over Troubled Water".into());
        assert_eq!(
            TrackNames::of(&t).album(),
            Some("Bridge over Troubled Water")
        );
    }

    fn track(id: &str, genre: &str, tags: &[&str]) -> Track {
        let mut t = Track {
            id: id.into(),
            title: format!("Song {id}"),
            artist: "Band".into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        t.metadata.genre = Some(genre.into());
        t
    }

    #[test]
    fn counts_follow_tracks_in_and_out() {
        let mut v = Vocabulary::default();
        let a = track("a", "Hip-Hop", &["jazz"]);
        let b = track("b", "Jazz", &[]);
        v.count_track(&a, &TrackFacets::of(&a), true);
        v.count_track(&b, &TrackFacets::of(&b), true);
        assert_eq!(v.kind_of("hip hop"), Some(FacetKind::Genre));
        assert_eq!(v.kind_of("jazz"), Some(FacetKind::Genre));
        assert_eq!(v.genres(), vec![("hip hop".into(), 1), ("jazz".into(), 1)]);
        v.count_track(&b, &TrackFacets::of(&b), false);
        // Only a tag uses "jazz" now.
        assert_eq!(v.kind_of("jazz"), Some(FacetKind::Tag));
        v.count_track(&a, &TrackFacets::of(&a), false);
        assert_eq!(v.kind_of("hip hop"), None);
        assert!(v.terms.is_empty());
        assert!(v.names.is_empty());
    }
}
