//! The use cases in process, fast: the real embedded store in a temporary directory and a
//! deterministic hashing embedder behind the embedder port (tests of meaning use the real model
//! in the CLI and HTTP suites). Filters, ingest reports, answers about missing names, parsed
//! keys and time signatures, playlists.

use std::sync::Arc;

use music_rag_core::app::playlist::PlaylistRequest;
use music_rag_core::testing::HashingEmbedder;
use music_rag_core::{
    AskRequest, CoreError, Engine, Filter, Mode, SearchRequest, Track, UpsertOutcome,
};
use music_rag_store::{Access, EmbeddedStore};

fn track(id: &str, title: &str, artist: &str, genre: &str) -> Track {
    let mut t = Track {
        id: id.into(),
        title: title.into(),
        artist: artist.into(),
        description: Some(format!("{title} by {artist}, a {genre} song")),
        ..Default::default()
    };
    t.metadata.genre = Some(genre.into());
    t
}

fn catalog() -> Vec<Track> {
    let mut out = Vec::new();
    let mut a = track("a", "Night Drive", "Neon Coast", "Dance");
    a.tags = vec!["hip hop feel".into()];
    a.metadata.tempo = Some(122.0);
    a.metadata.key = Some("A minor".into());
    a.metadata.time_signature = Some("4/4".into());
    out.push(a);
    let mut b = track("b", "Block Party", "MC Rhymes", "Hip-Hop");
    b.metadata.tempo = Some(95.0);
    b.metadata.key = Some("C major".into());
    b.metadata.time_signature = Some("4/4".into());
    out.push(b);
    let mut c = track("c", "Blue Danube Dreams", "Vienna Strings", "Classical");
    c.metadata.instrumentation = vec!["violin".into(), "cello".into()];
    c.metadata.tempo = Some(150.0);
    c.metadata.key = Some("D major".into());
    c.metadata.time_signature = Some("3/4".into());
    out.push(c);
    let mut d = track("d", "Autumn Waltz", "Vienna Strings", "Classical");
    d.metadata.instrumentation = vec!["piano".into()];
    d.metadata.tempo = Some(140.0);
    d.metadata.key = Some("E-flat minor".into());
    d.metadata.time_signature = Some("3/4".into());
    out.push(d);
    let mut e = track("e", "Street Cipher", "Verse Collective", "hiphop");
    e.metadata.tempo = Some(90.0);
    out.push(e);
    out
}

/// The engine's answer to a question, with the request's defaults.
fn ask(engine: &Engine, question: &str) -> music_rag_core::app::answer::AskResponse {
    engine
        .ask(
            &AskRequest {
                question: question.into(),
                ..Default::default()
            },
            &mut |_| {},
        )
        .unwrap()
}

/// An engine over an empty store in a temporary directory.
fn empty_engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let embedder = Arc::new(HashingEmbedder::new(64));
    let store = EmbeddedStore::open(
        dir.path(),
        Some(("hashing-test-embedder", 64)),
        Access::ReadWrite,
    )
    .unwrap();
    (dir, Engine::new(embedder, Arc::new(store)))
}

fn engine() -> (tempfile::TempDir, Engine) {
    let (dir, engine) = empty_engine();
    let report = engine.upsert(catalog()).unwrap();
    assert_eq!(report.created, 5);
    (dir, engine)
}

fn ids(engine: &Engine, req: SearchRequest) -> Vec<String> {
    let mut got: Vec<String> = engine
        .search(&req)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.track.id.clone())
        .collect();
    got.sort();
    got
}

