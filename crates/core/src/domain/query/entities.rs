//! Names a question mentions ("by Radiohead", "the album Kid A", "Hotel California"), found
//! from its wording alone: quoted names, names after "by", "the band", "album" and the like,
//! and capitalised runs. Whether the catalog holds them is for [`super::names`] to say.

use serde::Serialize;

use crate::domain::query::text::normalize_term;

/// What kind of name a question used.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    Artist,
    Title,
    Album,
    /// A name that may be any of the three ("Hotel California").
    Any,
}

impl NameKind {
    /// The words an answer uses for it: "artist", "title", "album", "track, artist or album".
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::Artist => "artist",
            NameKind::Title => "track",
            NameKind::Album => "album",
            NameKind::Any => "track, artist or album",
        }
    }
}

/// A name as the question wrote it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedEntity {
    pub kind: NameKind,
    pub name: String,
}

const NAME_ENDS: &[&str] = &[
    "do", "does", "did", "you", "have", "has", "in", "with", "from", "that", "which", "and", "on",
    "for", "is", "are", "was", "were", "please", "at", "about", "like", "or", "but",
];

/// Words that introduce a name of a known kind.
const INTRODUCERS: &[(&[&str], NameKind)] = &[
    (&["the", "band"], NameKind::Artist),
    (&["the", "group"], NameKind::Artist),
    (&["the", "artist"], NameKind::Artist),
    (&["the", "singer"], NameKind::Artist),
    (&["the", "composer"], NameKind::Artist),
    (&["the", "album"], NameKind::Album),
    (&["album"], NameKind::Album),
    (&["the", "song"], NameKind::Title),
    (&["by"], NameKind::Artist),
];

/// Words that start a question rather than a name, even when capitalised.
const QUESTION_OPENERS: &[&str] = &[
    "what",
    "who",
    "which",
    "how",
    "when",
    "where",
    "why",
    "is",
    "are",
    "do",
    "does",
    "did",
    "can",
    "could",
    "play",
    "find",
    "show",
    "give",
    "list",
    "any",
    "i",
    "tell",
    "recommend",
    "name",
    "was",
    "were",
    "has",
    "have",
    "the",
    "a",
];

/// Small words a capitalised name may hold ("Sound of Silence", "Earth, Wind and Fire").
const CONNECTORS: &[&str] = &[
    "of", "the", "and", "in", "on", "a", "to", "for", "&", "de", "la",
];

struct Word<'a> {
    /// As written, without surrounding punctuation.
    text: &'a str,
    lower: String,
    /// Punctuation after the word ends a name.
    ends_clause: bool,
}

fn split_words(q: &str) -> Vec<Word<'_>> {
    q.split_whitespace()
        .map(|raw| {
            let text = raw.trim_matches(|c: char| !(c.is_alphanumeric() || c == '&' || c == '\''));
            let ends_clause = raw.ends_with([',', '?', '.', '!', ';', ':', '"', '”']);
            Word {
                text,
                lower: text.to_lowercase(),
                ends_clause,
            }
        })
        .filter(|w| !w.text.is_empty())
        .collect()
}

