//! The query parser's word lists (negators, stop words, decade words, synonyms) and its
//! reading of words: tokenizing, BPM numbers, decades and years.

pub(crate) const NEGATORS: &[&str] = &[
    "no",
    "without",
    "not",
    "non",
    "minus",
    "except",
    "excluding",
];
pub(crate) const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "with",
    "by",
    "for",
    "to",
    "in",
    "on",
    "at",
    "is",
    "are",
    "was",
    "be",
    "some",
    "me",
    "i",
    "my",
    "want",
    "find",
    "give",
    "play",
    "show",
    "like",
    "song",
    "songs",
    "track",
    "tracks",
    "music",
    "tune",
    "tunes",
    "piece",
    "pieces",
    "something",
    "that",
    "this",
    "these",
    "those",
    "it",
    "its",
    "what",
    "which",
    "who",
    "please",
    "any",
];
pub(crate) const DECADE_WORDS: &[(&str, i32)] = &[
    ("fifties", 1950),
    ("sixties", 1960),
    ("seventies", 1970),
    ("eighties", 1980),
    ("nineties", 1990),
];
/// Query words that mean a catalog term by another name.
pub(crate) const SYNONYMS: &[(&str, &[&str])] = &[
    (
        "sad",
        &[
            "sad",
            "melancholic",
            "melancholy",
            "sorrowful",
            "emotional",
            "mournful",
        ],
    ),
    ("melancholic", &["melancholic", "melancholy", "sad"]),
    (
        "happy",
        &["happy", "joyful", "cheerful", "uplifting", "fun"],
    ),
    (
        "calm",
        &[
            "calm", "relaxing", "peaceful", "soothing", "mellow", "chill",
        ],
    ),
    (
        "relaxing",
        &["relaxing", "calm", "peaceful", "soothing", "chill"],
    ),
    ("chill", &["chill", "relaxing", "calm", "mellow"]),
    ("energetic", &["energetic", "upbeat", "lively", "powerful"]),
    (
        "dark",
        &["dark", "ominous", "eerie", "scary", "suspenseful"],
    ),
    (
        "romantic",
        &["romantic", "love", "sentimental", "passionate"],
    ),
    ("epic", &["epic", "cinematic", "dramatic", "heroic"]),
    (
        "female voice",
        &[
            "female vocal",
            "female vocals",
            "female voice",
            "female singer",
        ],
    ),
    (
        "female vocals",
        &[
            "female vocal",
            "female vocals",
            "female voice",
            "female singer",
        ],
    ),
    (
        "female singer",
        &[
            "female vocal",
            "female vocals",
            "female voice",
            "female singer",
        ],
    ),
    (
        "male voice",
        &["male vocal", "male vocals", "male voice", "male singer"],
    ),
    (
        "male vocals",
        &["male vocal", "male vocals", "male voice", "male singer"],
    ),
    (
        "male singer",
        &["male vocal", "male vocals", "male voice", "male singer"],
    ),
    ("drumming", &["drums", "percussion", "drum"]),
    ("hip hop", &["hip hop", "hiphop", "rap"]),
    ("rnb", &["r&b", "rnb", "rhythm and blues"]),
    (
        "electronic",
        &["electronic", "electronica", "edm", "electro"],
    ),
    ("classical", &["classical", "orchestral"]),
    ("west african", &["west african", "african", "west africa"]),
];

pub(crate) fn is_stopword(w: &str) -> bool {
    STOPWORDS.contains(&w)
}

/// One word of the query with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) raw: String,
    pub(crate) consumed: bool,
    /// Removed from the search text too (numbers that became filters, negations).
    pub(crate) drop_from_text: bool,
}

pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let replaced = text
        .to_lowercase()
        .replace("r&b", "rnb")
        .replace("hip-hop", "hip hop");
    replaced
        .split_whitespace()
        .flat_map(|w| {
            let w = w.trim_matches(|c: char| {
                !(c.is_alphanumeric() || c == '\'' || c == '+' || c == '#' || c == '♯')
            });
            let w = w.trim_start_matches('\'');
            // Split hyphenated words ("synth-pop") but keep numeric ranges ("90-120").
            let keep = w.chars().next().is_some_and(|c| c.is_ascii_digit());
            let parts: Vec<String> = if keep {
                vec![w.to_string()]
            } else {
                w.split('-').map(str::to_string).collect()
            };
            parts
        })
        .filter(|w| !w.is_empty())
        .map(|raw| Token {
            raw,
            consumed: false,
            drop_from_text: false,
        })
        .collect()
}

