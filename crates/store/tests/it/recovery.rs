//! The embedded store on its own: durability across reopen, and the keyword index caught up
//! or rebuilt when it lags the source of truth (as after a crash between the two writes).

use std::path::Path;

use crate::common;
use music_rag_core::{Filter, Store, StoredTrack};

use common::{item, keyword_ids, writer, DIM};
use music_rag_store::{Access, EmbeddedStore};

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn upserts_replace_and_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let s = writer(tmp.path());
        s.upsert(vec![
            item("a", "Blue Harbour", 0),
            item("b", "Red Desert", 1),
        ])
        .unwrap();
        s.upsert(vec![item("a", "Green Harbour", 2)]).unwrap();
        assert_eq!(s.count().unwrap(), 2);
    }
    let s = writer(tmp.path());
    assert_eq!(s.count().unwrap(), 2);
    assert_eq!(s.get("a").unwrap().unwrap().title, "Green Harbour");
    assert!(s.get("a").unwrap().unwrap().created_at.is_some());
    assert_eq!(keyword_ids(&s, "harbour"), vec!["a"]);
    assert!(
        keyword_ids(&s, "blue").is_empty(),
        "the replaced title must be gone from the index"
    );
    let dense = s
        .dense_search(&item("", "", 2).embedding, &Filter::default(), 1)
        .unwrap();
    assert_eq!(dense[0].id, "a");
    assert!((dense[0].score - 1.0).abs() < 1e-6);
    let page = s.list(None, 1).unwrap();
    assert_eq!(page.tracks[0].id, "a");
    let rest = s.list(page.next_cursor.as_deref(), 10).unwrap();
    assert_eq!(rest.tracks.len(), 1);
    assert!(rest.next_cursor.is_none());
}

#[test]
fn a_lagging_keyword_index_is_caught_up_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let snapshot = tmp.path().join("keyword-at-seq-1");
    {
        let s = writer(&data);
        s.upsert(vec![
            item("a", "Blue Harbour", 0),
            item("b", "Red Desert", 1),
        ])
        .unwrap();
    }
    copy_dir(&data.join("keyword"), &snapshot);
    {
        let s = writer(&data);
        s.upsert(vec![item("c", "Silver Harbour", 3)]).unwrap();
        assert!(s.delete("b").unwrap());
    }
    // As if the process died after the database committed but before the index did.
    std::fs::remove_dir_all(data.join("keyword")).unwrap();
    copy_dir(&snapshot, &data.join("keyword"));
    let s = writer(&data);
    let mut found = keyword_ids(&s, "harbour");
    found.sort();
    assert_eq!(found, vec!["a", "c"]);
    assert!(
        keyword_ids(&s, "desert").is_empty(),
        "a delete after the snapshot must be applied"
    );
    assert_eq!(s.count().unwrap(), 2);
}

#[test]
fn a_missing_or_damaged_keyword_index_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let s = writer(tmp.path());
        s.upsert(vec![item("a", "Blue Harbour", 0)]).unwrap();
    }
    std::fs::write(tmp.path().join("keyword").join("meta.json"), b"{ not json").unwrap();
    let s = writer(tmp.path());
    assert_eq!(keyword_ids(&s, "harbour"), vec!["a"]);
    drop(s);
    std::fs::remove_dir_all(tmp.path().join("keyword")).unwrap();
    let s = writer(tmp.path());
    assert_eq!(keyword_ids(&s, "blue"), vec!["a"]);
}

#[test]
fn another_models_store_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    writer(tmp.path()).upsert(vec![item("a", "x", 0)]).unwrap();
    let err = EmbeddedStore::open(tmp.path(), Some(("other-model", DIM)), Access::ReadWrite)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("other-model") && err.contains("test-model"),
        "{err}"
    );
}

