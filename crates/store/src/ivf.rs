//! An inverted-file index for large catalogs: spherical k-means centroids split the vectors
//! into lists, and a query ranks the centroids and scans only the closest lists. Each list
//! holds its own copy of its members' 8-bit vectors, side by side, so a scan reads memory in
//! order (scattered over the catalog's array, the same scan cost five times as much). Trained
//! from the catalog's vectors (at open, or on the write that doubles the catalog since
//! training) and kept in step on every insert and removal in between, so it is never behind
//! the data.

use crate::kernels::{kernels, quantize};

/// Training vectors per list: enough for stable centroids, few enough to train in seconds.
const SAMPLE_PER_LIST: usize = 32;
const TRAIN_ROUNDS: usize = 6;
/// The list of a free catalog position.
const NO_LIST: u32 = u32::MAX;

pub(crate) struct Ivf {
    dim: usize,
    /// Unit-length centroids, `lists × dim`; queries are routed with these.
    centroids: Vec<f32>,
    /// The same in 8 bits with one scale each, to place the catalog's 8-bit vectors.
    centroids8: Vec<i8>,
    centroid_scales: Vec<f32>,
    lists: Vec<List>,
    /// The list holding each catalog position, and its index there.
    list_of: Vec<u32>,
    index_in_list: Vec<u32>,
    /// Tracks in the catalog when trained.
    trained_for: usize,
}

/// An index as saved to disk: enough to fill it again without training or placing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Saved {
    /// Unit-length centroids, `lists × dim`.
    pub centroids: Vec<f32>,
    pub trained_for: usize,
    /// (catalog slot, list) of every member, by slot.
    pub members: Vec<(u64, u32)>,
}

/// The members of one list: catalog positions with their 8-bit vectors and scales.
#[derive(Clone, Default)]
pub(crate) struct List {
    pub positions: Vec<u32>,
    pub codes: Vec<i8>,
    pub scales: Vec<f32>,
}

impl List {
    fn reserve(&mut self, members: usize, dim: usize) {
        self.positions.reserve_exact(members);
        self.codes.reserve_exact(members * dim);
        self.scales.reserve_exact(members);
    }

    /// Appends a member; returns its index in the list.
    fn push(&mut self, pos: usize, v8: &[i8], scale: f32) -> u32 {
        self.positions.push(pos as u32);
        self.codes.extend_from_slice(v8);
        self.scales.push(scale);
        (self.positions.len() - 1) as u32
    }

    /// Removes the member at index `i`; the last member takes its place, and its position is
    /// returned so the caller can follow it.
    fn remove_at(&mut self, i: usize, dim: usize) -> Option<u32> {
        let last = self.positions.len().checked_sub(1)?;
        self.positions.swap_remove(i);
        self.scales.swap_remove(i);
        self.codes
            .copy_within(last * dim..(last + 1) * dim, i * dim);
        self.codes.truncate(last * dim);
        (i < last).then(|| self.positions[i])
    }
}

/// The catalog's vectors as the index reads them: position `p` is `[p*dim..(p+1)*dim]`.
pub(crate) struct Vectors<'a> {
    pub dim: usize,
    pub f32: &'a [f32],
    pub i8: &'a [i8],
    pub scales: &'a [f32],
    /// Where the 8-bit vectors are when the catalog keeps no flat copy (`i8` empty): the
    /// index in service.
    pub index: Option<&'a Ivf>,
}

impl Vectors<'_> {
    /// The vector at `p`: as stored, or from its 8-bit copy when the catalog keeps no f32
    /// vectors (a large one; training centroids needs no more precision than that).
    fn f32_at(&self, p: usize) -> std::borrow::Cow<'_, [f32]> {
        if self.f32.is_empty() {
            let scale = self.scales[p];
            return self.i8_at(p).iter().map(|&c| c as f32 * scale).collect();
        }
        std::borrow::Cow::Borrowed(&self.f32[p * self.dim..(p + 1) * self.dim])
    }
    fn i8_at(&self, p: usize) -> &[i8] {
        if self.i8.is_empty() {
            return self.index.and_then(|ivf| ivf.code(p)).unwrap_or(&[]);
        }
        &self.i8[p * self.dim..(p + 1) * self.dim]
    }
}

impl Ivf {
    /// About √n lists of about √n vectors: routing and scanning cost the same order.
    fn lists_for(tracks: usize) -> usize {
        ((tracks as f64).sqrt().round() as usize)
            .clamp(16, 4096)
            .min(tracks.max(1))
    }