#[test]
fn each_filter_reads_its_own_field() {
    let (_dir, engine) = engine();
    let req = |filters: Filter| SearchRequest {
        text: "song".into(),
        filters,
        top_k: 10,
        ..Default::default()
    };
    // The genre field, every spelling; never the tags.
    for spelling in ["Hip-Hop", "hip hop", "HIPHOP"] {
        let f = Filter {
            genres: vec![spelling.into()],
            ..Default::default()
        };
        assert_eq!(ids(&engine, req(f)), vec!["b", "e"], "{spelling}");
    }
    let tags = Filter {
        tags: vec!["hip hop feel".into()],
        ..Default::default()
    };
    assert_eq!(ids(&engine, req(tags)), vec!["a"]);
    let violin = Filter {
        instruments: vec!["violin".into()],
        ..Default::default()
    };
    assert_eq!(ids(&engine, req(violin)), vec!["c"]);
    let minor = Filter {
        mode: Some(Mode::Minor),
        ..Default::default()
    };
    assert_eq!(ids(&engine, req(minor)), vec!["a", "d"]);
    let e_flat = Filter {
        keys: vec!["D# minor".into()],
        ..Default::default()
    };
    assert_eq!(ids(&engine, req(e_flat)), vec!["d"]);
    let bad = Filter {
        keys: vec!["Q major".into()],
        ..Default::default()
    };
    match engine.search(&req(bad)) {
        Err(CoreError::Invalid(e)) => assert_eq!(e.field, "filters.keys"),
        other => panic!("a bad key was accepted: {:?}", other.map(|r| r.hits.len())),
    }
}

#[test]
fn plain_words_become_key_and_time_signature_filters() {
    let (_dir, engine) = engine();
    let search = |text: &str| {
        ids(
            &engine,
            SearchRequest {
                text: text.into(),
                top_k: 10,
                ..Default::default()
            },
        )
    };
    assert_eq!(search("waltzes in 3/4"), vec!["c", "d"]);
    assert_eq!(search("something in 4/4 time"), vec!["a", "b"]);
    assert_eq!(search("strings in D major"), vec!["c"]);
    assert_eq!(search("music in a minor key"), vec!["a", "d"]);
}

#[test]
fn ingest_reports_every_row_and_the_last_duplicate_wins() {
    let (_dir, engine) = engine();
    let mut first = track("x", "First Take", "Someone", "Pop");
    first.metadata.tempo = Some(100.0);
    let mut second = first.clone();
    second.title = "Second Take".into();
    let bad = Track {
        id: "bad".into(),
        title: String::new(),
        artist: "Nobody".into(),
        ..Default::default()
    };
    let report = engine
        .upsert(vec![first, bad, second, catalog().remove(0)])
        .unwrap();
    assert_eq!(
        (
            report.created,
            report.superseded,
            report.failed,
            report.unchanged
        ),
        (1, 1, 1, 1)
    );
    assert!(matches!(
        report.results[0],
        UpsertOutcome::Superseded { .. }
    ));
    assert!(matches!(&report.results[1], UpsertOutcome::Invalid { field, .. } if field == "title"));
    assert_eq!(report.stored(), 2);
    assert_eq!(engine.catalog().track("x").unwrap().title, "Second Take");
    // All or nothing: one bad track and nothing is written, the error names it by position.
    let strict = vec![
        track("z1", "Never Written", "Nobody", "Pop"),
        Track {
            id: "z2".into(),
            artist: "Nobody".into(),
            ..Default::default()
        },
    ];
    match engine.upsert_all_or_nothing(strict) {
        Err(CoreError::Invalid(e)) => assert_eq!(e.field, "tracks[1].title"),
        other => panic!(
            "an invalid batch was accepted: {:?}",
            other.map(|r| r.created)
        ),
    }
    assert!(engine.catalog().track("z1").is_err());
    // One track: its outcome, or its field error.
    let err = engine
        .upsert_one(Track {
            id: "y".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, CoreError::Invalid(ref f) if f.field == "title"),
        "{err}"
    );
}

