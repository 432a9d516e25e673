//! Families of instruments a query can exclude at once ("no vocals" also excludes singers and
//! choirs).

/// Whether `term` names a family of instruments a query can exclude ("no vocals").
pub fn is_instrument_family_word(term: &str) -> bool {
    instrument_family(term).len() > 1
}

/// Words that name the same family of instruments, so "without vocals" also excludes
/// "female vocal", "singer" and "choir".
pub(super) fn instrument_family(term: &str) -> Vec<String> {
    const FAMILIES: &[&[&str]] = &[
        &[
            "vocals", "vocal", "voice", "voices", "singer", "singing", "choir", "vocalist",
            "rapping", "rap",
        ],
        &["drums", "drum", "percussion", "drum kit", "drummer"],
        &["guitar", "guitars", "guitarist"],
        &["piano", "pianist", "keys"],
    ];
    for fam in FAMILIES {
        if fam.contains(&term) {
            return fam.iter().map(|s| s.to_string()).collect();
        }
    }
    vec![term.to_string()]
}
