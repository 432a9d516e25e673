//! Builds the demo catalog from the real datasets in `../shared/data` (the shippable ones):
//! Harmonix Set pop tracks, MusicNet classical recordings and MusicCaps clips. The output is
//! committed as one JSON-lines file per source (each under its source's licence, see
//! `catalog/README.md`) and embedded in the binary for `init-sample-data`.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use music_rag_core::domain::query::text::normalize_term;
use music_rag_core::{Key, Metadata, Track};

/// The committed demo catalog: (source name, JSON lines).
pub const DEMO_SOURCES: &[(&str, &str)] = &[
    ("harmonix", include_str!("../../../catalog/harmonix.jsonl")),
    ("musicnet", include_str!("../../../catalog/musicnet.jsonl")),
    (
        "musiccaps",
        include_str!("../../../catalog/musiccaps.jsonl"),
    ),
];

const GENRE_NAMES: &str = include_str!("../../../catalog/vocab/genres.txt");
const INSTRUMENT_NAMES: &str = include_str!("../../../catalog/vocab/instruments.txt");
/// Instrument words that MusicBrainz lists under other names.
const EXTRA_INSTRUMENTS: &[&str] = &[
    "drums",
    "drum kit",
    "acoustic drums",
    "electronic drums",
    "digital drums",
    "percussion",
    "synth",
    "keyboard",
    "bass",
    "e-bass",
    "e-guitar",
    "hi hats",
    "strings",
    "brass",
    "orchestra",
    "choir",
    "beat",
    "808",
    "turntables",
    "sampler",
    "horns",
    "claps",
    "tambourine",
];
/// Mood and character words, as musicians describe clips.
const MOODS: &[&str] = &[
    "sad",
    "happy",
    "emotional",
    "passionate",
    "energetic",
    "groovy",
    "youthful",
    "spirited",
    "romantic",
    "exciting",
    "upbeat",
    "mellow",
    "fun",
    "cheerful",
    "easygoing",
    "relaxing",
    "intense",
    "calming",
    "calm",
    "enthusiastic",
    "vibrant",
    "lively",
    "sentimental",
    "soothing",
    "melancholic",
    "melancholy",
    "joyful",
    "soft",
    "aggressive",
    "soulful",
    "addictive",
    "playful",
    "buoyant",
    "suspenseful",
    "eerie",
    "hypnotic",
    "pleasant",
    "powerful",
    "dark",
    "epic",
    "dreamy",
    "peaceful",
    "uplifting",
    "nostalgic",
    "mysterious",
    "dramatic",
    "tense",
    "chill",
    "meditative",
    "spooky",
    "scary",
    "ominous",
    "triumphant",
    "heroic",
    "tender",
    "gentle",
    "angry",
    "hopeful",
    "somber",
    "sombre",
    "gloomy",
    "bright",
    "warm",
    "serene",
    "ethereal",
    "haunting",
    "cinematic",
    "festive",
    "funky",
    "sexy",
    "sensual",
    "laid back",
    "heartfelt",
    "lonely",
    "longing",
    "bittersweet",
    "euphoric",
    "carefree",
    "quirky",
    "wistful",
];

/// Parses a Python list literal of strings, as MusicCaps stores aspects.
fn parse_py_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' && c != '"' {
            continue;
        }
        let mut item = String::new();
        while let Some(d) = chars.next() {
            match d {
                '\\' => item.extend(chars.next()),
                d if d == c => break,
                d => item.push(d),
            }
        }
        out.push(item);
    }
    out
}

struct Lexicon {
    genres: HashSet<String>,
    instruments: Vec<String>,
}

impl Lexicon {
    fn load() -> Self {
        // "Instrumental" says what a clip lacks, not what style it is.
        let genres = GENRE_NAMES
            .lines()
            .map(normalize_term)
            .filter(|s| !s.is_empty() && s != "instrumental")
            .collect();
        let mut instruments: Vec<String> = INSTRUMENT_NAMES
            .lines()
            .chain(EXTRA_INSTRUMENTS.iter().copied())
            .map(normalize_term)
            .filter(|s| s.len() > 2)
            .collect();
        // Longest first, so "acoustic guitar" wins over "guitar".
        instruments.sort_by_key(|s| std::cmp::Reverse(s.len()));
        instruments.dedup();
        Self {
            genres,
            instruments,
        }
    }