/// Batches embedded while the one before is written: reports arrive in order, one per batch;
/// an id repeated in the next batch is judged against the written version; a bad row fails
/// alone.
#[test]
fn pipelined_batches_report_in_order_and_see_each_others_writes() {
    let (_dir, engine) = empty_engine();
    let batches: Vec<Vec<(Track, Option<music_rag_core::GivenVector>)>> = (0..6)
        .map(|b| {
            (0..5)
                .map(|i| {
                    (
                        track(
                            &format!("t{b}-{i}"),
                            &format!("Song {b} {i}"),
                            "Band",
                            "Pop",
                        ),
                        None,
                    )
                })
                .collect()
        })
        .chain([
            // The same track as batch 5 wrote, then a change to it, then an invalid row.
            vec![(track("t5-0", "Song 5 0", "Band", "Pop"), None)],
            vec![(track("t5-0", "Song 5 0 (live)", "Band", "Pop"), None)],
            vec![(
                Track {
                    id: "bad".into(),
                    artist: "Band".into(),
                    ..Default::default()
                },
                None,
            )],
        ])
        .collect();
    let mut reports = Vec::new();
    engine
        .upsert_batches(batches, |r| -> Result<(), CoreError> {
            reports.push(r);
            Ok(())
        })
        .unwrap();
    let tallies: Vec<(usize, usize, usize, usize)> = reports
        .iter()
        .map(|r| (r.created, r.updated, r.unchanged, r.failed))
        .collect();
    let mut want = vec![(5, 0, 0, 0); 6];
    want.extend([(0, 0, 1, 0), (0, 1, 0, 0), (0, 0, 0, 1)]);
    assert_eq!(tallies, want);
    assert_eq!(
        reports[0].results[0],
        UpsertOutcome::Created { id: "t0-0".into() }
    );
    assert_eq!(
        engine.catalog().track("t5-0").unwrap().title,
        "Song 5 0 (live)"
    );
    assert_eq!(engine.catalog().count().unwrap(), 30);
}

#[test]
fn answers_name_what_the_catalog_lacks() {
    let (_dir, engine) = engine();
    let ask = |q: &str| ask(&engine, q);
    let r = ask("what songs by the band Zorblax Quartet do you have?");
    assert!(
        r.answer
            .starts_with("The catalog has no artist named \"Zorblax Quartet\"."),
        "{}",
        r.answer
    );
    assert!(!r.grounded);
    let r = ask("what is on the album Glass Harbour Nights?");
    assert!(
        r.answer.contains("no album named \"Glass Harbour Nights\""),
        "{}",
        r.answer
    );
    let r = ask("what tempo is Autumn Waltz by Vienna Strings?");
    assert!(r.missing.is_empty(), "{:?}", r.missing);
    assert_eq!(
        r.answer,
        "\"Autumn Waltz\" by Vienna Strings runs at 140 BPM [1]."
    );
}

