//! The in-memory view of the catalog, loaded from the source of truth at open: tracks with
//! their precomputed facets, and all vectors in one contiguous array for exact dense scans.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Arc, OnceLock};

use music_rag_core::domain::filter::{CompiledFilter, FacetField, FacetValue, TrackFacets};
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
    /// The same vectors in 8 bits (a quarter of the memory traffic) for the first pass.
    quantized: Vec<i8>,
    scales: Vec<f32>,
    free: Vec<usize>,
    by_id: BTreeMap<String, usize>,
    by_slot: HashMap<u64, usize>,
    /// Built on the first filtered query after a change.
    facets: OnceLock<Arc<FacetIndex>>,
    /// Kept in step with every insert and removal, under the same lock as the data, so it is
    /// never older than the catalog and reading a query never rebuilds it.
    vocabulary: Arc<Vocabulary>,
}

/// Positions as bits.
#[derive(Clone)]
pub struct Bits(Vec<u64>);

impl Bits {
    fn zeros(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    pub fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn and(&mut self, other: &Bits, negate: bool) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a &= if negate { !b } else { *b };
        }
    }
    fn or(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
    fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let t = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(w * 64 + t)
            })
        })
    }
}

/// Which positions hold each facet value: a filter clause is checked once per distinct value,
/// not once per track.
struct FacetIndex {
    live: Bits,
    values: HashMap<FacetField, Vec<(FacetValue, Vec<u32>)>>,
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

/// Dot products, compiled for the best instruction set this CPU has (chosen once per scan).
struct Kernels {
    f32: fn(&[f32], &[f32]) -> f32,
    i8: fn(&[i8], &[i8]) -> i32,
}

fn kernels() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Kernels {
                // SAFETY: the CPU supports AVX2 and FMA (checked above).
                f32: |a, b| unsafe { dot_avx2(a, b) },
                // SAFETY: the CPU supports AVX2 (checked above).
                i8: |a, b| unsafe { dot_i8_avx2(a, b) },
            };
        }
    }
    Kernels {
        f32: dot,
        i8: dot_i8,
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    dot_i8(a, b)
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Sixteen independent lanes so the compiler vectorises without bounds checks.
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 32];
    let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..32 {
            acc[l] += i32::from(x[l]) * i32::from(y[l]);
        }
    }
    acc.iter().sum::<i32>() + tail
}

