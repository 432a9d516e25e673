//! SQL for the retrievers: a filter as a `WHERE` condition over the indexed columns, and the
//! keyword query as a weighted `tsquery` plus trigram matches for typed names.

use music_rag_core::domain::query::parse::keyword_terms;
use music_rag_core::domain::query::text::{digit_for, typo_budget};
use music_rag_core::domain::retrieval::filter::{CompiledFilter, Range};
use postgres::types::ToSql;

/// Query parameters collected while SQL is written; `$n` placeholders follow their order.
#[derive(Default)]
pub struct Params(Vec<Box<dyn ToSql + Sync + Send>>);

impl Params {
    /// Adds a parameter and returns its placeholder.
    pub fn push(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.0.push(Box::new(value));
        format!("${}", self.0.len())
    }

    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The filter as a condition on `tracks`: each facet clause is one overlap test on the GIN
/// index of `facet_keys` (see `TrackFacets::index_keys`), numbers are compared on their columns.
pub fn filter_condition(filter: &CompiledFilter, params: &mut Params) -> String {
    let mut parts: Vec<String> = Vec::new();
    for clause in filter.text_clauses() {
        let keys = clause.index_keys();
        if keys.is_empty() {
            // A clause nothing can satisfy (a contradictory filter).
            parts.push("FALSE".into());
            continue;
        }
        let any = format!("facet_keys && {}::text[]", params.push(keys));
        if clause.negated {
            let known = params.push(clause.known_keys());
            parts.push(format!("(facet_keys && {known}::text[] AND NOT {any})"));
        } else {
            parts.push(any);
        }
    }
    let (tempo, year, live) = filter.numeric();
    range_condition("tempo", tempo, &mut parts, params);
    range_condition("year", year, &mut parts, params);
    if let Some(l) = live {
        parts.push(format!("coalesce(live, false) = {}", params.push(l)));
    }
    if parts.is_empty() {
        "TRUE".into()
    } else {
        parts.join(" AND ")
    }
}

/// A numeric range on `column`: a track without a value never passes.
fn range_condition(
    column: &str,
    range: Option<Range>,
    parts: &mut Vec<String>,
    params: &mut Params,
) {
    let Some(r) = range else { return };
    parts.push(format!("{column} IS NOT NULL"));
    if let Some(min) = r.min {
        parts.push(format!("{column} >= {}::real", params.push(min)));
    }
    if let Some(max) = r.max {
        parts.push(format!("{column} <= {}::real", params.push(max)));
    }
}

/// The words of a keyword query, each with the spellings it stands for, reduced to letters
/// and digits so they are safe inside a `tsquery`.
pub fn query_words(text: &str) -> Vec<Vec<String>> {
    keyword_terms(text)
        .into_iter()
        .flat_map(|term| {
            term.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .map(|word| {
            let mut forms = vec![word.clone()];
            forms.extend(digit_for(&word).map(str::to_string));
            forms
        })
        .collect()
}

/// A word held by more than this share of tracks says little about which track is meant:
/// it still ranks the candidates but does not make one (BM25 gives it almost no weight either).
/// Without the bound a plain-words query ranks a fifth of a large catalog.
pub const COMMON_SHARE: f32 = 0.05;

/// One word's forms as a `tsquery` alternative.
fn forms_tsquery(forms: &[String]) -> String {
    match forms {
        [one] => one.clone(),
        _ => format!("({})", forms.join(" | ")),
    }
}

/// The `tsquery` text ranking by every word (ranked by how many and where they match).
pub fn any_word_tsquery(words: &[Vec<String>]) -> String {
    words
        .iter()
        .map(|forms| forms_tsquery(forms))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The `tsquery` text deciding which tracks are candidates, given each word's share of the
/// catalog: any word that is not common; when every word is common, all of them together.
pub fn candidate_tsquery(words: &[Vec<String>], shares: &[f32]) -> String {
    let distinctive: Vec<&Vec<String>> = words
        .iter()
        .zip(shares)
        .filter(|(_, share)| **share <= COMMON_SHARE)
        .map(|(w, _)| w)
        .collect();
    if distinctive.is_empty() {
        words
            .iter()
            .map(|forms| forms_tsquery(forms))
            .collect::<Vec<_>>()
            .join(" & ")
    } else {
        distinctive
            .into_iter()
            .map(|forms| forms_tsquery(forms))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// Words long enough to carry a typo (the same budget as the embedded store's index); a
/// number word stands for its digit, not for a misspelt name.
pub fn typo_candidates(words: &[Vec<String>]) -> Vec<String> {
    words
        .iter()
        .filter(|forms| forms.len() == 1)
        .map(|forms| forms[0].clone())
        .filter(|w| typo_budget(w) > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use music_rag_core::Filter;

    #[test]
    fn query_words_are_safe_and_know_number_words() {
        let words = query_words("ABC by the Jackson five; DROP TABLE's");
        let flat: Vec<&str> = words.iter().flatten().map(String::as_str).collect();
        assert!(flat.contains(&"jackson") && flat.contains(&"5") && flat.contains(&"abc"));
        assert!(flat.iter().all(|w| w.chars().all(char::is_alphanumeric)));
        assert_eq!(
            any_word_tsquery(&[vec!["a".into(), "1".into()], vec!["b".into()]]),
            "(a | 1) | b"
        );
    }

    #[test]
    fn common_words_rank_but_do_not_make_candidates() {
        let words: Vec<Vec<String>> = vec![vec!["rock".into()], vec!["kazoo".into()]];
        assert_eq!(candidate_tsquery(&words, &[0.2, 0.001]), "kazoo");
        // Nothing distinctive: the tracks holding every word.
        assert_eq!(candidate_tsquery(&words, &[0.2, 0.3]), "rock & kazoo");
        // No statistics yet (never analysed): every word makes candidates.
        assert_eq!(candidate_tsquery(&words, &[0.0, 0.0]), "rock | kazoo");
    }

    #[test]
    fn every_clause_becomes_a_parameterised_condition() {
        let filter = Filter {
            genres: vec!["hip hop".into()],
            exclude_instruments: vec!["vocals".into()],
            tempo: Some(music_rag_core::domain::retrieval::filter::Range::new(
                Some(90.0),
                None,
            )),
            live: Some(false),
            ..Default::default()
        };
        let mut params = Params::default();
        let sql = filter_condition(&filter.compile(), &mut params);
        assert_eq!(
            sql,
            "facet_keys && $1::text[] AND (facet_keys && $3::text[] AND NOT facet_keys && \
             $2::text[]) AND tempo IS NOT NULL AND tempo >= $4::real AND coalesce(live, false) = $5"
        );
        assert_eq!(params.refs().len(), 5);
        let mut none = Params::default();
        assert_eq!(
            filter_condition(&Filter::default().compile(), &mut none),
            "TRUE"
        );
    }
}
