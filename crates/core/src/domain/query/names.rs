//! Names in the catalog (artists, titles, albums), typo tolerant and accent folded, so a query
//! naming an artist is read as that artist and an answer can say plainly when the catalog does
//! not hold what a question named ([`super::entities`]) instead of offering other songs as if
//! they were it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::domain::query::text::{normalize_term, Letters};

use crate::domain::query::entities::NameKind;
/// The catalog's artists, titles and albums as word lists with how many tracks carry each, for
/// "does the catalog hold X". Kept up to date track by track.
#[derive(Debug, Clone, Default)]
pub struct CatalogNames {
    artists: NameIndex,
    titles: NameIndex,
    albums: NameIndex,
}

/// One kind of name (artists, titles or albums) as word lists with how many tracks carry each,
/// and the names again by their first word, the first words grouped by length and letters: a
/// typo-tolerant look-up compares the typed first word with the few first words that could be
/// it and then only the names that start with those, instead of every name.
#[derive(Debug, Clone, Default)]
struct NameIndex {
    counts: HashMap<Arc<[String]>, u32, Fast>,
    by_first: BTreeMap<Letters, FirstWords>,
}

/// Names by their first word (one group of first words).
type FirstWords = HashMap<String, Vec<Arc<[String]>>, Fast>;

/// The maps' hasher: seeded per process like the standard one, several times faster on the
/// short strings names are (hashing was most of building the index: a million titles took
/// 3.3 s at open, see docs/BENCHMARKS.md).
type Fast = foldhash::fast::RandomState;

impl NameIndex {
    fn count(&mut self, name: &str, added: bool) {
        let words = name_words(name);
        if words.is_empty() {
            return;
        }
        if added {
            if let Some(c) = self.counts.get_mut(words.as_slice()) {
                *c += 1;
                return;
            }
            let key: Arc<[String]> = words.into();
            let firsts = self.by_first.entry(Letters::of(&key[0])).or_default();
            match firsts.get_mut(key[0].as_str()) {
                Some(names) => names.push(key.clone()),
                None => {
                    firsts.insert(key[0].clone(), vec![key.clone()]);
                }
            }
            self.counts.insert(key, 1);
        } else if let Some(c) = self.counts.get_mut(words.as_slice()) {
            *c = c.saturating_sub(1);
            if *c > 0 {
                return;
            }
            self.counts.remove(words.as_slice());
            let group = Letters::of(&words[0]);
            if let Some(firsts) = self.by_first.get_mut(&group) {
                if let Some(names) = firsts.get_mut(&words[0]) {
                    names.retain(|n| **n != *words);
                    if names.is_empty() {
                        firsts.remove(&words[0]);
                    }
                }
                if firsts.is_empty() {
                    self.by_first.remove(&group);
                }
            }
        }
    }

    fn contains(&self, words: &[String]) -> bool {
        self.counts.contains_key(words)
    }

    fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    fn names(&self) -> impl Iterator<Item = &[String]> {
        self.counts.keys().map(|k| &**k)
    }

