//! The in-memory view of the catalog, loaded from the source of truth at open: what searching,
//! filtering and ordering read of each track (its id, facets, names, measures and sound
//! vector; the whole track stays in the database, see `bodies`), and all vectors in one
//! contiguous array for dense scans (exact, or through the inverted-file index once the
//! catalog is large).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use music_rag_core::domain::catalog::measure::{compare_values, Measure};
use music_rag_core::domain::catalog::vocabulary::TrackNames;
use music_rag_core::domain::retrieval::filter::{
    CompiledFilter, FacetField, FacetValue, TrackFacets,
};
use music_rag_core::{Candidate, Track, Vocabulary};

use crate::codes::Codes;
use crate::ivf::{Ivf, Saved, Vectors};
use crate::kernels::{dot, kernels, quantize};

/// What the catalog keeps of one track.
pub struct Entry {
    pub slot: u64,
    /// Shared with the id map (one copy of each id).
    pub id: Arc<str>,
    pub facets: TrackFacets,
    /// Counted in the vocabulary, and matched when a question names an artist.
    pub names: TrackNames,
    /// By [`Measure::index`]: what a question orders by.
    pub measures: [Option<f32>; 3],
    /// The sound embedding, for "sounds like".
    pub audio: Option<Box<[f32]>>,
    pub content_hash: StoredHash,
    pub text_hash: StoredHash,
}

/// A content or text hash as the catalog keeps it: the 128-bit number core's hashes print as
/// 32 hex digits (a third of the memory of the text), any other text as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredHash {
    Fnv(u128),
    Other(Box<str>),
}

impl StoredHash {
    pub fn new(text: String) -> Self {
        let canonical = text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        match u128::from_str_radix(&text, 16) {
            Ok(n) if canonical => StoredHash::Fnv(n),
            _ => StoredHash::Other(text.into()),
        }
    }
}

impl std::fmt::Display for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredHash::Fnv(n) => write!(f, "{n:032x}"),
            StoredHash::Other(s) => f.write_str(s),
        }
    }
}

impl Entry {
    pub fn of(slot: u64, track: &Track, content_hash: String, text_hash: String) -> Self {
        Self {
            slot,
            id: track.id.as_str().into(),
            facets: TrackFacets::of(track),
            names: TrackNames::of(track),
            measures: Measure::ALL.map(|m| m.of(track).map(|v| v as f32)),
            audio: track
                .audio
                .as_ref()
                .filter(|a| !a.vector.is_empty())
                .map(|a| a.vector.as_slice().into()),
            content_hash: StoredHash::new(content_hash),
            text_hash: StoredHash::new(text_hash),
        }
    }
}

/// Tracks by dense position; the vector of position `p` is `vectors[p*dim..(p+1)*dim]`.
pub struct Catalog {
    dim: usize,
    entries: Vec<Option<Entry>>,
    /// The f32 vectors, kept while the catalog is smaller than the vector index's threshold
    /// (`keeps_vectors`): a large catalog re-scores its shortlists with vectors read from the
    /// database instead, as 1.5 GB at a million tracks is most of its memory.
    vectors: Vec<f32>,
    keeps_vectors: bool,
    /// The same vectors in 8 bits (a quarter of the memory traffic) for the first pass, while
    /// `keeps_codes`: once the vector index serves a large catalog, its lists hold the only
    /// copy ([`Ivf::code`]).
    quantized: Codes,
    keeps_codes: bool,
    scales: Vec<f32>,
    free: Vec<usize>,
    by_id: BTreeMap<Arc<str>, usize>,
    by_slot: SlotMap,
    /// One copy of each facet value the tracks hold (see [`TrackFacets::intern`]): a value
    /// is a few dozen bytes, and a million tracks hold a few million of them.
    facet_values: HashSet<FacetValue>,
    /// Built on the first filtered query after a change.
    facets: OnceLock<Arc<FacetIndex>>,
    /// Kept in step with every insert and removal, under the same lock as the data, so it is
    /// never older than the catalog and reading a query never rebuilds it.
    vocabulary: Arc<Vocabulary>,
    /// The inverted-file index, from `ann_min` tracks on.
    ann: Option<Ivf>,
    ann_min: usize,
}

/// Catalogs smaller than this are scanned exactly: a scan of 100,000 8-bit vectors takes a
/// few milliseconds, and an exact answer is better than a close one.
pub const ANN_MIN_TRACKS: usize = 100_000;

pub enum IndexPlan {
    Keep,
    Drop,
    Build,
}

/// A large catalog as saved (see `state_file`): entries in position order with their 8-bit
/// vectors and scales, and the facet values they share.
pub(crate) struct Saved8 {
    pub values: Vec<FacetValue>,
    pub entries: Vec<Entry>,
    pub scales: Vec<f32>,
    pub codes: Codes,
}

/// A dense search's outcome: ranked, or (in a catalog that keeps no f32 vectors) each
/// filter's shortlist as (position, slot), for the caller to re-score with the vectors the
/// database holds and rank with [`Catalog::best`].
pub enum Dense {
    Ranked(Vec<Vec<Candidate>>),
    Shortlisted(Vec<Vec<(usize, u64)>>),
}

/// Catalog positions by database slot. Slots are the database's row ids, handed out in order
/// and never reused, so an array indexed by slot (4 bytes each) takes a fraction of a hash
/// map's memory; a slot beyond [`DENSE_SLOTS`] (a database whose row ids were set by hand)
/// goes to a map instead of growing the array to its size.
#[derive(Default)]
struct SlotMap {
    dense: Vec<u32>,
    sparse: HashMap<u64, u32>,
}

