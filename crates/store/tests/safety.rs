//! Data safety of the embedded store: one writer per directory, writes that fail commit
//! nothing, snapshots that restore exactly, damaged snapshots refused, schema versions.

use std::path::Path;

use music_rag_core::{Filter, Store, Track};
use music_rag_store::maintenance::verify;
mod common;

use common::{item, keyword_ids, writer, MODEL};
use music_rag_store::{Access, EmbeddedStore};

/// Every track with its vector, in id order, for exact comparisons.
fn contents(s: &EmbeddedStore) -> Vec<(Track, Vec<f32>)> {
    let page = s.list(None, 1000).unwrap();
    page.tracks
        .iter()
        .map(|t| {
            let mut t = (**t).clone();
            t.created_at = None;
            t.updated_at = None;
            let v = s.get_embedding(&t.id).unwrap().unwrap();
            (t, v)
        })
        .collect()
}

fn all_ok(dir: &Path) -> bool {
    let checks = verify(dir, Some(MODEL));
    let ok = checks.iter().all(|c| c.ok);
    if !ok {
        eprintln!("{checks:#?}");
    }
    ok
}

#[test]
fn a_second_writer_is_refused_naming_the_holder_while_readers_open() {
    let tmp = tempfile::tempdir().unwrap();
    let first = writer(tmp.path());
    first.upsert(vec![item("a", "Blue Harbour", 0)]).unwrap();
    let err = EmbeddedStore::open(tmp.path(), Some(MODEL), Access::ReadWrite)
        .err()
        .expect("a second writer must be refused")
        .to_string();
    assert!(
        err.contains(&format!("pid {}", std::process::id())) && err.contains("in use"),
        "{err}"
    );
    let reader = EmbeddedStore::open(tmp.path(), None, Access::ReadOnly).unwrap();
    assert_eq!(reader.count().unwrap(), 1);
    assert_eq!(keyword_ids(&reader, "harbour"), vec!["a"]);
    let refused = reader.upsert(vec![item("b", "Red Desert", 1)]);
    assert!(refused.is_err(), "a read-only store must not write");
    drop(first);
    // The lock goes with its holder.
    let again = writer(tmp.path());
    assert_eq!(again.count().unwrap(), 1);
}

#[test]
fn a_write_that_fails_half_way_commits_nothing_and_the_next_one_works() {
    let tmp = tempfile::tempdir().unwrap();
    let s = writer(tmp.path());
    s.upsert(vec![item("a", "Blue Harbour", 0)]).unwrap();
    let seq = s.sequence().unwrap();
    // The keyword index cannot write: the database has taken the rows, the index fails.
    let keyword = tmp.path().join("keyword");
    let aside = tmp.path().join("keyword-aside");
    std::fs::rename(&keyword, &aside).unwrap();
    let failed = s.upsert(vec![
        item("b", "Red Harbour", 1),
        item("a", "Green Harbour", 2),
    ]);
    assert!(failed.is_err(), "the write must fail");
    std::fs::rename(&aside, &keyword).unwrap();
    assert_eq!(
        s.sequence().unwrap(),
        seq,
        "a failed write is not published"
    );
    assert_eq!(s.count().unwrap(), 1);
    assert_eq!(s.get("a").unwrap().unwrap().title, "Blue Harbour");
    assert!(s.get("b").unwrap().is_none());
    // The writer recovers without a restart.
    s.upsert(vec![item("c", "Silver Harbour", 3)]).unwrap();
    assert_eq!(keyword_ids(&s, "harbour"), vec!["a", "c"]);
    drop(s);
    let reopened = writer(tmp.path());
    assert!(
        reopened.get("b").unwrap().is_none(),
        "nothing of it was committed"
    );
    assert_eq!(reopened.count().unwrap(), 2);
    drop(reopened);
    assert!(all_ok(tmp.path()));
}

#[test]
fn a_snapshot_taken_during_writes_restores_exactly_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    let s = writer(&source);
    for batch in 0..5 {
        let items = (0..20)
            .map(|i| item(&format!("t{batch}-{i}"), &format!("Harbour {batch} {i}"), i))
            .collect();
        s.upsert(items).unwrap();
    }
    s.delete("t0-0").unwrap();
    let snap = tmp.path().join("snaps").join("one.mrsnap");
    let expected = contents(&s);
    let manifest = std::thread::scope(|scope| {
        // Writes go on while the snapshot is taken; it holds a whole prefix of them.
        let writes = scope.spawn(|| {
            for i in 0..30 {
                s.upsert(vec![item(&format!("late-{i}"), "Late Harbour", i)])
                    .unwrap();
            }
        });
        let manifest = s.snapshot_to(&snap).unwrap();
        writes.join().unwrap();
        manifest
    });
    assert!(manifest.sequence >= 6, "{manifest:?}");
    assert_eq!(manifest.tracks, 99 + (manifest.sequence - 6));
    assert_eq!(manifest.vectors, manifest.tracks);
    assert_eq!((manifest.model_id.as_str(), manifest.dim), MODEL);

    let target = tmp.path().join("restored");
    let (restored, m) = EmbeddedStore::restore(&snap, &target, false, Some(MODEL)).unwrap();
    assert_eq!(m, manifest);
    assert_eq!(restored.count().unwrap() as u64, manifest.tracks);
    assert_eq!(restored.sequence().unwrap(), manifest.sequence);
    let got = contents(&restored);
    let before_late: Vec<_> = got
        .iter()
        .filter(|(t, _)| !t.id.starts_with("late-"))
        .cloned()
        .collect();
    assert_eq!(
        before_late, expected,
        "tracks and vector bytes equal the source"
    );
    let keyword_hits = restored
        .keyword_search("harbour", &Filter::default(), 1000)
        .unwrap();
    assert_eq!(
        keyword_hits.len(),
        got.len(),
        "the rebuilt index holds every track"
    );
    drop(restored);
    assert!(all_ok(&target));

    // A directory holding a catalog is not replaced without --force.
    let refused = EmbeddedStore::restore(&snap, &source, false, Some(MODEL));
    assert!(refused.is_err());
}

