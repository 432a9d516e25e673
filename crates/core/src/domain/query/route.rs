//! Query routing: what kind of request a query is decides how evidence is weighed. A
//! description ("a sad song with soft piano and a female voice") is about how the music
//! sounds: one word matching a title or one facet is weak evidence there. Short queries and
//! names lean on words and on the field rerank.

use serde::{Deserialize, Serialize};

use crate::domain::query::parse::keyword_terms;

/// How a query is read for ranking.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryRoute {
    /// Few words, or a name: words and facets carry the answer.
    Keywords,
    /// Many words describing the music, naming no one: meaning carries the answer.
    Description,
}

impl QueryRoute {
    /// The route's name as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            QueryRoute::Keywords => "keywords",
            QueryRoute::Description => "description",
        }
    }
}

/// Content words from which a query reads as a description.
pub const DESCRIPTION_MIN_WORDS: usize = 6;

/// How fusion and rerank weigh evidence for one route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankWeights {
    /// Dense against keyword in fusion, 0–1.
    pub semantic: f32,
    /// Multiplier of the targeted (preferences) track's scores.
    pub targeted_boost: f32,
    /// Multiplier of the rerank's field bonuses.
    pub rerank_scale: f32,
    /// How much a keyword hit's BM25 score, relative to the best one, scales its rank share
    /// in fusion (0: rank alone counts, as in plain RRF).
    pub keyword_strength: f32,
}

impl QueryRoute {
    /// The route of `text` (the query as searched); `names_something` is whether it names an
    /// artist, title or album (quoted, "by X", capitalised names).
    pub fn of(text: &str, names_something: bool) -> Self {
        if !names_something && keyword_terms(text).len() >= DESCRIPTION_MIN_WORDS {
            QueryRoute::Description
        } else {
            QueryRoute::Keywords
        }
    }

    /// The weights for this route; a semantic weight the caller asked for wins.
    pub fn weights(self, requested_semantic: Option<f32>) -> RankWeights {
        let routed = match self {
            QueryRoute::Keywords => RankWeights {
                semantic: 0.6,
                targeted_boost: crate::domain::retrieval::fusion::TARGETED_BOOST,
                rerank_scale: 1.0,
                keyword_strength: 0.0,
            },
            // Set on the tuning split of the descriptive set (docs/QUALITY.md): the field rerank
            // cost 4 nDCG points there (title and one-facet bonuses), weak keyword matches 0.5;
            // the semantic weight was flat between 0.3 and 0.6.
            QueryRoute::Description => RankWeights {
                semantic: 0.5,
                targeted_boost: crate::domain::retrieval::fusion::TARGETED_BOOST,
                rerank_scale: 0.0,
                keyword_strength: 1.0,
            },
        };
        RankWeights {
            semantic: requested_semantic.unwrap_or(routed.semantic),
            ..routed
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            QueryRoute::Keywords => "words and facets (few words, or a name)",
            QueryRoute::Description => {
                "a description (fused meaning and words, no field rerank, weak word matches count less)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_descriptions_without_names_lean_on_meaning() {
        let d = "a sad song with soft piano and a gentle female voice singing about rain";
        assert_eq!(QueryRoute::of(d, false), QueryRoute::Description);
        assert_eq!(QueryRoute::of(d, true), QueryRoute::Keywords);
        assert_eq!(
            QueryRoute::of("bohemian rhapsdoy queen", false),
            QueryRoute::Keywords
        );
        let w = QueryRoute::Description.weights(None);
        assert_eq!(w.rerank_scale, 0.0);
        assert!(w.keyword_strength > QueryRoute::Keywords.weights(None).keyword_strength);
        assert_eq!(QueryRoute::Description.weights(Some(0.2)).semantic, 0.2);
    }
}