    fn instrument_in(&self, aspect: &str) -> Option<String> {
        let padded = format!(" {aspect} ");
        if padded.contains(" no ") || padded.contains(" without ") {
            return None;
        }
        let voice = ["vocal", "vocals", "voice", "singer", "singing", "vocalist"]
            .iter()
            .any(|w| padded.contains(&format!(" {w} ")));
        if voice {
            return Some(
                if padded.contains(" female ") {
                    "female vocal"
                } else if padded.contains(" male ") {
                    "male vocal"
                } else {
                    "vocals"
                }
                .to_string(),
            );
        }
        let found = self
            .instruments
            .iter()
            .find(|i| padded.contains(&format!(" {i} ")))?;
        Some(match found.as_str() {
            "e bass" => "bass guitar".into(),
            "e guitar" => "electric guitar".into(),
            other => other.to_string(),
        })
    }

    fn genre_of(&self, aspect: &str) -> Option<String> {
        let bare = aspect.strip_suffix(" music").unwrap_or(aspect);
        [aspect, bare]
            .into_iter()
            .find(|a| self.genres.contains(*a))
            .map(str::to_string)
    }
}

fn push_unique(list: &mut Vec<String>, v: String) {
    if !list.contains(&v) {
        list.push(v);
    }
}

fn musiccaps(path: &Path, lex: &Lexicon) -> Result<Vec<Track>> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for row in rdr.records() {
        let row = row?;
        let (ytid, start, aspects, caption) = (&row[0], &row[1], &row[4], &row[5]);
        let mut m = Metadata::default();
        let mut tags = Vec::new();
        let mut genres = Vec::new();
        for aspect in parse_py_list(aspects) {
            let a = normalize_term(&aspect);
            if a.is_empty() {
                continue;
            }
            if a.contains("live") && (a.contains("performance") || a.contains("recording")) {
                m.is_live_performance = Some(true);
            }
            if let Some(g) = lex.genre_of(&a) {
                push_unique(&mut genres, g);
            } else if MOODS.contains(&a.as_str()) {
                push_unique(&mut m.mood, a);
            } else if let Some(i) = lex.instrument_in(&a) {
                push_unique(&mut m.instrumentation, i);
                push_unique(&mut tags, a);
            } else {
                push_unique(&mut tags, a);
            }
        }
        // The first genre named is the clip's genre, a second its subgenre; more are tags.
        let mut genres = genres.into_iter();
        m.genre = genres.next();
        m.subgenre = genres.next();
        tags.extend(genres);
        tags.truncate(music_rag_core::domain::catalog::track::limits::LIST_MAX_ITEMS);
        let title = clip_title(&m);
        out.push(Track {
            id: format!("musiccaps:{ytid}"),
            title,
            artist: music_rag_core::domain::catalog::track::UNKNOWN_ARTIST.into(),
            album: Some(format!("MusicCaps clip {ytid} at {start}s")),
            description: Some(caption.to_string()),
            tags,
            metadata: m,
            ..Default::default()
        });
    }
    Ok(out)
}

/// A short title made of the clip's own aspects ("Sad ballad", "Energetic piano piece"):
/// clips have no titles, and a title made of an id would only cost embedding tokens.
fn clip_title(m: &Metadata) -> String {
    let mood = m.mood.first().map(String::as_str);
    let what = match (&m.genre, m.instrumentation.first()) {
        (Some(g), _) => g.clone(),
        (None, Some(i)) => format!("{i} piece"),
        (None, None) => "clip".into(),
    };
    let title = match mood {
        Some(mood) => format!("{mood} {what}"),
        None => what,
    };
    let mut chars = title.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn harmonix(path: &Path) -> Result<Vec<Track>> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for row in rdr.records() {
        let row = row?;
        let metadata = Metadata {
            genre: Some(row[8].to_string()),
            tempo: row[5].parse().ok(),
            time_signature: Some(row[7].replace('|', "/")),
            duration: row[4].parse().ok(),
            is_live_performance: Some(false),
            ..Default::default()
        };
        out.push(Track {
            id: format!("harmonix:{}", &row[0]),
            title: row[1].to_string(),
            artist: row[2].to_string(),
            album: Some(row[3].to_string()).filter(|s| !s.is_empty()),
            metadata,
            ..Default::default()
        });
    }
    Ok(out)
}

fn ensemble_instruments(ensemble: &str) -> Vec<String> {
    let e = ensemble.to_lowercase();
    let mut out = Vec::new();
    let mut add = |s: &str| push_unique(&mut out, s.to_string());
    if e.contains("string") {
        ["violin", "viola", "cello"].iter().for_each(|s| add(s));
    }
    if e.contains("wind") {
        ["flute", "oboe", "clarinet", "bassoon", "horn"]
            .iter()
            .for_each(|s| add(s));
    }
    for i in [
        "piano",
        "violin",
        "viola",
        "cello",
        "clarinet",
        "horn",
        "bassoon",
        "flute",
        "harpsichord",
    ] {
        if e.contains(i) {
            add(i);
        }
    }
    out
}

