//! A bare genre word ("rock", "jazz music") asks for that genre's music, and a catalog that
//! holds thousands of anonymous ten-second captioned clips beside its named songs would answer
//! with clips only (a clip's caption says "rock" more often than a song's metadata does). For
//! such a query the head of the list alternates named songs and clips, named first, each kind
//! in its own ranked order; anything else keeps the ranking as it is.

use crate::domain::catalog::vocabulary::{FacetKind, Vocabulary};
use crate::domain::query::text::normalize_term;

/// Words that only say "music" around a genre word.
const FILLER: &[&str] = &[
    "music", "songs", "song", "tracks", "track", "some", "play", "me",
];

/// Whether the query is a genre of the catalog and nothing else.
pub fn is_bare_genre(query: &str, vocab: &Vocabulary) -> bool {
    let q = normalize_term(query);
    let words: Vec<&str> = q
        .split_whitespace()
        .filter(|w| !FILLER.contains(w))
        .collect();
    !words.is_empty()
        && words.len() <= 3
        && vocab.kind_of(&words.join(" ")) == Some(FacetKind::Genre)
}

/// The order of the first `head` positions: named and unnamed alternate (named first) while
/// both last, each kind keeping its ranked order; then the rest as ranked. `named[i]` says
/// whether position `i` is a named song.
pub fn alternate_named(named: &[bool], head: usize) -> Vec<usize> {
    let head = head.min(named.len());
    let (mut songs, mut clips): (Vec<usize>, Vec<usize>) =
        (0..named.len()).partition(|&i| named[i]);
    songs.reverse();
    clips.reverse();
    let mut order = Vec::with_capacity(named.len());
    let mut take_song = true;
    while order.len() < head {
        let next = if take_song {
            songs.pop().or_else(|| clips.pop())
        } else {
            clips.pop().or_else(|| songs.pop())
        };
        let Some(i) = next else { break };
        order.push(i);
        take_song = !take_song;
    }
    let placed: std::collections::HashSet<usize> = order.iter().copied().collect();
    order.extend((0..named.len()).filter(|i| !placed.contains(i)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_songs_and_clips_alternate_in_the_head_only() {
        // Clips first in the ranking (positions 0-3), songs at 4 and 6.
        let named = [false, false, false, false, true, false, true];
        assert_eq!(alternate_named(&named, 4), [4, 0, 6, 1, 2, 3, 5]);
        // With no song, nothing moves.
        assert_eq!(alternate_named(&[false, false, false], 3), [0, 1, 2]);
        // Songs run out: clips fill the head in their order.
        assert_eq!(
            alternate_named(&[false, true, false, false], 4),
            [1, 0, 2, 3]
        );
    }
}
