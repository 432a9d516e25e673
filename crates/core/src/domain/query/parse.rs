//! Offline plain-words query parsing: "fast 80s synth pop without vocals under 140 bpm"
//! becomes search text, hard filters (numbers, decades, negations) and soft preferences
//! (genres, moods, instruments and origins from the catalog's own vocabulary, tempo words).

use serde::Serialize;

use crate::domain::catalog::vocabulary::{FacetKind, Vocabulary};
use crate::domain::query::text::normalize_term;
use crate::domain::query::words::{
    decade_of, is_stopword, parse_bpm_number, tokenize, year_of, Token, NEGATORS, OCCASIONS,
    SYNONYMS,
};
use crate::domain::retrieval::filter::{Filter, Preferences, Range};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParsedQuery {
    /// The query as typed.
    pub original: String,
    /// What is embedded and keyword-searched: the query without the parts that became
    /// constraints (a negated word must not attract the tracks it excludes).
    pub text: String,
    /// Hard constraints every hit must satisfy.
    pub filters: Filter,
    /// Preferences: hits that satisfy them are boosted (the targeted track), others still come.
    pub preferences: Preferences,
    /// What was recognised, in words: `"80s" -> year 1980-1989`.
    pub recognized: Vec<String>,
    /// Catalog artists the query names (exactly, or with a typo per long word), as normalised
    /// names: their words are not read as genres or moods, and their tracks rank first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artists: Vec<String>,
}

fn set_range(slot: &mut Option<Range>, r: Range) {
    *slot = Some(match *slot {
        Some(old) => old.intersect(r),
        None => r,
    });
}

/// Parses `text` against the catalog's vocabulary.
pub fn parse_query(typed: &str, vocab: &Vocabulary) -> ParsedQuery {
    // "Op. 27 No. 2" is one word to the catalog, and its digits are no tempo or year.
    let folded = crate::domain::query::catalogue::fold_catalogue_numbers(typed);
    let text = folded.as_str();
    let mut tokens = tokenize(text);
    let mut out = ParsedQuery {
        original: typed.to_string(),
        ..Default::default()
    };
    parse_tempo_numbers(&mut tokens, &mut out);
    parse_years(&mut tokens, &mut out);
    parse_meter(&mut tokens, &mut out);
    parse_keys(&mut tokens, &mut out);
    parse_negations(&mut tokens, &mut out, vocab);
    parse_occasions(&mut tokens, &mut out, vocab);
    parse_tempo_words(&mut tokens, &mut out);
    parse_artists(&mut tokens, &mut out, vocab);
    parse_vocabulary(&mut tokens, &mut out, vocab);
    let kept: Vec<&str> = tokens
        .iter()
        .filter(|t| !t.drop_from_text)
        .map(|t| t.raw.as_str())
        .collect();
    out.text = kept.join(" ");
    if out.text.trim().is_empty() {
        out.text = text.trim().to_string();
    }
    out
}

