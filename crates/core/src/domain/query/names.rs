//! Names in the catalog (artists, titles, albums), typo tolerant and accent folded, so a query
//! naming an artist is read as that artist and an answer can say plainly when the catalog does
//! not hold what a question named ([`super::entities`]) instead of offering other songs as if
//! they were it.

use std::collections::HashMap;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::domain::query::text::normalize_term;

use crate::domain::query::entities::NameKind;
/// The catalog's artists, titles and albums as word lists with how many tracks carry each, for
/// "does the catalog hold X". Kept up to date track by track.
#[derive(Debug, Clone, Default)]
pub struct CatalogNames {
    artists: HashMap<Vec<String>, u32>,
    titles: HashMap<Vec<String>, u32>,
    albums: HashMap<Vec<String>, u32>,
}

/// A name as written plus, when it is stylized ("P!nk"), as people type it ("Pink"): the text
/// keyword indexes hold for titles and artists.
pub fn searchable_name(name: &str) -> String {
    let plain = unstylize(name);
    if plain == name {
        plain
    } else {
        format!("{name} {plain}")
    }
}

/// Reads a symbol that stands for a letter inside a word as that letter, as people type the
/// name: "P!nk" = "Pink", "Ke$ha" = "Kesha", "M@ze" = "Maze".
pub fn unstylize(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let letter = match c {
                '!' => 'i',
                '$' => 's',
                '@' => 'a',
                _ => return c,
            };
            let between = i > 0
                && chars[i - 1].is_alphabetic()
                && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
            if between {
                letter
            } else {
                c
            }
        })
        .collect()
}

fn name_words(s: &str) -> Vec<String> {
    // "Jane's Addiction" and "Janes Addiction" are one name; "Beyoncé" and "Beyonce" too.
    let folded: String = unstylize(s)
        .nfd()
        .filter(|c| !is_combining_mark(*c) && !matches!(c, '\'' | '’'))
        .collect();
    let words: Vec<String> = normalize_term(&folded)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    match words.first().map(String::as_str) {
        Some("the" | "a" | "an") if words.len() > 1 => words[1..].to_vec(),
        _ => words,
    }
}

/// Whether an artist credit ("Lil Wayne feat. Static Major") includes the named artist (as
/// `artist_named` returns it), as consecutive words.
pub fn credits(artist: &str, named: &str) -> bool {
    let asked: Vec<String> = named.split(' ').map(str::to_string).collect();
    contains_words(&name_words(artist), &asked)
}

/// Whether an artist credit includes the named artist word for word, exactly (accents, case
/// and a leading article aside): the count of an artist's tracks must not take in a
/// neighbour's ("Bach" is not "Bash").
pub fn credits_exactly(artist: &str, named: &str) -> bool {
    let asked: Vec<String> = named.split(' ').map(str::to_string).collect();
    let stored = name_words(artist);
    !asked.is_empty()
        && stored.len() >= asked.len()
        && stored.windows(asked.len()).any(|w| w == asked.as_slice())
}

/// One word of a name matches one of the catalog's: exactly or within the typo budget.
fn word_matches(asked: &str, stored: &str) -> bool {
    crate::domain::query::text::word_match(asked, stored).is_some()
}

/// The name spelled exactly (one lookup: the common case, and every query tries several
/// spans), else the first within the typo budget word by word. Names share words ("the ...",
/// one artist's albums), so each distinct stored word is compared once per position.
fn name_spelled(names: &HashMap<Vec<String>, u32>, words: &[String]) -> Option<String> {
    if names.contains_key(words) {
        return Some(words.join(" "));
    }
    let mut seen: Vec<HashMap<&str, bool>> = vec![HashMap::new(); words.len()];
    names
        .keys()
        .find(|n| {
            n.len() == words.len()
                && n.iter().zip(words).enumerate().all(|(i, (stored, typed))| {
                    *seen[i]
                        .entry(stored.as_str())
                        .or_insert_with(|| word_matches(typed, stored))
                })
        })
        .map(|n| n.join(" "))
}

/// Whether `asked` appears in `stored` as consecutive words.
fn contains_words(stored: &[String], asked: &[String]) -> bool {
    !asked.is_empty()
        && stored.len() >= asked.len()
        && stored
            .windows(asked.len())
            .any(|w| w.iter().zip(asked).all(|(s, a)| word_matches(a, s)))
}

fn count_in(map: &mut HashMap<Vec<String>, u32>, name: &str, added: bool) {
    let words = name_words(name);
    if words.is_empty() {
        return;
    }
    if added {
        *map.entry(words).or_default() += 1;
    } else if let Some(c) = map.get_mut(&words) {
        *c = c.saturating_sub(1);
        if *c == 0 {
            map.remove(&words);
        }
    }
}