pub(crate) fn parse_bpm_number(s: &str) -> Option<f32> {
    let s = s.trim_end_matches("bpm").trim_end_matches('+');
    s.parse::<f32>().ok().filter(|v| (1.0..=400.0).contains(v))
}

pub(crate) fn decade_of(word: &str) -> Option<i32> {
    if let Some((_, y)) = DECADE_WORDS.iter().find(|(w, _)| *w == word) {
        return Some(*y);
    }
    let digits = word.strip_suffix("s")?;
    match digits.len() {
        2 => {
            let d: i32 = digits.parse().ok()?;
            (d % 10 == 0).then_some(if d >= 30 { 1900 + d } else { 2000 + d })
        }
        4 => {
            let d: i32 = digits.parse().ok()?;
            (d % 10 == 0 && (1000..=2090).contains(&d)).then_some(d)
        }
        _ => None,
    }
}

pub(crate) fn year_of(word: &str) -> Option<i32> {
    (word.len() == 4)
        .then(|| word.parse::<i32>().ok())
        .flatten()
        .filter(|y| (1000..=2100).contains(y))
}

/// An occasion or activity a query names ("music to fall asleep to", "workout music"), read as
/// what suits it: moods to prefer, whether voices get in the way, and the words the search text
/// carries instead (so "fall" in "fall asleep" finds no song titled "Fall"). No tempo range: the
/// catalog's tracks with moods rarely state a tempo, and a preference for both would fit none.
pub(crate) struct Occasion {
    pub(crate) phrases: &'static [&'static str],
    pub(crate) moods: &'static [&'static str],
    pub(crate) without_vocals: bool,
    pub(crate) text: &'static str,
}

pub(crate) const OCCASIONS: &[Occasion] = &[
    Occasion {
        phrases: &[
            "fall asleep",
            "falling asleep",
            "asleep",
            "sleep",
            "sleeping",
            "bedtime",
        ],
        moods: &[
            "calm", "soothing", "peaceful", "gentle", "relaxing", "dreamy", "calming",
        ],
        without_vocals: false,
        text: "calm soothing gentle music for sleep",
    },
    Occasion {
        phrases: &[
            "studying",
            "study",
            "focus",
            "focusing",
            "concentrate",
            "concentration",
            "homework",
            "reading",
        ],
        moods: &[
            "calm",
            "relaxing",
            "peaceful",
            "soothing",
            "meditative",
            "mellow",
        ],
        without_vocals: true,
        text: "calm instrumental music for focus",
    },
    Occasion {
        phrases: &[
            "work out",
            "working out",
            "workout",
            "gym",
            "exercise",
            "exercising",
            "training",
            "running",
            "jogging",
            "cardio",
        ],
        moods: &[
            "energetic",
            "upbeat",
            "powerful",
            "motivational",
            "intense",
            "aggressive",
        ],
        without_vocals: false,
        text: "energetic upbeat powerful music for a workout",
    },
    Occasion {
        phrases: &["party", "partying", "dance floor"],
        moods: &["upbeat", "energetic", "happy", "fun", "party"],
        without_vocals: false,
        text: "upbeat energetic happy dance music for a party",
    },
    Occasion {
        phrases: &["dinner", "dinner party"],
        moods: &[
            "romantic", "warm", "relaxing", "mellow", "smooth", "elegant",
        ],
        without_vocals: false,
        text: "warm mellow smooth relaxing music for dinner",
    },
    Occasion {
        phrases: &["driving", "road trip", "roadtrip"],
        moods: &["energetic", "upbeat", "happy", "uplifting"],
        without_vocals: false,
        text: "upbeat energetic music for driving",
    },
    Occasion {
        phrases: &["meditation", "meditate", "meditating", "yoga"],
        moods: &[
            "calm",
            "peaceful",
            "meditative",
            "relaxing",
            "soothing",
            "spiritual",
        ],
        without_vocals: true,
        text: "calm peaceful meditative ambient music",
    },
];