fn parse_tempo_numbers(tokens: &mut [Token], out: &mut ParsedQuery) {
    for i in 0..tokens.len() {
        let raw = tokens[i].raw.clone();
        let unit_here = raw.ends_with("bpm") && raw.len() > 3;
        let unit_next = tokens.get(i + 1).is_some_and(|t| t.raw == "bpm");
        if !(unit_here || unit_next) {
            continue;
        }
        let number = raw.trim_end_matches("bpm");
        let (range, mut span_start) = if let Some((a, b)) = number.split_once('-') {
            match (parse_bpm_number(a), parse_bpm_number(b)) {
                (Some(a), Some(b)) if a <= b => (Range::new(Some(a), Some(b)), i),
                _ => continue,
            }
        } else {
            let Some(v) = parse_bpm_number(number) else {
                continue;
            };
            let before = |k: usize| i.checked_sub(k).map(|j| tokens[j].raw.as_str());
            let (range, start) = match (before(2), before(1)) {
                (Some("less" | "slower" | "lower" | "fewer"), Some("than")) => {
                    (Range::new(None, Some(v)), i - 2)
                }
                (Some("more" | "faster" | "higher" | "greater"), Some("than")) => {
                    (Range::new(Some(v), None), i - 2)
                }
                (Some("at"), Some("least")) => (Range::new(Some(v), None), i - 2),
                (Some("at"), Some("most")) => (Range::new(None, Some(v)), i - 2),
                (_, Some("under" | "below" | "max" | "maximum" | "upto")) => {
                    (Range::new(None, Some(v)), i - 1)
                }
                (_, Some("over" | "above" | "min" | "minimum" | "from")) => {
                    (Range::new(Some(v), None), i - 1)
                }
                (_, Some("around" | "about" | "approximately" | "roughly" | "circa" | "near")) => {
                    (Range::new(Some(v - 5.0), Some(v + 5.0)), i - 1)
                }
                _ if raw.ends_with('+') => (Range::new(Some(v), None), i),
                _ => (Range::new(Some(v - 3.0), Some(v + 3.0)), i),
            };
            (range, start)
        };
        // "between 90 and 120 bpm"
        if span_start >= 3
            && tokens[span_start - 1].raw == "and"
            && tokens[span_start - 3].raw == "between"
        {
            if let Some(lo) = parse_bpm_number(&tokens[span_start - 2].raw) {
                let hi = parse_bpm_number(number).unwrap_or(lo);
                if lo <= hi {
                    set_range(&mut out.filters.tempo, Range::new(Some(lo), Some(hi)));
                    span_start -= 3;
                    mark(
                        tokens,
                        span_start,
                        i + usize::from(unit_next),
                        out,
                        "tempo",
                        &out.filters.describe(),
                    );
                    continue;
                }
            }
        }
        set_range(&mut out.filters.tempo, range);
        mark(
            tokens,
            span_start,
            i + usize::from(unit_next),
            out,
            "tempo",
            &out.filters.describe(),
        );
    }
}

fn mark(
    tokens: &mut [Token],
    from: usize,
    to: usize,
    out: &mut ParsedQuery,
    what: &str,
    desc: &[String],
) {
    let phrase: Vec<String> = tokens[from..=to].iter().map(|t| t.raw.clone()).collect();
    for t in &mut tokens[from..=to] {
        t.consumed = true;
        t.drop_from_text = true;
    }
    let clause = desc
        .iter()
        .find(|d| d.starts_with(what))
        .cloned()
        .unwrap_or_default();
    out.recognized
        .push(format!("\"{}\" -> {clause}", phrase.join(" ")));
}

fn parse_years(tokens: &mut [Token], out: &mut ParsedQuery) {
    for i in 0..tokens.len() {
        if tokens[i].consumed {
            continue;
        }
        let raw = tokens[i].raw.clone();
        if let Some(d) = decade_of(&raw) {
            set_range(
                &mut out.filters.year,
                Range::new(Some(d as f32), Some(d as f32 + 9.0)),
            );
            mark(tokens, i, i, out, "year", &out.filters.describe());
            continue;
        }
        let Some(y) = year_of(&raw) else { continue };
        let prev = i.checked_sub(1).map(|j| tokens[j].raw.clone());
        let (range, start) = match prev.as_deref() {
            Some("before") => (Range::new(None, Some(y as f32 - 1.0)), i - 1),
            Some("after") => (Range::new(Some(y as f32 + 1.0), None), i - 1),
            Some("since") => (Range::new(Some(y as f32), None), i - 1),
            Some("from" | "in" | "of" | "year" | "circa") => {
                (Range::new(Some(y as f32), Some(y as f32)), i - 1)
            }
            // A bare number may be a title ("1999"): leave it to search.
            _ => continue,
        };
        set_range(&mut out.filters.year, range);
        mark(tokens, start, i, out, "year", &out.filters.describe());
    }
}

