//! Retrieval metrics, as the original service computed them: precision, recall and nDCG at k
//! (binary relevance) and mean reciprocal rank, plus rank-1 accuracy for known-item queries.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// One evaluation query: what is typed, and which track ids are relevant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalQuery {
    pub query: String,
    pub relevant: Vec<String>,
    /// Graded relevance: the gain of each id of `relevant`, in order (empty: every one 1).
    #[serde(default)]
    pub gains: Vec<f64>,
    /// The set or kind this query belongs to (e.g. `known_item`); reports group by it.
    #[serde(default)]
    pub kind: Option<String>,
    /// For factual questions: text the answer must contain (e.g. `94 BPM`).
    #[serde(default)]
    pub answer: Option<String>,
    /// For questions the catalog cannot answer: `false` means a right answer is ungrounded
    /// and cites nothing (by default it must cite its first source).
    #[serde(default)]
    pub grounded: Option<bool>,
}

impl EvalQuery {
    /// Whether an answer is right: it states the expected text, and cites its first source
    /// (or, for a question expected to be ungrounded, is ungrounded and cites nothing).
    pub fn answered(&self, answer: &str, grounded: bool, cited: &[usize]) -> bool {
        let states = self.answer.as_deref().is_some_and(|a| answer.contains(a));
        states
            && match self.grounded {
                Some(false) => !grounded && cited.is_empty(),
                _ => cited.contains(&1),
            }
    }
}

/// Metrics of one ranked list against the relevant ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    pub precision: f64,
    pub recall: f64,
    pub ndcg: f64,
    pub reciprocal_rank: f64,
    pub rank1: f64,
}

/// Metrics of `ranked` at `k`; nDCG from graded gains (`gains[i]` for `relevant[i]`; empty: all
/// 1). Precision, recall and reciprocal rank count any relevant id.
pub fn score(ranked: &[String], relevant: &[String], gains: &[f64], k: usize) -> Scores {
    let gain_of: HashMap<&str, f64> = relevant
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), gains.get(i).copied().unwrap_or(1.0)))
        .collect();
    let rel: HashSet<&str> = gain_of.keys().copied().collect();
    if rel.is_empty() || k == 0 {
        return Scores::default();
    }
    let top = &ranked[..ranked.len().min(k)];
    let hits: Vec<bool> = top.iter().map(|id| rel.contains(id.as_str())).collect();
    let found = hits.iter().filter(|h| **h).count() as f64;
    let dcg: f64 = top
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            gain_of
                .get(id.as_str())
                .map(|g| g / ((i + 2) as f64).log2())
        })
        .sum();
    let mut best: Vec<f64> = gain_of.values().copied().collect();
    best.sort_by(|a, b| b.total_cmp(a));
    let ideal: f64 = best
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g / ((i + 2) as f64).log2())
        .sum();
    let first = ranked.iter().position(|id| rel.contains(id.as_str()));
    Scores {
        precision: found / k as f64,
        recall: found / rel.len() as f64,
        ndcg: dcg / ideal,
        reciprocal_rank: first.map_or(0.0, |r| 1.0 / (r + 1) as f64),
        rank1: if first == Some(0) { 1.0 } else { 0.0 },
    }
}

/// The mean of each metric over many queries.
pub fn mean(all: &[Scores]) -> Scores {
    if all.is_empty() {
        return Scores::default();
    }
    let n = all.len() as f64;
    let sum = |f: fn(&Scores) -> f64| all.iter().map(f).sum::<f64>() / n;
    Scores {
        precision: sum(|s| s.precision),
        recall: sum(|s| s.recall),
        ndcg: sum(|s| s.ndcg),
        reciprocal_rank: sum(|s| s.reciprocal_rank),
        rank1: sum(|s| s.rank1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn graded_gains_reward_the_more_relevant_first() {
        let relevant = ids(&["a", "b"]);
        let gains = [3.0, 1.0];
        let best = score(&ids(&["a", "b"]), &relevant, &gains, 2);
        let swapped = score(&ids(&["b", "a"]), &relevant, &gains, 2);
        assert!((best.ndcg - 1.0).abs() < 1e-12);
        assert!(swapped.ndcg < best.ndcg);
        assert_eq!(swapped.recall, 1.0);
        // Without gains, both orders are perfect.
        assert!((score(&ids(&["b", "a"]), &relevant, &[], 2).ndcg - 1.0).abs() < 1e-12);
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let s = score(&ids(&["a", "b", "c"]), &ids(&["a", "b"]), &[], 2);
        assert_eq!(s.precision, 1.0);
        assert_eq!(s.recall, 1.0);
        assert!((s.ndcg - 1.0).abs() < 1e-12);
        assert_eq!(s.reciprocal_rank, 1.0);
        assert_eq!(s.rank1, 1.0);
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        // Relevant at ranks 2 and 4 of 4; three relevant in all.
        let s = score(&ids(&["x", "a", "y", "b"]), &ids(&["a", "b", "c"]), &[], 4);
        assert_eq!(s.precision, 0.5);
        assert!((s.recall - 2.0 / 3.0).abs() < 1e-12);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 5f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((s.ndcg - dcg / idcg).abs() < 1e-12);
        assert_eq!(s.reciprocal_rank, 0.5);
        assert_eq!(s.rank1, 0.0);
        let none = score(&ids(&["x"]), &ids(&["a"]), &[], 10);
        assert_eq!(
            none,
            Scores {
                precision: 0.0,
                ..Default::default()
            }
        );
        let m = mean(&[s, none]);
        assert_eq!(m.reciprocal_rank, 0.25);
    }
}
