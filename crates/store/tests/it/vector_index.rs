//! The inverted-file vector index through the store's public API: its answers against the
//! exact scan's (recall, filters, writes after it was built, deletions), with the index
//! switched on for a catalog small enough to test.

use music_rag_core::{Filter, Metadata, Store, StoredTrack, Track};
use music_rag_store::{Access, EmbeddedStore};

const DIM: usize = 32;
const TRACKS: usize = 4000;

struct Rng(u64);
impl Rng {
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    }
    fn unit_near(&mut self, centre: &[f32], spread: f32) -> Vec<f32> {
        let mut v: Vec<f32> = centre.iter().map(|c| c + spread * self.next()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

/// Half the tracks "rock", one in twenty "jazz", in 60 clusters independent of genre.
fn catalog(rng: &mut Rng) -> (Vec<StoredTrack>, Vec<Vec<f32>>) {
    let centres: Vec<Vec<f32>> = (0..60)
        .map(|_| (0..DIM).map(|_| rng.next()).collect())
        .collect();
    let tracks = (0..TRACKS)
        .map(|i| {
            let genre = match i % 20 {
                0 => "jazz",
                n if n % 2 == 1 => "rock",
                _ => "pop",
            };
            StoredTrack {
                track: Track {
                    id: format!("t{i:05}"),
                    title: format!("Track {i}"),
                    artist: "Someone".into(),
                    metadata: Metadata {
                        genre: Some(genre.into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                embedding: rng.unit_near(&centres[i * 7 % 60], 0.5),
                content_hash: format!("c{i}"),
                text_hash: format!("t{i}"),
            }
        })
        .collect();
    (tracks, centres)
}

fn ids(c: Vec<music_rag_core::Candidate>) -> Vec<String> {
    c.into_iter().map(|c| c.id).collect()
}

fn genre(genre: &str) -> Filter {
    Filter {
        genres: vec![genre.into()],
        ..Default::default()
    }
}

/// Mean share of the exact top 10 that the store's search also returns.
fn recall(s: &EmbeddedStore, queries: &[Vec<f32>], filter: &Filter) -> f64 {
    let mut found = 0;
    for q in queries {
        let exact = ids(s.dense_search_exact(q, filter, 10).unwrap());
        let got = ids(s.dense_search(q, filter, 10).unwrap());
        assert_eq!(got.len(), 10);
        found += exact.iter().filter(|id| got.contains(id)).count();
    }
    found as f64 / (10 * queries.len()) as f64
}

#[test]
fn the_index_finds_what_the_exact_scan_finds_and_follows_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let s =
        EmbeddedStore::open(tmp.path(), Some(("test-model-32", DIM)), Access::ReadWrite).unwrap();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let (tracks, centres) = catalog(&mut rng);
    // Trained on 2,100 tracks (46 lists); the other 1,900 arrive after it was built (short
    // of doubling the catalog, which would train it again).
    s.upsert(tracks[..2100].to_vec()).unwrap();
    assert_eq!(s.vector_index_lists(), None, "exact below the threshold");
    s.set_vector_index_threshold(1000).unwrap();
    assert_eq!(s.vector_index_lists(), Some(46));
    s.upsert(tracks[2100..].to_vec()).unwrap();
    assert_eq!(
        s.vector_index_lists(),
        Some(46),
        "not retrained short of doubling"
    );
    let queries: Vec<Vec<f32>> = (0..40)
        .map(|i| rng.unit_near(&centres[i % 60], 0.5))
        .collect();

    let unfiltered = recall(&s, &queries, &Filter::default());
    assert!(unfiltered >= 0.95, "recall@10 unfiltered {unfiltered}");
    let rock = recall(&s, &queries, &genre("rock"));
    assert!(rock >= 0.95, "recall@10 with a 50 % filter {rock}");
    for q in &queries[..5] {
        for id in ids(s.dense_search(q, &genre("rock"), 10).unwrap()) {
            let n: usize = id[1..].parse().unwrap();
            assert_eq!(n % 2, 1, "{id} is not rock");
        }
        // A selective filter is answered by the exact scan: identical results.
        assert_eq!(
            ids(s.dense_search(q, &genre("jazz"), 10).unwrap()),
            ids(s.dense_search_exact(q, &genre("jazz"), 10).unwrap())
        );
    }

    // A new track identical to a query comes first; a deleted one never comes back.
    let q = &queries[0];
    let mut newcomer = tracks[1].clone();
    newcomer.track.id = "new".into();
    newcomer.embedding = q.clone();
    s.upsert(vec![newcomer]).unwrap();
    assert_eq!(
        ids(s.dense_search(q, &Filter::default(), 1).unwrap()),
        ["new"]
    );
    let top = ids(s.dense_search(&queries[1], &Filter::default(), 1).unwrap());
    assert!(s.delete(&top[0]).unwrap());
    let after = ids(s.dense_search(&queries[1], &Filter::default(), 10).unwrap());
    assert!(!after.contains(&top[0]), "{after:?}");
    // Moving a track (same id, new vector) moves it in the index.
    let mut moved = tracks[3].clone();
    moved.embedding = queries[2].clone();
    moved.content_hash = "moved".into();
    s.upsert(vec![moved]).unwrap();
    assert_eq!(
        ids(s.dense_search(&queries[2], &Filter::default(), 1).unwrap()),
        ["t00003"]
    );
    assert!(recall(&s, &queries, &Filter::default()) >= 0.95);

    // Doubling the catalog trains it again; deleting below half the threshold drops it.
    let more: Vec<StoredTrack> = tracks
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.track.id = format!("more-{}", t.track.id);
            t
        })
        .take(200)
        .collect();
    s.upsert(more).unwrap();
    assert_eq!(s.vector_index_lists(), Some(65));
    let before = ids(s.dense_search(&queries[2], &Filter::default(), 1).unwrap());
    s.set_vector_index_threshold(20_000).unwrap();
    assert_eq!(s.vector_index_lists(), None);
    // The lists held the only 8-bit vectors: the exact scan finds them again.
    assert_eq!(
        ids(s.dense_search(&queries[2], &Filter::default(), 1).unwrap()),
        before
    );
    assert!(recall(&s, &queries, &Filter::default()) >= 0.99);
}