/// "in 6/8", "3/4 time", "waltz time" become a time-signature filter; a bare "waltz" prefers
/// three beats to the bar.
fn parse_meter(tokens: &mut [Token], out: &mut ParsedQuery) {
    for i in 0..tokens.len() {
        if tokens[i].consumed {
            continue;
        }
        let next = tokens.get(i + 1).map(|t| t.raw.as_str());
        let prev = i.checked_sub(1).map(|j| tokens[j].raw.as_str());
        let raw = tokens[i].raw.clone();
        if let Some(sig) = crate::domain::catalog::key::time_signature(&raw) {
            let from = if prev == Some("in") { i - 1 } else { i };
            let to = if matches!(next, Some("time" | "meter" | "metre")) {
                i + 1
            } else {
                i
            };
            push_unique(&mut out.filters.time_signatures, &sig);
            mark(
                tokens,
                from,
                to,
                out,
                "time signature",
                &out.filters.describe(),
            );
        } else if matches!(raw.as_str(), "waltz" | "waltzes") {
            if matches!(next, Some("time" | "meter" | "metre")) {
                push_unique(&mut out.filters.time_signatures, "3/4");
                mark(
                    tokens,
                    i,
                    i + 1,
                    out,
                    "time signature",
                    &out.filters.describe(),
                );
            } else {
                // A waltz is a dance as well as a metre: keep the word, prefer 3/4.
                tokens[i].consumed = true;
                push_unique(&mut out.preferences.time_signatures, "3/4");
                out.recognized
                    .push(format!("\"{raw}\" -> prefer time signature: 3/4"));
            }
        }
    }
}

/// "in A minor", "in c# min", "F-sharp major" become a key filter; "minor key", "in a major
/// key" and "in minor" become a mode filter.
fn parse_keys(tokens: &mut [Token], out: &mut ParsedQuery) {
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].consumed {
            i += 1;
            continue;
        }
        let raw = |j: usize| tokens.get(j).map(|t| t.raw.as_str()).unwrap_or("");
        let is_mode = |w: &str| matches!(w, "minor" | "major" | "min" | "maj");
        let after_in = i > 0 && raw(i - 1) == "in" && !tokens[i - 1].consumed;
        // The tonic may be spelled in two words: "f sharp", "b flat".
        let accidental = matches!(raw(i + 1), "sharp" | "flat");
        let mode_at = if accidental { i + 2 } else { i + 1 };
        let tonic = if accidental {
            format!("{} {}", raw(i), raw(i + 1))
        } else {
            raw(i).to_string()
        };
        let letter_ok = tonic.len() <= 2 && !tonic.is_empty() || accidental && raw(i).len() == 1;
        let keyed = letter_ok && is_mode(raw(mode_at));
        // "a minor key" reads as "a (minor key)": the article, not the tonic A.
        let article = raw(i) == "a" && !accidental && (raw(mode_at + 1) == "key" || !after_in);
        if keyed && !article {
            if let Some(key) =
                crate::domain::catalog::key::Key::parse(&format!("{tonic} {}", raw(mode_at)))
            {
                let from = if after_in { i - 1 } else { i };
                let to = if raw(mode_at + 1) == "key" {
                    mode_at + 1
                } else {
                    mode_at
                };
                push_unique(&mut out.filters.keys, &key.to_string());
                mark(tokens, from, to, out, "key", &out.filters.describe());
                i = to + 1;
                continue;
            }
        }
        let (mode_word, from) = if article {
            (raw(mode_at), i)
        } else {
            (raw(i), i)
        };
        let mode_end = if article { mode_at } else { i };
        let keyword_follows = matches!(raw(mode_end + 1), "key" | "keys" | "tonality");
        let bare_in = !article && after_in && is_mode(mode_word);
        if is_mode(mode_word) && (keyword_follows || bare_in) {
            if let Some(mode) = crate::domain::catalog::key::Mode::parse(mode_word) {
                let start = if after_in && !article {
                    from - 1
                } else if article && i > 0 && raw(i - 1) == "in" {
                    i - 1
                } else {
                    from
                };
                let end = if keyword_follows {
                    mode_end + 1
                } else {
                    mode_end
                };
                out.filters.mode = Some(mode);
                mark(tokens, start, end, out, "mode", &out.filters.describe());
                i = end + 1;
                continue;
            }
        }
        i += 1;
    }
}