#[test]
fn a_playlist_given_as_ids_keeps_their_order_and_refuses_unknown_ids() {
    let (_dir, engine) = engine();
    let page = engine.catalog().tracks(None, 3).unwrap();
    let mut ids: Vec<String> = page.tracks.iter().map(|t| t.id.clone()).collect();
    assert_eq!(ids.len(), 3);
    ids.reverse();
    let edited = engine
        .playlist(&PlaylistRequest {
            tracks: ids.clone(),
            title: Some("edited".into()),
            ..Default::default()
        })
        .unwrap();
    let got: Vec<String> = edited.entries.iter().map(|e| e.track.id.clone()).collect();
    assert_eq!(got, ids);
    assert_eq!(edited.title, "edited");
    assert!(edited.entries[0].transition.is_none() && edited.entries[1].transition.is_some());
    let err = engine
        .playlist(&PlaylistRequest {
            tracks: vec![ids[0].clone(), "no-such-track".into()],
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Invalid(f) if f.field == "tracks[1]"),
        "{err}"
    );
    let err = engine
        .playlist(&PlaylistRequest {
            tracks: ids,
            prompt: Some("song".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(&err, CoreError::Invalid(f) if f.field == "tracks"),
        "{err}"
    );
}

#[test]
fn playlists_keep_tempo_steps_small() {
    let (_dir, engine) = engine();
    let p = engine
        .playlist(&PlaylistRequest {
            prompt: Some("song".into()),
            length: Some(5),
            ..Default::default()
        })
        .unwrap();
    assert!(!p.entries.is_empty());
    let tempos: Vec<f32> = p
        .entries
        .iter()
        .filter_map(|e| e.track.metadata.tempo)
        .collect();
    for w in tempos.windows(2) {
        assert!((w[1] - w[0]).abs() <= music_rag_core::domain::playlist::MAX_TEMPO_STEP);
    }
}

#[test]
fn a_long_description_is_read_for_meaning_and_a_known_item_for_its_words() {
    let (_dir, engine) = engine();
    let route = |text: &str| {
        engine
            .search(&SearchRequest {
                text: text.into(),
                ..Default::default()
            })
            .unwrap()
            .route
    };
    use music_rag_core::domain::query::route::QueryRoute;
    assert_eq!(
        route("a slow sad song with soft strings and a gentle voice for a rainy evening"),
        QueryRoute::Description
    );
    // Long, but it names the track in full (with a typo), or names someone.
    assert_eq!(
        route("autumn waltzz vienna strings played slowly at night for dancing"),
        QueryRoute::Keywords
    );
    assert_eq!(
        route("a slow sad song with soft strings by Vienna Strings for a rainy evening"),
        QueryRoute::Keywords
    );
    assert_eq!(route("hip hop"), QueryRoute::Keywords);
}

#[test]
fn an_empty_page_says_why() {
    let (_dir, engine) = engine();
    let search = |filters: Filter| {
        engine
            .search(&SearchRequest {
                text: "something to dance to".into(),
                filters,
                parse: false,
                ..Default::default()
            })
            .unwrap()
    };
    // Each filter passes some tracks, but none passes both.
    let r = search(Filter {
        genres: vec!["hip hop".into()],
        time_signatures: vec!["3/4".into()],
        ..Default::default()
    });
    assert!(r.hits.is_empty());
    let why = r.empty_reason.unwrap();
    assert!(
        why.contains("together") && why.contains("(2 tracks)") && why.contains("3/4"),
        "{why}"
    );
    // A filter no track passes is named on its own.
    let r = search(Filter {
        keys: vec!["F# major".into()],
        ..Default::default()
    });
    let why = r.empty_reason.unwrap();
    assert!(why.starts_with("no track in the catalog has key"), "{why}");
    // ... and the results without it are offered, under the filters that do pass tracks.
    let relaxed = r
        .relaxed
        .expect("results without the filter no track passes");
    assert_eq!(relaxed.dropped, vec!["key: F# major".to_string()]);
    assert!(!relaxed.hits.is_empty());
    let r = search(Filter {
        keys: vec!["F# major".into()],
        genres: vec!["hip hop".into()],
        ..Default::default()
    });
    let relaxed = r.relaxed.unwrap();
    assert!(!relaxed.hits.is_empty());
    assert!(
        relaxed
            .hits
            .iter()
            .all(|h| ["b", "e"].contains(&h.track.id.as_str())),
        "the other filters still hold"
    );
    // Filters that each pass tracks but not together offer nothing in their place.
    assert!(search(Filter {
        genres: vec!["hip hop".into()],
        time_signatures: vec!["3/4".into()],
        ..Default::default()
    })
    .relaxed
    .is_none());
    // Hits carry no reason.
    assert!(search(Filter::default()).empty_reason.is_none());

    let (_empty_dir, empty) = empty_engine();
    let r = empty
        .search(&SearchRequest {
            text: "anything".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(r.empty_reason.unwrap().contains("catalog is empty"));
}

#[test]
fn planned_questions_are_answered_from_the_exact_set() {
    let (_dir, engine) = engine();
    let ask = |q: &str| ask(&engine, q);
    // A superlative under a genre: the fastest classical track, cited first.
    let r = ask("what is the fastest classical song in the catalog?");
    assert_eq!(r.generator, "planner", "{}", r.answer);
    assert!(
        r.answer.starts_with("The fastest of the 2 tracks")
            && r.answer
                .contains("\"Blue Danube Dreams\" by Vienna Strings at 150 BPM [1]"),
        "{}",
        r.answer
    );
    assert_eq!(r.sources[0].id, "c");
    assert_eq!(r.cited, [1, 2]);
    // The slowest by an artist.
    let r = ask("which Vienna Strings song is the slowest?");
    assert!(r.answer.contains("\"Autumn Waltz\""), "{}", r.answer);
    // A count says the number; a list lists exactly the artist's tracks.
    let r = ask("how many songs by Vienna Strings are in the catalog?");
    assert!(
        r.answer.contains("holds 2 tracks by Vienna Strings"),
        "{}",
        r.answer
    );
    let r = ask("which songs by vienna strings are here?");
    let ids: Vec<&str> = r.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["c", "d"]);
    // Existence with a typo in the name.
    let r = ask("do you have anything by Viena Strings?");
    assert!(
        r.answer
            .starts_with("Yes: the catalog holds 2 tracks by Vienna Strings"),
        "{}",
        r.answer
    );
    assert!(r.grounded);
    // Off topic: said plainly, ungrounded, nothing cited.
    let r = ask("what is the capital of France?");
    assert_eq!(r.generator, "planner");
    assert!(!r.grounded && r.sources.is_empty() && r.cited.is_empty());
    assert!(
        r.answer.contains("questions about the music"),
        "{}",
        r.answer
    );
    // A comparison of two named tracks by a fact.
    let r = ask("is Blue Danube Dreams faster than Autumn Waltz?");
    assert_eq!(r.generator, "planner", "{}", r.answer);
    assert!(
        r.answer
            .starts_with("Yes: \"Blue Danube Dreams\" by Vienna Strings [1] is at 150 BPM"),
        "{}",
        r.answer
    );
    assert_eq!(r.cited, [1, 2]);
    let r = ask("which is slower, Blue Danube Dreams or Autumn Waltz?");
    assert!(r.answer.starts_with("No:"), "{}", r.answer);
    // A list scoped by nothing the catalog knows is a search, which says what is missing.
    let r = ask("what songs by the band Zorblax Quartet do you have?");
    assert_ne!(r.generator, "planner");
    assert!(
        r.answer.contains("no artist named \"Zorblax Quartet\""),
        "{}",
        r.answer
    );
}

#[test]
fn occasions_mean_what_suits_them_and_a_bare_genre_shows_named_songs() {
    let (_dir, engine) = empty_engine();
    let mut tracks = vec![track("fall", "Fall", "Justin Bieber", "Pop")];
    let mut lullaby = track("lullaby", "Soothing lullaby", "Unknown artist", "lullaby");
    lullaby.metadata.mood = vec!["soothing".into(), "calming".into()];
    lullaby.description = Some("a soothing lullaby, calm and gentle, for sleep".into());
    tracks.push(lullaby);
    // Six captioned rock clips that say "rock" loudly, and one named rock song.
    for i in 0..6 {
        let mut clip = track(&format!("clip{i}"), "Rock", "Unknown artist", "rock");
        clip.description = Some("rock rock music, a rock clip".into());
        tracks.push(clip);
    }
    tracks.push(track("song", "Wolf Like Me", "TV on the Radio", "Rock"));
    engine.upsert(tracks).unwrap();
    let search = |q: &str| {
        engine
            .search(&SearchRequest {
                text: q.into(),
                top_k: 4,
                ..Default::default()
            })
            .unwrap()
    };
    let r = search("music to fall asleep to");
    let parsed = r.parsed.as_ref().unwrap();
    assert!(
        parsed.recognized.iter().any(|s| s.contains("an occasion")),
        "{:?}",
        parsed.recognized
    );
    assert!(!parsed.text.contains("fall"), "{}", parsed.text);
    assert_eq!(r.hits[0].track.id, "lullaby");
    // The words of a title the catalog holds are that title, not an occasion.
    let r = search("fall justin bieber");
    assert_eq!(r.hits[0].track.id, "fall");
    // A bare genre word: the named song opens the list, clips follow.
    let r = search("rock");
    assert_eq!(r.hits[0].track.id, "song");
    assert!(r.hits[1].track.id.starts_with("clip"));
}

#[test]
fn playlists_open_with_their_seeds_and_say_why_they_are_empty() {
    let (_dir, engine) = engine();
    // "b" (95 BPM) would come second by tempo; as a seed it opens the playlist.
    let p = engine
        .playlist(&PlaylistRequest {
            seed_ids: vec!["c".into(), "b".into()],
            length: Some(4),
            ..Default::default()
        })
        .unwrap();
    let ids: Vec<&str> = p.entries.iter().map(|e| e.track.id.as_str()).collect();
    assert_eq!(&ids[..2], ["c", "b"], "{ids:?}");
    assert!(p.empty_reason.is_none());
    // Nothing fits: empty, with the reason.
    let p = engine
        .playlist(&PlaylistRequest {
            prompt: Some("waltz".into()),
            filters: Filter {
                genres: vec!["zydeco".into()],
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    assert!(p.entries.is_empty());
    assert!(
        p.empty_reason.as_deref().is_some_and(|r| !r.is_empty()),
        "{:?}",
        p.empty_reason
    );
    // Unknown lengths are estimated and said to be.
    let p = engine
        .playlist(&PlaylistRequest {
            prompt: Some("classical".into()),
            length: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(p.unknown_durations, p.entries.len());
    assert_eq!(
        p.estimated_seconds,
        p.entries.len() as f32 * p.assumed_seconds_each
    );
}

#[test]
fn a_path_starts_and_ends_where_asked_and_moves_in_small_steps() {
    use music_rag_core::app::path::PathRequest;
    let (_dir, engine) = empty_engine();
    // A line of tracks from dance to classical, the middle ones sharing words with both.
    let mut tracks = vec![track("start", "Club Night", "DJ One", "Dance")];
    for (i, words) in [
        "dance club beat strings",
        "club beat strings orchestra",
        "beat strings orchestra waltz",
        "strings orchestra waltz classical",
    ]
    .iter()
    .enumerate()
    {
        let mut t = track(
            &format!("mid{i}"),
            &format!("Step {i}"),
            "Various",
            "Crossover",
        );
        t.description = Some(words.to_string());
        tracks.push(t);
    }
    tracks.push(track(
        "end",
        "Vienna Waltz",
        "Strauss Ensemble",
        "Classical",
    ));
    engine.upsert(tracks).unwrap();
    let p = engine
        .path(&PathRequest {
            from: "start".into(),
            to: "end".into(),
            length: 4,
            ..Default::default()
        })
        .unwrap();
    let ids: Vec<&str> = p.entries.iter().map(|e| e.track.id.as_str()).collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!((ids[0], ids[3]), ("start", "end"), "{ids:?}");
    assert!(
        ids[1].starts_with("mid") && ids[2].starts_with("mid") && ids[1] != ids[2],
        "{ids:?}"
    );
    // Bad requests name their field.
    for (req, field) in [
        (
            PathRequest {
                from: "start".into(),
                to: "start".into(),
                ..Default::default()
            },
            "to",
        ),
        (
            PathRequest {
                from: "start".into(),
                to: "end".into(),
                length: 1,
                ..Default::default()
            },
            "length",
        ),
    ] {
        let Err(CoreError::Invalid(e)) = engine.path(&req) else {
            panic!("accepted {req:?}");
        };
        assert_eq!(e.field, field);
    }
    let Err(CoreError::NotFound(m)) = engine.path(&PathRequest {
        from: "nope".into(),
        to: "end".into(),
        ..Default::default()
    }) else {
        panic!("an unknown track was accepted");
    };
    assert!(m.contains("from"), "{m}");
}

#[test]
fn a_comparing_word_steers_a_sounds_like_search() {
    use music_rag_core::app::listen::ListenRequest;
    use music_rag_core::domain::catalog::audio::AudioFeatures;
    let (_dir, engine) = empty_engine();
    // Five tracks that sound almost alike; loudness goes from -6 to -30 dBFS.
    let tracks: Vec<Track> = (0..5)
        .map(|i| {
            let mut t = track(&format!("s{i}"), &format!("Sound {i}"), "Band", "Ambient");
            let mut vector = vec![0.1f32; 48];
            vector[0] = 1.0 + 0.01 * i as f32;
            t.audio = Some(AudioFeatures {
                loudness_dbfs: -6.0 - 6.0 * i as f32,
                tempo_bpm: Some(100.0),
                vector,
                ..Default::default()
            });
            t
        })
        .collect();
    engine.upsert(tracks).unwrap();
    let listen = |text: Option<&str>| {
        engine
            .listen(
                &ListenRequest {
                    track_id: Some("s2".into()),
                    text: text.map(str::to_string),
                    top_k: 2,
                    ..Default::default()
                },
                None,
            )
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.track.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(listen(None).len(), 2);
    // "but calmer": quieter tracks only at the top; "but louder": louder ones.
    let calmer = listen(Some("but calmer"));
    assert!(
        calmer.iter().all(|id| id == "s3" || id == "s4"),
        "{calmer:?}"
    );
    let louder = listen(Some("but louder"));
    assert!(
        louder.iter().all(|id| id == "s0" || id == "s1"),
        "{louder:?}"
    );
}

#[test]
fn a_query_in_another_language_gets_a_notice() {
    let (_dir, engine) = engine();
    let search = |q: &str| {
        engine
            .search(&SearchRequest {
                text: q.into(),
                ..Default::default()
            })
            .unwrap()
    };
    let r = search("canciones tristes para llorar con piano");
    assert!(
        r.notice.as_deref().is_some_and(|n| n.contains("Spanish")),
        "{:?}",
        r.notice
    );
    assert!(search("sad songs with piano").notice.is_none());
    let r = ask(
        &engine,
        "quelle est la musique la plus calme pour le dîner ?",
    );
    assert!(
        r.notice.as_deref().is_some_and(|n| n.contains("French")),
        "{:?}",
        r.notice
    );
}

#[test]
fn comparing_words_steer_recommendations_from_several_seeds() {
    use music_rag_core::app::recommend::RecommendRequest;
    use music_rag_core::domain::catalog::audio::AudioFeatures;
    let (_dir, engine) = empty_engine();
    // Seven tracks alike in meaning and sound; loudness from -6 to -42 dBFS, tempo 80 to 140.
    let tracks: Vec<Track> = (0..7)
        .map(|i| {
            let mut t = track(&format!("s{i}"), &format!("Sound {i}"), "Band", "Ambient");
            let mut vector = vec![0.1f32; 48];
            vector[0] = 1.0 + 0.01 * i as f32;
            t.audio = Some(AudioFeatures {
                loudness_dbfs: -6.0 - 6.0 * i as f32,
                tempo_bpm: Some(80.0 + 10.0 * i as f32),
                vector,
                ..Default::default()
            });
            t
        })
        .collect();
    engine.upsert(tracks).unwrap();
    let energy = |ids: &[String]| -> f32 {
        ids.iter()
            .map(|id| {
                engine
                    .catalog()
                    .track(id)
                    .unwrap()
                    .audio
                    .as_ref()
                    .unwrap()
                    .loudness_dbfs
            })
            .sum::<f32>()
            / ids.len() as f32
    };
    let recommend = |text: Option<&str>| -> Vec<String> {
        engine
            .recommend(&RecommendRequest {
                positive: vec!["s2".into(), "s4".into()],
                negative: vec!["s6".into()],
                text: text.map(str::to_string),
                top_k: 2,
                ..Default::default()
            })
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.track.id.clone())
            .collect()
    };
    let plain = recommend(None);
    let calmer = recommend(Some("but calmer"));
    let louder = recommend(Some("but louder"));
    // The seeds average -24 dBFS: "calmer" brings quieter tracks, "louder" louder ones, and
    // neither returns a seed or the negative.
    assert!(energy(&calmer) < -24.0, "{calmer:?}");
    assert!(energy(&louder) > -24.0, "{louder:?}");
    assert!(
        energy(&calmer) < energy(&plain) || energy(&plain) < -24.0,
        "{plain:?} {calmer:?}"
    );
    for ids in [&plain, &calmer, &louder] {
        assert!(
            ids.iter()
                .all(|id| !["s2", "s4", "s6"].contains(&id.as_str())),
            "{ids:?}"
        );
    }
    // The seeds average 110 BPM: "faster" brings faster tracks.
    let faster = recommend(Some("faster"));
    let faster_tempo: f32 = faster
        .iter()
        .map(|id| {
            engine
                .catalog()
                .track(id)
                .unwrap()
                .audio
                .as_ref()
                .unwrap()
                .tempo_bpm
                .unwrap()
        })
        .sum::<f32>()
        / faster.len() as f32;
    assert!(faster_tempo > 110.0, "{faster:?}");
}
