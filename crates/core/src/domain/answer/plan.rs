//! Questions read into plans before anything is searched: a superlative over a numeric fact
//! ("the fastest metal song"), a count ("how many songs by Rihanna"), a list ("which songs by
//! Daft Punk"), an existence question ("do you have anything by Beyoncé?") or a question the
//! catalog cannot be about ("the capital of France"). Offline and deterministic: the words
//! decide; what the plan is scoped to (genres, moods, artists, filters) is read by the query
//! parser from the rest of the question. Anything else is answered from a search, as before.

use std::sync::Arc;

use crate::domain::answer::{content_terms, Fact};
use crate::domain::catalog::measure::Measure;
use crate::domain::catalog::track::Track;
use crate::domain::query::text::normalize_term;

/// What a question asks of the catalog as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// The track with the highest (or lowest) value of a fact.
    Superlative { measure: Measure, highest: bool },
    /// How many tracks fit.
    Count,
    /// Every track that fits.
    List,
    /// Whether any track fits.
    Existence,
}

/// Superlative words, the fact each sorts by and which end comes first.
const SUPERLATIVES: &[(&str, Measure, bool)] = &[
    ("fastest", Measure::Tempo, true),
    ("quickest", Measure::Tempo, true),
    ("highest bpm", Measure::Tempo, true),
    ("highest tempo", Measure::Tempo, true),
    ("slowest", Measure::Tempo, false),
    ("lowest bpm", Measure::Tempo, false),
    ("lowest tempo", Measure::Tempo, false),
    ("longest", Measure::Duration, true),
    ("shortest", Measure::Duration, false),
    ("newest", Measure::Year, true),
    ("latest", Measure::Year, true),
    ("most recent", Measure::Year, true),
    ("oldest", Measure::Year, false),
    ("earliest", Measure::Year, false),
];

const COUNT_CUES: &[&str] = &["how many", "number of", "count"];
const LIST_CUES: &[&str] = &[
    "which songs",
    "which tracks",
    "what songs",
    "what tracks",
    "list",
    "show me all",
    "show all",
    "all the songs",
    "all songs",
    "all tracks",
    "all the tracks",
];
const EXISTENCE_CUES: &[&str] = &[
    "do you have",
    "have you got",
    "is there",
    "are there",
    "does the catalog have",
    "does the catalog hold",
    "got any",
    "anything by",
];

/// Words that only frame the question; removed before the scope is parsed, so "songs" or
/// "catalog" are not read as search terms of the scope.
const FRAME_WORDS: &[&str] = &[
    "in the catalog",
    "in your catalog",
    "in the collection",
    "you have",
    "are here",
    "is here",
    "here",
    "are there",
    "is there",
    "anything",
    "something",
    "song",
    "songs",
    "track",
    "tracks",
    "piece",
    "pieces",
    "tune",
    "tunes",
    "music",
];

/// Words that tie a question to music even when it names nothing the catalog holds.
const MUSIC_WORDS: &[&str] = &[
    "song",
    "songs",
    "track",
    "tracks",
    "music",
    "musical",
    "album",
    "albums",
    "artist",
    "artists",
    "band",
    "bands",
    "singer",
    "sing",
    "sings",
    "sang",
    "sung",
    "genre",
    "genres",
    "tempo",
    "bpm",
    "key",
    "tune",
    "tunes",
    "piece",
    "pieces",
    "playlist",
    "listen",
    "play",
    "played",
    "plays",
    "sound",
    "sounds",
    "instrument",
    "instruments",
    "lyrics",
    "catalog",
    "recording",
    "recordings",
    "record",
    "composer",
    "composed",
    "melody",
    "beat",
    "beats",
    "rhythm",
    "vocal",
    "vocals",
    "voice",
    "chord",
    "chords",
    "concert",
    "live",
    "mix",
    "dance",
    "ballad",
    "remix",
    "cover",
    "release",
    "released",
    "hit",
    "hits",
    "radio",
    "guitar",
    "piano",
    "drums",
    "bass",
    "violin",
    "orchestra",
    "symphony",
    "sonata",
    "opera",
    "jazz",
    "rock",
    "pop",
    "metal",
    "classical",
    "blues",
    "hip",
    "rap",
    "waltz",
    "mood",
];