/// The key a classical title names: "Piano Quintet in A major", "Sonata in B-flat".
fn key_in_title(title: &str) -> Option<Key> {
    let (_, after) = title.rsplit_once(" in ")?;
    let words: Vec<&str> = after
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    (1..=words.len().min(3))
        .rev()
        .find_map(|n| Key::parse(&words[..n].join(" ")))
}

fn musicnet(path: &Path) -> Result<Vec<Track>> {
    let mut rdr =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for row in rdr.records() {
        let row = row?;
        let (id, composer, composition, movement, ensemble, catalog, seconds) = (
            &row[0], &row[1], &row[2], &row[3], &row[4], &row[7], &row[8],
        );
        let metadata = Metadata {
            genre: Some("classical".into()),
            subgenre: Some(ensemble.to_lowercase()),
            key: key_in_title(composition).map(|k| k.to_string()),
            cultural_origin: Some("Europe".into()),
            instrumentation: ensemble_instruments(ensemble),
            duration: seconds.parse().ok(),
            era: Some("classical".into()),
            ..Default::default()
        };
        out.push(Track {
            id: format!("musicnet:{id}"),
            title: format!("{composition}: {movement}"),
            artist: composer.to_string(),
            description: Some(format!("{ensemble} recording of {composer}'s {composition} ({catalog}), movement {movement}.")),
            tags: vec![ensemble.to_lowercase()],
            metadata,
            ..Default::default()
        });
    }
    Ok(out)
}

/// Reads the datasets under `data` and writes one JSON-lines file per source into `out`.
pub fn build(data: &Path, out: &Path) -> Result<usize> {
    let lex = Lexicon::load();
    let sources = [
        (
            "harmonix",
            harmonix(&data.join("harmonixset/metadata.csv"))?,
        ),
        (
            "musicnet",
            musicnet(&data.join("musicnet/musicnet_metadata.csv"))?,
        ),
        (
            "musiccaps",
            musiccaps(&data.join("musiccaps/musiccaps-public.csv"), &lex)?,
        ),
    ];
    let mut kept = 0;
    for (name, tracks) in sources {
        let mut text = String::new();
        for t in tracks {
            // Only rows that pass validation ship.
            match t.validated() {
                Ok(t) => {
                    text.push_str(&serde_json::to_string(&t)?);
                    text.push('\n');
                    kept += 1;
                }
                Err(e) => eprintln!("skipping a {name} row: {e}"),
            }
        }
        let path = out.join(format!("{name}.jsonl"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(kept)
}

/// Every demo track as import rows, source by source.
pub fn rows() -> Vec<music_rag_import::Row> {
    DEMO_SOURCES
        .iter()
        .flat_map(|(_, text)| music_rag_import::json_lines_from(text.as_bytes()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_list_literals() {
        assert_eq!(
            parse_py_list("['a b', \"rock 'n' roll\", 'x\\'y']"),
            vec!["a b", "rock 'n' roll", "x'y"]
        );
    }

    #[test]
    fn aspects_are_classified() {
        let lex = Lexicon::load();
        assert_eq!(
            lex.instrument_in("soft female vocal").as_deref(),
            Some("female vocal")
        );
        assert_eq!(
            lex.instrument_in("mellow piano melody").as_deref(),
            Some("piano")
        );
        assert_eq!(lex.instrument_in("no voices"), None);
        assert_eq!(lex.genre_of("jazz music").as_deref(), Some("jazz"));
        assert_eq!(lex.genre_of("instrumental"), None);
    }

    #[test]
    fn classical_titles_name_their_keys() {
        let key = |t: &str| key_in_title(t).map(|k| k.to_string());
        assert_eq!(key("Piano Quintet in A major").as_deref(), Some("A major"));
        assert_eq!(key("Sonata in B-flat major").as_deref(), Some("Bb major"));
        assert_eq!(
            key("Partita in D minor, BWV 1004").as_deref(),
            Some("D minor")
        );
        assert_eq!(key("Serenade in E-flat").as_deref(), Some("Eb major"));
        assert_eq!(key("The Art of Fugue"), None);
    }

    #[test]
    fn shipped_catalog_is_valid_and_complete() {
        let mut ids = HashSet::new();
        for line in DEMO_SOURCES.iter().flat_map(|(_, text)| text.lines()) {
            let t: Track = serde_json::from_str(line).unwrap();
            assert!(ids.insert(t.id.clone()), "duplicate id {}", t.id);
            t.validated().unwrap();
        }
        assert!(ids.contains("harmonix:0004_abc"));
        assert!(ids.iter().any(|i| i.starts_with("musicnet:")));
        assert!(ids.iter().filter(|i| i.starts_with("musiccaps:")).count() > 5000);
    }
}