impl CatalogNames {
    /// Builds the index from (artist, title, album) triples.
    pub fn new<'a>(tracks: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>) -> Self {
        let mut names = CatalogNames::default();
        for (artist, title, album) in tracks {
            names.count(artist, title, album, true);
        }
        names
    }

    /// Counts one track's names in (`added`) or out; placeholder artists are left out.
    pub fn count(&mut self, artist: &str, title: &str, album: Option<&str>, added: bool) {
        if !crate::domain::catalog::track::is_placeholder_artist(artist) {
            count_in(&mut self.artists, artist, added);
        }
        count_in(&mut self.titles, title, added);
        if let Some(a) = album {
            count_in(&mut self.albums, a, added);
        }
    }

    /// Whether the catalog holds a name of this kind that contains `name`'s words.
    pub fn holds(&self, kind: NameKind, name: &str) -> bool {
        let asked = name_words(name);
        let lists: &[&HashMap<Vec<String>, u32>] = match kind {
            NameKind::Artist => &[&self.artists],
            NameKind::Title => &[&self.titles],
            NameKind::Album => &[&self.albums],
            NameKind::Any => &[&self.artists, &self.titles, &self.albums],
        };
        if lists
            .iter()
            .any(|l| l.keys().any(|stored| contains_words(stored, &asked)))
        {
            return true;
        }
        // "Beethoven's Piano Sonata No 29": an artist's work, held when the artist and the
        // work are ("Jane's Addiction", a whole name, was found above).
        let owned = ["'s ", "’s "]
            .iter()
            .find_map(|s| name.split_once(s))
            .filter(|(owner, work)| !owner.trim().is_empty() && !work.trim().is_empty());
        match owned {
            Some((owner, work)) if kind != NameKind::Artist => {
                self.holds(NameKind::Artist, owner) && self.holds(kind, work)
            }
            _ => false,
        }
    }

    /// The catalog artist whose whole name the words `words` spell (one typo allowed per
    /// long word), if any: "daft punk" -> "daft punk".
    pub fn artist_named(&self, words: &[String]) -> Option<String> {
        name_spelled(&self.artists, words)
    }

    /// The catalog title whose whole name the words spell, if any.
    pub fn title_named(&self, words: &[String]) -> Option<String> {
        name_spelled(&self.titles, words)
    }

    pub fn is_empty(&self) -> bool {
        self.artists.is_empty() && self.titles.is_empty() && self.albums.is_empty()
    }

    /// Whether any artist, title or album name holds `word` (normalised, as written).
    pub fn has_word(&self, word: &str) -> bool {
        [&self.artists, &self.titles, &self.albums]
            .iter()
            .any(|l| l.keys().any(|name| name.iter().any(|w| w == word)))
    }
}

/// Words that end a name written after "by" or "the band" in lower case.
#[cfg(test)]
mod stylized {
    use super::*;

    #[test]
    fn symbols_inside_a_name_read_as_letters() {
        assert_eq!(unstylize("P!nk"), "Pink");
        assert_eq!(unstylize("Ke$ha"), "Kesha");
        assert_eq!(unstylize("Wow! $5 @ home"), "Wow! $5 @ home");
        assert!(credits(
            "P!nk feat. Nate Ruess",
            &name_words("pink").join(" ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_holds_names_with_typos_and_articles() {
        let names = CatalogNames::new(
            [
                ("The Jackson 5", "ABC", Some("ABC")),
                ("Queen", "Bohemian Rhapsody", None),
                ("Unknown artist", "Sad ballad", None),
            ]
            .into_iter(),
        );
        assert!(names.holds(NameKind::Artist, "the Jackson 5"));
        assert!(names.holds(NameKind::Artist, "jackson 5"));
        assert!(names.holds(NameKind::Artist, "the jacksn 5"));
        assert!(names.holds(NameKind::Any, "Bohemian Rhapsody"));
        assert!(!names.holds(NameKind::Artist, "Unknown artist"));
        assert!(!names.holds(NameKind::Artist, "Radiohead"));
        assert!(!names.holds(NameKind::Any, "Hotel California"));
        assert_eq!(
            names.artist_named(&["queen".to_string()]).as_deref(),
            Some("queen")
        );
        let names = CatalogNames::new([("Jane's Addiction", "Ocean Size", None)].into_iter());
        assert!(names.holds(NameKind::Artist, "Jane's Addiction"));
        assert!(names.holds(NameKind::Artist, "Janes Addiction"));
        // An artist's work: held when both are, as a title's leading words.
        let names = CatalogNames::new(
            [(
                "Beethoven",
                "Piano Sonata No 29 in B-flat major: 1. Allegro",
                None,
            )]
            .into_iter(),
        );
        assert!(names.holds(NameKind::Any, "Beethoven's Piano Sonata No 29"));
        assert!(!names.holds(NameKind::Any, "Mozart's Piano Sonata No 29"));
        assert!(!names.holds(NameKind::Any, "Beethoven's Violin Concerto"));
    }
}
