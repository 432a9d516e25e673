//! One search hit: the track, its score, the parts the score is made of, and why it matched.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::catalog::track::Track;

/// Which retrieval track produced a hit's best score.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrievalType {
    Broad,
    Targeted,
}

/// The parts a hit's score is made of.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScoreParts {
    /// Cosine similarity of the query and the track, when the dense list held it.
    pub dense_similarity: Option<f32>,
    pub dense_rank: Option<usize>,
    pub keyword_score: Option<f32>,
    pub keyword_rank: Option<usize>,
    /// Reciprocal rank fusion, scaled so rank 1 in both lists is 1.0.
    pub fused: f32,
    /// What the second-stage reranker added for fields the query names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank_bonus: Option<f32>,
    /// The query words the keyword retriever matched in this track (shown in `why`).
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub keyword_matches: Vec<TermMatch>,
}

/// A query word the keyword retriever matched in a track: as typed, or as a typo of one of the
/// track's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermMatch {
    pub term: String,
    pub typo: bool,
}

impl TermMatch {
    pub fn exact(term: &str) -> Self {
        Self {
            term: term.to_string(),
            typo: false,
        }
    }

    pub fn typo(term: &str) -> Self {
        Self {
            term: term.to_string(),
            typo: true,
        }
    }
}

/// Why a hit matched, in words and parts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Why {
    pub filters_satisfied: Vec<String>,
    pub preferences_matched: Vec<String>,
    pub matched_terms: Vec<String>,
    /// Values the sound model heard that the query named, with the model's confidence
    /// ("heard: piano 0.91").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heard: Vec<String>,
    pub summary: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    #[cfg_attr(feature = "openapi", schema(value_type = Track))]
    pub track: Arc<Track>,
    pub score: f32,
    pub retrieval_type: RetrievalType,
    pub scores: ScoreParts,
    pub why: Why,
}

/// One retrieved candidate: a store-internal rank list entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub score: f32,
    /// What a keyword retriever matched (empty from dense retrieval).
    pub matched: Vec<TermMatch>,
}

/// [`Candidate::rank_order`] on (score, id) pairs, for lists that compare before they build
/// candidates.
pub fn rank_order(a: (f32, &str), b: (f32, &str)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1))
}

impl Candidate {
    /// The one order of a retriever's list, on every store: best score first, equal scores by
    /// id, so ties never depend on where an index happened to lay tracks out (a restored or
    /// rebuilt index ranks exactly as the one it replaces).
    pub fn rank_order(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
        rank_order((a.score, &a.id), (b.score, &b.id))
    }

    /// A candidate without matched words (dense retrieval, browsing).
    pub fn scored(id: impl Into<String>, score: f32) -> Self {
        Self {
            id: id.into(),
            score,
            matched: Vec::new(),
        }
    }
}