    /// The names whose first word `typed` matches (typo tolerant).
    fn starting_with<'a>(&'a self, typed: &'a str) -> impl Iterator<Item = &'a [String]> + 'a {
        let chars = typed.chars().count();
        let budget = crate::domain::query::text::typo_budget(typed) as usize;
        let from = Letters {
            chars: chars.saturating_sub(budget),
            ascii: 0,
            other: false,
        };
        self.by_first
            .range(from..)
            .take_while(move |(group, _)| group.chars <= chars + budget)
            .filter(move |(group, _)| !group.too_far(typed, budget))
            .flat_map(|(_, firsts)| firsts.iter())
            .filter(move |(first, _)| word_matches(typed, first))
            .flat_map(|(_, names)| names.iter().map(|n| &**n))
    }

    /// The name spelled exactly (one lookup: the common case, and every query tries several
    /// spans), else one within the typo budget word by word.
    fn spelled(&self, words: &[String]) -> Option<String> {
        if words.is_empty() {
            return None;
        }
        if self.contains(words) {
            return Some(words.join(" "));
        }
        self.starting_with(&words[0])
            .find(|n| n.len() == words.len() && spells(words, 0, n))
            .map(|n| n.join(" "))
    }

    /// Whether some name of `widths` words is spelled by consecutive words of `words` that
    /// include `span`.
    fn spanning(
        &self,
        words: &[String],
        span: std::ops::Range<usize>,
        widths: std::ops::RangeInclusive<usize>,
    ) -> bool {
        // Where a window may start, and whether a window of `width` from `start` covers the span.
        let covers = |start: usize, width: usize| {
            start <= span.start && start + width >= span.end && start + width <= words.len()
        };
        let first_start = span.end.saturating_sub(*widths.end());
        (first_start..=span.start).any(|start| {
            widths
                .clone()
                .any(|w| covers(start, w) && self.contains(&words[start..start + w]))
                || self.starting_with(&words[start]).any(|n| {
                    widths.contains(&n.len()) && covers(start, n.len()) && spells(words, start, n)
                })
        })
    }
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
    let mut words = if s.is_ascii() && !s.contains(['!', '$', '@']) {
        ascii_words(s)
    } else {
        folded_words(s)
    };
    if words.len() > 1 && matches!(words[0].as_str(), "the" | "a" | "an") {
        words.remove(0);
    }
    words
}

/// A name's words in general: "Jane's Addiction" and "Janes Addiction" are one name;
/// "Beyoncé" and "Beyonce" too; "P!nk" is "pink".
fn folded_words(s: &str) -> Vec<String> {
    let folded: String = unstylize(s)
        .nfd()
        .filter(|c| !is_combining_mark(*c) && !matches!(c, '\'' | '’'))
        .collect();
    normalize_term(&folded)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// [`name_words`] for plain ASCII without symbols to unstylize (most names, and a catalog's
/// open reads a million of them): nothing to decompose or fold, so the words are the runs of
/// letters and digits, lowercased, apostrophes dropped inside them and each `&` read as "and"
/// — what folding, `normalize_term` and the split give, without their copies.
fn ascii_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        match c {
            '\'' => {}
            '&' => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                words.push("and".to_string());
            }
            c if c.is_ascii_alphanumeric() => word.push(c.to_ascii_lowercase()),
            _ => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
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

/// Whether the typed words `from..from + name.len()` spell `name`.
fn spells(typed: &[String], from: usize, name: &[String]) -> bool {
    name.iter()
        .enumerate()
        .all(|(i, stored)| word_matches(&typed[from + i], stored))
}

/// Whether `asked` appears in `stored` as consecutive words.
fn contains_words(stored: &[String], asked: &[String]) -> bool {
    !asked.is_empty()
        && stored.len() >= asked.len()
        && stored
            .windows(asked.len())
            .any(|w| w.iter().zip(asked).all(|(s, a)| word_matches(a, s)))
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
            self.artists.count(artist, added);
        }
        self.titles.count(title, added);
        if let Some(a) = album {
            self.albums.count(a, added);
        }
    }

    /// These names with many tracks' names counted (artist, title, album of each): the titles
    /// on another thread, the artists and albums on this one and then `meanwhile`.
    pub fn counted_with<'a, I>(
        mut self,
        names: impl Fn() -> I + Sync,
        meanwhile: impl FnOnce(),
    ) -> Self
    where
        I: Iterator<Item = (&'a str, &'a str, Option<&'a str>)>,
    {
        let titles = &mut self.titles;
        let (artists, albums) = (&mut self.artists, &mut self.albums);
        std::thread::scope(|scope| {
            let names = &names;
            scope.spawn(move || {
                // Nearly one title per track: sized once instead of doubling twenty times on
                // the way to a million, then trimmed to what the titles took.
                titles.counts.reserve(names().size_hint().0);
                for (_, title, _) in names() {
                    titles.count(title, true);
                }
                titles.counts.shrink_to_fit();
            });
            for (artist, _, album) in names() {
                if !crate::domain::catalog::track::is_placeholder_artist(artist) {
                    artists.count(artist, true);
                }
                if let Some(a) = album {
                    albums.count(a, true);
                }
            }
            meanwhile();
        });
        self
    }

    /// Whether the catalog holds a name of this kind that contains `name`'s words.
    pub fn holds(&self, kind: NameKind, name: &str) -> bool {
        let asked = name_words(name);
        let lists: &[&NameIndex] = match kind {
            NameKind::Artist => &[&self.artists],
            NameKind::Title => &[&self.titles],
            NameKind::Album => &[&self.albums],
            NameKind::Any => &[&self.artists, &self.titles, &self.albums],
        };
        if lists
            .iter()
            .any(|l| l.names().any(|stored| contains_words(stored, &asked)))
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
        self.artists.spelled(words)
    }

    /// The catalog title whose whole name the words spell, if any.
    pub fn title_named(&self, words: &[String]) -> Option<String> {
        self.titles.spelled(words)
    }

    /// Whether some title of `widths` words is spelled by consecutive words of `words` that
    /// include `span` (typo tolerant, as [`Self::title_named`]), looking only at the titles
    /// whose first word one of the window's first words could be.
    pub fn title_spanning(
        &self,
        words: &[String],
        span: std::ops::Range<usize>,
        widths: std::ops::RangeInclusive<usize>,
    ) -> bool {
        self.titles.spanning(words, span, widths)
    }

    pub fn is_empty(&self) -> bool {
        self.artists.is_empty() && self.titles.is_empty() && self.albums.is_empty()
    }
}

