//! Data safety of the embedded store: one writer per directory, writes that fail commit
//! nothing, snapshots that restore exactly, damaged snapshots refused, schema versions.

use std::path::Path;

use crate::common;
use music_rag_core::{Filter, Store, Track};
use music_rag_store::maintenance::verify;

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

/// Ties are ranked the same by a store and by its restored snapshot: equal scores are ordered
/// by a stable key, not by where each index happened to lay tracks out. The layout is made to
/// differ on purpose: tracks deleted and written again sit elsewhere in the live store than in
/// one rebuilt from the snapshot.
#[test]
fn equal_scores_rank_the_same_after_a_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    let s = writer(&source);
    // Thirty tracks with the same vector and the same words: every score ties.
    let same = |id: &str| item(id, "Harbour Song", 3);
    let ids: Vec<String> = (0..30).map(|i| format!("t{:02}", (i * 7) % 30)).collect();
    for id in &ids {
        s.upsert(vec![same(id)]).unwrap();
    }
    for id in ids.iter().step_by(3) {
        assert!(s.delete(id).unwrap());
    }
    for id in ids.iter().step_by(3).rev() {
        s.upsert(vec![same(id)]).unwrap();
    }
    let query = same("q").embedding;
    let ranked = |s: &EmbeddedStore| -> (Vec<String>, Vec<String>) {
        let dense = s.dense_search(&query, &Filter::default(), 10).unwrap();
        let keyword = s.keyword_search("harbour", &Filter::default(), 10).unwrap();
        (
            dense.into_iter().map(|c| c.id).collect(),
            keyword.into_iter().map(|c| c.id).collect(),
        )
    };
    let before = ranked(&s);
    let snap = tmp.path().join("ties.mrsnap");
    s.snapshot(&snap).unwrap();
    drop(s);
    let (restored, _) =
        EmbeddedStore::restore(&snap, &tmp.path().join("restored"), false, Some(MODEL)).unwrap();
    assert_eq!(ranked(&restored), before);
    // Reopened (index files read back, not rebuilt) it ranks the same too.
    let reopened = writer(&source);
    assert_eq!(ranked(&reopened), before);
    // Dense ties fall in id order.
    let mut sorted = before.0.clone();
    sorted.sort();
    assert_eq!(before.0, sorted);
}

/// The keyword index is derived: a segment file deleted or cut short never stops the store
/// from opening, `verify` names the damage, and `repair` rebuilds it from the catalog.
#[test]
fn a_damaged_keyword_index_is_rebuilt_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let s = writer(tmp.path());
        s.upsert(vec![
            item("a", "Blue Harbour", 0),
            item("b", "Red Desert", 1),
        ])
        .unwrap();
    }
    let keyword_dir = tmp.path().join("keyword");
    let segment_files = || -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(&keyword_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                !name.starts_with('.') && name != "meta.json" && !name.ends_with(".lock")
            })
            .collect();
        files.sort();
        files
    };
    let files = segment_files();
    assert!(!files.is_empty());
    // One file missing: the reader cannot open the segment.
    std::fs::remove_file(&files[0]).unwrap();
    let checks = verify(tmp.path(), Some(MODEL));
    let keyword = checks.iter().find(|c| c.name == "keyword index").unwrap();
    assert!(
        !keyword.ok && keyword.detail.contains("repair"),
        "{checks:?}"
    );
    // A read-only open still works (keyword results wait for a writer to rebuild).
    let reader = EmbeddedStore::open(tmp.path(), Some(MODEL), Access::ReadOnly).unwrap();
    assert_eq!(reader.count().unwrap(), 2);
    drop(reader);
    // A writing open rebuilds it.
    let s = writer(tmp.path());
    assert_eq!(keyword_ids(&s, "harbour"), vec!["a"]);
    drop(s);
    assert!(all_ok(tmp.path()));
    // One file cut short: verify names it; repair rebuilds.
    let files = segment_files();
    let victim = files
        .iter()
        .max_by_key(|p| p.metadata().unwrap().len())
        .unwrap();
    let len = victim.metadata().unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(victim)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    assert!(!all_ok(tmp.path()));
    let repaired = EmbeddedStore::repair(tmp.path(), Some(MODEL)).unwrap();
    assert_eq!(keyword_ids(&repaired, "desert"), vec!["b"]);
    drop(repaired);
    assert!(all_ok(tmp.path()));
}

/// What exists only in the data directory is in the snapshot: audio files tracks keep there
/// are copied with their checksums and put back on restore (paths moved to the new
/// directory); files referenced in place elsewhere are counted, not copied; `verify` reports
/// audio files that went missing.
#[test]
fn snapshots_hold_the_audio_files_kept_in_the_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    let uploads = source.join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let held = uploads.join("clip.ogg");
    std::fs::write(&held, b"an uploaded clip's bytes").unwrap();
    let music = tmp.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let elsewhere = music.join("song.flac");
    std::fs::write(&elsewhere, b"a song in the user's folder").unwrap();
    let s = writer(&source);
    let mut a = item("a", "Uploaded", 0);
    a.track.audio_path = Some(held.canonicalize().unwrap().display().to_string());
    let mut b = item("b", "In Place", 1);
    b.track.audio_path = Some(elsewhere.canonicalize().unwrap().display().to_string());
    s.upsert(vec![a, b]).unwrap();
    let snap = tmp.path().join("audio.mrsnap");
    let manifest = s.snapshot(&snap).unwrap();
    drop(s);
    let listed: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(listed, vec!["catalog.sqlite", "files/uploads/clip.ogg"]);
    assert_eq!(manifest.audio_files_elsewhere, 1);

    let target = tmp.path().join("restored");
    let (restored, _) = EmbeddedStore::restore(&snap, &target, false, Some(MODEL)).unwrap();
    let put_back = target.join("uploads/clip.ogg");
    assert_eq!(
        std::fs::read(&put_back).unwrap(),
        b"an uploaded clip's bytes"
    );
    let a = restored.get("a").unwrap().unwrap();
    assert_eq!(
        a.audio_path.as_deref(),
        Some(
            put_back
                .canonicalize()
                .unwrap()
                .display()
                .to_string()
                .as_str()
        ),
        "the track points at its restored file"
    );
    let b = restored.get("b").unwrap().unwrap();
    assert_eq!(
        b.audio_path.as_deref(),
        Some(
            elsewhere
                .canonicalize()
                .unwrap()
                .display()
                .to_string()
                .as_str()
        )
    );
    drop(restored);
    assert!(all_ok(&target));
    std::fs::remove_file(&elsewhere).unwrap();
    let checks = verify(&target, Some(MODEL));
    let audio = checks.iter().find(|c| c.name == "audio files").unwrap();
    assert!(!audio.ok && audio.detail.contains("song.flac"), "{audio:?}");

    // A damaged audio file in the snapshot is refused before anything changes.
    let bytes = std::fs::read(&snap).unwrap();
    let at = bytes.windows(9).position(|w| w == b"an upload").unwrap();
    let mut bad = bytes.clone();
    bad[at] ^= 0x20;
    let bad_snap = tmp.path().join("bad.mrsnap");
    std::fs::write(&bad_snap, bad).unwrap();
    let refused = EmbeddedStore::restore(&bad_snap, &tmp.path().join("other"), false, Some(MODEL));
    let err = refused
        .err()
        .expect("a damaged file is refused")
        .to_string();
    assert!(err.contains("files/uploads/clip.ogg"), "{err}");
}
