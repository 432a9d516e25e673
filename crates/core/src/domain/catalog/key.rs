//! Musical keys as a type: parsed once from the many ways people and datasets write them
//! ("A minor", "Am", "B-flat major", "F♯ min", "c#"), compared by pitch class, printed one
//! way, and placed on the Camelot wheel for playlists that flow.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Major or minor.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Major,
    Minor,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
        }
    }

    /// "major", "maj", "minor", "min", "m" (case-insensitive).
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_lowercase().as_str() {
            "major" | "maj" | "dur" => Some(Mode::Major),
            "minor" | "min" | "m" | "moll" => Some(Mode::Minor),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key: a tonic pitch class (0 = C .. 11 = B) and a mode. Enharmonic spellings are one key
/// ("C# minor" = "D-flat minor").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub tonic: u8,
    pub mode: Mode,
}

/// Tonic names as printed: the spelling most catalogs use for each pitch class.
const TONIC_NAMES: [&str; 12] = [
    "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

impl Key {
    pub fn new(tonic: u8, mode: Mode) -> Self {
        Self {
            tonic: tonic % 12,
            mode,
        }
    }

    /// Parses a key as written by people and datasets; `None` when it is not one. A bare
    /// tonic ("G") is major, as in chord symbols.
    pub fn parse(s: &str) -> Option<Key> {
        let s = s
            .trim()
            .replace('♯', "#")
            .replace('♭', "b")
            .replace(['-', '_'], " ");
        let mut chars = s.chars();
        let letter = chars.next()?.to_ascii_lowercase();
        let base: i32 = match letter {
            'c' => 0,
            'd' => 2,
            'e' => 4,
            'f' => 5,
            'g' => 7,
            'a' => 9,
            'b' => 11,
            _ => return None,
        };
        let rest = chars.as_str();
        let lower = rest.to_lowercase();
        let (shift, rest) = if let Some(r) = rest.strip_prefix('#') {
            (1, r.to_string())
        } else if let Some(r) = lower.strip_prefix(" sharp") {
            (1, r.to_string())
        } else if let Some(r) = lower.strip_prefix(" flat") {
            (-1, r.to_string())
        } else if let Some(r) = rest.strip_prefix('b') {
            (-1, r.to_string())
        } else {
            (0, rest.to_string())
        };
        let rest = rest.trim();
        let mode = if rest.is_empty() {
            Mode::Major
        } else if rest == "m" {
            // "Am" is A minor, but "AM" is not a key spelling anyone means as major here.
            Mode::Minor
        } else {
            Mode::parse(rest)?
        };
        Some(Key::new((base + shift).rem_euclid(12) as u8, mode))
    }

    /// The key's place on the Camelot wheel: number 1-12 (8 = C major / A minor).
    pub fn camelot_number(self) -> u8 {
        // The relative major of a minor key is three semitones up; each fifth is +1.
        let major_pc = match self.mode {
            Mode::Major => self.tonic as i32,
            Mode::Minor => (self.tonic as i32 + 3) % 12,
        };
        (((major_pc * 7) % 12 + 7) % 12 + 1) as u8
    }

    /// The Camelot code: wheel number, then A for minor or B for major ("8A" = A minor).
    pub fn camelot(self) -> String {
        let ring = match self.mode {
            Mode::Minor => 'A',
            Mode::Major => 'B',
        };
        format!("{}{ring}", self.camelot_number())
    }

    /// Same wheel number (relative keys), or neighbours on the same ring: the keys DJs mix.
    pub fn is_compatible(self, other: Key) -> bool {
        let (a, b) = (self.camelot_number() as i32, other.camelot_number() as i32);
        let d = (a - b).rem_euclid(12);
        a == b || (self.mode == other.mode && (d == 1 || d == 11))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", TONIC_NAMES[self.tonic as usize], self.mode)
    }
}

impl FromStr for Key {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Key::parse(s).ok_or_else(|| format!("{s:?} is not a key (write it like \"A minor\")"))
    }
}

/// Normalises a time signature ("3 / 4" -> "3/4"); `None` when it is not one.
pub fn time_signature(s: &str) -> Option<String> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (beats, unit) = compact.split_once('/')?;
    let beats: u8 = beats.parse().ok()?;
    let unit: u8 = unit.parse().ok()?;
    (beats > 0 && beats <= 32 && [1, 2, 4, 8, 16, 32].contains(&unit))
        .then(|| format!("{beats}/{unit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_key_are_one_key() {
        let a_minor = Key::new(9, Mode::Minor);
        for s in ["A minor", "a min", "Am", "A-minor", "a minor"] {
            assert_eq!(Key::parse(s), Some(a_minor), "{s}");
        }
        let b_flat = Key::new(10, Mode::Major);
        for s in ["B-flat major", "Bb major", "B♭", "A# major", "b flat"] {
            assert_eq!(Key::parse(s), Some(b_flat), "{s}");
        }
        assert_eq!(Key::parse("F# minor"), Some(Key::new(6, Mode::Minor)));
        assert_eq!(Key::parse("G"), Some(Key::new(7, Mode::Major)));
        assert_eq!(Key::parse("B minor"), Some(Key::new(11, Mode::Minor)));
        assert_eq!(Key::parse("unknown"), None);
        assert_eq!(Key::parse("H minor"), None);
        assert_eq!(Key::parse("C lydian"), None);
    }

    #[test]
    fn keys_print_one_way() {
        assert_eq!(Key::parse("a flat major").unwrap().to_string(), "Ab major");
        assert_eq!(Key::parse("c#m").unwrap().to_string(), "C# minor");
    }

    #[test]
    fn camelot_neighbours_are_compatible() {
        let k = |s| Key::parse(s).unwrap();
        assert_eq!(k("C major").camelot_number(), 8);
        assert_eq!(k("A minor").camelot_number(), 8);
        assert_eq!(k("G").camelot_number(), 9);
        assert_eq!(k("F# minor").camelot_number(), 11);
        assert!(k("C major").is_compatible(k("A minor")));
        assert!(k("C major").is_compatible(k("G major")));
        assert!(k("C major").is_compatible(k("F major")));
        assert!(!k("C major").is_compatible(k("F# major")));
    }

    #[test]
    fn time_signatures_are_normalised() {
        assert_eq!(time_signature("3/4").as_deref(), Some("3/4"));
        assert_eq!(time_signature(" 6 / 8 ").as_deref(), Some("6/8"));
        assert_eq!(time_signature("4/5"), None);
        assert_eq!(time_signature("waltz"), None);
    }
}