/// Words that end a name written after "by" or "the band" in lower case.
#[cfg(test)]
mod stylized {
    use super::*;

    #[test]
    fn ascii_names_split_as_the_general_path_splits_them() {
        for s in [
            "Jane's Addiction",
            "Simon & Garfunkel",
            "Simon&Garfunkel",
            "&foo",
            "foo&",
            "a&&b",
            " & ",
            "AC/DC",
            "Sonata No. 14 (Moonlight) - I. Adagio_sostenuto",
            "Track 0 of set 1091",
            "  multiple   spaces\tand\ttabs ",
            "'quoted'",
            "rock'n'roll",
            "U2",
            "",
            "&",
            "a-b_c/d.e,f;g:h?i",
        ] {
            assert_eq!(ascii_words(s), folded_words(s), "{s:?}");
        }
    }

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

#[cfg(test)]
mod spanning {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn a_title_spanning_words_is_found_with_typos_among_many_and_forgotten_when_removed() {
        let mut titles: Vec<String> = (0..5_000).map(|i| format!("track_{i:07}")).collect();
        titles.push("Trouble Comes Running".into());
        let mut names = CatalogNames::new(titles.iter().map(|t| ("artist_1", t.as_str(), None)));
        // "running" at 2..3, inside the title; typed with a typo in another word too.
        assert!(names.title_spanning(&words("trouble comes running"), 2..3, 2..=6));
        assert!(names.title_spanning(&words("play truble comes running now"), 3..4, 2..=6));
        // The same word outside any title, and a title word no window covers.
        assert!(!names.title_spanning(&words("music for running"), 2..3, 2..=6));
        assert!(!names.title_spanning(&words("trouble comes for running"), 3..4, 2..=3));
        // Words no title holds rule every title out; a removed title is no longer found.
        assert!(!names.title_spanning(&words("songs to fall asleep to"), 2..4, 2..=6));
        names.count("artist_1", "Trouble Comes Running", None, false);
        assert!(!names.title_spanning(&words("trouble comes running"), 2..3, 2..=6));
        // Names under one first word: removing one keeps the other findable.
        let mut two =
            CatalogNames::new([("a", "Love Song", None), ("a", "Love Story", None)].into_iter());
        assert_eq!(
            two.title_named(&words("love storry")).as_deref(),
            Some("love story")
        );
        two.count("a", "Love Story", None, false);
        assert_eq!(two.title_named(&words("love storry")), None);
        assert_eq!(
            two.title_named(&words("love sogn")).as_deref(),
            Some("love song")
        );
    }
}