const NO_POSITION: u32 = u32::MAX;
/// 64 M slots: an array of at most 256 MiB.
const DENSE_SLOTS: u64 = 1 << 26;

impl SlotMap {
    fn insert(&mut self, slot: u64, pos: usize) {
        if slot >= DENSE_SLOTS {
            self.sparse.insert(slot, pos as u32);
            return;
        }
        let i = slot as usize;
        if self.dense.len() <= i {
            self.dense.resize(i + 1, NO_POSITION);
        }
        self.dense[i] = pos as u32;
    }
    fn remove(&mut self, slot: u64) {
        if slot >= DENSE_SLOTS {
            self.sparse.remove(&slot);
        } else if let Some(p) = self.dense.get_mut(slot as usize) {
            *p = NO_POSITION;
        }
    }
    fn get(&self, slot: u64) -> Option<usize> {
        let p = if slot >= DENSE_SLOTS {
            *self.sparse.get(&slot)?
        } else {
            *self.dense.get(slot as usize)?
        };
        (p != NO_POSITION).then_some(p as usize)
    }
    /// An empty set of slots, sized for the ones this map holds.
    fn empty_set(&self) -> SlotSet {
        SlotSet {
            dense: Bits::zeros(self.dense.len()),
            sparse: HashSet::new(),
        }
    }
    fn slots(&self) -> impl Iterator<Item = u64> + '_ {
        self.dense
            .iter()
            .enumerate()
            .filter(|(_, &p)| p != NO_POSITION)
            .map(|(s, _)| s as u64)
            .chain(self.sparse.keys().copied())
    }
}

/// A set of slots, split as [`SlotMap`] splits them: bits below [`DENSE_SLOTS`], a hash set
/// beyond.
struct SlotSet {
    dense: Bits,
    sparse: HashSet<u64>,
}

impl SlotSet {
    fn insert(&mut self, slot: u64) {
        if slot < DENSE_SLOTS {
            self.dense.set(slot as usize);
        } else {
            self.sparse.insert(slot);
        }
    }
    fn contains(&self, slot: u64) -> bool {
        if slot < DENSE_SLOTS {
            self.dense.get(slot as usize)
        } else {
            self.sparse.contains(&slot)
        }
    }
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
    fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
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
    values: HashMap<FacetField, HashMap<FacetValue, Vec<u32>>>,
    /// Tempo and year of each position, side by side: a range clause reads them in order
    /// instead of each track's facets wherever they are.
    ranges: Vec<(Option<f32>, Option<i32>)>,
    /// The positions of live performances.
    live_performances: Bits,
    /// The passing positions of the last filters first asked for, by the filter's text: a query
    /// asks for each of its filters from the dense and the keyword retriever at the same time,
    /// and common filters recur. Part of the facet index, so a write clears it with the index.
    recent: Mutex<VecDeque<(String, Arc<OnceLock<Bits>>)>>,
}

/// Filters whose passing positions the facet index remembers (the oldest asked is dropped).
const RECENT_FILTERS: usize = 32;

impl FacetIndex {
    /// Room for positions below `positions` (a write that grew the catalog).
    fn grow_to(&mut self, positions: usize) {
        let words = positions.div_ceil(64);
        for bits in [&mut self.live, &mut self.live_performances] {
            if bits.0.len() < words {
                bits.0.resize(words, 0);
            }
        }
        if self.ranges.len() < positions {
            self.ranges.resize(positions, (None, None));
        }
    }

    /// A track written at `pos`: what a rebuild would give, at the cost of its own values (a
    /// rebuild reads every track: a quarter of a second at a million, on the first filtered
    /// search after every write).
    fn add(&mut self, pos: usize, facets: &TrackFacets) {
        self.grow_to(pos + 1);
        self.live.set(pos);
        self.ranges[pos] = (facets.tempo, facets.year);
        if facets.live == Some(true) {
            self.live_performances.set(pos);
        }
        for (field, value) in facets.values() {
            let values = self.values.entry(field).or_default();
            match values.get_mut(value) {
                Some(positions) => positions.push(pos as u32),
                None => {
                    values.insert(value.clone(), vec![pos as u32]);
                }
            }
        }
        self.forget_recent();
    }

    /// The track at `pos` removed. A value no track holds any more leaves the index, so the
    /// catalog's table of values can drop it too.
    fn remove(&mut self, pos: usize, facets: &TrackFacets) {
        self.grow_to(pos + 1);
        self.live.clear(pos);
        self.live_performances.clear(pos);
        self.ranges[pos] = (None, None);
        for (field, value) in facets.values() {
            if let Some(values) = self.values.get_mut(&field) {
                if let Some(positions) = values.get_mut(value) {
                    positions.retain(|&p| p != pos as u32);
                    if positions.is_empty() {
                        values.remove(value);
                    }
                }
            }
        }
        self.forget_recent();
    }

