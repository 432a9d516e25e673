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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_case_and_ampersands_fold() {
        assert_eq!(normalize_term("Hip-Hop"), "hip hop");
        assert_eq!(normalize_term(" hip_hop "), "hip hop");
        assert_eq!(normalize_term("R&B"), "r and b");
        assert_eq!(normalize_term("Rock & Roll"), "rock and roll");
        assert_eq!(normalize_term("Dance/Electronic"), "dance electronic");
    }
}