    /// Trains centroids on a sample of the `live` positions and places every one of them.
    pub fn build(vectors: &Vectors, live: &[usize]) -> Self {
        let centroids = train(vectors, live, Self::lists_for(live.len()));
        let mut ivf = Self::with_centroids(vectors.dim, centroids, live.len());
        let placed = par_map(live, |p| ivf.nearest(vectors.i8_at(p)));
        ivf.fill(vectors, live, &placed);
        ivf
    }

    /// An index over saved centroids: `known[i]` is the saved list of `live[i]`, `None` for a
    /// vector written since the save (placed again). Nothing is trained.
    pub fn restore(vectors: &Vectors, live: &[usize], saved: Saved, known: &[Option<u32>]) -> Self {
        let mut ivf = Self::with_centroids(vectors.dim, saved.centroids, saved.trained_for);
        let lists = ivf.lists.len() as u32;
        let at: Vec<usize> = (0..live.len()).collect();
        let placed = par_map(&at, |i| match known[i] {
            Some(l) if l < lists => l,
            _ => ivf.nearest(vectors.i8_at(live[i])),
        });
        ivf.fill(vectors, live, &placed);
        ivf
    }

    /// What a restore needs, with each member named by `slot_of` its catalog position.
    pub fn saved(&self, slot_of: impl Fn(usize) -> u64) -> Saved {
        let mut members: Vec<(u64, u32)> = self
            .list_of
            .iter()
            .enumerate()
            .filter(|(_, &l)| l != NO_LIST)
            .map(|(p, &l)| (slot_of(p), l))
            .collect();
        members.sort_unstable();
        Saved {
            centroids: self.centroids.clone(),
            trained_for: self.trained_for,
            members,
        }
    }

    /// Centroids (unit length, `lists × dim`) with empty lists.
    fn with_centroids(dim: usize, centroids: Vec<f32>, trained_for: usize) -> Self {
        let n = centroids.len() / dim;
        let mut centroids8 = vec![0i8; centroids.len()];
        let centroid_scales = (0..n)
            .map(|c| {
                let range = c * dim..(c + 1) * dim;
                quantize(&centroids[range.clone()], &mut centroids8[range])
            })
            .collect();
        Self {
            dim,
            centroids,
            centroids8,
            centroid_scales,
            lists: vec![List::default(); n],
            list_of: Vec::new(),
            index_in_list: Vec::new(),
            trained_for,
        }
    }