#[test]
fn damaged_or_truncated_snapshots_are_refused_and_leave_the_target_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let s = writer(&tmp.path().join("source"));
    s.upsert(
        (0..50)
            .map(|i| item(&format!("t{i}"), "Harbour", i))
            .collect(),
    )
    .unwrap();
    let snap = tmp.path().join("good.mrsnap");
    s.snapshot_to(&snap).unwrap();
    let bytes = std::fs::read(&snap).unwrap();

    let target = tmp.path().join("target");
    let t = writer(&target);
    t.upsert(vec![item("keep", "Kept Track", 0)]).unwrap();
    drop(t);

    let truncated = tmp.path().join("truncated.mrsnap");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped = bytes.clone();
    let at = bytes.len() * 3 / 4;
    flipped[at] ^= 0x55;
    let altered = tmp.path().join("altered.mrsnap");
    std::fs::write(&altered, &flipped).unwrap();
    let junk = tmp.path().join("junk.mrsnap");
    std::fs::write(&junk, b"not a snapshot at all").unwrap();

    for bad in [&truncated, &altered, &junk] {
        let err = EmbeddedStore::restore(bad, &target, true, Some(MODEL))
            .err()
            .unwrap_or_else(|| panic!("{} must be refused", bad.display()))
            .to_string();
        assert!(err.contains(&bad.display().to_string()), "{err}");
        let t = writer(&target);
        assert_eq!(t.count().unwrap(), 1, "the target is untouched");
        assert!(t.get("keep").unwrap().is_some());
        drop(t);
        assert!(all_ok(&target));
    }
}

#[test]
fn verify_names_a_keyword_index_out_of_step_and_opening_for_writing_repairs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let s = writer(tmp.path());
    s.upsert(vec![
        item("a", "Blue Harbour", 0),
        item("b", "Red Harbour", 1),
    ])
    .unwrap();
    drop(s);
    std::fs::remove_dir_all(tmp.path().join("keyword")).unwrap();
    let checks = verify(tmp.path(), Some(MODEL));
    let keyword = checks.iter().find(|c| c.name == "keyword index").unwrap();
    assert!(
        !keyword.ok && keyword.detail.contains("repair"),
        "{keyword:?}"
    );
    let checks = verify(tmp.path(), Some(("another-model", 16)));
    assert!(!checks.iter().find(|c| c.name == "model").unwrap().ok);
    drop(writer(tmp.path()));
    assert!(all_ok(tmp.path()));
}

#[test]
fn a_store_from_a_newer_build_is_refused_with_the_way_back() {
    let tmp = tempfile::tempdir().unwrap();
    drop(writer(tmp.path()));
    let db = rusqlite::Connection::open(tmp.path().join("catalog.sqlite")).unwrap();
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'", [])
        .unwrap();
    drop(db);
    for access in [Access::ReadWrite, Access::ReadOnly] {
        let err = EmbeddedStore::open(tmp.path(), Some(MODEL), access)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("99") && err.contains("restore") && err.contains("newer"),
            "{err}"
        );
    }
}

/// A store written by the first release's format, kept as a fixture: every later build
/// must open it (migrating it forward if the format changed) and find its tracks.
#[test]
fn the_first_store_format_still_opens() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema1/catalog.sqlite");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(&fixture, tmp.path().join("catalog.sqlite")).unwrap();
    let s = writer(tmp.path());
    assert_eq!(s.count().unwrap(), 3);
    assert_eq!(s.get("b").unwrap().unwrap().title, "Red Desert");
    assert_eq!(keyword_ids(&s, "harbour"), vec!["a", "c"]);
    let near = s
        .dense_search(&item("", "", 1).embedding, &Filter::default(), 1)
        .unwrap();
    assert_eq!(near[0].id, "b");
    drop(s);
    assert!(all_ok(tmp.path()));
}

/// Writes the schema-1 fixture (run once with `--ignored` when it is missing).
#[test]
#[ignore]
fn write_the_schema1_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema1");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = writer(tmp.path());
    s.upsert(vec![
        item("a", "Blue Harbour", 0),
        item("b", "Red Desert", 1),
        item("c", "Green Harbour", 2),
    ])
    .unwrap();
    s.snapshot_to(&tmp.path().join("x.mrsnap")).unwrap();
    drop(s);
    let copy = rusqlite::Connection::open(tmp.path().join("catalog.sqlite")).unwrap();
    copy.execute(
        "VACUUM INTO ?1",
        [dir.join("catalog.sqlite").to_string_lossy()],
    )
    .unwrap();
}