/// The question normalised, its punctuation read as spaces, with a space at each end so cues
/// match whole words.
pub(crate) fn spaced(question: &str) -> String {
    let plain: String = normalize_term(question)
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    format!(
        " {} ",
        plain.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

fn has_cue(q: &str, cues: &[&str]) -> bool {
    cues.iter().any(|c| q.contains(&format!(" {c} ")))
}

/// The intent of a question and the rest of it, without the intent's words, for the parser
/// to read the scope from. `None`: the question is answered from a search.
pub fn intent_of(question: &str) -> Option<(Intent, String)> {
    let q = spaced(question);
    let (intent, cue) = if let Some((w, m, h)) = SUPERLATIVES
        .iter()
        .find(|(w, _, _)| q.contains(&format!(" {w} ")))
    {
        (
            Intent::Superlative {
                measure: *m,
                highest: *h,
            },
            vec![*w],
        )
    } else if has_cue(&q, COUNT_CUES) {
        (Intent::Count, COUNT_CUES.to_vec())
    } else if has_cue(&q, LIST_CUES) {
        (Intent::List, LIST_CUES.to_vec())
    } else if has_cue(&q, EXISTENCE_CUES) {
        (Intent::Existence, EXISTENCE_CUES.to_vec())
    } else {
        return None;
    };
    // The rest keeps the question's own characters ("P!nk"), for the parser.
    let mut rest = question.to_lowercase();
    for w in cue.iter().chain(FRAME_WORDS) {
        rest = without_phrase(&rest, w);
    }
    Some((
        intent,
        rest.split_whitespace().collect::<Vec<_>>().join(" "),
    ))
}

/// `text` without each occurrence of `phrase` that stands as whole words.
fn without_phrase(text: &str, phrase: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(phrase) {
        let before = rest[..at].chars().next_back();
        let end = at + phrase.len();
        let after = rest[end..].chars().next();
        let whole =
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric);
        if whole {
            out.push_str(&rest[..at]);
            out.push(' ');
        } else {
            out.push_str(&rest[..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Comparative words, the fact each compares, and whether more of it is meant.
const COMPARATIVES: &[(&str, Measure, bool)] = &[
    ("faster", Measure::Tempo, true),
    ("quicker", Measure::Tempo, true),
    ("slower", Measure::Tempo, false),
    ("longer", Measure::Duration, true),
    ("shorter", Measure::Duration, false),
    ("newer", Measure::Year, true),
    ("more recent", Measure::Year, true),
    ("older", Measure::Year, false),
];

/// A question comparing two named tracks by a fact: "is X faster than Y?", "which is longer,
/// X or Y?". Returns the fact, whether more of it is asked about, and the two names as written.
pub fn comparison_of(question: &str) -> Option<(Measure, bool, String, String)> {
    let q = question
        .trim()
        .trim_end_matches(['?', '.', '!'])
        .to_lowercase();
    let (word, measure, more) = COMPARATIVES
        .iter()
        .find(|(w, _, _)| without_phrase(&q, w) != q)
        .map(|(w, m, more)| (*w, *m, *more))?;
    let at = q.find(word)?;
    let (before, after) = (&q[..at], &q[at + word.len()..]);
    let names = if let Some(rest) = after.trim_start().strip_prefix("than ") {
        // "is X faster than Y"
        let first = before.trim().strip_prefix("is ")?.trim();
        Some((first.to_string(), rest.trim().to_string()))
    } else {
        // "which is faster, X or Y" / "which one is faster: X or Y"
        let rest = after.trim_start_matches([',', ':', ' ']);
        let (a, b) = rest.split_once(" or ")?;
        Some((a.trim().to_string(), b.trim().to_string()))
    }?;
    let clean = |s: &str| {
        s.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace())
            .to_string()
    };
    let (a, b) = (clean(&names.0), clean(&names.1));
    (!a.is_empty() && !b.is_empty() && a != b).then_some((measure, more, a, b))
}

/// The answer to a comparison of two tracks (cited as [1] and [2]).
pub fn comparison_answer(measure: Measure, more: bool, a: &Track, b: &Track) -> String {
    let word = COMPARATIVES
        .iter()
        .find(|(_, m, mo)| *m == measure && *mo == more)
        .map(|(w, _, _)| *w)
        .unwrap_or("different");
    let name = |t: &Track, n: usize| format!("\"{}\" by {} [{n}]", t.title, t.artist);
    match (measure.of(a), measure.of(b)) {
        (Some(x), Some(y)) if x == y => format!(
            "Neither: {} and {} are both at {}.",
            name(a, 1),
            name(b, 2),
            measure.describe(x)
        ),
        (Some(x), Some(y)) => {
            let yes = if more { x > y } else { x < y };
            format!(
                "{}: {} is at {}, {} at {}, so the first is {}{}.",
                if yes { "Yes" } else { "No" },
                name(a, 1),
                measure.describe(x),
                name(b, 2),
                measure.describe(y),
                if yes { "" } else { "not " },
                word
            )
        }
        _ => format!(
            "The catalog does not state the {} of both {} and {}, so I cannot compare them.",
            measure.noun(),
            name(a, 1),
            name(b, 2)
        ),
    }
}

/// Whether a question cannot be about the catalog: no word of it is a music word or a term of
/// the catalog's vocabulary (`term`), and it names no artist or title the catalog holds
/// (`name`: all of its content words, or two to four of them in a row; single common words
/// like "rain" are in too many titles to tell).
pub fn is_off_topic(
    question: &str,
    term: &dyn Fn(&str) -> bool,
    name: &dyn Fn(&[String]) -> bool,
) -> bool {
    let q = spaced(question);
    if Fact::asked_in(question).is_some() || q.split_whitespace().any(|w| MUSIC_WORDS.contains(&w))
    {
        return false;
    }
    // Everyday questions whose words a catalog may also hold ("rain", "Paris", "Tomorrow" are
    // titles and tags) are about the world, not the music.
    if EVERYDAY_FRAMES.iter().any(|f| q.contains(f)) {
        return true;
    }
    let words = content_terms(question);
    if words.is_empty() || words.iter().any(|w| term(w)) || name(&words) {
        return false;
    }
    // Names are looked for in the question's own words too, where titles keep their small
    // words ("According to You").
    let all: Vec<String> = q.split_whitespace().map(str::to_string).collect();
    !(2..=4).any(|n| words.windows(n).any(name)) && !(2..=5).any(|n| all.windows(n).any(name))
}

/// Frames of everyday questions (weather, the time, sport, prices) that no music question
/// takes, in the question's spaced, normalised form; a question naming music ("songs",
/// "album") is still read as music first ("songs for the world cup" is music).
const EVERYDAY_FRAMES: &[&str] = &[
    " will it rain ",
    " will it snow ",
    " is it going to rain ",
    " weather ",
    " forecast ",
    " what time is it ",
    " world cup ",
    " super bowl ",
    " champions league ",
    " olympics ",
    " olympic games ",
    " stock price ",
    " exchange rate ",
];

/// The answer to a question the catalog cannot be about.
pub const OFF_TOPIC: &str = "I answer questions about the music in this catalog (its tracks, \
artists, albums, genres, tempos and keys), and this question is not about them, so I will not \
guess.";

/// What the plan was scoped to, in words: "metal tracks", "tracks by Rihanna".
pub fn scope_words(described: &[String], artist: Option<&str>) -> String {
    let mut s = "tracks".to_string();
    if let Some(a) = artist {
        s.push_str(&format!(" by {a}"));
    }
    if !described.is_empty() {
        s.push_str(&format!(" ({})", described.join(", ")));
    }
    s
}

/// "1 track", "7 tracks": the scope's first word agrees with the count.
fn counted(total: usize, scope: &str) -> String {
    match (total, scope.strip_prefix("tracks")) {
        (1, Some(rest)) => format!("1 track{rest}"),
        _ => format!("{total} {scope}"),
    }
}

fn cite(tracks: &[Arc<Track>]) -> String {
    tracks
        .iter()
        .enumerate()
        .map(|(i, t)| format!("\"{}\" by {} [{}]", t.title, t.artist, i + 1))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The answer to a planned question, from the selected tracks (`total` passed in all;
/// `tracks` is the first page, cited in order).
pub fn planned_answer(intent: Intent, scope: &str, total: usize, tracks: &[Arc<Track>]) -> String {
    if total == 0 || tracks.is_empty() {
        return match intent {
            Intent::Count => format!("The catalog holds no {scope}: 0."),
            _ => format!("The catalog holds no {scope}, so I will not guess."),
        };
    }
    match intent {
        Intent::Superlative { measure, highest } => {
            let word = SUPERLATIVES
                .iter()
                .find(|(_, m, h)| *m == measure && *h == highest)
                .map(|(w, _, _)| *w)
                .unwrap_or("first");
            let top = &tracks[0];
            let Some(value) = measure.of(top) else {
                return format!(
                    "None of the {total} {scope} states its {}, so I cannot say which is the {word}.",
                    measure.noun()
                );
            };
            let mut text = format!(
                "The {word} of the {} is \"{}\" by {} at {} [1].",
                counted(total, scope),
                top.title,
                top.artist,
                measure.describe(value)
            );
            let next: Vec<String> = tracks
                .iter()
                .enumerate()
                .skip(1)
                .filter_map(|(i, t)| {
                    measure
                        .of(t)
                        .map(|v| format!("\"{}\" ({}) [{}]", t.title, measure.describe(v), i + 1))
                })
                .collect();
            if !next.is_empty() {
                text.push_str(&format!(" Next: {}.", next.join(", ")));
            }
            text
        }
        Intent::Count => format!(
            "The catalog holds {}{} {}.",
            counted(total, scope),
            if total > tracks.len() {
                ", among them".to_string()
            } else {
                ":".to_string()
            },
            cite(tracks)
        ),
        Intent::List => format!(
            "The catalog holds {}{}: {}.",
            counted(total, scope),
            if total > tracks.len() {
                format!(" (the first {} listed)", tracks.len())
            } else {
                String::new()
            },
            cite(tracks)
        ),
        Intent::Existence => format!(
            "Yes: the catalog holds {}, for example {}.",
            counted(total, scope),
            cite(tracks)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_come_from_the_words() {
        let (i, rest) = intent_of("what's the fastest metal song in the catalog?").unwrap();
        assert_eq!(
            i,
            Intent::Superlative {
                measure: Measure::Tempo,
                highest: true
            }
        );
        assert!(
            rest.contains("metal") && !rest.contains("fastest"),
            "{rest}"
        );
        assert_eq!(
            intent_of("how many songs by Rihanna are in the catalog?")
                .unwrap()
                .0,
            Intent::Count
        );
        assert_eq!(
            intent_of("which songs by daft punk are here?").unwrap().0,
            Intent::List
        );
        assert_eq!(
            intent_of("do you have anything by beyonse?").unwrap().0,
            Intent::Existence
        );
        assert_eq!(
            intent_of("what is the shortest classical piece?")
                .unwrap()
                .0,
            Intent::Superlative {
                measure: Measure::Duration,
                highest: false
            }
        );
        assert!(intent_of("what tempo is ABC by the Jackson 5?").is_none());
        let (_, rest) = intent_of("which P!nk song is the slowest?").unwrap();
        assert!(rest.contains("p!nk") && !rest.contains("song"), "{rest}");
    }

    #[test]
    fn comparisons_name_two_tracks_and_a_fact() {
        let (m, more, a, b) = comparison_of("Is Technologic faster than ABC?").unwrap();
        assert_eq!((m, more), (Measure::Tempo, true));
        assert_eq!((a.as_str(), b.as_str()), ("technologic", "abc"));
        let (m, more, a, b) =
            comparison_of("which is longer, Bohemian Rhapsody or Hey Jude?").unwrap();
        assert_eq!((m, more), (Measure::Duration, true));
        assert_eq!((a.as_str(), b.as_str()), ("bohemian rhapsody", "hey jude"));
        assert!(comparison_of("what's the fastest song?").is_none());
        let t = |title: &str, tempo: f32| {
            let mut t = Track {
                title: title.into(),
                artist: "A".into(),
                ..Default::default()
            };
            t.metadata.tempo = Some(tempo);
            t
        };
        let s = comparison_answer(Measure::Tempo, true, &t("X", 128.0), &t("Y", 98.0));
        assert!(s.starts_with("Yes: \"X\" by A [1] is at 128 BPM"), "{s}");
        let s = comparison_answer(Measure::Tempo, false, &t("X", 128.0), &t("Y", 98.0));
        assert!(s.starts_with("No:") && s.ends_with("not slower."), "{s}");
    }

    #[test]
    fn off_topic_needs_no_music_and_no_catalog_word() {
        let none = |_: &str| false;
        let no_name = |_: &[String]| false;
        assert!(is_off_topic(
            "what is the capital of France?",
            &none,
            &no_name
        ));
        // A single common word that is also a title ("Rain") does not make it music.
        let rain = |w: &[String]| w == ["rain"];
        assert!(is_off_topic(
            "will it rain in Paris tomorrow?",
            &none,
            &rain
        ));
        // A weather question stays off topic when the catalog holds its words as names.
        let every = |_: &[String]| true;
        assert!(is_off_topic(
            "will it rain in Paris tomorrow?",
            &|_| true,
            &every
        ));
        assert!(!is_off_topic("songs about the weather", &none, &no_name));
        // Sport is the world's, even where "world" and "cup" are words of titles.
        assert!(is_off_topic(
            "who won the world cup in 2018?",
            &|_| true,
            &every
        ));
        assert!(!is_off_topic("songs for the world cup", &none, &no_name));
        assert!(!is_off_topic("who sang Bad Romance?", &none, &no_name));
        assert!(!is_off_topic("what is ABC?", &none, &|w| w == ["abc"]));
        let bad_romance = |w: &[String]| w == ["bad", "romance"];
        assert!(!is_off_topic(
            "tell me about bad romance",
            &none,
            &bad_romance
        ));
        assert!(!is_off_topic(
            "recommend something calm",
            &|w| w == "calm",
            &no_name
        ));
    }

    #[test]
    fn answers_cite_in_order_and_say_the_total() {
        let t = |title: &str, tempo: f32| {
            let mut t = Track {
                id: title.into(),
                title: title.into(),
                artist: "A".into(),
                ..Default::default()
            };
            t.metadata.tempo = Some(tempo);
            Arc::new(t)
        };
        let tracks = [t("Fast", 237.0), t("Mid", 140.0)];
        let s = planned_answer(
            Intent::Superlative {
                measure: Measure::Tempo,
                highest: true,
            },
            "tracks (genre metal)",
            7,
            &tracks,
        );
        assert!(
            s.starts_with(
                "The fastest of the 7 tracks (genre metal) is \"Fast\" by A at 237 BPM [1]."
            ),
            "{s}"
        );
        let c = planned_answer(Intent::Count, "tracks by A", 7, &tracks);
        assert!(
            c.contains("holds 7 tracks by A") && c.contains("[2]"),
            "{c}"
        );
        let none = planned_answer(Intent::List, "tracks by B", 0, &[]);
        assert!(none.contains("no tracks by B"), "{none}");
    }
}
