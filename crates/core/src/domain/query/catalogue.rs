//! Catalogue numbers of classical works as people type them ("Op. 27 No. 2", "opus 27 no 2",
//! "BWV 1007", "K. 331", "KV 331") folded into the one word catalogs write ("OP27NO2",
//! "BWV1007", "K331", which the keyword index reads as `op27no2`, `bwv1007`, `k331`), so a
//! work is found by its number, and the number's digits are never read as a tempo or a year.

/// Catalogue prefixes and the form they are folded to.
const PREFIXES: &[(&str, &str)] = &[
    ("op", "op"),
    ("opus", "op"),
    ("bwv", "bwv"),
    ("k", "k"),
    ("kv", "k"),
    ("hwv", "hwv"),
    ("rv", "rv"),
    ("woo", "woo"),
];
/// Words that number a work within an opus.
const NUMBER_WORDS: &[&str] = &["no", "nr", "number", "num"];

/// The word without the punctuation people put around catalogue numbers.
fn bare(word: &str) -> String {
    word.trim_matches(|c: char| {
        matches!(
            c,
            '.' | ',' | ';' | ':' | '(' | ')' | '?' | '!' | '\'' | '"'
        )
    })
    .to_lowercase()
}

/// A whole number of up to four digits, as catalogue numbers are.
fn number(word: &str) -> Option<String> {
    let b = bare(word);
    (!b.is_empty() && b.len() <= 4 && b.chars().all(|c| c.is_ascii_digit())).then_some(b)
}

/// `op.27` / `op27` written as one word: the prefix and its number.
fn joined(word: &str) -> Option<(&'static str, String)> {
    let b = bare(word);
    PREFIXES.iter().find_map(|(p, folded)| {
        let rest = b.strip_prefix(p)?.trim_start_matches('.');
        number(rest).map(|n| (*folded, n))
    })
}

/// Whether a word is a folded catalogue number ("op27no2", "bwv1007", "k331").
pub fn is_catalogue_number(word: &str) -> bool {
    PREFIXES.iter().any(|(_, folded)| {
        word.strip_prefix(folded).is_some_and(|rest| {
            let (opus, within) = match rest.split_once("no") {
                Some((a, b)) if *folded == "op" => (a, Some(b)),
                _ => (rest, None),
            };
            let digits =
                |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
            digits(opus) && within.is_none_or(digits)
        })
    })
}

/// The text with each catalogue number folded into one word; other words unchanged. "K" and
/// "KV" need a dot or a number of two or more digits after them, so "K 5" in other senses
/// stays.
pub fn fold_catalogue_numbers(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let b = bare(w);
        let (prefix, digits, mut next) = if let Some((p, n)) = joined(w) {
            (Some(p), Some(n), i + 1)
        } else if let Some((_, folded)) = PREFIXES.iter().find(|(p, _)| *p == b) {
            let strict = matches!(*folded, "k") && !w.ends_with('.');
            match words.get(i + 1).and_then(|n| number(n)) {
                Some(n) if !strict || n.len() >= 2 => (Some(*folded), Some(n), i + 2),
                _ => (None, None, i + 1),
            }
        } else {
            (None, None, i + 1)
        };
        let (Some(prefix), Some(digits)) = (prefix, digits) else {
            out.push(w.to_string());
            i += 1;
            continue;
        };
        let mut folded = format!("{prefix}{digits}");
        // "No. 2", "no 2", "No.2" after an opus number.
        if prefix == "op" {
            if let Some(word) = words.get(next) {
                let b = bare(word);
                let within = if NUMBER_WORDS.contains(&b.as_str()) {
                    words
                        .get(next + 1)
                        .and_then(|n| number(n))
                        .map(|n| (n, next + 2))
                } else {
                    NUMBER_WORDS
                        .iter()
                        .find_map(|nw| number(b.strip_prefix(nw)?.trim_start_matches('.')))
                        .map(|n| (n, next + 1))
                };
                if let Some((n, after)) = within {
                    folded.push_str(&format!("no{n}"));
                    next = after;
                }
            }
        }
        out.push(folded);
        i = next;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_numbers_fold_as_catalogs_write_them() {
        for (typed, folded) in [
            ("Beethoven's Op. 27 No. 2", "Beethoven's op27no2"),
            ("opus 27 number 2 by beethoven", "op27no2 by beethoven"),
            ("Op.27 No.2", "op27no2"),
            ("what key is op 38 in?", "what key is op38 in?"),
            ("Bach BWV 1007", "Bach bwv1007"),
            ("Mozart K. 331", "Mozart k331"),
            ("mozart kv 465", "mozart k465"),
            ("the sonata (Op. 2, No. 3)", "the sonata op2no3"),
        ] {
            assert_eq!(fold_catalogue_numbers(typed), folded, "{typed}");
        }
        for w in ["op27no2", "op38", "bwv1007", "k331"] {
            assert!(is_catalogue_number(w), "{w}");
        }
        for w in ["opera", "op", "k", "knox", "op27no", "bwv"] {
            assert!(!is_catalogue_number(w), "{w}");
        }
        // Not catalogue numbers: left as they are.
        for plain in [
            "top 40 songs",
            "k pop",
            "songs from 1999",
            "the opus of his life",
            "k 5 run",
        ] {
            assert_eq!(fold_catalogue_numbers(plain), plain);
        }
    }
}
