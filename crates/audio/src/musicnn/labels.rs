//! The MagnaTagATune model's 50 tags, in output order, and what each means to the catalog.
//!
//! The tag set was made by listeners and has near-synonyms ("female", "woman", "female vocal",
//! "female voice"); each is mapped to one catalog word, and a word's confidence is the highest
//! probability among the tags that name it.

/// What a heard word describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aspect {
    Instrument,
    Genre,
    Mood,
}

impl Aspect {
    pub fn as_str(self) -> &'static str {
        match self {
            Aspect::Instrument => "instrument",
            Aspect::Genre => "genre",
            Aspect::Mood => "mood",
        }
    }
}

/// The model's tags in output order, with the catalog word and aspect each maps to
/// (None: not used, too vague to help a search).
pub const TAGS: [(&str, Option<(&str, Aspect)>); 50] = {
    use Aspect::*;
    [
        ("guitar", Some(("guitar", Instrument))),
        ("classical", Some(("classical", Genre))),
        ("slow", Some(("slow", Mood))),
        ("techno", Some(("techno", Genre))),
        ("strings", Some(("strings", Instrument))),
        ("drums", Some(("drums", Instrument))),
        ("electronic", Some(("electronic", Genre))),
        ("rock", Some(("rock", Genre))),
        ("fast", Some(("fast", Mood))),
        ("piano", Some(("piano", Instrument))),
        ("ambient", Some(("ambient", Genre))),
        ("beat", Some(("beat", Mood))),
        ("violin", Some(("violin", Instrument))),
        ("vocal", Some(("vocals", Instrument))),
        ("synth", Some(("synth", Instrument))),
        ("female", Some(("female vocals", Instrument))),
        ("indian", Some(("indian", Genre))),
        ("opera", Some(("opera", Genre))),
        ("male", Some(("male vocals", Instrument))),
        ("singing", Some(("vocals", Instrument))),
        ("vocals", Some(("vocals", Instrument))),
        ("no vocals", Some(("instrumental", Instrument))),
        ("harpsichord", Some(("harpsichord", Instrument))),
        ("loud", Some(("loud", Mood))),
        ("quiet", Some(("quiet", Mood))),
        ("flute", Some(("flute", Instrument))),
        ("woman", Some(("female vocals", Instrument))),
        ("male vocal", Some(("male vocals", Instrument))),
        ("no vocal", Some(("instrumental", Instrument))),
        ("pop", Some(("pop", Genre))),
        ("soft", Some(("soft", Mood))),
        ("sitar", Some(("sitar", Instrument))),
        ("solo", Some(("solo", Mood))),
        ("man", Some(("male vocals", Instrument))),
        ("classic", Some(("classical", Genre))),
        ("choir", Some(("choir", Instrument))),
        ("voice", Some(("vocals", Instrument))),
        ("new age", Some(("new age", Genre))),
        ("dance", Some(("dance", Genre))),
        ("male voice", Some(("male vocals", Instrument))),
        ("female vocal", Some(("female vocals", Instrument))),
        ("beats", Some(("beat", Mood))),
        ("harp", Some(("harp", Instrument))),
        ("cello", Some(("cello", Instrument))),
        ("no voice", Some(("instrumental", Instrument))),
        ("weird", None),
        ("country", Some(("country", Genre))),
        ("metal", Some(("metal", Genre))),
        ("female voice", Some(("female vocals", Instrument))),
        ("choral", Some(("choir", Instrument))),
    ]
};

/// One catalog word the model heard, with its confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct HeardWord {
    pub word: &'static str,
    pub aspect: Aspect,
    pub confidence: f32,
}

/// The catalog words whose confidence reaches `threshold`, most confident first. A song cannot
/// be both sung and instrumental: whichever the model is surer of is kept.
pub fn heard_words(tag_probabilities: &[f32], threshold: f32) -> Vec<HeardWord> {
    let mut words: Vec<HeardWord> = Vec::new();
    for ((_, mapping), &p) in TAGS.iter().zip(tag_probabilities) {
        let Some((word, aspect)) = mapping else {
            continue;
        };
        match words.iter_mut().find(|w| w.word == *word) {
            Some(w) => w.confidence = w.confidence.max(p),
            None => words.push(HeardWord {
                word,
                aspect: *aspect,
                confidence: p,
            }),
        }
    }
    let confidence = |words: &[HeardWord], name: &str| {
        words
            .iter()
            .find(|w| w.word == name)
            .map_or(0.0, |w| w.confidence)
    };
    let sung = ["vocals", "female vocals", "male vocals", "choir"]
        .iter()
        .map(|w| confidence(&words, w))
        .fold(0.0, f32::max);
    let instrumental = confidence(&words, "instrumental");
    words.retain(|w| {
        w.confidence >= threshold
            && match w.word {
                "instrumental" => instrumental >= sung,
                "vocals" | "female vocals" | "male vocals" | "choir" => sung > instrumental,
                _ => true,
            }
    });
    words.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_merge_into_one_word_at_their_highest_confidence() {
        let mut p = vec![0.0; 50];
        p[15] = 0.3; // female
        p[26] = 0.6; // woman
        p[9] = 0.9; // piano
        p[21] = 0.1; // no vocals
        let words = heard_words(&p, 0.2);
        let names: Vec<_> = words.iter().map(|w| (w.word, w.confidence)).collect();
        assert_eq!(names, vec![("piano", 0.9), ("female vocals", 0.6)]);
    }

    #[test]
    fn sung_and_instrumental_exclude_each_other() {
        let mut p = vec![0.0; 50];
        p[21] = 0.7; // no vocals
        p[13] = 0.4; // vocal
        let words: Vec<_> = heard_words(&p, 0.2).into_iter().map(|w| w.word).collect();
        assert_eq!(words, vec!["instrumental"]);
    }
}
