//! A search as asked, and its answer.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::enhance::Enhancement;
use crate::error::{CoreError, Result};
use crate::filter::Filter;
use crate::parse::ParsedQuery;
use crate::summary::ResultsSummary;
use crate::track::Track;

pub const TOP_K_MAX: usize = 100;
pub const QUERY_MAX_BYTES: usize = 2048;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchRequest {
    pub text: String,
    /// Hard constraints: every hit satisfies them.
    pub filters: Filter,
    pub top_k: usize,
    /// Weight of dense (meaning) against keyword ranks in fusion, 0–1.
    pub semantic_weight: f32,
    /// Turn plain-words parsing of `text` into filters on or off.
    pub parse: bool,
    /// Dual-track: broad retrieval under the hard filters only.
    pub broad: bool,
    /// Dual-track: targeted retrieval under the hard filters plus the parsed preferences,
    /// scores ×1.2.
    pub targeted: bool,
    /// Soft constraints added to the parsed ones: hits that satisfy them rank higher.
    pub preferences: Filter,
    /// Second-stage field-aware rerank of the top fused candidates.
    pub rerank: bool,
    /// Let the configured model rewrite the query and suggest filters (off by default).
    pub enhance: bool,
    /// Have the configured model write the results summary (offline otherwise).
    pub model_summary: bool,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            text: String::new(),
            filters: Filter::default(),
            top_k: 10,
            semantic_weight: 0.6,
            parse: true,
            broad: true,
            targeted: true,
            preferences: Filter::default(),
            rerank: true,
            enhance: false,
            model_summary: false,
        }
    }
}

impl SearchRequest {
    pub fn validate(&self) -> Result<()> {
        if self.text.len() > QUERY_MAX_BYTES {
            return Err(CoreError::invalid(
                "text",
                format!("must be at most {QUERY_MAX_BYTES} bytes"),
            ));
        }
        crate::error::check_count("top_k", self.top_k, TOP_K_MAX)?;
        if !(0.0..=1.0).contains(&self.semantic_weight) {
            return Err(CoreError::invalid(
                "semantic_weight",
                format!("must be between 0 and 1 (got {})", self.semantic_weight),
            ));
        }
        if !self.broad && !self.targeted {
            return Err(CoreError::invalid(
                "use_broad_retrieval",
                "at least one of broad and targeted retrieval must be on",
            ));
        }
        self.filters.validate()?;
        self.preferences.validate()
    }
}

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
}

/// Why a hit matched, in words and parts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Why {
    pub filters_satisfied: Vec<String>,
    pub preferences_matched: Vec<String>,
    pub matched_terms: Vec<String>,
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

/// Milliseconds spent per stage.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimings {
    pub parse_ms: f64,
    pub embed_ms: f64,
    pub retrieve_ms: f64,
    pub fuse_ms: f64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    /// Served from the response cache (same request, no write since).
    pub cached: bool,
    pub hits: Vec<Hit>,
    pub parsed: Option<ParsedQuery>,
    /// What the hits share, in a sentence.
    pub summary: ResultsSummary,
    /// What query enhancement did, when it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhancement: Option<Enhancement>,
    pub timings: StageTimings,
}