fn parse_negations(tokens: &mut [Token], out: &mut ParsedQuery, vocab: &Vocabulary) {
    for i in 0..tokens.len() {
        if tokens[i].consumed {
            continue;
        }
        if tokens[i].raw == "instrumental" || tokens[i].raw == "instrumentals" {
            push_unique(&mut out.filters.exclude_instruments, "vocals");
            tokens[i].consumed = true;
            tokens[i].drop_from_text = true;
            out.recognized
                .push("\"instrumental\" -> without: vocals".into());
            continue;
        }
        if !NEGATORS.contains(&tokens[i].raw.as_str()) {
            continue;
        }
        // Longest instrument phrase after the negator ("no electric guitar", "no vocals").
        for len in (1..=2).rev() {
            let end = i + len;
            if end >= tokens.len() {
                continue;
            }
            let phrase = tokens[i + 1..=end]
                .iter()
                .map(|t| t.raw.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let phrase = normalize_term(&phrase);
            let known = vocab.kind_of(&phrase) == Some(FacetKind::Instrument)
                || crate::domain::retrieval::filter::is_instrument_family_word(&phrase);
            if known {
                push_unique(&mut out.filters.exclude_instruments, &phrase);
                for t in &mut tokens[i..=end] {
                    t.consumed = true;
                    t.drop_from_text = true;
                }
                out.recognized.push(format!(
                    "\"{} {phrase}\" -> without: {phrase}",
                    tokens[i].raw
                ));
                break;
            }
        }
    }
}

fn push_unique(list: &mut Vec<String>, v: &str) {
    if !list.iter().any(|x| x == v) {
        list.push(v.to_string());
    }
}

/// Occasions and activities ("to fall asleep", "workout", "for studying"): preferences for
/// what suits them, and the search text says what they mean instead of their words.
fn parse_occasions(tokens: &mut [Token], out: &mut ParsedQuery, vocab: &Vocabulary) {
    let mut i = 0;
    while i < tokens.len() {
        // The longest phrase that starts here ("dinner party" before "dinner").
        let found = OCCASIONS
            .iter()
            .flat_map(|o| o.phrases.iter().map(move |p| (o, *p)))
            .filter_map(|(o, p)| {
                let words: Vec<&str> = p.split(' ').collect();
                let fits = i + words.len() <= tokens.len()
                    && tokens[i..i + words.len()]
                        .iter()
                        .zip(&words)
                        .all(|(t, w)| !t.consumed && t.raw == *w);
                fits.then_some((o, words.len(), p))
            })
            .max_by_key(|(_, len, _)| *len);
        let Some((occasion, len, phrase)) = found else {
            i += 1;
            continue;
        };
        // Part of a title the catalog holds ("Trouble Comes Running", "Evacuate the Dance
        // Floor"): the words are the title's, not an occasion.
        if in_a_title(tokens, i, len, vocab) {
            i += len;
            continue;
        }
        for (k, t) in tokens[i..i + len].iter_mut().enumerate() {
            t.consumed = true;
            t.drop_from_text = k > 0;
        }
        tokens[i].raw = occasion.text.to_string();
        let prefs = &mut out.preferences;
        for m in occasion.moods {
            push_unique(&mut prefs.moods, m);
        }
        if occasion.without_vocals {
            push_unique(&mut prefs.exclude_instruments, "vocals");
        }
        out.recognized.push(format!(
            "\"{phrase}\" -> an occasion: prefer mood {}{}",
            occasion.moods.join("|"),
            if occasion.without_vocals {
                ", no vocals"
            } else {
                ""
            }
        ));
        i += len;
    }
}

/// Whether tokens `at..at + len` lie inside a span of two to six words that spells a catalog
/// title (typo tolerant, as names are).
fn in_a_title(tokens: &[Token], at: usize, len: usize, vocab: &Vocabulary) -> bool {
    let words: Vec<String> = tokens.iter().map(|t| normalize_term(&t.raw)).collect();
    vocab.names.title_spanning(&words, at..at + len, 2..=6)
}

fn parse_tempo_words(tokens: &mut [Token], out: &mut ParsedQuery) {
    for i in 0..tokens.len() {
        if tokens[i].consumed {
            continue;
        }
        let very = i > 0 && matches!(tokens[i - 1].raw.as_str(), "very" | "really" | "super");
        let range = match tokens[i].raw.as_str() {
            "slow" | "slower" | "slowly" if very => Range::new(None, Some(70.0)),
            "slow" | "slower" | "slowly" | "downtempo" => Range::new(None, Some(95.0)),
            "fast" | "faster" | "quick" | "rapid" if very => Range::new(Some(150.0), None),
            "fast" | "faster" | "quick" | "rapid" | "uptempo" => Range::new(Some(120.0), None),
            "midtempo" | "moderate" => Range::new(Some(90.0), Some(120.0)),
            _ => continue,
        };
        // Tempo words stay in the search text: catalogs also describe tempo in words.
        tokens[i].consumed = true;
        set_range(&mut out.preferences.tempo, range);
        let desc = out.preferences.describe();
        let clause = desc
            .iter()
            .find(|d| d.starts_with("tempo"))
            .cloned()
            .unwrap_or_default();
        out.recognized
            .push(format!("\"{}\" -> prefer {clause}", tokens[i].raw));
    }
}

/// Longest artist name first; a one-word name counts only in a short query ("queen", "beyonse
/// halo"), since many one-word band names are also ordinary words ("journey").
const ARTIST_SPAN_MAX: usize = 4;
const ONE_WORD_NAME_QUERY_MAX: usize = 3;

/// Names beat vocabulary: "daft punk" is the artist, not the genre punk.
fn parse_artists(tokens: &mut [Token], out: &mut ParsedQuery, vocab: &Vocabulary) {
    let content = tokens.iter().filter(|t| !is_stopword(&t.raw)).count();
    let mut i = 0;
    while i < tokens.len() {
        let mut matched = 0;
        for len in (1..=ARTIST_SPAN_MAX).rev() {
            if i + len > tokens.len() || tokens[i..i + len].iter().any(|t| t.consumed) {
                continue;
            }
            if len == 1 && (content > ONE_WORD_NAME_QUERY_MAX || is_stopword(&tokens[i].raw)) {
                continue;
            }
            // Apostrophes go, as in the catalog's names ("Guns N' Roses" is "guns n roses").
            let words: Vec<String> = tokens[i..i + len]
                .iter()
                .map(|t| normalize_term(&t.raw).replace(['\'', '’'], ""))
                .collect();
            if words.iter().any(String::is_empty) || (len == 1 && words[0].len() < 3) {
                continue;
            }
            let Some(name) = vocab.names.artist_named(&words) else {
                continue;
            };
            // A term of the catalog's vocabulary is that term, not a near artist: "funk" is
            // not a typo of "fun." (an artist spelled exactly still wins).
            let spelled = words.join(" ");
            if name != spelled && vocab.kind_of(&spelled).is_some() {
                continue;
            }
            out.recognized
                .push(format!("\"{}\" -> the artist {name}", words.join(" ")));
            push_unique(&mut out.artists, &name);
            for t in &mut tokens[i..i + len] {
                t.consumed = true;
            }
            matched = len;
            break;
        }
        i += matched.max(1);
    }
}

/// The phrase with its last word in the other grammatical number ("strings" for "string",
/// "piano" for "pianos", "melody" for "melodies"), most likely form first. Words under four
/// letters are left alone ("bus", "gas" are not plurals of anything the catalog says).
fn other_number(phrase: &str) -> Vec<String> {
    let (head, last) = match phrase.rsplit_once(' ') {
        Some((h, l)) => (format!("{h} "), l),
        None => (String::new(), phrase),
    };
    if last.chars().count() < 4 || !last.chars().all(|c| c.is_alphabetic()) {
        return Vec::new();
    }
    let mut forms = Vec::new();
    if let Some(stem) = last.strip_suffix("ies") {
        forms.push(format!("{stem}y"));
    } else if last.ends_with('s') && !last.ends_with("ss") {
        // "tunes" -> "tune", "boxes" -> "box".
        forms.push(last[..last.len() - 1].to_string());
        if let Some(stem) = last.strip_suffix("es") {
            forms.push(stem.to_string());
        }
    } else {
        let sibilant = ["ss", "sh", "ch", "x", "z"]
            .iter()
            .any(|e| last.ends_with(e));
        forms.push(format!("{last}{}", if sibilant { "es" } else { "s" }));
        if let Some(stem) = last.strip_suffix('y') {
            forms.push(format!("{stem}ies"));
        }
    }
    forms.into_iter().map(|f| format!("{head}{f}")).collect()
}

fn parse_vocabulary(tokens: &mut [Token], out: &mut ParsedQuery, vocab: &Vocabulary) {
    let mut i = 0;
    while i < tokens.len() {
        let mut matched = 0;
        for len in (1..=3).rev() {
            if i + len > tokens.len() || tokens[i..i + len].iter().any(|t| t.consumed) {
                continue;
            }
            let phrase = normalize_term(
                &tokens[i..i + len]
                    .iter()
                    .map(|t| t.raw.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            if len == 1 && is_stopword(&phrase) {
                continue;
            }
            // "the blues" is the genre blues when the catalog knows it (a tag "the blues" on a
            // few clips would otherwise win by being longer); "a cappella" stays whole.
            if let Some(rest) = ["the ", "a ", "an "]
                .iter()
                .find_map(|article| phrase.strip_prefix(article))
            {
                if vocab.kind_of(rest).is_some() {
                    continue;
                }
            }
            let synonyms: Vec<String> = SYNONYMS
                .iter()
                .find(|(w, _)| *w == phrase)
                .map(|(_, s)| s.iter().map(|s| s.to_string()).collect())
                .unwrap_or_else(|| vec![phrase.clone()]);
            let mut found: Vec<(FacetKind, String)> = synonyms
                .iter()
                .filter_map(|s| vocab.kind_of(s).map(|k| (k, s.clone())))
                .collect();
            if found.is_empty() {
                // "string ensemble" names the catalog's "strings", "pianos" its "piano": the
                // other number of the last word, when only that form is a term.
                found = other_number(&phrase)
                    .into_iter()
                    .filter_map(|s| vocab.kind_of(&s).map(|k| (k, s)))
                    .take(1)
                    .collect();
            }
            if found.is_empty() {
                continue;
            }
            // One field per phrase: the one its first known form belongs to.
            let kind = found[0].0;
            found.retain(|(k, _)| *k == kind);
            let list = match kind {
                FacetKind::Genre => &mut out.preferences.genres,
                FacetKind::Mood => &mut out.preferences.moods,
                FacetKind::Instrument => &mut out.preferences.instruments,
                FacetKind::Origin => &mut out.preferences.origins,
                FacetKind::Tag => &mut out.preferences.tags,
            };
            for (_, term) in &found {
                push_unique(list, term);
            }
            let names: Vec<&str> = found.iter().map(|(_, t)| t.as_str()).collect();
            out.recognized.push(format!(
                "\"{phrase}\" -> prefer {}: {}",
                kind.name(),
                names.join(" | ")
            ));
            for t in &mut tokens[i..i + len] {
                t.consumed = true;
            }
            matched = len;
            break;
        }
        i += matched.max(1);
    }
}

/// Words worth matching in a keyword index: the query minus filler words.
pub fn keyword_terms(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .map(|t| t.raw.trim_end_matches('+').to_string())
        .filter(|w| !is_stopword(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary::new(
            vec![
                ("synth pop".into(), 3),
                ("pop".into(), 10),
                ("jazz".into(), 4),
                ("rock".into(), 5),
            ],
            vec![
                ("sad".into(), 4),
                ("melancholic".into(), 2),
                ("happy".into(), 3),
            ],
            vec![
                ("piano".into(), 5),
                ("female vocal".into(), 2),
                ("drums".into(), 7),
                ("vocals".into(), 1),
            ],
            vec![("west african".into(), 1)],
            vec![],
        )
    }

    #[test]
    fn a_term_is_read_in_either_number() {
        let v = Vocabulary::new(
            vec![("blues".into(), 3)],
            vec![("melody".into(), 1)],
            vec![
                ("strings".into(), 4),
                ("piano".into(), 5),
                ("female vocals".into(), 2),
            ],
            vec![],
            vec![],
        );
        let p = parse_query("string ensemble", &v);
        assert_eq!(p.preferences.instruments, ["strings"], "{:?}", p.recognized);
        let p = parse_query("pianos and a female vocal", &v);
        assert_eq!(
            p.preferences.instruments,
            ["piano", "female vocals"],
            "{:?}",
            p.recognized
        );
        let p = parse_query("melodies", &v);
        assert_eq!(p.preferences.moods, ["melody"], "{:?}", p.recognized);
        // A term as written wins, and short words are never folded.
        let p = parse_query("blues", &v);
        assert_eq!(p.preferences.genres, ["blues"], "{:?}", p.recognized);
        assert_eq!(other_number("bus"), Vec::<String>::new());
        assert_eq!(other_number("glass"), ["glasses"]);
    }

    #[test]
    fn an_article_before_a_known_term_is_not_part_of_it() {
        let v = Vocabulary::new(
            vec![("blues".into(), 20)],
            vec![],
            vec![],
            vec![],
            vec![("the blues".into(), 2), ("a cappella".into(), 3)],
        );
        let p = parse_query("the blues", &v);
        assert_eq!(p.preferences.genres, ["blues"], "{:?}", p.recognized);
        assert!(p.preferences.tags.is_empty(), "{:?}", p.recognized);
        // No shorter term: the phrase stays whole.
        let p = parse_query("a cappella choir", &v);
        assert_eq!(p.preferences.tags, ["a cappella"], "{:?}", p.recognized);
    }

    #[test]
    fn names_beat_vocabulary() {
        let mut v = Vocabulary::new(
            vec![("punk".into(), 4), ("rock".into(), 5), ("opera".into(), 2)],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        v.names = crate::domain::query::names::CatalogNames::new(
            [
                ("Daft Punk", "Get Lucky", None),
                ("Queen", "Bohemian Rhapsody", None),
                ("Beyoncé", "Halo", None),
                ("Journey", "Separate Ways", None),
            ]
            .into_iter(),
        );
        let p = parse_query("daft punk", &v);
        assert_eq!(p.artists, vec!["daft punk"]);
        assert!(p.preferences.genres.is_empty(), "{p:?}");
        assert!(p.recognized[0].contains("the artist daft punk"), "{p:?}");
        assert_eq!(parse_query("queen opera rock", &v).artists, vec!["queen"]);
        assert_eq!(parse_query("beyonse", &v).artists, vec!["beyonce"]);
        // A one-word band name that is also a plain word counts only in a short query.
        assert!(parse_query("music for a long night journey by the sea", &v)
            .artists
            .is_empty());
        assert_eq!(
            parse_query("punk rock", &v).preferences.genres,
            vec!["punk", "rock"]
        );
    }

    #[test]
    fn the_issue_example() {
        let p = parse_query("fast 80s synth pop without vocals under 140 bpm", &vocab());
        assert_eq!(p.filters.tempo, Some(Range::new(None, Some(140.0))));
        assert_eq!(p.filters.year, Some(Range::new(Some(1980.0), Some(1989.0))));
        assert_eq!(p.filters.exclude_instruments, vec!["vocals"]);
        assert_eq!(p.preferences.tempo, Some(Range::new(Some(120.0), None)));
        assert_eq!(p.preferences.genres, vec!["synth pop"]);
        assert_eq!(p.text, "fast synth pop");
        assert!(p.recognized.len() >= 5, "{:?}", p.recognized);
    }

    #[test]
    fn bpm_forms() {
        let v = vocab();
        assert_eq!(
            parse_query("over 130 bpm", &v).filters.tempo,
            Some(Range::new(Some(130.0), None))
        );
        assert_eq!(
            parse_query("drums 130+ bpm", &v).filters.tempo,
            Some(Range::new(Some(130.0), None))
        );
        assert_eq!(
            parse_query("90-120 bpm", &v).filters.tempo,
            Some(Range::new(Some(90.0), Some(120.0)))
        );
        assert_eq!(
            parse_query("between 90 and 110 bpm", &v).filters.tempo,
            Some(Range::new(Some(90.0), Some(110.0)))
        );
        assert_eq!(
            parse_query("less than 100bpm", &v).filters.tempo,
            Some(Range::new(None, Some(100.0)))
        );
        assert_eq!(
            parse_query("around 120 bpm", &v).filters.tempo,
            Some(Range::new(Some(115.0), Some(125.0)))
        );
        assert_eq!(
            parse_query("songs at 94 bpm", &v).filters.tempo,
            Some(Range::new(Some(91.0), Some(97.0)))
        );
        assert_eq!(parse_query("the 1999 song", &v).filters.tempo, None);
    }

    #[test]
    fn years_and_decades() {
        let v = vocab();
        assert_eq!(
            parse_query("1990s rock", &v).filters.year,
            Some(Range::new(Some(1990.0), Some(1999.0)))
        );
        assert_eq!(
            parse_query("'70s soul", &v).filters.year,
            Some(Range::new(Some(1970.0), Some(1979.0)))
        );
        assert_eq!(
            parse_query("nineties", &v).filters.year,
            Some(Range::new(Some(1990.0), Some(1999.0)))
        );
        assert_eq!(
            parse_query("rock from 1984", &v).filters.year,
            Some(Range::new(Some(1984.0), Some(1984.0)))
        );
        assert_eq!(
            parse_query("pop after 2000", &v).filters.year,
            Some(Range::new(Some(2001.0), None))
        );
        // A bare year may be a title.
        assert_eq!(parse_query("1999", &v).filters.year, None);
    }

    #[test]
    fn negations_only_for_instruments() {
        let v = vocab();
        let p = parse_query("jazz with no drums", &v);
        assert_eq!(p.filters.exclude_instruments, vec!["drums"]);
        assert!(!p.text.contains("drums"));
        let p = parse_query("instrumental rock", &v);
        assert_eq!(p.filters.exclude_instruments, vec!["vocals"]);
        let p = parse_query("not sad", &v);
        assert!(p.filters.exclude_instruments.is_empty());
    }

    #[test]
    fn vocabulary_and_synonyms() {
        let p = parse_query(
            "sad song with gentle piano and a soft female voice",
            &vocab(),
        );
        assert_eq!(p.preferences.moods, vec!["sad", "melancholic"]);
        assert_eq!(p.preferences.instruments, vec!["piano", "female vocal"]);
        assert!(p.filters.is_empty());
        let p = parse_query("West African drumming over 130 bpm", &vocab());
        assert_eq!(p.preferences.origins, vec!["west african"]);
        assert_eq!(p.preferences.instruments, vec!["drums"]);
        assert_eq!(p.filters.tempo, Some(Range::new(Some(130.0), None)));
    }

    #[test]
    fn plain_text_passes_through() {
        let p = parse_query("jakson five abc", &vocab());
        assert!(p.filters.is_empty() && p.preferences.is_empty());
        assert_eq!(p.text, "jakson five abc");
    }

    #[test]
    fn keyword_terms_drop_filler() {
        assert_eq!(
            keyword_terms("What tempo is ABC by the Jackson 5?"),
            vec!["tempo", "abc", "jackson", "5"]
        );
    }

    #[test]
    fn time_signatures_become_filters() {
        let v = vocab();
        let p = parse_query("waltzes in 3/4", &v);
        assert_eq!(p.filters.time_signatures, vec!["3/4"]);
        assert_eq!(p.preferences.time_signatures, vec!["3/4"]);
        assert_eq!(p.text, "waltzes");
        assert_eq!(
            parse_query("which tracks are in 6/8?", &v)
                .filters
                .time_signatures,
            vec!["6/8"]
        );
        assert_eq!(
            parse_query("rock in 7/8 time", &v).filters.time_signatures,
            vec!["7/8"]
        );
        let p = parse_query("piano in waltz time", &v);
        assert_eq!(p.filters.time_signatures, vec!["3/4"]);
        assert!(!p.text.contains("waltz"), "{}", p.text);
        assert!(parse_query("24/7 radio", &v)
            .filters
            .time_signatures
            .is_empty());
    }

    #[test]
    fn keys_and_modes_become_filters() {
        let v = vocab();
        let p = parse_query("piano sonata in A minor", &v);
        assert_eq!(p.filters.keys, vec!["A minor"]);
        assert_eq!(p.text, "piano sonata");
        assert_eq!(
            parse_query("something in c# min", &v).filters.keys,
            vec!["C# minor"]
        );
        assert_eq!(
            parse_query("quartet in b flat major", &v).filters.keys,
            vec!["Bb major"]
        );
        let p = parse_query("slow song in a minor key", &v);
        assert!(p.filters.keys.is_empty());
        assert_eq!(
            p.filters.mode,
            Some(crate::domain::catalog::key::Mode::Minor)
        );
        assert_eq!(p.text, "slow song");
        assert_eq!(
            parse_query("happy major key tunes", &v).filters.mode,
            Some(crate::domain::catalog::key::Mode::Major)
        );
        // "minor" alone is not a mode filter.
        let p = parse_query("a minor hit", &v);
        assert!(p.filters.keys.is_empty() && p.filters.mode.is_none());
    }
}
