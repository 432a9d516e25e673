//! The in-memory view of the catalog, loaded from the source of truth at open: tracks with
//! their precomputed facets, and all vectors in one contiguous array for exact dense scans.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use music_rag_core::filter::{normalize_term, CompiledFilter, TrackFacets};
use music_rag_core::{Candidate, Track, Vocabulary};

pub struct Entry {
    pub slot: u64,
    pub track: Arc<Track>,
    pub facets: TrackFacets,
    pub content_hash: String,
    pub text_hash: String,
}

/// Tracks by dense position; the vector of position `p` is `vectors[p*dim..(p+1)*dim]`.
pub struct Catalog {
    dim: usize,
    entries: Vec<Option<Entry>>,
    vectors: Vec<f32>,
    free: Vec<usize>,
    by_id: BTreeMap<String, usize>,
    by_slot: HashMap<u64, usize>,
}

/// A totally ordered score for the top-k heap.
struct Scored(f32, usize);
impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .total_cmp(&other.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent lanes so the compiler vectorises the loop.
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for i in 0..chunks {
        for l in 0..8 {
            acc[l] += a[i * 8 + l] * b[i * 8 + l];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        sum += a[i] * b[i];
    }
    sum
}

impl Catalog {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            entries: Vec::new(),
            vectors: Vec::new(),
            free: Vec::new(),
            by_id: BTreeMap::new(),
            by_slot: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn insert(&mut self, entry: Entry, vector: &[f32]) {
        if let Some(&pos) = self.by_id.get(&entry.track.id) {
            self.remove_position(pos);
        }
        let pos = match self.free.pop() {
            Some(p) => p,
            None => {
                self.entries.push(None);
                self.vectors.resize(self.vectors.len() + self.dim, 0.0);
                self.entries.len() - 1
            }
        };
        self.vectors[pos * self.dim..(pos + 1) * self.dim].copy_from_slice(vector);
        self.by_id.insert(entry.track.id.clone(), pos);
        self.by_slot.insert(entry.slot, pos);
        self.entries[pos] = Some(entry);
    }

    fn remove_position(&mut self, pos: usize) {
        if let Some(e) = self.entries[pos].take() {
            self.by_id.remove(&e.track.id);
            self.by_slot.remove(&e.slot);
            self.free.push(pos);
        }
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(&pos) = self.by_id.get(id) {
            self.remove_position(pos);
        }
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).and_then(|&p| self.entries[p].as_ref())
    }

    pub fn vector(&self, id: &str) -> Option<&[f32]> {
        self.by_id
            .get(id)
            .map(|&p| &self.vectors[p * self.dim..(p + 1) * self.dim])
    }

    pub fn by_slot(&self, slot: u64) -> Option<&Entry> {
        self.by_slot
            .get(&slot)
            .and_then(|&p| self.entries[p].as_ref())
    }

    /// Ids after `cursor`, in order.
    pub fn page(&self, cursor: Option<&str>, limit: usize) -> (Vec<Arc<Track>>, Option<String>) {
        use std::ops::Bound;
        let start = cursor.map_or(Bound::Unbounded, |c| Bound::Excluded(c.to_string()));
        let mut out: Vec<Arc<Track>> = self
            .by_id
            .range((start, Bound::Unbounded))
            .take(limit + 1)
            .filter_map(|(_, &p)| self.entries[p].as_ref().map(|e| e.track.clone()))
            .collect();
        let next = if out.len() > limit {
            out.truncate(limit);
            out.last().map(|t| t.id.clone())
        } else {
            None
        };
        (out, next)
    }

    /// Slots that pass the filter, as a predicate for the keyword index.
    pub fn allowed_slots(&self, filter: &CompiledFilter) -> Arc<dyn Fn(u64) -> bool + Send + Sync> {
        let max = self.by_slot.keys().max().copied().unwrap_or(0) as usize;
        let mut bits = vec![0u64; max / 64 + 1];
        for e in self.entries.iter().flatten() {
            if filter.matches(&e.facets) {
                bits[e.slot as usize / 64] |= 1 << (e.slot % 64);
            }
        }
        Arc::new(move |s: u64| {
            bits.get(s as usize / 64)
                .is_some_and(|w| w & (1 << (s % 64)) != 0)
        })
    }

    /// Exact top-k cosine among tracks that pass the filter (vectors are unit length).
    pub fn dense(&self, query: &[f32], filter: &CompiledFilter, k: usize) -> Vec<Candidate> {
        let unfiltered = filter.is_empty();
        let mut heap: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
        for (pos, entry) in self.entries.iter().enumerate() {
            let Some(e) = entry else { continue };
            if !unfiltered && !filter.matches(&e.facets) {
                continue;
            }
            let s = dot(query, &self.vectors[pos * self.dim..(pos + 1) * self.dim]);
            if heap.len() < k {
                heap.push(Reverse(Scored(s, pos)));
            } else if heap.peek().is_some_and(|Reverse(min)| s > min.0) {
                heap.pop();
                heap.push(Reverse(Scored(s, pos)));
            }
        }
        let mut top: Vec<Scored> = heap.into_iter().map(|Reverse(s)| s).collect();
        top.sort_by(|a, b| b.cmp(a));
        top.into_iter()
            .filter_map(|Scored(score, pos)| {
                self.entries[pos].as_ref().map(|e| Candidate {
                    id: e.track.id.clone(),
                    score,
                })
            })
            .collect()
    }

    /// Tracks that pass the filter in id order, for filter-only listings.
    pub fn filtered(&self, filter: &CompiledFilter, k: usize) -> Vec<Candidate> {
        self.by_id
            .values()
            .filter_map(|&p| self.entries[p].as_ref())
            .filter(|e| filter.matches(&e.facets))
            .take(k)
            .map(|e| Candidate {
                id: e.track.id.clone(),
                score: 0.0,
            })
            .collect()
    }

    pub fn vocabulary(&self) -> Vocabulary {
        let mut counts: [HashMap<String, usize>; 5] = Default::default();
        let mut add = |i: usize, s: &str| {
            let n = normalize_term(s);
            if !n.is_empty() {
                *counts[i].entry(n).or_default() += 1;
            }
        };
        for e in self.entries.iter().flatten() {
            let m = &e.track.metadata;
            m.genre
                .iter()
                .chain(m.subgenre.iter())
                .for_each(|g| add(0, g));
            m.mood.iter().for_each(|x| add(1, x));
            m.instrumentation.iter().for_each(|x| add(2, x));
            m.cultural_origin.iter().for_each(|x| add(3, x));
            e.track.tags.iter().for_each(|x| add(4, x));
        }
        let sorted = |m: HashMap<String, usize>| {
            let mut v: Vec<(String, usize)> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v
        };
        let [g, mo, i, o, t] = counts;
        Vocabulary::new(sorted(g), sorted(mo), sorted(i), sorted(o), sorted(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f32> = (0..385).map(|i| (i as f32).sin()).collect();
        let b: Vec<f32> = (0..385).map(|i| (i as f32).cos()).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }
}
