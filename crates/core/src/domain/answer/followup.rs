//! Follow-up questions: a conversation refined one turn at a time ("only the ones with piano",
//! "less upbeat", "more like the second one", "why that one?"). Stateless: the client sends back
//! the [`Conversation`] the previous answer returned, and a follow-up is read against it,
//! offline and deterministically. A question that is not a follow-up is asked afresh.

use serde::{Deserialize, Serialize};

use crate::domain::answer::plan::spaced;
use crate::domain::retrieval::filter::Filter;

/// Ids a conversation carries at most (the previous answer's sources).
pub const CONVERSATION_SOURCES_MAX: usize = 50;

/// What a follow-up needs of the previous answer; every answer returns one to send back.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conversation {
    /// The question as the previous answer read it (earlier follow-ups folded in).
    pub question: String,
    /// The filters it applied.
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub filters: Filter,
    /// Its sources' track ids, in order: `[1]` is the first.
    pub sources: Vec<String>,
}

/// How a follow-up refines the previous answer.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowUp {
    /// "only the ones with piano", "just the instrumental ones": the previous sources that
    /// also fit these words (searched again with them when none does).
    Narrow(String),
    /// "less upbeat", "calmer", "slower" (`calmer: true`) or "more upbeat", "faster": tracks
    /// like the previous sources, moved that way.
    Shift { calmer: bool },
    /// "more like the second one", "something like number 3": tracks like source `n` (1-based).
    MoreLike(usize),
    /// "why that one?", "why the first one?": why source `n` (1-based) was chosen.
    Why(usize),
}

/// Words that point at one of the previous sources: ordinals, "number N", "that one".
fn which_source(q: &str) -> Option<usize> {
    const ORDINALS: &[(&str, usize)] = &[
        ("first", 1),
        ("1st", 1),
        ("second", 2),
        ("2nd", 2),
        ("third", 3),
        ("3rd", 3),
        ("fourth", 4),
        ("4th", 4),
        ("fifth", 5),
        ("5th", 5),
        ("sixth", 6),
        ("seventh", 7),
        ("eighth", 8),
        ("ninth", 9),
        ("tenth", 10),
        ("last", 0),
    ];
    let words: Vec<&str> = q.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if let Some((_, n)) = ORDINALS.iter().find(|(o, _)| o == w) {
            return Some(*n);
        }
        if matches!(*w, "number" | "no" | "track" | "song") {
            if let Some(n) = words.get(i + 1).and_then(|n| n.parse::<usize>().ok()) {
                return Some(n);
            }
        }
    }
    // "that one", "this one", "it": the first source, the one an answer names first.
    if q.contains(" that one ")
        || q.contains(" this one ")
        || q.contains(" that song ")
        || q.contains(" that track ")
        || q.trim() == "why it"
    {
        return Some(1);
    }
    None
}

/// Reads `text` as a follow-up of an earlier answer, if it is one. A source number of 0 means
/// the last source.
pub fn read_follow_up(text: &str) -> Option<FollowUp> {
    let q = spaced(text);
    let starts = |prefixes: &[&str]| prefixes.iter().find_map(|p| q.strip_prefix(p));
    if let Some(rest) = starts(&[" why ", " how come ", " what makes "]) {
        return which_source(&format!(" {rest}")).map(FollowUp::Why);
    }
    if let Some(rest) = starts(&[
        " more like ",
        " something like ",
        " anything like ",
        " others like ",
        " songs like ",
        " tracks like ",
        " more similar to ",
        " similar to ",
    ]) {
        return which_source(&format!(" {rest}")).map(FollowUp::MoreLike);
    }
    const CALMER: &[&str] = &[
        " less upbeat ",
        " less energetic ",
        " less intense ",
        " calmer ",
        " slower ",
        " quieter ",
        " softer ",
        " more relaxed ",
        " more calm ",
        " more mellow ",
        " mellower ",
        " gentler ",
    ];
    const LIVELIER: &[&str] = &[
        " more upbeat ",
        " more energetic ",
        " less calm ",
        " faster ",
        " livelier ",
        " more lively ",
        " louder ",
        " more intense ",
        " less mellow ",
        " upbeat er ",
    ];
    // A short turn that only compares ("less upbeat", "something calmer please").
    let short = q.split_whitespace().count() <= 5;
    if short {
        if CALMER.iter().any(|w| q.contains(w)) {
            return Some(FollowUp::Shift { calmer: true });
        }
        if LIVELIER.iter().any(|w| q.contains(w)) {
            return Some(FollowUp::Shift { calmer: false });
        }
    }
    let rest = starts(&[
        " only the ones ",
        " only those ",
        " only ones ",
        " just the ones ",
        " just those ",
        " only the ",
        " just the ",
        " only ",
        " just ",
        " of those ",
        " of these ",
        " which of those ",
        " which of these ",
    ])?;
    let rest = rest.trim();
    // "only the ones with piano" -> "piano"; "only the instrumental ones" -> "instrumental".
    let words: Vec<&str> = rest
        .split_whitespace()
        .filter(|w| {
            !matches!(
                *w,
                "with"
                    | "that"
                    | "which"
                    | "have"
                    | "has"
                    | "are"
                    | "is"
                    | "ones"
                    | "one"
                    | "songs"
                    | "tracks"
                    | "please"
                    | "in"
                    | "the"
                    | "a"
                    | "an"
                    | "feature"
                    | "features"
                    | "featuring"
                    | "of"
                    | "them"
            )
        })
        .collect();
    (!words.is_empty()).then(|| FollowUp::Narrow(words.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_are_read_by_their_shape() {
        let cases = [
            (
                "only the ones with piano",
                Some(FollowUp::Narrow("piano".into())),
            ),
            (
                "just the instrumental ones",
                Some(FollowUp::Narrow("instrumental".into())),
            ),
            (
                "Only those with female vocals, please",
                Some(FollowUp::Narrow("female vocals".into())),
            ),
            ("less upbeat", Some(FollowUp::Shift { calmer: true })),
            ("something calmer", Some(FollowUp::Shift { calmer: true })),
            (
                "a bit faster please",
                Some(FollowUp::Shift { calmer: false }),
            ),
            ("more like the second one", Some(FollowUp::MoreLike(2))),
            ("something like number 3", Some(FollowUp::MoreLike(3))),
            ("more like the last one", Some(FollowUp::MoreLike(0))),
            ("why that one?", Some(FollowUp::Why(1))),
            ("why the third one?", Some(FollowUp::Why(3))),
            ("Why track 4?", Some(FollowUp::Why(4))),
        ];
        for (text, want) in cases {
            assert_eq!(read_follow_up(text), want, "{text}");
        }
        // Questions of their own are not follow-ups.
        for text in [
            "why is the sky blue",
            "slow sad piano ballads with a soft female voice that build up to a loud ending",
            "what's the fastest metal song here?",
            "songs like Bad Romance",
            "only",
        ] {
            assert_eq!(read_follow_up(text), None, "{text}");
        }
    }
}