    fn forget_recent(&mut self) {
        self.recent
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The passing positions of the filter `key` names, computed by `compute` once however
    /// many ask at the same time.
    fn remembered(&self, key: String, compute: impl FnOnce() -> Bits) -> Bits {
        let slot = {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            match recent.iter().position(|(k, _)| *k == key) {
                Some(i) => recent[i].1.clone(),
                None => {
                    if recent.len() == RECENT_FILTERS {
                        recent.pop_front();
                    }
                    let slot = Arc::new(OnceLock::new());
                    recent.push_back((key, slot.clone()));
                    slot
                }
            }
        };
        slot.get_or_init(compute).clone()
    }
}

/// Asks the kernel to back a large vector array with 2 MiB pages (Linux; a hint). A scan that
/// skips through a million vectors (a filter's positions) otherwise misses the
/// address-translation cache on nearly every vector: measured 340 ns a vector at a million
/// tracks with a 5 % filter, 150 ns with these pages, against 40 ns for a scan in order.
fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 4 * HUGE {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = (v.as_ptr() as usize).next_multiple_of(PAGE);
        let end = (v.as_ptr() as usize + bytes) / PAGE * PAGE;
        // SAFETY: the range lies inside the vector's own allocation; MADV_HUGEPAGE only
        // changes how the kernel backs those pages, never their contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
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

/// A query with its 8-bit copy, scored against 8-bit vectors.
struct Query8<'a> {
    f32: &'a [f32],
    i8: Vec<i8>,
    scale: f32,
    dot: fn(&[i8], &[i8]) -> i32,
}

impl<'a> Query8<'a> {
    fn new(query: &'a [f32], dim: usize) -> Self {
        let mut i8 = vec![0i8; dim];
        let scale = quantize(query, &mut i8);
        Self {
            f32: query,
            i8,
            scale,
            dot: kernels().i8,
        }
    }

    fn score(&self, code: &[i8], code_scale: f32) -> f32 {
        (self.dot)(&self.i8, code) as f32 * self.scale * code_scale
    }
}

/// The best `wide` candidates of each filter by 8-bit score, and how many tracks passed each.
struct Shortlists<'a> {
    passing: &'a [Option<Bits>],
    heaps: Vec<BinaryHeap<Reverse<Scored>>>,
    passed: Vec<usize>,
    wide: usize,
}

impl<'a> Shortlists<'a> {
    fn new(passing: &'a [Option<Bits>], wide: usize) -> Self {
        Self {
            passing,
            heaps: passing
                .iter()
                .map(|_| BinaryHeap::with_capacity(wide + 1))
                .collect(),
            passed: vec![0; passing.len()],
            wide,
        }
    }

