//! Reciprocal rank fusion and the dual-track merge.

use std::collections::HashMap;

use crate::domain::retrieval::hit::{Candidate, RetrievalType, ScoreParts};

/// The usual RRF constant: damps the head of each list so neither dominates.
pub const RRF_K: f32 = 60.0;
/// The original service's boost for targeted (filtered) hits.
pub const TARGETED_BOOST: f32 = 1.2;

/// A list's share for the item at `rank` (0 = first): 1.0 for the first, decaying as
/// reciprocal rank fusion does. The one rank rule of every fusion (search, listen-alike).
pub fn rank_share(rank: usize) -> f32 {
    (RRF_K + 1.0) / (RRF_K + rank as f32 + 1.0)
}

/// Fuses a dense and a keyword rank list. `semantic_weight` weights dense against keyword;
/// scores are scaled so a track ranked first in both lists scores 1.0. With
/// `keyword_strength` above 0, a keyword hit's rank share is scaled by its BM25 score relative
/// to the best one (to that power), so a weak match (one common word) counts for less than its
/// rank alone says.
pub fn rrf(
    dense: &[Candidate],
    keyword: &[Candidate],
    semantic_weight: f32,
    keyword_strength: f32,
) -> Vec<(String, ScoreParts)> {
    let best_keyword = keyword.iter().map(|c| c.score).fold(0.0f32, f32::max);
    let mut parts: HashMap<&str, ScoreParts> = HashMap::new();
    for (rank, c) in dense.iter().enumerate() {
        let p = parts.entry(&c.id).or_default();
        p.dense_rank = Some(rank + 1);
        p.dense_similarity = Some(c.score);
        p.fused += semantic_weight * rank_share(rank);
    }
    for (rank, c) in keyword.iter().enumerate() {
        let p = parts.entry(&c.id).or_default();
        p.keyword_rank = Some(rank + 1);
        p.keyword_score = Some(c.score);
        p.keyword_matches.clone_from(&c.matched);
        let strength = if best_keyword > 0.0 && keyword_strength > 0.0 {
            (c.score / best_keyword)
                .clamp(0.0, 1.0)
                .powf(keyword_strength)
        } else {
            1.0
        };
        p.fused += (1.0 - semantic_weight) * strength * rank_share(rank);
    }
    let mut out: Vec<(String, ScoreParts)> = parts
        .into_iter()
        .map(|(id, p)| (id.to_string(), p))
        .collect();
    sort_by_score(&mut out, |p| p.fused);
    out
}

/// Sorts by descending score, ties broken by id so results are deterministic.
pub fn sort_by_score<T>(items: &mut [(String, T)], score: impl Fn(&T) -> f32) {
    items.sort_by(|a, b| {
        score(&b.1)
            .total_cmp(&score(&a.1))
            .then_with(|| a.0.cmp(&b.0))
    });
}

/// A fused candidate with its final score and the track it came from.
#[derive(Debug, Clone)]
pub struct Merged {
    pub score: f32,
    pub retrieval_type: RetrievalType,
    pub parts: ScoreParts,
}

/// Merges broad and targeted lists: targeted scores are multiplied by `boost`, duplicates
/// keep their best.
pub fn merge_dual(
    broad: Vec<(String, ScoreParts)>,
    targeted: Vec<(String, ScoreParts)>,
    boost: f32,
) -> Vec<(String, Merged)> {
    let mut by_id: HashMap<String, Merged> = HashMap::new();
    for (id, parts) in broad {
        by_id.insert(
            id,
            Merged {
                score: parts.fused,
                retrieval_type: RetrievalType::Broad,
                parts,
            },
        );
    }
    for (id, parts) in targeted {
        let score = parts.fused * boost;
        match by_id.get_mut(&id) {
            Some(m) if m.score >= score => {}
            _ => {
                by_id.insert(
                    id,
                    Merged {
                        score,
                        retrieval_type: RetrievalType::Targeted,
                        parts,
                    },
                );
            }
        }
    }
    let mut out: Vec<(String, Merged)> = by_id.into_iter().collect();
    sort_by_score(&mut out, |m| m.score);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, score: f32) -> Candidate {
        Candidate::scored(id, score)
    }

    #[test]
    fn rrf_rewards_agreement() {
        let dense = vec![c("a", 0.9), c("b", 0.8), c("c", 0.7)];
        let kw = vec![c("b", 5.0), c("d", 4.0)];
        let fused = rrf(&dense, &kw, 0.5, 0.0);
        assert_eq!(fused[0].0, "b");
        assert_eq!(fused.len(), 4);
        let b = &fused[0].1;
        assert_eq!(b.dense_rank, Some(2));
        assert_eq!(b.keyword_rank, Some(1));
    }

    #[test]
    fn rank_one_in_both_scores_one() {
        let fused = rrf(&[c("a", 1.0)], &[c("a", 1.0)], 0.3, 0.0);
        assert!((fused[0].1.fused - 1.0).abs() < 1e-6);
    }

    #[test]
    fn semantic_weight_one_ignores_keyword_order() {
        let dense = vec![c("a", 0.9), c("b", 0.8)];
        let kw = vec![c("b", 5.0), c("a", 4.0)];
        let fused = rrf(&dense, &kw, 1.0, 0.0);
        assert_eq!(fused[0].0, "a");
        let fused = rrf(&dense, &kw, 0.0, 0.0);
        assert_eq!(fused[0].0, "b");
    }

    #[test]
    fn keyword_strength_lets_a_weak_keyword_match_count_less() {
        // "b" is in both lists, but in the keyword list a far weaker match than "a"; "c" is
        // first by meaning only.
        let dense = vec![
            c("c", 0.9),
            c("x", 0.8),
            c("y", 0.7),
            c("z", 0.6),
            c("b", 0.5),
        ];
        let kw = vec![c("a", 10.0), c("b", 0.5)];
        let at = |list: &[(String, ScoreParts)], id: &str| list.iter().position(|(i, _)| i == id);
        let plain = rrf(&dense, &kw, 0.5, 0.0);
        assert_eq!(plain[0].0, "b", "plain RRF: two ranks beat one");
        let weighed = rrf(&dense, &kw, 0.5, 1.0);
        assert!(at(&weighed, "b") > at(&weighed, "c"), "{weighed:?}");
    }

    #[test]
    fn dual_merge_boosts_targeted_and_dedupes() {
        let broad = rrf(&[c("a", 0.9), c("b", 0.8)], &[], 1.0, 0.0);
        let targeted = rrf(&[c("b", 0.8)], &[], 1.0, 0.0);
        let merged = merge_dual(broad, targeted, TARGETED_BOOST);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].0, "b");
        assert_eq!(merged[0].1.retrieval_type, RetrievalType::Targeted);
        assert!((merged[0].1.score - 1.2).abs() < 1e-6);
    }
}