#[test]
fn filters_apply_inside_both_retrievers() {
    let tmp = tempfile::tempdir().unwrap();
    let s = writer(tmp.path());
    let mut items: Vec<StoredTrack> = (0..50)
        .map(|i| item(&format!("t{i}"), &format!("Harbour song {i}"), i))
        .collect();
    for (i, it) in items.iter_mut().enumerate() {
        it.track.metadata.genre = Some(if i % 10 == 0 { "jazz" } else { "rock" }.into());
        // Every third lists its instruments: piano, with vocals on the even ones.
        if i % 3 == 0 {
            it.track.metadata.instrumentation = if i % 2 == 0 {
                vec!["piano".into(), "female vocal".into()]
            } else {
                vec!["piano".into()]
            };
        }
    }
    s.upsert(items).unwrap();
    // "Without vocals" holds only for tracks known to have none: i % 3 == 0 and i odd.
    let without = Filter {
        exclude_instruments: vec!["vocals".into()],
        ..Default::default()
    };
    let dense = s
        .dense_search(&item("", "", 1).embedding, &without, 50)
        .unwrap();
    let mut ids: Vec<usize> = dense.iter().map(|c| c.id[1..].parse().unwrap()).collect();
    ids.sort();
    assert_eq!(
        ids,
        (0..50)
            .filter(|i| i % 3 == 0 && i % 2 == 1)
            .collect::<Vec<_>>()
    );
    let f = Filter {
        genres: vec!["jazz".into()],
        ..Default::default()
    };
    let kw = s.keyword_search("harbour song", &f, 50).unwrap();
    assert_eq!(kw.len(), 5);
    let dense = s.dense_search(&item("", "", 1).embedding, &f, 50).unwrap();
    assert_eq!(dense.len(), 5);
    for c in kw.iter().chain(&dense) {
        let n: usize = c.id[1..].parse().unwrap();
        assert_eq!(n % 10, 0, "{} breaks the filter", c.id);
    }
    let none = Filter {
        genres: vec!["polka".into()],
        ..Default::default()
    };
    assert!(s.keyword_search("harbour", &none, 10).unwrap().is_empty());
    assert!(s
        .dense_search(&item("", "", 1).embedding, &none, 10)
        .unwrap()
        .is_empty());
}

/// The catalog is loaded in chunks parsed on several threads: a catalog of several chunks comes
/// back whole and in the same order, and a damaged row in a late chunk fails the open with
/// the row named instead of loading part of the catalog.
#[test]
fn a_catalog_of_many_chunks_reopens_whole_and_a_damaged_row_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..5000).map(|i| format!("t{i:05}")).collect();
    let query = item("", "", 3).embedding;
    let before = {
        let s = writer(tmp.path());
        s.upsert(
            ids.iter()
                .enumerate()
                .map(|(i, id)| item(id, &format!("Song {i}"), i))
                .collect(),
        )
        .unwrap();
        s.dense_search(&query, &Filter::default(), 20).unwrap()
    };
    let s = writer(tmp.path());
    assert_eq!(s.count().unwrap(), 5000);
    let listed: Vec<String> = s
        .list(None, 10_000)
        .unwrap()
        .tracks
        .iter()
        .map(|t| t.id.clone())
        .collect();
    assert_eq!(listed, ids);
    assert_eq!(s.get("t04321").unwrap().unwrap().title, "Song 4321");
    // Same scores and the same order among equal scores: positions were given in slot order.
    assert_eq!(
        s.dense_search(&query, &Filter::default(), 20).unwrap(),
        before
    );
    drop(s);

    let db = rusqlite::Connection::open(tmp.path().join("catalog.sqlite")).unwrap();
    db.execute(
        "UPDATE tracks SET doc = '{not json' WHERE id = 't04500'",
        [],
    )
    .unwrap();
    drop(db);
    let err = EmbeddedStore::open(tmp.path(), Some(common::MODEL), Access::ReadOnly)
        .err()
        .expect("a damaged row must fail the open");
    assert!(err.to_string().contains("track at slot"), "{err}");
}