    /// Offers `pos` to the filters of `group` it passes, scored (once, only if one does) by
    /// `score`.
    fn offer(&mut self, group: &[usize], pos: usize, score: impl Fn() -> f32) {
        let mut s = None;
        for &i in group {
            if self.passing[i].as_ref().is_some_and(|b| !b.get(pos)) {
                continue;
            }
            self.passed[i] += 1;
            let s = *s.get_or_insert_with(&score);
            let heap = &mut self.heaps[i];
            if heap.len() < self.wide {
                heap.push(Reverse(Scored(s, pos)));
            } else if heap.peek().is_some_and(|Reverse(min)| s > min.0) {
                heap.pop();
                heap.push(Reverse(Scored(s, pos)));
            }
        }
    }
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
            keeps_vectors: true,
            quantized: Codes::default(),
            keeps_codes: true,
            scales: Vec::new(),
            free: Vec::new(),
            by_id: BTreeMap::new(),
            by_slot: SlotMap::default(),
            facet_values: HashSet::new(),
            facets: OnceLock::new(),
            vocabulary: Arc::new(Vocabulary::default()),
            ann: None,
            ann_min: ANN_MIN_TRACKS,
        }
    }

    /// What the index should become now: built when the catalog has reached `ann_min` tracks
    /// (with none yet, or doubled since training), dropped when deletions took the catalog
    /// below half that, else kept.
    pub fn index_plan(&self) -> IndexPlan {
        let tracks = self.len();
        if tracks == 0 || tracks < self.ann_min / 2 {
            return if self.ann.is_some() {
                IndexPlan::Drop
            } else {
                IndexPlan::Keep
            };
        }
        let current = self.ann.as_ref();
        if tracks < self.ann_min || current.is_some_and(|ivf| !ivf.stale(tracks)) {
            IndexPlan::Keep
        } else {
            IndexPlan::Build
        }
    }

    /// Trains and fills a new index from the catalog as it is (reading only, so searches go
    /// on meanwhile; the caller keeps writes out until [`Self::install_index`]).
    pub(crate) fn build_index(&self) -> Ivf {
        let started = std::time::Instant::now();
        let live: Vec<usize> = self.live_positions().collect();
        let ivf = Ivf::build(&self.vectors_view(), &live);
        tracing::info!(
            tracks = live.len(),
            lists = ivf.list_count(),
            ms = started.elapsed().as_millis() as u64,
            "built the vector index"
        );
        ivf
    }

    /// The index as it would be saved, members named by their slots.
    pub(crate) fn saved_index(&self) -> Option<Saved> {
        self.ann
            .as_ref()
            .map(|ivf| ivf.saved(|p| self.entries[p].as_ref().map_or(u64::MAX, |e| e.slot)))
    }

    /// The index refilled from `saved` (no training): every track in its saved list except
    /// those in `rewritten` (written since the save) or missing from it, which are placed
    /// again. `None` when more than half would be: the centroids no longer describe the
    /// catalog, so it is trained afresh.
    pub(crate) fn restore_index(&self, saved: Saved, rewritten: &HashSet<u64>) -> Option<Ivf> {
        let started = std::time::Instant::now();
        let live: Vec<usize> = self.live_positions().collect();
        let known: Vec<Option<u32>> = live
            .iter()
            .map(|&p| {
                let slot = self.entries[p].as_ref()?.slot;
                if rewritten.contains(&slot) {
                    return None;
                }
                let i = saved.members.binary_search_by_key(&slot, |m| m.0).ok()?;
                Some(saved.members[i].1)
            })
            .collect();
        let again = known.iter().filter(|k| k.is_none()).count();
        if again * 2 > live.len() {
            tracing::info!(
                tracks = live.len(),
                again,
                "saved vector index too far behind; training again"
            );
            return None;
        }
        let ivf = Ivf::restore(&self.vectors_view(), &live, saved, &known);
        tracing::info!(
            tracks = live.len(),
            placed_again = again,
            lists = ivf.list_count(),
            ms = started.elapsed().as_millis() as u64,
            "vector index filled from its saved file"
        );
        Some(ivf)
    }

    pub fn index_lists(&self) -> Option<usize> {
        self.ann.as_ref().map(Ivf::list_count)
    }

    pub(crate) fn install_index(&mut self, index: Option<Ivf>) {
        if index.is_none() && !self.keeps_codes {
            // The lists held the only 8-bit copy: back to the flat array before they go.
            if let Some(old) = &self.ann {
                let mut flat = vec![0i8; self.entries.len() * self.dim];
                for (p, code) in flat.chunks_exact_mut(self.dim).enumerate() {
                    if let Some(c) = old.code(p) {
                        code.copy_from_slice(c);
                    }
                }
                self.quantized = Codes::Owned(flat);
            }
            self.keeps_codes = true;
        }
        self.ann = index;
        if self.ann.is_some() && self.len() >= self.ann_min {
            self.drop_vectors();
            self.keeps_codes = false;
            self.quantized = Codes::default();
        }
    }

    /// The 8-bit vector at a live position.
    fn code(&self, p: usize) -> &[i8] {
        if self.keeps_codes {
            return &self.quantized.as_slice()[p * self.dim..(p + 1) * self.dim];
        }
        self.ann.as_ref().and_then(|ivf| ivf.code(p)).unwrap_or(&[])
    }

    /// From now on the shortlists are re-scored with vectors read from the database. Never
    /// taken back (a catalog that shrinks below the threshold again keeps reading them):
    /// reading every vector back would cost a large catalog's open again.
    fn drop_vectors(&mut self) {
        if self.keeps_vectors {
            self.keeps_vectors = false;
            self.vectors = Vec::new();
        }
    }

    /// Whether the f32 vectors are in memory ([`Self::vector`] answers, [`Self::dense_many`]
    /// ranks), or read from the database.
    pub fn keeps_vectors(&self) -> bool {
        self.keeps_vectors
    }

    /// Applies [`Self::index_plan`] at once.
    pub fn refresh_index(&mut self) {
        match self.index_plan() {
            IndexPlan::Keep => {}
            IndexPlan::Drop => self.install_index(None),
            IndexPlan::Build => {
                let ivf = self.build_index();
                self.install_index(Some(ivf));
            }
        }
    }

    /// Builds the index from `min_tracks` on instead of [`ANN_MIN_TRACKS`].
    pub fn set_index_threshold(&mut self, min_tracks: usize) {
        self.index_from(min_tracks);
        self.refresh_index();
    }

    /// Uses the index from `min_tracks` on, from the next refresh.
    pub fn index_from(&mut self, min_tracks: usize) {
        self.ann_min = min_tracks;
    }

    /// A large catalog from its saved state (`state_file`): the entries take positions in
    /// order with their 8-bit vectors; no f32 vectors are kept.
    pub(crate) fn from_saved(dim: usize, saved: Saved8, ann_min: usize) -> Self {
        let mut c = Catalog::new(dim);
        c.ann_min = ann_min;
        c.drop_vectors();
        c.facet_values = saved.values.into_iter().collect();
        c.quantized = saved.codes;
        c.scales = saved.scales;
        let entries = saved.entries;
        // The vocabulary (names normalised and indexed: most of the work) on another core
        // while the id maps are built here.
        let (vocabulary, by_id, by_slot) = std::thread::scope(|scope| {
            let counting = scope.spawn(|| {
                let mut v = Vocabulary::default();
                v.count_many(|| entries.iter().map(|e| (&e.names, &e.facets)));
                v
            });
            let by_id: BTreeMap<Arc<str>, usize> = entries
                .iter()
                .enumerate()
                .map(|(pos, e)| (e.id.clone(), pos))
                .collect();
            let mut by_slot = SlotMap::default();
            for (pos, e) in entries.iter().enumerate() {
                by_slot.insert(e.slot, pos);
            }
            let vocabulary = counting
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (vocabulary, by_id, by_slot)
        });
        c.vocabulary = Arc::new(vocabulary);
        c.by_id = by_id;
        c.by_slot = by_slot;
        c.entries = entries.into_iter().map(Some).collect();
        c
    }

    /// What the state file saves: the facet values, and each live entry with its 8-bit vector
    /// and scale, in position order.
    pub(crate) fn saved_values(&self) -> impl Iterator<Item = &FacetValue> {
        self.facet_values.iter()
    }

    pub(crate) fn saved_entries(&self) -> impl Iterator<Item = (&Entry, &[i8], f32)> {
        self.live_positions().filter_map(|p| {
            let e = self.entries[p].as_ref()?;
            Some((e, self.code(p), self.scales[p]))
        })
    }

    /// The live slots, for finding the tracks a database no longer holds.
    pub(crate) fn slots(&self) -> Vec<u64> {
        self.by_slot.slots().collect()
    }

    /// Removes the track at `slot`, if any.
    pub(crate) fn remove_slot(&mut self, slot: u64) {
        if let Some(pos) = self.by_slot.get(slot) {
            self.remove_position(pos);
        }
    }

    /// The positions holding a track, in order.
    fn live_positions(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.entries.len()).filter(|&p| self.entries[p].is_some())
    }

    fn vectors_view(&self) -> Vectors<'_> {
        Vectors {
            dim: self.dim,
            f32: &self.vectors,
            i8: self.quantized.as_slice(),
            scales: &self.scales,
            index: self.ann.as_ref(),
        }
    }

    fn facet_index(&self) -> &FacetIndex {
        self.facets.get_or_init(|| {
            let mut live = Bits::zeros(self.entries.len());
            let mut values: HashMap<FacetField, HashMap<&FacetValue, Vec<u32>>> = HashMap::new();
            let mut ranges = vec![(None, None); self.entries.len()];
            let mut live_performances = Bits::zeros(self.entries.len());
            for (pos, e) in self.entries.iter().enumerate() {
                let Some(e) = e else { continue };
                live.set(pos);
                ranges[pos] = (e.facets.tempo, e.facets.year);
                if e.facets.live == Some(true) {
                    live_performances.set(pos);
                }
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
                .collect::<HashMap<_, HashMap<_, _>>>();
            Arc::new(FacetIndex {
                live,
                values,
                ranges,
                live_performances,
                recent: Mutex::new(VecDeque::new()),
            })
        })
    }

    /// Positions that pass the filter.
    pub fn passing(&self, filter: &CompiledFilter) -> Bits {
        let index = self.facet_index();
        index.remembered(format!("{filter:?}"), || {
            self.compute_passing(index, filter)
        })
    }

    fn compute_passing(&self, index: &FacetIndex, filter: &CompiledFilter) -> Bits {
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
        if let Some(live) = filter.live() {
            bits.and(&index.live_performances, !live);
        }
        if filter.has_ranges() {
            let failing: Vec<usize> = bits
                .ones()
                .filter(|&p| {
                    let (tempo, year) = index.ranges[p];
                    !filter.matches_ranges(tempo, year)
                })
                .collect();
            failing.into_iter().for_each(|p| bits.clear(p));
        }
        bits
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Room for `tracks` more without growing the arrays on the way; a catalog loaded at
    /// the vector index's size keeps no f32 vectors from the start.
    pub fn reserve(&mut self, tracks: usize) {
        if self.len() + tracks >= self.ann_min {
            self.drop_vectors();
        }
        self.entries.reserve(tracks);
        if self.keeps_vectors {
            self.vectors.reserve(tracks * self.dim);
        }
        if self.keeps_codes {
            self.quantized.to_mut().reserve(tracks * self.dim);
        }
        self.scales.reserve(tracks);

        huge_pages(&self.vectors);
        if let Codes::Owned(codes) = &self.quantized {
            huge_pages(codes);
        }
    }

    pub fn insert(&mut self, mut entry: Entry, vector: &[f32]) {
        if let Some(&pos) = self.by_id.get(&*entry.id) {
            self.remove_position(pos);
        }
        entry.facets.intern(&mut self.facet_values);
        let pos = match self.free.pop() {
            Some(p) => p,
            None => {
                self.entries.push(None);
                let before = self.quantized.as_slice().as_ptr();
                if self.keeps_vectors {
                    self.vectors.resize(self.vectors.len() + self.dim, 0.0);
                }
                if self.keeps_codes {
                    let codes = self.quantized.to_mut();
                    codes.resize(codes.len() + self.dim, 0);
                }
                if self.quantized.as_slice().as_ptr() != before {
                    huge_pages(&self.vectors);
                    if let Codes::Owned(codes) = &self.quantized {
                        huge_pages(codes);
                    }
                }
                self.scales.push(1.0);
                self.entries.len() - 1
            }
        };
        let range = pos * self.dim..(pos + 1) * self.dim;
        if self.keeps_vectors {
            self.vectors[range.clone()].copy_from_slice(vector);
        }
        let mut code = vec![0i8; self.dim];
        self.scales[pos] = quantize(vector, &mut code);
        if self.keeps_codes {
            self.quantized.to_mut()[range].copy_from_slice(&code);
        }
        if let Some(ivf) = &mut self.ann {
            ivf.insert(pos, &code, self.scales[pos]);
        }
        self.by_id.insert(entry.id.clone(), pos);
        self.by_slot.insert(entry.slot, pos);
        Arc::make_mut(&mut self.vocabulary).count_names(&entry.names, &entry.facets, true);
        match self.facets.get_mut().and_then(Arc::get_mut) {
            Some(index) => index.add(pos, &entry.facets),
            None => self.facets = OnceLock::new(),
        }
        self.entries[pos] = Some(entry);
    }

    fn remove_position(&mut self, pos: usize) {
        if let Some(e) = self.entries[pos].take() {
            self.by_id.remove(&*e.id);
            self.by_slot.remove(e.slot);
            self.free.push(pos);
            if let Some(ivf) = &mut self.ann {
                ivf.remove(pos);
            }
            Arc::make_mut(&mut self.vocabulary).count_names(&e.names, &e.facets, false);
            match self.facets.get_mut().and_then(Arc::get_mut) {
                Some(index) => index.remove(pos, &e.facets),
                None => self.facets = OnceLock::new(),
            }
            // Values no other track holds leave the table (the facet index dropped its copy
            // above; a copy a reader's index still holds keeps one there until a later removal
            // finds it alone).
            let values: Vec<FacetValue> = e.facets.values().map(|(_, v)| v.clone()).collect();
            drop(e);
            for v in values {
                // This copy and the table's.
                if v.holders() == 2 {
                    self.facet_values.remove(&v);
                }
            }
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

    /// The track's f32 vector, when the catalog keeps them ([`Self::keeps_vectors`]).
    pub fn vector(&self, id: &str) -> Option<&[f32]> {
        if !self.keeps_vectors {
            return None;
        }
        self.by_id
            .get(id)
            .map(|&p| &self.vectors[p * self.dim..(p + 1) * self.dim])
    }

    pub fn by_slot(&self, slot: u64) -> Option<&Entry> {
        self.by_slot
            .get(slot)
            .and_then(|p| self.entries[p].as_ref())
    }

    /// The slots of the tracks after `cursor` in id order, and the cursor of the next page.
    pub fn page(&self, cursor: Option<&str>, limit: usize) -> (Vec<u64>, Option<String>) {
        use std::ops::Bound;
        let start = cursor.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out: Vec<&Entry> = self
            .by_id
            .range::<str, _>((start, Bound::Unbounded))
            .take(limit + 1)
            .filter_map(|(_, &p)| self.entries[p].as_ref())
            .collect();
        let next = if out.len() > limit {
            out.truncate(limit);
            out.last().map(|e| e.id.to_string())
        } else {
            None
        };
        (out.iter().map(|e| e.slot).collect(), next)
    }

    /// Slots that pass the filter, as a predicate for the keyword index.
    pub fn allowed_slots(&self, filter: &CompiledFilter) -> Arc<dyn Fn(u64) -> bool + Send + Sync> {
        let mut slots = self.by_slot.empty_set();
        for p in self.passing(filter).ones() {
            if let Some(e) = &self.entries[p] {
                slots.insert(e.slot);
            }
        }
        Arc::new(move |s: u64| slots.contains(s))
    }

    /// Top-k cosine for each filter (unit vectors, so the dot product is the cosine): a first
    /// pass in 8 bits shortlists the best candidates, which are re-scored in f32. Each filter
    /// is planned on its own: through the index when there is one and the filter passes more
    /// tracks than the index would scan; otherwise an exact scan of the tracks that pass (all
    /// of them without a filter), one pass shared by the filters so planned, each track
    /// scored once however many filters it passes. `exact` forces the exact scan (the answer
    /// the index is measured against).
    pub fn dense_many(
        &self,
        query: &[f32],
        filters: &[CompiledFilter],
        k: usize,
        exact: bool,
    ) -> Dense {
        let passing: Vec<Option<Bits>> = filters
            .iter()
            .map(|f| (!f.is_empty()).then(|| self.passing(f)))
            .collect();
        // Tracks each filter lets through.
        let passes: Vec<usize> = passing
            .iter()
            .map(|b| b.as_ref().map_or(self.len(), Bits::count))
            .collect();
        let index = self.ann.as_ref().filter(|_| !exact);
        let (by_index, by_scan): (Vec<usize>, Vec<usize>) = (0..filters.len())
            .partition(|&i| index.is_some_and(|ivf| passes[i] > ivf.scan_size(self.len())));
        let query8 = Query8::new(query, self.dim);
        let wide = (k * RESCORE_FACTOR).max(RESCORE_MIN);
        let mut lists = Shortlists::new(&passing, wide);
        if !by_scan.is_empty() {
            self.scan_exact(&query8, &mut lists, &by_scan);
        }
        if let Some(ivf) = index.filter(|_| !by_index.is_empty()) {
            self.scan_index(ivf, &query8, &mut lists, &by_index, &passes);
        }
        if !self.keeps_vectors {
            return Dense::Shortlisted(
                lists
                    .heaps
                    .into_iter()
                    .map(|heap| {
                        heap.into_iter()
                            .filter_map(|Reverse(Scored(_, p))| {
                                self.entries[p].as_ref().map(|e| (p, e.slot))
                            })
                            .collect()
                    })
                    .collect(),
            );
        }
        Dense::Ranked(self.rescore(query, lists, k))
    }

    /// One pass over the positions that pass any filter of `group`.
    fn scan_exact(&self, query8: &Query8, lists: &mut Shortlists, group: &[usize]) {
        let union = group
            .iter()
            .map(|&i| lists.passing[i].as_ref())
            .collect::<Option<Vec<_>>>()
            .map(|all| {
                let mut u = Bits::zeros(self.entries.len());
                all.into_iter().for_each(|b| u.or(b));
                u
            });
        let positions: Box<dyn Iterator<Item = usize>> = match &union {
            Some(u) => Box::new(u.ones()),
            None => Box::new(self.live_positions()),
        };
        for p in positions {
            let code = self.code(p);
            lists.offer(group, p, || query8.score(code, self.scales[p]));
        }
    }

    /// The closest lists first. Past the minimum, a filtered search goes on until it has
    /// scored as many passing tracks as the minimum lists held (or all it passes): its
    /// nearest passing tracks lie further out than the nearest tracks do.
    fn scan_index(
        &self,
        ivf: &Ivf,
        query8: &Query8,
        lists: &mut Shortlists,
        group: &[usize],
        passes: &[usize],
    ) {
        let (mut visited, mut enough) = (0usize, None);
        for (n, list) in ivf.ranked_lists(query8.f32).into_iter().enumerate() {
            if n == ivf.probes() {
                enough = Some(visited);
            }
            if let Some(enough) = enough {
                if group
                    .iter()
                    .all(|&i| lists.passed[i] >= enough.min(passes[i]))
                {
                    break;
                }
            }
            visited += list.positions.len();
            let members = list.positions.iter().zip(&list.scales);
            for ((&p, &scale), code) in members.zip(list.codes.chunks_exact(self.dim)) {
                lists.offer(group, p as usize, || query8.score(code, scale));
            }
        }
    }

    /// Exact cosine for the shortlisted candidates; the best `k` of each filter.
    fn rescore(&self, query: &[f32], lists: Shortlists, k: usize) -> Vec<Vec<Candidate>> {
        let dot = kernels().f32;
        lists
            .heaps
            .into_iter()
            .map(|heap| {
                let scored = heap.into_iter().map(|Reverse(Scored(_, pos))| {
                    let vector = &self.vectors[pos * self.dim..(pos + 1) * self.dim];
                    (dot(query, vector), pos)
                });
                self.best(scored, k)
            })
            .collect()
    }

    /// The best `k` of scored positions as candidates, equal scores by id: not by position,
    /// which depends on the order tracks were loaded or written, so a restored store ranks as
    /// the original did. Ids are compared in place and cloned for the `k` kept only.
    pub fn best(&self, scored: impl Iterator<Item = (f32, usize)>, k: usize) -> Vec<Candidate> {
        let mut live: Vec<(f32, &str)> = scored
            .filter_map(|(score, pos)| self.entries[pos].as_ref().map(|e| (score, &*e.id)))
            .collect();
        live.sort_by(|a, b| music_rag_core::domain::retrieval::hit::rank_order(*a, *b));
        live.into_iter()
            .take(k)
            .map(|(score, id)| Candidate::scored(id, score))
            .collect()
    }

    /// Exact cosine over the audio vectors of tracks that pass the filter.
    pub fn audio_search(&self, query: &[f32], filter: &CompiledFilter, k: usize) -> Vec<Candidate> {
        let passing = (!filter.is_empty()).then(|| self.passing(filter));
        // Kept wider than `k` so equal scores at the cut are decided by id below, not by
        // position.
        let wide = k * 2 + 8;
        let mut heap: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(wide + 1);
        for (p, e) in self.entries.iter().enumerate() {
            let Some(e) = e else { continue };
            let Some(a) = &e.audio else { continue };
            if passing.as_ref().is_some_and(|b| !b.get(p)) || a.len() != query.len() {
                continue;
            }
            heap.push(Reverse(Scored(dot(a, query), p)));
            if heap.len() > wide {
                heap.pop();
            }
        }
        self.best(
            heap.into_iter().map(|Reverse(Scored(score, p))| (score, p)),
            k,
        )
    }

    /// How many tracks carry an audio vector.
    pub fn audio_count(&self) -> usize {
        self.entries
            .iter()
            .flatten()
            .filter(|e| e.audio.is_some())
            .count()
    }

    /// Every track that passes the filter and credits one of `artists` (any, when empty), in
    /// id order, or by `order` (a measure, highest first or not; tracks without it last, ties
    /// by id): the exact set a planned question reads, from the facet index.
    pub fn selected(
        &self,
        filter: &CompiledFilter,
        artists: &[String],
        order: Option<(Measure, bool)>,
    ) -> Vec<&Entry> {
        let passing = self.passing(filter);
        let mut out: Vec<&Entry> = self
            .by_id
            .values()
            .filter(|&&p| passing.get(p))
            .filter_map(|&p| self.entries[p].as_ref())
            .filter(|e| {
                artists.is_empty()
                    || artists.iter().any(|a| {
                        music_rag_core::domain::query::names::credits_exactly(e.names.artist(), a)
                    })
            })
            .collect();
        if let Some((measure, highest_first)) = order {
            let value = |e: &Entry| e.measures[measure.index()].map(f64::from);
            // Stable, and the list is in id order already: equal values stay by id.
            out.sort_by(|a, b| compare_values(value(a), value(b), highest_first));
        }
        out
    }

    /// Tracks that pass the filter in id order, for filter-only listings.
    pub fn filtered(&self, filter: &CompiledFilter, k: usize) -> Vec<Candidate> {
        let passing = self.passing(filter);
        self.by_id
            .values()
            .filter(|&&p| passing.get(p))
            .filter_map(|&p| self.entries[p].as_ref())
            .take(k)
            .map(|e| Candidate::scored(e.id.to_string(), 0.0))
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
    use music_rag_core::{Filter, Track};

    fn insert(c: &mut Catalog, slot: u64, genre: &str) {
        let mut track = Track {
            id: format!("t{slot}"),
            title: "T".into(),
            artist: "A".into(),
            ..Default::default()
        };
        track.metadata.genre = Some(genre.into());
        c.insert(
            Entry::of(slot, &track, String::new(), String::new()),
            &[1.0, 0.0, 0.0, 0.0],
        );
    }

    /// Writes update the facet index in place; every filter passes exactly the positions a
    /// rebuild from the tracks gives: after new tracks (past a word of bits), removals, freed
    /// positions taken again with other values, and replacements.
    #[test]
    fn the_facet_index_follows_writes_as_a_rebuild_would() {
        use music_rag_core::domain::retrieval::filter::Range;
        let put = |c: &mut Catalog, slot: u64, genre: &str, tag: &str| {
            let mut track = Track {
                id: format!("t{slot}"),
                title: "T".into(),
                artist: "A".into(),
                tags: vec![tag.into()],
                ..Default::default()
            };
            track.metadata.genre = Some(genre.into());
            track.metadata.tempo = Some(60.0 + slot as f32);
            track.metadata.is_live_performance = Some(slot.is_multiple_of(3));
            c.insert(
                Entry::of(slot, &track, String::new(), String::new()),
                &[1.0, 0.0, 0.0, 0.0],
            );
        };
        let filters: Vec<CompiledFilter> = [
            Filter {
                genres: vec!["rock".into()],
                ..Default::default()
            },
            Filter {
                tags: vec!["loud".into()],
                live: Some(true),
                ..Default::default()
            },
            Filter {
                genres: vec!["jazz".into(), "folk".into()],
                tempo: Some(Range {
                    min: Some(80.0),
                    max: Some(150.0),
                }),
                ..Default::default()
            },
            Filter {
                live: Some(false),
                ..Default::default()
            },
        ]
        .iter()
        .map(Filter::compile)
        .collect();
        let check = |c: &mut Catalog, when: &str| {
            for f in &filters {
                let kept: Vec<usize> = c.passing(f).ones().collect();
                c.facets = OnceLock::new();
                let rebuilt: Vec<usize> = c.passing(f).ones().collect();
                assert_eq!(kept, rebuilt, "{when}: {f:?}");
            }
        };
        let mut c = Catalog::new(4);
        let genres = ["rock", "jazz", "folk", "pop"];
        for slot in 0..40 {
            put(&mut c, slot, genres[slot as usize % 4], "quiet");
        }
        check(&mut c, "loaded");
        for slot in 40..130 {
            put(&mut c, slot, genres[slot as usize % 3], "loud");
        }
        check(&mut c, "grown past a word of bits");
        for slot in (0..130).step_by(7) {
            c.remove(&format!("t{slot}"));
        }
        check(&mut c, "removed");
        for slot in 200..215 {
            put(&mut c, slot, "rock", "loud");
        }
        check(&mut c, "freed positions taken again");
        for slot in 40..60 {
            put(&mut c, slot, "folk", "quiet");
        }
        check(&mut c, "replaced");
        // A value no track holds any more leaves the index.
        for slot in 200..215 {
            c.remove(&format!("t{slot}"));
        }
        let index = c.facet_index();
        assert!(index.values[&FacetField::Tag].keys().all(|v| c
            .entries
            .iter()
            .flatten()
            .any(|e| e.facets.values().any(|(_, x)| x == v))));
    }

    #[test]
    fn remembered_filters_follow_every_write() {
        let mut c = Catalog::new(4);
        insert(&mut c, 1, "rock");
        insert(&mut c, 2, "jazz");
        let rock = Filter {
            genres: vec!["rock".into()],
            ..Default::default()
        }
        .compile();
        let count = |c: &Catalog| c.passing(&rock).ones().count();
        assert_eq!(count(&c), 1);
        assert_eq!(count(&c), 1, "remembered, the same");
        insert(&mut c, 3, "rock");
        assert_eq!(count(&c), 2, "a new rock track passes");
        c.remove("t1");
        assert_eq!(count(&c), 1, "a removed one does not");
        insert(&mut c, 3, "jazz");
        assert_eq!(count(&c), 0, "nor one that changed genre");
    }

    #[test]
    fn slots_map_to_positions_however_far_apart() {
        let mut m = SlotMap::default();
        for (slot, pos) in [(1, 0), (7, 1), (DENSE_SLOTS + 5, 2), (u64::MAX - 1, 3)] {
            m.insert(slot, pos);
        }
        assert!(m.dense.len() <= 8, "far slots do not grow the array");
        assert_eq!(m.get(7), Some(1));
        assert_eq!(m.get(DENSE_SLOTS + 5), Some(2));
        assert_eq!(m.get(u64::MAX - 1), Some(3));
        assert_eq!(m.get(2), None);
        m.remove(7);
        m.remove(DENSE_SLOTS + 5);
        let mut slots: Vec<u64> = m.slots().collect();
        slots.sort_unstable();
        assert_eq!(slots, [1, u64::MAX - 1]);
    }

    #[test]
    fn hashes_are_kept_as_numbers_and_read_back_as_written() {
        for text in [
            "f3750e6296a1e080a3b25bc79d44a859",
            "00000000000000000000000000000001",
            "F3750E6296A1E080A3B25BC79D44A859",
            "moved",
            "+3750e6296a1e080a3b25bc79d44a85",
            "",
        ] {
            let h = StoredHash::new(text.to_string());
            assert_eq!(h.to_string(), text);
            assert_eq!(
                matches!(h, StoredHash::Fnv(_)),
                text.starts_with(['f', '0'])
            );
        }
    }

    #[test]
    fn tracks_share_one_copy_of_each_facet_value_until_none_holds_it() {
        let mut c = Catalog::new(4);
        insert(&mut c, 1, "rock");
        insert(&mut c, 2, "rock");
        insert(&mut c, 3, "jazz");
        assert_eq!(c.facet_values.len(), 2);
        let genre =
            |c: &Catalog, id: &str| c.get(id).unwrap().facets.values().next().unwrap().1.clone();
        let rock = genre(&c, "t1");
        assert_eq!(
            rock.holders(),
            4,
            "one copy: the table's, t1's, t2's and this one"
        );
        drop(rock);
        c.remove("t1");
        assert_eq!(c.facet_values.len(), 2, "t2 still holds rock");
        c.remove("t2");
        c.remove("t3");
        assert!(c.facet_values.is_empty(), "{:?}", c.facet_values);
    }
}
