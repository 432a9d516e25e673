//! What a catalog holds at a glance: the terms each filter matches with their counts, a tempo
//! histogram, keys with their Camelot numbers, decades, live and studio recordings, and how
//! many tracks can be played. Front ends fill their filter controls and charts from it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::catalog::key::Key;
use crate::domain::catalog::track::Track;
use crate::domain::catalog::vocabulary::{FacetKind, Vocabulary};

/// Width of one tempo bin, in beats per minute.
pub const TEMPO_BIN_BPM: u32 = 10;
/// Terms listed per field, most used first.
pub const TERMS_LISTED: usize = 60;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermCount {
    pub name: String,
    pub count: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TempoBin {
    /// Lowest tempo in the bin (inclusive), BPM.
    pub min: u32,
    /// Highest tempo in the bin (exclusive), BPM.
    pub max: u32,
    pub count: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyCount {
    /// The key as filters take it, e.g. "A minor".
    pub key: String,
    /// Its place on the Camelot wheel, e.g. "8A".
    pub camelot: String,
    pub count: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecadeCount {
    /// First year of the decade, e.g. 1980.
    pub decade: i32,
    pub count: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CatalogOverview {
    pub tracks: usize,
    /// Tracks with an audio file.
    pub with_audio: usize,
    pub genres: Vec<TermCount>,
    pub moods: Vec<TermCount>,
    pub instruments: Vec<TermCount>,
    pub origins: Vec<TermCount>,
    pub tags: Vec<TermCount>,
    /// Tracks with a known tempo, in bins of [`TEMPO_BIN_BPM`].
    pub tempo: Vec<TempoBin>,
    pub keys: Vec<KeyCount>,
    pub decades: Vec<DecadeCount>,
    /// Earliest and latest year, when any track has one.
    pub years: Option<(i32, i32)>,
    /// Tracks recorded live, and tracks known to be studio recordings.
    pub live: usize,
    pub studio: usize,
    pub time_signatures: Vec<TermCount>,
}

/// Counts tracks one at a time, then [`OverviewTally::finish`] with the vocabulary.
#[derive(Debug, Default)]
pub struct OverviewTally {
    tracks: usize,
    with_audio: usize,
    tempo: BTreeMap<u32, usize>,
    keys: BTreeMap<Key, usize>,
    decades: BTreeMap<i32, usize>,
    years: Option<(i32, i32)>,
    live: usize,
    studio: usize,
    time_signatures: BTreeMap<String, usize>,
}

impl OverviewTally {
    pub fn add(&mut self, t: &Track) {
        self.tracks += 1;
        if t.audio_path.as_deref().is_some_and(|p| !p.is_empty()) {
            self.with_audio += 1;
        }
        if let Some(bpm) = t.metadata.tempo.filter(|b| b.is_finite() && *b > 0.0) {
            *self.tempo.entry(bpm as u32 / TEMPO_BIN_BPM).or_default() += 1;
        }
        if let Some(key) = t.metadata.key.as_deref().and_then(Key::parse) {
            *self.keys.entry(key).or_default() += 1;
        }
        if let Some(year) = t.year {
            *self.decades.entry(year.div_euclid(10) * 10).or_default() += 1;
            self.years = Some(match self.years {
                Some((lo, hi)) => (lo.min(year), hi.max(year)),
                None => (year, year),
            });
        }
        match t.metadata.is_live_performance {
            Some(true) => self.live += 1,
            Some(false) => self.studio += 1,
            None => {}
        }
        if let Some(ts) = t
            .metadata
            .time_signature
            .as_deref()
            .and_then(crate::domain::catalog::key::time_signature)
        {
            *self.time_signatures.entry(ts).or_default() += 1;
        }
    }

    pub fn finish(self, vocabulary: &Vocabulary) -> CatalogOverview {
        let terms = |kind: FacetKind| {
            vocabulary
                .terms(kind)
                .into_iter()
                .take(TERMS_LISTED)
                .map(|(name, count)| TermCount { name, count })
                .collect()
        };
        let mut keys: Vec<KeyCount> = self
            .keys
            .into_iter()
            .map(|(key, count)| KeyCount {
                key: key.to_string(),
                camelot: key.camelot(),
                count,
            })
            .collect();
        keys.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        let mut time_signatures: Vec<TermCount> = self
            .time_signatures
            .into_iter()
            .map(|(name, count)| TermCount { name, count })
            .collect();
        time_signatures.sort_by_key(|t| std::cmp::Reverse(t.count));
        CatalogOverview {
            tracks: self.tracks,
            with_audio: self.with_audio,
            genres: terms(FacetKind::Genre),
            moods: terms(FacetKind::Mood),
            instruments: terms(FacetKind::Instrument),
            origins: terms(FacetKind::Origin),
            tags: terms(FacetKind::Tag),
            tempo: self
                .tempo
                .into_iter()
                .map(|(bin, count)| TempoBin {
                    min: bin * TEMPO_BIN_BPM,
                    max: (bin + 1) * TEMPO_BIN_BPM,
                    count,
                })
                .collect(),
            keys,
            decades: self
                .decades
                .into_iter()
                .map(|(decade, count)| DecadeCount { decade, count })
                .collect(),
            years: self.years,
            live: self.live,
            studio: self.studio,
            time_signatures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(tempo: Option<f32>, key: Option<&str>, year: Option<i32>, live: bool) -> Track {
        let mut t = Track {
            id: "t".into(),
            title: "T".into(),
            artist: "A".into(),
            year,
            ..Default::default()
        };
        t.metadata.tempo = tempo;
        t.metadata.key = key.map(str::to_string);
        t.metadata.is_live_performance = Some(live);
        t
    }

    #[test]
    fn tallies_tempo_keys_decades_and_live() {
        let mut tally = OverviewTally::default();
        tally.add(&track(Some(95.0), Some("A minor"), Some(1984), false));
        tally.add(&track(Some(99.9), Some("Am"), Some(1989), true));
        tally.add(&track(Some(128.0), Some("C major"), None, false));
        tally.add(&track(None, Some("not a key"), Some(2001), false));
        let o = tally.finish(&Vocabulary::default());
        assert_eq!(o.tracks, 4);
        assert_eq!(
            o.tempo,
            vec![
                TempoBin {
                    min: 90,
                    max: 100,
                    count: 2
                },
                TempoBin {
                    min: 120,
                    max: 130,
                    count: 1
                }
            ]
        );
        assert_eq!(o.keys[0].key, "A minor");
        assert_eq!(o.keys[0].count, 2);
        assert_eq!(o.keys[0].camelot, "8A");
        assert_eq!(o.keys[1].camelot, "8B");
        assert_eq!(
            o.decades[0],
            DecadeCount {
                decade: 1980,
                count: 2
            }
        );
        assert_eq!(o.years, Some((1984, 2001)));
        assert_eq!((o.live, o.studio), (1, 3));
    }
}
