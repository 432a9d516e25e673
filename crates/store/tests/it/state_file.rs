//! A large catalog's state file (`catalog-state.bin`): an open reads it instead of every row,
//! catches up what was written and deleted after it, and a process killed at any moment of
//! its writes leaves a store that opens with exactly what the database holds.

use std::path::Path;
use std::time::Duration;

use crate::common::{item, MODEL};
use music_rag_core::{Filter, Store, StoredTrack};
use music_rag_store::{Access, EmbeddedStore};

/// The vector index (and so the state file) from this many tracks on, for small tests.
const LARGE_FROM: usize = 40;
const STATE: &str = "catalog-state.bin";

fn large(dir: &Path, access: Access) -> EmbeddedStore {
    EmbeddedStore::open_with_vector_index_from(dir, Some(MODEL), access, LARGE_FROM).unwrap()
}

fn batch(from: usize, n: usize, artist: &str) -> Vec<StoredTrack> {
    (from..from + n)
        .map(|i| {
            let mut t = item(&format!("t{i:04}"), &format!("Song number {i}"), i);
            t.track.artist = artist.into();
            t.track.metadata.genre = Some(if i % 2 == 0 { "rock" } else { "jazz" }.into());
            t
        })
        .collect()
}

/// What a store answers, to compare an open from the file with one from the database.
fn answers(s: &EmbeddedStore) -> (usize, Vec<String>, Vec<String>, usize, Vec<String>) {
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.list(cursor.as_deref(), 100).unwrap();
        ids.extend(page.tracks.iter().map(|t| format!("{} {}", t.id, t.title)));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let rock = Filter {
        genres: vec!["rock".into()],
        ..Default::default()
    };
    let dense: Vec<String> = s
        .dense_search(&item("", "", 3).embedding, &rock, 5)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let vocabulary = s.vocabulary().unwrap();
    let mut artists: Vec<String> = ["First Artist", "Second Artist"]
        .iter()
        .filter(|a| {
            vocabulary
                .names
                .artist_named(
                    &a.to_lowercase()
                        .split(' ')
                        .map(String::from)
                        .collect::<Vec<_>>(),
                )
                .is_some()
        })
        .map(|a| a.to_string())
        .collect();
    artists.sort();
    (
        s.count().unwrap(),
        ids,
        dense,
        vocabulary.genres().len(),
        artists,
    )
}

#[test]
fn a_large_catalog_opens_from_its_state_file_and_catches_up_on_what_came_after() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let s = large(dir, Access::ReadWrite);
        assert!(!s.opened_from_state_file(), "nothing saved yet");
        s.upsert(batch(0, 120, "First Artist")).unwrap();
    }
    assert!(dir.join(STATE).exists(), "saved when the writer closed");
    let saved_at_first_close = std::fs::read(dir.join(STATE)).unwrap();
    {
        let s = large(dir, Access::ReadOnly);
        assert!(s.opened_from_state_file());
        assert_eq!(s.count().unwrap(), 120);
    }
    // Writes after the file: new tracks, a changed one, deleted ones; then the file is put
    // back as it was, as if the writer had been killed before closing.
    {
        let s = large(dir, Access::ReadWrite);
        s.upsert(batch(120, 30, "Second Artist")).unwrap();
        let mut changed = batch(5, 1, "First Artist");
        changed[0].track.title = "A new title".into();
        changed[0].content_hash = "changed".into();
        s.upsert(changed).unwrap();
        for i in [0, 7, 121] {
            assert!(s.delete(&format!("t{i:04}")).unwrap());
        }
    }
    std::fs::write(dir.join(STATE), &saved_at_first_close).unwrap();
    let from_file = {
        let s = large(dir, Access::ReadOnly);
        assert!(s.opened_from_state_file());
        assert_eq!(s.get("t0005").unwrap().unwrap().title, "A new title");
        assert!(s.get("t0007").unwrap().is_none());
        assert_eq!(
            s.known(&["t0005"]).unwrap()["t0005"].content_hash,
            "changed"
        );
        answers(&s)
    };
    std::fs::remove_file(dir.join(STATE)).unwrap();
    let from_database = {
        let s = large(dir, Access::ReadOnly);
        assert!(!s.opened_from_state_file());
        answers(&s)
    };
    assert_eq!(from_file.0, 147);
    assert_eq!(from_file.4, ["First Artist", "Second Artist"]);
    assert_eq!(from_file, from_database);

    // A damaged file is not used; a writing open saves a good one again.
    let _ = large(dir, Access::ReadWrite);
    let mut bytes = std::fs::read(dir.join(STATE)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(dir.join(STATE), &bytes).unwrap();
    let s = large(dir, Access::ReadOnly);
    assert!(!s.opened_from_state_file());
    assert_eq!(answers(&s), from_database);
}

/// The child side of the kill test: writes batches, closing and reopening the store between
/// them so the state file and the vector index file are rewritten over and over.
fn write_until_killed(dir: &Path) {
    let mut next = 0;
    loop {
        let s = large(dir, Access::ReadWrite);
        s.upsert(batch(next % 400, 25, "First Artist")).unwrap();
        if next % 3 == 0 {
            let _ = s.delete(&format!("t{:04}", (next + 7) % 400));
        }
        next += 25;
    }
}

#[test]
fn a_writer_killed_at_any_moment_leaves_a_store_that_opens_with_what_the_database_holds() {
    if let Ok(dir) = std::env::var("MUSIC_RAG_TEST_KILL_CHILD_DIR") {
        write_until_killed(Path::new(&dir));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let s = large(dir, Access::ReadWrite);
        s.upsert(batch(0, 100, "First Artist")).unwrap();
    }
    let mut opened_from_file = 0;
    for round in 0..8u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "state_file::a_writer_killed_at_any_moment_leaves_a_store_that_opens_with_what_the_database_holds",
                "--nocapture",
            ])
            .env("MUSIC_RAG_TEST_KILL_CHILD_DIR", dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Different moments of the cycle (open, write, save the files, close).
        std::thread::sleep(Duration::from_millis(150 + round * 37));
        child.kill().unwrap(); // SIGKILL: no cleanup runs.
        child.wait().unwrap();

        let s = large(dir, Access::ReadWrite);
        opened_from_file += s.opened_from_state_file() as usize;
        let rows: usize = rusqlite::Connection::open(dir.join("catalog.sqlite"))
            .unwrap()
            .query_row("SELECT count(*) FROM tracks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(s.count().unwrap(), rows, "round {round}");
        let from_here = answers(&s);
        drop(s);
        std::fs::remove_file(dir.join(STATE)).ok();
        let s = large(dir, Access::ReadOnly);
        assert_eq!(
            answers(&s),
            from_here,
            "round {round}: file and database agree"
        );
    }
    assert!(opened_from_file > 0, "the state file was used after a kill");
}
