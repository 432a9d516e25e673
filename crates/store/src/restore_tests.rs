//! The vector index saved beside the catalog: an open fills it from the file (tracks written
//! since are placed again), and trains it afresh when the file is damaged or from another
//! history. Checked inside the crate, where the lists a track sits in can be read.

use std::path::Path;

use music_rag_core::{Store, StoredTrack, Track};

use crate::index_file::{self, INDEX_FILE};
use crate::{Access, EmbeddedStore};

const DIM: usize = 8;
const MODEL: (&str, usize) = ("test-model", DIM);
/// The index is used from this many tracks on in these tests.
const INDEX_FROM: usize = 40;

/// Unit vectors spread over every direction, the same for the same `seed`.
fn items(ids: std::ops::Range<usize>, seed: u64) -> Vec<StoredTrack> {
    let mut x = seed;
    ids.map(|i| {
        let mut v: Vec<f32> = (0..DIM)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        StoredTrack {
            track: Track {
                id: format!("t{i:04}"),
                title: format!("Track {i}"),
                artist: "Someone".into(),
                ..Default::default()
            },
            embedding: v,
            content_hash: format!("c{i}"),
            text_hash: format!("t{i}"),
        }
    })
    .collect()
}

fn open(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open_with_vector_index_from(dir, Some(MODEL), Access::ReadWrite, INDEX_FROM)
        .unwrap()
}

/// (slot, list) of every track in the open store's index.
fn members(s: &EmbeddedStore) -> Vec<(u64, u32)> {
    s.catalog.read().unwrap().saved_index().unwrap().members
}

/// Rewrites the saved file as reflecting `seq`, with every track in list 0.
fn doctor(dir: &Path, seq: u64) {
    let path = dir.join(INDEX_FILE);
    let (_, mut saved) = index_file::read(&path, DIM).unwrap();
    saved.members.iter_mut().for_each(|m| m.1 = 0);
    index_file::write(&path, DIM, seq, &saved).unwrap();
}

#[test]
fn an_open_fills_the_index_from_its_file_and_places_tracks_written_since() {
    let dir = tempfile::tempdir().unwrap();
    let late: Vec<(u64, u32)> = {
        let s = open(dir.path());
        s.upsert(items(0..100, 7)).unwrap();
        // Built by the write that reached the threshold, and saved at once.
        assert_eq!(
            index_file::read(&dir.path().join(INDEX_FILE), DIM)
                .unwrap()
                .0,
            1
        );
        s.upsert(items(100..130, 11)).unwrap();
        let all = members(&s);
        all.into_iter().filter(|(slot, _)| *slot > 100).collect()
    };
    // Closing saved the index as of the last write.
    assert_eq!(
        index_file::read(&dir.path().join(INDEX_FILE), DIM)
            .unwrap()
            .0,
        2
    );
    assert!(late.iter().any(|(_, list)| *list != 0), "{late:?}");
    // A file that says every track is in list 0, as of the first write: the first write's
    // tracks stay where the file says (nothing was trained), the second's are placed again.
    doctor(dir.path(), 1);
    let s = open(dir.path());
    let now = members(&s);
    assert_eq!(now.len(), 130);
    for (slot, list) in &now {
        match late.iter().find(|(l, _)| l == slot) {
            Some((_, placed)) => assert_eq!(list, placed, "slot {slot} placed again"),
            None => assert_eq!(*list, 0, "slot {slot} as the file says"),
        }
    }
    // Searches read the filled index: a stored vector finds its own track.
    let probe = items(100..130, 11).pop().unwrap();
    let hits = s
        .dense_search(&probe.embedding, &Default::default(), 1)
        .unwrap();
    assert_eq!(hits[0].id, probe.track.id);
}

#[test]
fn a_damaged_file_or_one_from_another_history_is_trained_again() {
    let dir = tempfile::tempdir().unwrap();
    drop({
        let s = open(dir.path());
        s.upsert(items(0..100, 3)).unwrap();
        s
    });
    let spread = |s: &EmbeddedStore| members(s).iter().filter(|m| m.1 != 0).count();
    // Ahead of the catalog (a restored snapshot): ignored, and replaced by a trained index.
    doctor(dir.path(), 9);
    let s = open(dir.path());
    assert!(spread(&s) > 0);
    assert_eq!(
        index_file::read(&dir.path().join(INDEX_FILE), DIM)
            .unwrap()
            .0,
        1
    );
    drop(s);
    // Damaged: the same.
    doctor(dir.path(), 1);
    let path = dir.path().join(INDEX_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let s = open(dir.path());
    assert!(spread(&s) > 0);
    // A read-only open never writes the file.
    drop(s);
    std::fs::remove_file(&path).unwrap();
    let r = EmbeddedStore::open_with_vector_index_from(
        dir.path(),
        Some(MODEL),
        Access::ReadOnly,
        INDEX_FROM,
    )
    .unwrap();
    assert!(spread(&r) > 0);
    drop(r);
    assert!(!path.exists());
}
