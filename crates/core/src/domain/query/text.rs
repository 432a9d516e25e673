//! Text normalisation shared by filters, names and the parser: one way to compare words.

/// Lower-cases and folds separators so "Hip-Hop", "hip_hop" and "hip hop" compare equal, and
/// reads "&" as "and" ("R&B" = "r and b").
pub fn normalize_term(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for word in s
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_' || c == '/')
        .filter(|w| !w.is_empty())
    {
        for (i, part) in word.split('&').enumerate() {
            if i > 0 {
                push_word(&mut out, "and");
            }
            if !part.is_empty() {
                push_word(&mut out, &part.to_lowercase());
            }
        }
    }
    out
}

fn push_word(out: &mut String, word: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(word);
}

/// How many edits a typed word may be from a catalog word and still match it: none below four
/// characters, one from four, two from eight. The keyword index, the "why" of each hit, the
/// rerank and the answers all use this one rule.
pub fn typo_budget(word: &str) -> u8 {
    typo_budget_for(word.chars().count())
}

fn typo_budget_for(chars: usize) -> u8 {
    match chars {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// How a typed word matches a catalog word: exactly, by a typo within the budget, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordMatch {
    Exact,
    Typo,
}

/// Matches a typed word against a catalog word under [`typo_budget`] (edits counted as the
/// keyword index counts them: insertions, deletions, substitutions, adjacent transpositions).
pub fn word_match(typed: &str, stored: &str) -> Option<WordMatch> {
    if typed == stored {
        return Some(WordMatch::Exact);
    }
    let typed_chars = typed.chars().count();
    let budget = typo_budget_for(typed_chars) as usize;
    // Every edit changes the length by at most one character, and every typed letter the
    // stored word lacks takes an edit of its own, so most words are rejected before the
    // distance (which allocates) is computed.
    let within = budget > 0
        && typed_chars.abs_diff(stored.chars().count()) <= budget
        && !Letters::of(stored).too_far(typed, budget)
        && strsim::osa_distance(typed, stored) <= budget;
    within.then_some(WordMatch::Typo)
}

/// A word's length in characters and the set of characters it uses (ASCII ones exactly,
/// `other`: some beyond ASCII): what a typed word is compared with before the edit distance,
/// and how the catalog's names are grouped for typo-tolerant look-ups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Letters {
    pub chars: usize,
    pub ascii: u128,
    pub other: bool,
}

impl Letters {
    pub fn of(word: &str) -> Self {
        let mut letters = Letters {
            chars: 0,
            ascii: 0,
            other: false,
        };
        for c in word.chars() {
            letters.chars += 1;
            if c.is_ascii() {
                letters.ascii |= 1 << c as u32;
            } else {
                letters.other = true;
            }
        }
        letters
    }

    /// Whether more than `budget` characters of `typed` are certainly absent from words with
    /// these letters: each takes an edit of its own (deleted or replaced), so such words are
    /// further from `typed` than the budget.
    pub fn too_far(&self, typed: &str, budget: usize) -> bool {
        typed
            .chars()
            .filter(|&c| {
                if c.is_ascii() {
                    self.ascii & (1 << c as u32) == 0
                } else {
                    !self.other
                }
            })
            .count()
            > budget
    }
}

/// Query words that also stand for a digit in names ("jackson five" = "Jackson 5").
const NUMBER_WORDS: [(&str, &str); 10] = [
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
];

/// The digit a number word stands for in names, if it is one ("five" -> "5").
pub fn digit_for(word: &str) -> Option<&'static str> {
    NUMBER_WORDS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letter_bound_keeps_every_typo_the_distance_allows() {
        for (typed, stored) in [
            ("runing", "running"),
            ("studyng", "studying"),
            ("beyonse", "beyonce"),
            ("cafe", "café"),
        ] {
            assert_eq!(
                word_match(typed, stored),
                Some(WordMatch::Typo),
                "{typed} {stored}"
            );
        }
        assert!(Letters::of("1422060").too_far("studying", 2));
        assert_eq!(word_match("studying", "1422060"), None);
    }

    #[test]
    fn typos_are_allowed_by_length() {
        assert_eq!(word_match("abc", "abc"), Some(WordMatch::Exact));
        assert_eq!(word_match("abd", "abc"), None);
        assert_eq!(word_match("jakson", "jackson"), Some(WordMatch::Typo));
        assert_eq!(word_match("jaksno", "jackson"), None);
        assert_eq!(word_match("beyonsse", "beyonce"), Some(WordMatch::Typo));
    }

    #[test]
    fn separators_case_and_ampersands_fold() {
        assert_eq!(normalize_term("Hip-Hop"), "hip hop");
        assert_eq!(normalize_term(" hip_hop "), "hip hop");
        assert_eq!(normalize_term("R&B"), "r and b");
        assert_eq!(normalize_term("Rock & Roll"), "rock and roll");
        assert_eq!(normalize_term("Dance/Electronic"), "dance electronic");
    }
}