fn is_capitalised(w: &str) -> bool {
    w.chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

/// The first word of the capitalised run that ends just before `words[by]`, when there is one
/// and it does not open the question ("Anything by Adele?" names no title).
fn title_before(words: &[Word<'_>], by: usize) -> Option<usize> {
    let mut first = by;
    while first > 0 {
        let w = &words[first - 1];
        let connector_inside = CONNECTORS.contains(&w.lower.as_str())
            && first < by
            && first >= 2
            && is_capitalised(words[first - 2].text);
        if w.ends_clause || !(is_capitalised(w.text) || connector_inside) {
            break;
        }
        first -= 1;
    }
    (first > 0 && first < by && !QUESTION_OPENERS.contains(&words[first].lower.as_str()))
        .then_some(first)
}

/// Names a question uses: quoted names, names after "by", "the band", "album" and the like,
/// and capitalised runs of two or more words. `is_vocabulary` says whether a phrase is a
/// catalog term (a genre or origin like "West African"), which is not a name.
pub fn named_entities(question: &str, is_vocabulary: &dyn Fn(&str) -> bool) -> Vec<NamedEntity> {
    // A catalogue number ("Op. 27 No. 2") is no capitalised name.
    let folded = crate::domain::query::catalogue::fold_catalogue_numbers(question);
    let question = folded.as_str();
    let mut out: Vec<NamedEntity> = Vec::new();
    let mut push = |kind: NameKind, name: &str| {
        let name = name.trim().trim_end_matches(['?', '.', '!', ',']).trim();
        if !name.is_empty()
            && !out
                .iter()
                .any(|e| normalize_term(&e.name) == normalize_term(name))
        {
            out.push(NamedEntity {
                kind,
                name: name.to_string(),
            });
        }
    };
    // Quoted names.
    for (open, close) in [('"', '"'), ('“', '”')] {
        let mut rest = question;
        while let Some(start) = rest.find(open) {
            let after = &rest[start + open.len_utf8()..];
            let Some(end) = after.find(close) else { break };
            let before = normalize_term(&rest[..start]);
            let kind = if before.ends_with("album") {
                NameKind::Album
            } else if before.ends_with(" by") || before == "by" {
                NameKind::Artist
            } else {
                NameKind::Any
            };
            push(kind, &after[..end]);
            rest = &after[end + close.len_utf8()..];
        }
    }
    let unquoted: String = question.replace(['"', '“', '”'], " ");
    let words = split_words(&unquoted);
    let mut taken = vec![false; words.len()];
    // Names after an introducing phrase.
    let mut i = 0;
    while i < words.len() {
        let found = INTRODUCERS.iter().find(|(phrase, _)| {
            phrase
                .iter()
                .enumerate()
                .all(|(k, p)| words.get(i + k).is_some_and(|w| w.lower == *p))
                && !words[i + phrase.len() - 1].ends_clause
        });
        let Some((phrase, kind)) = found else {
            i += 1;
            continue;
        };
        // "by the band X": the longer introducer that follows says more.
        let longer_follows = INTRODUCERS.iter().any(|(p, _)| {
            p.len() > 1
                && p.iter().enumerate().all(|(k, w)| {
                    words
                        .get(i + phrase.len() + k)
                        .is_some_and(|x| x.lower == *w)
                })
        });
        if longer_follows {
            i += phrase.len();
            continue;
        }
        // "Stand By Me": a capitalised "By" inside a capitalised run is part of a title.
        if *phrase == ["by"]
            && is_capitalised(words[i].text)
            && i > 0
            && is_capitalised(words[i - 1].text)
        {
            i += 1;
            continue;
        }
        // "what year is Umbrella by Rihanna": the capitalised words before "by" name a title.
        if *phrase == ["by"] {
            if let Some(first) = title_before(&words, i) {
                let name: Vec<&str> = words[first..i].iter().map(|w| w.text).collect();
                let name = name.join(" ");
                if !is_vocabulary(&normalize_term(&name)) {
                    push(NameKind::Title, &name);
                    taken[first..i].iter_mut().for_each(|t| *t = true);
                }
            }
        }
        let start = i + phrase.len();
        let mut end = start;
        let capitalised = words.get(start).is_some_and(|w| is_capitalised(w.text));
        while end < words.len() {
            let w = &words[end];
            let stop = if capitalised {
                !(is_capitalised(w.text) || CONNECTORS.contains(&w.lower.as_str()))
            } else {
                NAME_ENDS.contains(&w.lower.as_str())
            };
            if stop {
                break;
            }
            end += 1;
            if w.ends_clause {
                break;
            }
        }
        // A capitalised run does not end on a connector ("Queen and" -> "Queen").
        while end > start && CONNECTORS.contains(&words[end - 1].lower.as_str()) && capitalised {
            end -= 1;
        }
        if end > start {
            let name: Vec<&str> = words[start..end].iter().map(|w| w.text).collect();
            let name = name.join(" ");
            if !is_vocabulary(&normalize_term(&name)) {
                push(*kind, &name);
            }
            taken[i..end].iter_mut().for_each(|t| *t = true);
        }
        i = end.max(i + 1);
    }
    // Capitalised runs of two or more words, unless the whole question is in title case.
    let capitals = words.iter().filter(|w| is_capitalised(w.text)).count();
    if capitals * 10 > words.len() * 6 {
        return out;
    }
    let mut i = 0;
    while i < words.len() {
        let starts = !taken[i]
            && is_capitalised(words[i].text)
            && !(i == 0 && QUESTION_OPENERS.contains(&words[i].lower.as_str()));
        if !starts {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < words.len() && !taken[end] && !words[end - 1].ends_clause {
            let w = &words[end];
            let connector_then_capital = CONNECTORS.contains(&w.lower.as_str())
                && words.get(end + 1).is_some_and(|n| is_capitalised(n.text));
            if is_capitalised(w.text) || connector_then_capital {
                end += 1;
            } else {
                break;
            }
        }
        if end - i >= 2 {
            let name: Vec<&str> = words[i..end].iter().map(|w| w.text).collect();
            // "Jazz Piano" is two catalog words capitalised, not a name.
            let all_vocabulary = words[i..end]
                .iter()
                .all(|w| is_vocabulary(&w.lower) || CONNECTORS.contains(&w.lower.as_str()));
            let name = name.join(" ");
            if !all_vocabulary && !is_vocabulary(&normalize_term(&name)) {
                push(NameKind::Any, &name);
            }
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    fn names(q: &str) -> Vec<(NameKind, String)> {
        named_entities(q, &none)
            .into_iter()
            .map(|e| (e.kind, e.name))
            .collect()
    }

    #[test]
    fn names_after_by_the_band_and_album() {
        assert_eq!(
            names("what tempo is ABC by the Jackson 5?"),
            vec![
                (NameKind::Title, "ABC".to_string()),
                (NameKind::Artist, "the Jackson 5".to_string())
            ]
        );
        assert_eq!(
            names("what songs by Taylor Swift do you have?"),
            vec![(NameKind::Artist, "Taylor Swift".to_string())]
        );
        assert_eq!(
            names("songs by the jacksn 5"),
            vec![(NameKind::Artist, "the jacksn 5".to_string())]
        );
        assert_eq!(
            names("anything by the band zorblax quartet?"),
            vec![(NameKind::Artist, "zorblax quartet".to_string())]
        );
        assert_eq!(
            names("what is on the album Glass Harbour Nights"),
            vec![(NameKind::Album, "Glass Harbour Nights".to_string())]
        );
    }

    #[test]
    fn a_capitalised_title_before_by_is_a_title() {
        assert_eq!(
            names("what year is Umbrella by Rihanna from?"),
            vec![
                (NameKind::Title, "Umbrella".to_string()),
                (NameKind::Artist, "Rihanna".to_string())
            ]
        );
        assert_eq!(
            names("who plays Hotel California by the Eagles?"),
            vec![
                (NameKind::Title, "Hotel California".to_string()),
                (NameKind::Artist, "the Eagles".to_string())
            ]
        );
        assert_eq!(
            names("Anything by Adele?"),
            vec![(NameKind::Artist, "Adele".to_string())]
        );
        assert_eq!(
            names("any songs by Adele?"),
            vec![(NameKind::Artist, "Adele".to_string())]
        );
    }

    #[test]
    fn possessive_names_stay_whole() {
        assert_eq!(
            names("What tempo is Ocean Size by Jane's Addiction?"),
            vec![
                (NameKind::Title, "Ocean Size".to_string()),
                (NameKind::Artist, "Jane's Addiction".to_string())
            ]
        );
    }

    #[test]
    fn quoted_and_capitalised_names() {
        assert_eq!(
            names("who sang \"Velvet Hammer\"?"),
            vec![(NameKind::Any, "Velvet Hammer".to_string())]
        );
        assert_eq!(
            names("who sang Hotel California?"),
            vec![(NameKind::Any, "Hotel California".to_string())]
        );
        assert_eq!(
            names("what tempo is Stand By Me"),
            vec![(NameKind::Any, "Stand By Me".to_string())]
        );
        // Single capitalised words and title-case questions are not read as names.
        assert!(names("who sang Halo?").is_empty());
        assert!(names("Sad Piano Ballads With A Soft Female Voice").is_empty());
        assert!(names("sad piano ballads").is_empty());
    }

    #[test]
    fn vocabulary_phrases_are_not_names() {
        let vocab = |s: &str| matches!(s, "west african" | "jazz" | "piano");
        assert!(named_entities("West African drumming over 130 bpm", &vocab).is_empty());
        assert!(named_entities("recommend some Jazz Piano music please", &vocab).is_empty());
        assert_eq!(
            named_entities("anything like Jazz Harbour Nights?", &vocab).len(),
            1
        );
    }
}
