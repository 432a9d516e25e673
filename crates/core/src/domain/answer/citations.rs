//! Checks the citations of a generated answer against the sources it was given: a number
//! that points at no source, or a source id the generator made up, is removed and flagged.

use serde::Serialize;

/// A citation that was removed from an answer, and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CitationIssue {
    /// The marker as the generator wrote it, e.g. `[7]` or `[spotify:123]`.
    pub marker: String,
    pub reason: String,
}

/// An answer after its citations were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAnswer {
    pub text: String,
    /// Source numbers (1-based) the answer cites, in first-cited order.
    pub cited: Vec<usize>,
    pub issues: Vec<CitationIssue>,
}

/// What one bracketed part holds.
enum Marker {
    /// `[1]`, `[1, 2]`, `[1][2]` parts: numbers.
    Numbers(Vec<usize>),
    /// A known source id: rewritten to its number.
    SourceId(usize),
    /// Looks like a citation of an id that is not a source.
    UnknownId,
    /// Ordinary bracketed text such as `[Chorus]`: left alone.
    Text,
}

fn classify(inner: &str, source_ids: &[&str]) -> Marker {
    let trimmed = inner.trim();
    let unprefixed = trimmed
        .strip_prefix("source")
        .or_else(|| trimmed.strip_prefix("Source"))
        .map(str::trim)
        .unwrap_or(trimmed);
    let parts: Vec<&str> = unprefixed
        .split([',', ';'])
        .flat_map(|p| p.split(" and "))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if !parts.is_empty() && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())) {
        return Marker::Numbers(parts.iter().filter_map(|p| p.parse().ok()).collect());
    }
    let id = trimmed
        .strip_prefix("id:")
        .or_else(|| trimmed.strip_prefix("id="))
        .map(str::trim)
        .unwrap_or(trimmed);
    if let Some(i) = source_ids.iter().position(|s| *s == id) {
        return Marker::SourceId(i + 1);
    }
    // Ids in this catalog are single tokens with a separator (`harmonix:0004_abc`); a
    // bracketed single token shaped like one is a made-up citation.
    let looks_like_id = !id.is_empty()
        && !id.contains(char::is_whitespace)
        && (id.contains(':') || id.contains('_') || trimmed.starts_with("id"))
        && id.len() <= 256;
    if looks_like_id {
        Marker::UnknownId
    } else {
        Marker::Text
    }
}

/// Checks every `[...]` marker of `answer` against `source_ids` (source n is
/// `source_ids[n - 1]`).
pub fn check_citations(answer: &str, source_ids: &[&str]) -> CheckedAnswer {
    let mut text = String::with_capacity(answer.len());
    let mut cited = Vec::new();
    let mut issues = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let Some(close_rel) = rest[open + 1..].find(']') else {
            break;
        };
        let close = open + 1 + close_rel;
        let inner = &rest[open + 1..close];
        let marker = &rest[open..=close];
        text.push_str(&rest[..open]);
        match classify(inner, source_ids) {
            Marker::Numbers(ns) => {
                let mut kept = Vec::new();
                for n in ns {
                    if (1..=source_ids.len()).contains(&n) {
                        kept.push(n);
                        if !cited.contains(&n) {
                            cited.push(n);
                        }
                    } else {
                        issues.push(CitationIssue {
                            marker: marker.to_string(),
                            reason: format!(
                                "cites source {n}, but there {} {} source{}",
                                if source_ids.len() == 1 { "is" } else { "are" },
                                source_ids.len(),
                                if source_ids.len() == 1 { "" } else { "s" }
                            ),
                        });
                    }
                }
                for n in kept {
                    text.push_str(&format!("[{n}]"));
                }
            }
            Marker::SourceId(n) => {
                if !cited.contains(&n) {
                    cited.push(n);
                }
                text.push_str(&format!("[{n}]"));
            }
            Marker::UnknownId => issues.push(CitationIssue {
                marker: marker.to_string(),
                reason: "cites an id that is not among the sources".into(),
            }),
            Marker::Text => text.push_str(marker),
        }
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    // Removing a marker can leave a space before punctuation or two spaces.
    let mut tidy = text.replace("  ", " ");
    for p in [" .", " ,", " ;"] {
        tidy = tidy.replace(p, &p[1..]);
    }
    CheckedAnswer {
        text: tidy.trim().to_string(),
        cited,
        issues,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &[&str] = &["harmonix:0004_abc", "harmonix:0100_bad"];

    #[test]
    fn valid_numbers_are_kept_and_collected() {
        let c = check_citations("ABC runs at 94 BPM [1]. Bad too [2][1].", IDS);
        assert_eq!(c.text, "ABC runs at 94 BPM [1]. Bad too [2][1].");
        assert_eq!(c.cited, vec![1, 2]);
        assert!(c.issues.is_empty());
    }

    #[test]
    fn out_of_range_numbers_are_removed_and_flagged() {
        let c = check_citations("ABC runs at 94 BPM [3]. Also [1, 7].", IDS);
        assert_eq!(c.text, "ABC runs at 94 BPM. Also [1].");
        assert_eq!(c.cited, vec![1]);
        assert_eq!(c.issues.len(), 2);
        assert_eq!(c.issues[0].marker, "[3]");
        assert!(c.issues[0].reason.contains("there are 2 sources"));
        let zero = check_citations("Nothing [0].", IDS);
        assert_eq!(zero.text, "Nothing.");
        assert_eq!(zero.issues.len(), 1);
    }

    #[test]
    fn source_ids_become_numbers_and_invented_ids_are_removed() {
        let c = check_citations(
            "ABC [harmonix:0004_abc] and Thriller [harmonix:9999_thriller].",
            IDS,
        );
        assert_eq!(c.text, "ABC [1] and Thriller.");
        assert_eq!(c.cited, vec![1]);
        assert_eq!(c.issues[0].marker, "[harmonix:9999_thriller]");
    }

    #[test]
    fn ordinary_brackets_are_left_alone() {
        let c = check_citations("The lyric goes [Chorus] la la [1]", IDS);
        assert_eq!(c.text, "The lyric goes [Chorus] la la [1]");
        assert!(c.issues.is_empty());
        let unclosed = check_citations("Half [1", IDS);
        assert_eq!(unclosed.text, "Half [1");
    }
}