    /// Puts `live[i]` in list `placed[i]`, every list sized exactly (grown by doubling, the
    /// copies would hold up to twice their size), members in `live` order. The lists are filled
    /// on every core, each thread its own lists (copying a million 8-bit vectors is most of an
    /// open from the saved index).
    fn fill(&mut self, vectors: &Vectors, live: &[usize], placed: &[u32]) {
        self.list_of = vec![NO_LIST; live.iter().max().map_or(0, |m| m + 1)];
        self.index_in_list = vec![0; self.list_of.len()];
        // `live` grouped by list, in order within each (a counting sort): list `l`'s members
        // are `grouped[starts[l]..starts[l + 1]]`.
        let mut starts = vec![0usize; self.lists.len() + 1];
        placed.iter().for_each(|&l| starts[l as usize + 1] += 1);
        for l in 0..self.lists.len() {
            starts[l + 1] += starts[l];
        }
        let mut next = starts.clone();
        let mut grouped = vec![0usize; live.len()];
        for (&p, &l) in live.iter().zip(placed) {
            grouped[next[l as usize]] = p;
            next[l as usize] += 1;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = self.lists.len().div_ceil(threads).max(1);
        let (dim, grouped, starts) = (self.dim, &grouped, &starts);
        std::thread::scope(|scope| {
            for (part, lists) in self.lists.chunks_mut(per_thread).enumerate() {
                scope.spawn(move || {
                    for (i, list) in lists.iter_mut().enumerate() {
                        let l = part * per_thread + i;
                        let members = &grouped[starts[l]..starts[l + 1]];
                        list.reserve(members.len(), dim);
                        for &p in members {
                            list.push(p, vectors.i8_at(p), vectors.scales[p]);
                        }
                    }
                });
            }
        });
        for (l, list) in self.lists.iter().enumerate() {
            for (i, &p) in list.positions.iter().enumerate() {
                self.index_in_list[p as usize] = i as u32;
                self.list_of[p as usize] = l as u32;
            }
        }
    }

    /// The list whose centroid is closest to an 8-bit vector.
    fn nearest(&self, v8: &[i8]) -> u32 {
        let dot = kernels().i8;
        let mut best = (f32::NEG_INFINITY, 0u32);
        for (c, scale) in self.centroid_scales.iter().enumerate() {
            let s = dot(v8, &self.centroids8[c * self.dim..(c + 1) * self.dim]) as f32 * scale;
            if s > best.0 {
                best = (s, c as u32);
            }
        }
        best.1
    }

    /// Places (or moves) the vector at catalog position `pos`.
    pub fn insert(&mut self, pos: usize, v8: &[i8], scale: f32) {
        self.remove(pos);
        if self.list_of.len() <= pos {
            self.list_of.resize(pos + 1, NO_LIST);
            self.index_in_list.resize(pos + 1, 0);
        }
        let list = self.nearest(v8);
        self.index_in_list[pos] = self.lists[list as usize].push(pos, v8, scale);
        self.list_of[pos] = list;
    }

    pub fn remove(&mut self, pos: usize) {
        let Some(&list) = self.list_of.get(pos).filter(|&&l| l != NO_LIST) else {
            return;
        };
        let i = self.index_in_list[pos] as usize;
        if let Some(moved) = self.lists[list as usize].remove_at(i, self.dim) {
            self.index_in_list[moved as usize] = i as u32;
        }
        self.list_of[pos] = NO_LIST;
    }

    /// The 8-bit vector at catalog position `pos`, from its list.
    pub fn code(&self, pos: usize) -> Option<&[i8]> {
        let list = *self.list_of.get(pos).filter(|&&l| l != NO_LIST)? as usize;
        let i = self.index_in_list[pos] as usize;
        self.lists[list].codes.get(i * self.dim..(i + 1) * self.dim)
    }

    /// The lists, closest centroid to the query first.
    pub fn ranked_lists(&self, query: &[f32]) -> Vec<&List> {
        let dot = kernels().f32;
        let mut scored: Vec<(f32, usize)> = (0..self.lists.len())
            .map(|c| {
                let centroid = &self.centroids[c * self.dim..(c + 1) * self.dim];
                (dot(query, centroid), c)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().map(|(_, c)| &self.lists[c]).collect()
    }

    /// Lists a query scans at least: one eighth of them. Measured recall@10 against the exact
    /// scan (docs/BENCHMARKS.md): real text queries over the 55k MTG-Jamendo catalog 0.87 at a
    /// sixteenth, 0.95 at an eighth, 0.98 at a quarter (queries sit further from the
    /// documents than documents from each other); a million clustered vectors 1.0 at a
    /// sixteenth.
    pub fn probes(&self) -> usize {
        (self.lists.len() / 8).max(8).min(self.lists.len())
    }

    /// About how many vectors a query scans: a filter that passes fewer tracks than this is
    /// cheaper (and exact) to scan directly.
    pub fn scan_size(&self, tracks: usize) -> usize {
        tracks * self.probes() / self.lists.len()
    }

    /// Whether the catalog has outgrown the centroids (doubled since training).
    pub fn stale(&self, tracks: usize) -> bool {
        tracks >= 2 * self.trained_for
    }

    pub fn list_count(&self) -> usize {
        self.lists.len()
    }
}

/// Spherical k-means (cosine) on an even sample of the positions; `lists` unit centroids.
fn train(vectors: &Vectors, live: &[usize], lists: usize) -> Vec<f32> {
    let dim = vectors.dim;
    let want = (lists * SAMPLE_PER_LIST).min(live.len());
    let sample: Vec<usize> = (0..want).map(|i| live[i * live.len() / want]).collect();
    let mut centroids: Vec<f32> = (0..lists)
        .flat_map(|c| vectors.f32_at(sample[c * want / lists]).into_owned())
        .collect();
    let dot = kernels().f32;
    for round in 0..TRAIN_ROUNDS {
        let placed = par_map(&sample, |p| {
            let v = vectors.f32_at(p);
            (0..lists)
                .map(|c| (dot(&v, &centroids[c * dim..(c + 1) * dim]), c))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or(0, |(_, c)| c)
        });
        let mut sums = vec![0.0f32; lists * dim];
        let mut counts = vec![0usize; lists];
        for (&p, &c) in sample.iter().zip(&placed) {
            counts[c] += 1;
            for (s, x) in sums[c * dim..(c + 1) * dim]
                .iter_mut()
                .zip(vectors.f32_at(p).iter())
            {
                *s += x;
            }
        }
        for c in 0..lists {
            let sum = &mut sums[c * dim..(c + 1) * dim];
            if counts[c] == 0 {
                // An empty list takes a sample vector, spread by round so reseeds differ.
                let p = sample[(c * 7919 + round * 104_729) % want];
                sum.copy_from_slice(&vectors.f32_at(p));
            }
            music_rag_core::domain::retrieval::vector::normalize(sum);
        }
        centroids = sums;
    }
    centroids
}

/// `f` over `items` on every core, in order.
fn par_map<T: Send>(items: &[usize], f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let f = &f;
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&p| f(p)).collect::<Vec<T>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("index worker panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(dim: usize, f: &'a [f32], q: &'a [i8], scales: &'a [f32]) -> Vectors<'a> {
        Vectors {
            dim,
            f32: f,
            i8: q,
            scales,
            index: None,
        }
    }

    /// `n` unit vectors around `clusters` random centres, and the 8-bit copies.
    pub(crate) fn clustered(n: usize, dim: usize, clusters: usize) -> (Vec<f32>, Vec<i8>) {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
        };
        let centres: Vec<f32> = (0..clusters * dim).map(|_| next()).collect();
        let mut f = Vec::with_capacity(n * dim);
        for i in 0..n {
            let c = i * 7 % clusters;
            let mut v: Vec<f32> = (0..dim)
                .map(|d| centres[c * dim + d] + 0.6 * next())
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            f.extend(v);
        }
        let mut q = vec![0i8; f.len()];
        for (v, o) in f.chunks(dim).zip(q.chunks_mut(dim)) {
            quantize(v, o);
        }
        (f, q)
    }

    #[test]
    fn every_position_is_in_exactly_one_list_through_inserts_and_removals() {
        let (f, q) = clustered(3000, 32, 40);
        let scales: Vec<f32> = (0..3000).map(|p| p as f32).collect();
        let vectors = view(32, &f, &q, &scales);
        let live: Vec<usize> = (0..2000).collect();
        let mut ivf = Ivf::build(&vectors, &live);
        assert_eq!(ivf.list_count(), 45);
        for (p, &scale) in scales.iter().enumerate().skip(2000) {
            ivf.insert(p, vectors.i8_at(p), scale);
        }
        for p in (0..3000).step_by(3) {
            ivf.remove(p);
        }
        // Re-inserting a position moves it rather than adding it twice.
        ivf.insert(1, vectors.i8_at(1), scales[1]);
        let mut seen: Vec<usize> = Vec::new();
        for (l, list) in ivf.lists.iter().enumerate() {
            assert_eq!(list.codes.len(), list.positions.len() * 32);
            for (i, &p) in list.positions.iter().enumerate() {
                let p = p as usize;
                assert_eq!(ivf.list_of[p], l as u32);
                assert_eq!(ivf.index_in_list[p], i as u32);
                // Each member's own vector and scale, whatever removals moved around.
                assert_eq!(&list.codes[i * 32..(i + 1) * 32], vectors.i8_at(p));
                assert_eq!(ivf.code(p), Some(vectors.i8_at(p)));
                assert_eq!(list.scales[i], scales[p]);
                seen.push(p);
            }
        }
        seen.sort_unstable();
        let expected: Vec<usize> = (0..3000).filter(|p| p % 3 != 0).collect();
        assert_eq!(seen, expected);
        assert_eq!(ivf.code(3), None, "removed");
        assert!(!ivf.stale(3999));
        assert!(ivf.stale(4000));
    }

    #[test]
    fn a_tiny_catalog_gets_one_list_per_vector_and_reads_them_all() {
        let (f, q) = clustered(5, 8, 2);
        let scales = vec![1.0; 5];
        let vectors = view(8, &f, &q, &scales);
        let ivf = Ivf::build(&vectors, &[0, 1, 2, 3, 4]);
        assert_eq!(ivf.list_count(), 5);
        assert_eq!(ivf.probes(), 5);
        assert_eq!(ivf.scan_size(5), 5);
        assert_eq!(ivf.ranked_lists(&vectors.f32_at(0)).len(), 5);
    }

    #[test]
    fn a_vector_lands_in_the_list_of_its_closest_centroid() {
        let (f, q) = clustered(4000, 32, 20);
        let scales = vec![1.0; 4000];
        let vectors = view(32, &f, &q, &scales);
        let live: Vec<usize> = (0..4000).collect();
        let ivf = Ivf::build(&vectors, &live);
        // Routing a stored vector as a query puts its own list first (or one whose centroid
        // is as close, within 8-bit rounding).
        let mut first = 0;
        for p in (0..4000).step_by(97) {
            let ranked = ivf.ranked_lists(&vectors.f32_at(p));
            if ranked[0].positions.contains(&(p as u32)) {
                first += 1;
            }
        }
        assert!(first >= 40, "{first} of 42 in their closest list");
    }
}