/// Symmetric 8-bit quantisation: `v ≈ q * scale`.
fn quantize(v: &[f32], out: &mut [i8]) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    for (o, x) in out.iter_mut().zip(v) {
        *o = (x / scale).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

/// How many 8-bit candidates per wanted result are re-scored exactly.
const RESCORE_FACTOR: usize = 4;
const RESCORE_MIN: usize = 200;

impl Catalog {
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            entries: Vec::new(),
            vectors: Vec::new(),
            quantized: Vec::new(),
            scales: Vec::new(),
            free: Vec::new(),
            by_id: BTreeMap::new(),
            by_slot: HashMap::new(),
            facets: OnceLock::new(),
            vocabulary: Arc::new(Vocabulary::default()),
        }
    }

    fn facet_index(&self) -> &FacetIndex {
        self.facets.get_or_init(|| {
            let mut live = Bits::zeros(self.entries.len());
            let mut values: HashMap<FacetField, HashMap<&FacetValue, Vec<u32>>> = HashMap::new();
            for (pos, e) in self.entries.iter().enumerate() {
                let Some(e) = e else { continue };
                live.set(pos);
                for (field, value) in e.facets.values() {
                    values
                        .entry(field)
                        .or_default()
                        .entry(value)
                        .or_default()
                        .push(pos as u32);
                }
            }
            let values = values
                .into_iter()
                .map(|(f, m)| (f, m.into_iter().map(|(v, p)| (v.clone(), p)).collect()))
                .collect();
            Arc::new(FacetIndex { live, values })
        })
    }

    /// Positions that pass the filter.
    pub fn passing(&self, filter: &CompiledFilter) -> Bits {
        let index = self.facet_index();
        let mut bits = index.live.clone();
        for clause in filter.text_clauses() {
            let mut matched = Bits::zeros(self.entries.len());
            // For a negated clause: the tracks that record any value in its fields (one that
            // lists no instruments is not known to be "without vocals").
            let mut known = Bits::zeros(self.entries.len());
            let values = clause
                .fields
                .iter()
                .flat_map(|f| index.values.get(f).into_iter().flatten());
            for (value, positions) in values {
                if clause.negated {
                    positions.iter().for_each(|&p| known.set(p as usize));
                }
                if clause.matches_value(value) {
                    positions.iter().for_each(|&p| matched.set(p as usize));
                }
            }
            if clause.negated {
                bits.and(&known, false);
            }
            bits.and(&matched, clause.negated);
        }
        if filter.has_numeric() {
            let failing: Vec<usize> = bits
                .ones()
                .filter(|&p| {
                    self.entries[p]
                        .as_ref()
                        .is_none_or(|e| !filter.matches_numeric(&e.facets))
                })
                .collect();
            failing.into_iter().for_each(|p| bits.clear(p));
        }
        bits
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
                self.quantized.resize(self.quantized.len() + self.dim, 0);
                self.scales.push(1.0);
                self.entries.len() - 1
            }
        };
        let range = pos * self.dim..(pos + 1) * self.dim;
        self.vectors[range.clone()].copy_from_slice(vector);
        self.scales[pos] = quantize(vector, &mut self.quantized[range]);
        self.by_id.insert(entry.track.id.clone(), pos);
        self.by_slot.insert(entry.slot, pos);
        Arc::make_mut(&mut self.vocabulary).count_track(&entry.track, &entry.facets, true);
        self.entries[pos] = Some(entry);
        self.facets = OnceLock::new();
    }

    fn remove_position(&mut self, pos: usize) {
        if let Some(e) = self.entries[pos].take() {
            self.by_id.remove(&e.track.id);
            self.by_slot.remove(&e.slot);
            self.free.push(pos);
            Arc::make_mut(&mut self.vocabulary).count_track(&e.track, &e.facets, false);
            self.facets = OnceLock::new();
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
        let mut slots = Bits::zeros(max + 1);
        for p in self.passing(filter).ones() {
            if let Some(e) = &self.entries[p] {
                slots.set(e.slot as usize);
            }
        }
        Arc::new(move |s: u64| slots.get(s as usize))
    }

    /// Exact top-k cosine for each filter, in one pass over the vectors (unit length, so the
    /// dot product is the cosine): a track's score is computed once however many filters it
    /// passes.
    pub fn dense_many(
        &self,
        query: &[f32],
        filters: &[CompiledFilter],
        k: usize,
    ) -> Vec<Vec<Candidate>> {
        let passing: Vec<Option<Bits>> = filters
            .iter()
            .map(|f| (!f.is_empty()).then(|| self.passing(f)))
            .collect();
        let union = if passing.iter().any(Option::is_none) {
            None
        } else {
            let mut u = Bits::zeros(self.entries.len());
            passing.iter().flatten().for_each(|b| u.or(b));
            Some(u)
        };
        let kern = kernels();
        let mut q8 = vec![0i8; self.dim];
        let q_scale = quantize(query, &mut q8);
        let wide = (k * RESCORE_FACTOR).max(RESCORE_MIN);
        let mut heaps: Vec<BinaryHeap<Reverse<Scored>>> = filters
            .iter()
            .map(|_| BinaryHeap::with_capacity(wide + 1))
            .collect();
        let mut visit = |pos: usize| {
            let range = pos * self.dim..(pos + 1) * self.dim;
            let s = (kern.i8)(&q8, &self.quantized[range]) as f32 * q_scale * self.scales[pos];
            for (heap, pass) in heaps.iter_mut().zip(&passing) {
                if pass.as_ref().is_some_and(|b| !b.get(pos)) {
                    continue;
                }
                if heap.len() < wide {
                    heap.push(Reverse(Scored(s, pos)));
                } else if heap.peek().is_some_and(|Reverse(min)| s > min.0) {
                    heap.pop();
                    heap.push(Reverse(Scored(s, pos)));
                }
            }
        };
        match &union {
            Some(u) => u.ones().for_each(&mut visit),
            None => (0..self.entries.len())
                .filter(|&p| self.entries[p].is_some())
                .for_each(&mut visit),
        }
        // Exact cosine for the shortlisted candidates.
        heaps
            .into_iter()
            .map(|heap| {
                let mut top: Vec<Scored> = heap
                    .into_iter()
                    .map(|Reverse(Scored(_, pos))| {
                        Scored(
                            (kern.f32)(query, &self.vectors[pos * self.dim..(pos + 1) * self.dim]),
                            pos,
                        )
                    })
                    .collect();
                top.sort_by(|a, b| b.cmp(a));
                top.truncate(k);
                top.into_iter()
                    .filter_map(|Scored(score, pos)| {
                        self.entries[pos].as_ref().map(|e| Candidate {
                            id: e.track.id.clone(),
                            score,
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// Exact cosine over the audio vectors of tracks that pass the filter.
    pub fn audio_search(&self, query: &[f32], filter: &CompiledFilter, k: usize) -> Vec<Candidate> {
        let passing = (!filter.is_empty()).then(|| self.passing(filter));
        let mut heap: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
        for (p, e) in self.entries.iter().enumerate() {
            let Some(e) = e else { continue };
            let Some(a) = &e.track.audio else { continue };
            if passing.as_ref().is_some_and(|b| !b.get(p)) || a.vector.len() != query.len() {
                continue;
            }
            heap.push(Reverse(Scored(dot(&a.vector, query), p)));
            if heap.len() > k {
                heap.pop();
            }
        }
        let mut out: Vec<Scored> = heap.into_iter().map(|Reverse(s)| s).collect();
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out.into_iter()
            .filter_map(|Scored(score, p)| {
                self.entries[p].as_ref().map(|e| Candidate {
                    id: e.track.id.clone(),
                    score,
                })
            })
            .collect()
    }

    /// How many tracks carry an audio vector.
    pub fn audio_count(&self) -> usize {
        self.entries
            .iter()
            .flatten()
            .filter(|e| e.track.audio.is_some())
            .count()
    }

    /// Tracks that pass the filter in id order, for filter-only listings.
    pub fn filtered(&self, filter: &CompiledFilter, k: usize) -> Vec<Candidate> {
        let passing = self.passing(filter);
        self.by_id
            .values()
            .filter(|&&p| passing.get(p))
            .filter_map(|&p| self.entries[p].as_ref())
            .take(k)
            .map(|e| Candidate {
                id: e.track.id.clone(),
                score: 0.0,
            })
            .collect()
    }

    /// The catalog's vocabulary as of now.
    pub fn vocabulary(&self) -> Arc<Vocabulary> {
        self.vocabulary.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_dot_tracks_the_exact_one() {
        let a: Vec<f32> = (0..384)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 40.0)
            .collect();
        let b: Vec<f32> = (0..384)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 30.0)
            .collect();
        let (mut qa, mut qb) = (vec![0i8; 384], vec![0i8; 384]);
        let (sa, sb) = (quantize(&a, &mut qa), quantize(&b, &mut qb));
        let approx = dot_i8(&qa, &qb) as f32 * sa * sb;
        let exact = dot(&a, &b);
        assert!(
            (approx - exact).abs() < 0.01 * exact.abs().max(1.0),
            "{approx} vs {exact}"
        );
        let k = kernels();
        assert_eq!((k.i8)(&qa, &qb), dot_i8(&qa, &qb));
        assert!(((k.f32)(&a, &b) - exact).abs() < 1e-4);
    }

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f32> = (0..385).map(|i| (i as f32).sin()).collect();
        let b: Vec<f32> = (0..385).map(|i| (i as f32).cos()).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }
}
