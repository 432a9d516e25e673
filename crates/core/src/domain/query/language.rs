//! Whether a query is written in another language than English: the embedding model and the
//! parser read English, so a query in Spanish or German is still searched, with a notice that
//! results may miss what it means. A few function words per language decide; nothing is sent
//! anywhere.

/// Common function words of languages people are likely to type, none of them English words.
const FOREIGN: &[(&str, &[&str])] = &[
    (
        "Spanish",
        &[
            "el",
            "los",
            "las",
            "una",
            "para",
            "con",
            "canciones",
            "cancion",
            "musica",
            "que",
            "del",
            "tranquila",
            "triste",
        ],
    ),
    (
        "French",
        &[
            "le", "les", "une", "des", "pour", "avec", "chanson", "chansons", "musique", "du",
            "calme", "douce",
        ],
    ),
    (
        "German",
        &[
            "der", "die", "das", "und", "mit", "ein", "eine", "für", "fur", "lieder", "musik",
            "ruhige", "traurige",
        ],
    ),
    (
        "Italian",
        &[
            "il",
            "gli",
            "della",
            "per",
            "canzoni",
            "canzone",
            "musica",
            "tranquilla",
            "triste",
        ],
    ),
    (
        "Portuguese",
        &[
            "os",
            "uma",
            "com",
            "para",
            "músicas",
            "musicas",
            "música",
            "tranquila",
            "triste",
        ],
    ),
];

/// The language a query seems to be written in, when it is not English: two or more of that
/// language's function words, and more of them than of English ones.
pub fn foreign_language(text: &str) -> Option<&'static str> {
    const ENGLISH: &[&str] = &[
        "the", "and", "with", "for", "of", "a", "to", "songs", "music", "song", "by", "in",
    ];
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let english = words.iter().filter(|w| ENGLISH.contains(w)).count();
    FOREIGN
        .iter()
        .map(|(name, list)| (*name, words.iter().filter(|w| list.contains(w)).count()))
        .filter(|(_, n)| *n >= 2 && *n > english)
        .max_by_key(|(_, n)| *n)
        .map(|(name, _)| name)
}

/// The notice a response carries for a query in another language.
pub fn language_notice(language: &str) -> String {
    format!(
        "This looks like {language}; the search reads English, so results may miss what you \
         mean. Try the words in English."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_languages_are_noticed_and_english_is_not() {
        assert_eq!(
            foreign_language("canciones tristes para llorar con piano"),
            Some("Spanish")
        );
        assert_eq!(
            foreign_language("musique douce pour le dîner"),
            Some("French")
        );
        assert_eq!(
            foreign_language("ruhige Musik für die Nacht"),
            Some("German")
        );
        assert_eq!(foreign_language("sad songs with piano for the night"), None);
        // A name or a single loan word is not a language.
        assert_eq!(foreign_language("Les Misérables soundtrack"), None);
        assert_eq!(foreign_language("el camino by the black keys"), None);
    }
}
