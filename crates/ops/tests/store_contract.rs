//! One contract for every store backend: the same tests run against the embedded store (in a
//! temporary directory), against PostgreSQL (a schema of its own in the test database) and
//! against a PostgreSQL replica searching its local copy (`music_rag_ops::replica`). It lives
//! in the operations crate, the lowest one that sees every backend.

use std::collections::HashSet;
use std::sync::Arc;

use music_rag_core::domain::catalog::audio::{AudioFeatures, AUDIO_VECTOR_DIM};
use music_rag_core::domain::retrieval::filter::Range;
use music_rag_core::{Filter, Mode, Store, StoredTrack, Track};
use music_rag_ops::replica::ReplicaStore;
use music_rag_store::{Access, EmbeddedStore};
use music_rag_store_postgres::test_database::TestSchema;
use music_rag_store_postgres::PgStore;

const DIM: usize = 8;
const MODEL: (&str, usize) = ("contract-model", DIM);

/// Opens stores of one backend over the same data, as often as a test needs.
trait Backend {
    /// A store over the backend's data, opened for writing with `model`.
    fn open_with(&self, model: (&str, usize)) -> music_rag_core::Result<Arc<dyn Store>>;
    fn open(&self) -> Arc<dyn Store> {
        self.open_with(MODEL).unwrap()
    }
    /// How this backend measures a typo (the one place the contract lets backends differ).
    fn typo_measure(&self) -> TypoMeasure;
}

#[derive(Debug, PartialEq)]
enum TypoMeasure {
    /// Edits counted (Levenshtein, a swap of neighbours is one).
    EditDistance,
    /// Trigram word similarity (`pg_trgm`).
    Trigrams,
}

struct Embedded(tempfile::TempDir);

impl Backend for Embedded {
    fn open_with(&self, model: (&str, usize)) -> music_rag_core::Result<Arc<dyn Store>> {
        Ok(Arc::new(
            EmbeddedStore::open(self.0.path(), Some(model), Access::ReadWrite)
                .map_err(music_rag_core::CoreError::from)?,
        ))
    }
    fn typo_measure(&self) -> TypoMeasure {
        TypoMeasure::EditDistance
    }
}

/// The embedded store as a catalog too large for memory runs it: one whole track cached (every
/// other track a result needs is read from the database) and the vector index from the first
/// track on (no f32 vectors in memory: shortlists are re-scored with the stored vectors).
struct EmbeddedFromDisk(tempfile::TempDir);

impl Backend for EmbeddedFromDisk {
    fn open_with(&self, model: (&str, usize)) -> music_rag_core::Result<Arc<dyn Store>> {
        let store = EmbeddedStore::open(self.0.path(), Some(model), Access::ReadWrite)
            .map_err(music_rag_core::CoreError::from)?;
        store.set_cached_tracks(1);
        store.set_vector_index_threshold(1)?;
        Ok(Arc::new(store))
    }
    fn typo_measure(&self) -> TypoMeasure {
        TypoMeasure::EditDistance
    }
}

struct Postgres(TestSchema);

impl Backend for Postgres {
    fn open_with(&self, model: (&str, usize)) -> music_rag_core::Result<Arc<dyn Store>> {
        Ok(Arc::new(
            PgStore::open(&self.0.options(), Some(model))
                .map_err(music_rag_core::CoreError::from)?,
        ))
    }
    fn typo_measure(&self) -> TypoMeasure {
        TypoMeasure::Trigrams
    }
}

/// A serving replica: writes go to PostgreSQL, reads to a local copy in its own folder (each
/// store opened is another replica with its own copy, as replicas are).
struct Replica {
    schema: TestSchema,
    copies: tempfile::TempDir,
    opened: std::sync::atomic::AtomicUsize,
}

impl Replica {
    fn new(schema: TestSchema) -> Self {
        Self {
            schema,
            copies: tempfile::tempdir().unwrap(),
            opened: Default::default(),
        }
    }

    /// PostgreSQL itself, under the replicas (what another writer sees).
    fn source(&self) -> PgStore {
        PgStore::open(&self.schema.options(), Some(MODEL)).unwrap()
    }

    /// Replica `n`'s folder (a restarted replica finds its copy there).
    fn open_at(&self, n: usize, model: (&str, usize)) -> music_rag_core::Result<ReplicaStore> {
        let source = PgStore::open(&self.schema.options(), Some(model))
            .map_err(music_rag_core::CoreError::from)?;
        ReplicaStore::open(source, &self.copies.path().join(n.to_string()))
            .map_err(|e| music_rag_core::CoreError::Unavailable(e.to_string()))
    }
}

impl Backend for Replica {
    fn open_with(&self, model: (&str, usize)) -> music_rag_core::Result<Arc<dyn Store>> {
        let n = self
            .opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Arc::new(self.open_at(n, model)?))
    }
    fn typo_measure(&self) -> TypoMeasure {
        TypoMeasure::EditDistance
    }
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// A vector mostly along `axis`, a little along the next one.
fn along(axis: usize, lean: f32) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[axis % DIM] = 1.0;
    v[(axis + 1) % DIM] = lean;
    unit(v)
}

fn stored(track: Track, embedding: Vec<f32>) -> StoredTrack {
    StoredTrack {
        content_hash: format!("c-{}-{}", track.id, track.title),
        text_hash: format!("t-{}-{}", track.id, track.title),
        track,
        embedding,
    }
}

fn track(id: &str, title: &str, artist: &str) -> Track {
    Track {
        id: id.into(),
        title: title.into(),
        artist: artist.into(),
        ..Default::default()
    }
}

/// Five tracks with every kind of facet, on different axes.
fn catalog() -> Vec<StoredTrack> {
    let mut a = track("a", "Night Drive", "Neon Coast");
    a.metadata.genre = Some("Dance".into());
    a.tags = vec!["hip hop feel".into()];
    a.metadata.mood = vec!["energetic".into()];
    a.metadata.instrumentation = vec!["synthesizer".into(), "female vocal".into()];
    a.metadata.tempo = Some(122.0);
    a.metadata.key = Some("A minor".into());
    a.metadata.time_signature = Some("4/4".into());
    a.year = Some(2019);
    let mut b = track("b", "Block Party", "MC Rhymes");
    b.metadata.genre = Some("Hip-Hop".into());
    b.metadata.instrumentation = vec!["drum machine".into(), "rap".into()];
    b.metadata.tempo = Some(95.0);
    b.metadata.key = Some("C major".into());
    b.metadata.is_live_performance = Some(true);
    b.year = Some(1999);
    let mut c = track("c", "Blue Danube Dreams", "Vienna Strings");
    c.metadata.genre = Some("Classical".into());
    c.metadata.instrumentation = vec!["violin".into(), "cello".into()];
    c.metadata.tempo = Some(150.0);
    c.metadata.key = Some("D major".into());
    c.metadata.time_signature = Some("3/4".into());
    c.description = Some("A waltz for strings on a summer evening".into());
    let mut d = track("d", "Autumn Waltz", "Vienna Strings");
    d.metadata.genre = Some("Classical".into());
    d.metadata.instrumentation = vec!["piano".into()];
    d.metadata.tempo = Some(140.0);
    d.metadata.key = Some("E-flat minor".into());
    d.metadata.time_signature = Some("3/4".into());
    d.metadata.mood = vec!["melancholic".into()];
    let mut e = track("e", "ABC", "The Jackson 5");
    e.metadata.genre = Some("hiphop".into());
    e.metadata.tempo = Some(90.0);
    e.metadata.lyrics = Some("easy as one two three".into());
    vec![
        stored(a, along(0, 0.1)),
        stored(b, along(1, 0.1)),
        stored(c, along(2, 0.1)),
        stored(d, along(2, 0.6)),
        stored(e, along(4, 0.1)),
    ]
}

fn loaded(b: &dyn Backend) -> Arc<dyn Store> {
    let s = b.open();
    s.upsert(catalog()).unwrap();
    s
}

fn ids(c: Vec<music_rag_core::Candidate>) -> Vec<String> {
    c.into_iter().map(|c| c.id).collect()
}

/// The ids a store lists (its first 100), sorted.
fn listed(s: &dyn Store) -> Vec<String> {
    sorted(
        s.list(None, 100)
            .unwrap()
            .tracks
            .iter()
            .map(|t| t.id.clone())
            .collect(),
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn upsert_get_list_and_count(b: &dyn Backend) {
    let s = loaded(b);
    assert_eq!(s.count().unwrap(), 5);
    let a = s.get("a").unwrap().expect("stored");
    assert_eq!(a.title, "Night Drive");
    assert_eq!(a.metadata.key.as_deref(), Some("A minor"));
    assert!(a.created_at.as_deref().is_some_and(|t| t.ends_with('Z')));
    assert!(s.get("zz").unwrap().is_none());
    let v = s.get_embedding("c").unwrap().expect("vector");
    let want = along(2, 0.1);
    assert!(v.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-6));
    // Pages in id order, the cursor continuing after the last id.
    let first = s.list(None, 2).unwrap();
    let first_ids: Vec<&str> = first.tracks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(first_ids, ["a", "b"]);
    assert_eq!(first.next_cursor.as_deref(), Some("b"));
    let rest = s.list(Some("b"), 10).unwrap();
    let rest_ids: Vec<&str> = rest.tracks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(rest_ids, ["c", "d", "e"]);
    assert!(rest.next_cursor.is_none());
    let stats = s.stats().unwrap();
    assert_eq!((stats.tracks, stats.text_embeddings), (5, 5));
}

/// What one search reads in one call: tracks by id in the asked order (a missing id is `None`,
/// a repeated one repeated), and counts under a filter equal to the tracks that pass it.
fn batched_fetches_and_counts_match_one_by_one(b: &dyn Backend) {
    let s = loaded(b);
    let got = s.get_many(&["d", "zz", "a", "d"]).unwrap();
    let titles: Vec<Option<&str>> = got
        .iter()
        .map(|t| t.as_ref().map(|t| t.title.as_str()))
        .collect();
    assert_eq!(
        titles,
        [
            Some("Autumn Waltz"),
            None,
            Some("Night Drive"),
            Some("Autumn Waltz")
        ]
    );
    assert_eq!(got[2].as_deref(), s.get("a").unwrap().as_deref());
    assert!(s.get_many(&[]).unwrap().is_empty());
    let classical = Filter {
        genres: vec!["classical".into()],
        ..Default::default()
    };
    let fast = Filter {
        tempo: Some(Range {
            min: Some(120.0),
            max: None,
        }),
        ..Default::default()
    };
    let live = Filter {
        live: Some(true),
        ..Default::default()
    };
    for (filter, want) in [
        (Filter::default(), 5),
        (classical.clone(), 2),
        (fast.clone(), 3),
        (classical.and(&fast), 2),
        (live, 1),
        (
            Filter {
                genres: vec!["polka".into()],
                ..Default::default()
            },
            0,
        ),
    ] {
        assert_eq!(s.count_matching(&filter).unwrap(), want, "{filter:?}");
    }
}

fn upserts_replace_keep_created_and_move_the_sequence(b: &dyn Backend) {
    let s = loaded(b);
    let before = s.sequence().unwrap();
    let created = s.get("a").unwrap().unwrap().created_at.clone();
    let known = s.known(&["a", "nope"]).unwrap();
    assert_eq!(known.len(), 1);
    assert_eq!(known["a"].content_hash, "c-a-Night Drive");
    let mut a = track("a", "Night Drive (Remix)", "Neon Coast");
    a.metadata.genre = Some("House".into());
    s.upsert(vec![stored(a, along(6, 0.1))]).unwrap();
    let after = s.sequence().unwrap();
    assert!(after > before, "{after} > {before}");
    let got = s.get("a").unwrap().unwrap();
    assert_eq!(got.title, "Night Drive (Remix)");
    assert_eq!(got.created_at, created);
    assert_eq!(s.count().unwrap(), 5);
    // The old vector and facets are gone from both retrievers.
    let near = ids(s
        .dense_search(&along(6, 0.1), &Filter::default(), 1)
        .unwrap());
    assert_eq!(near, ["a"]);
    let dance = Filter {
        genres: vec!["dance".into()],
        ..Default::default()
    };
    assert!(s
        .dense_search(&along(0, 0.1), &dance, 5)
        .unwrap()
        .is_empty());
    assert_eq!(
        s.known(&["a"]).unwrap()["a"].content_hash,
        "c-a-Night Drive (Remix)"
    );
}

fn deletes_leave_no_trace(b: &dyn Backend) {
    let s = loaded(b);
    let seq = s.sequence().unwrap();
    assert!(!s.delete("nope").unwrap());
    assert_eq!(
        s.sequence().unwrap(),
        seq,
        "a delete of nothing changes nothing"
    );
    assert!(s.delete("e").unwrap());
    assert!(s.sequence().unwrap() > seq);
    assert!(s.get("e").unwrap().is_none());
    assert_eq!(s.count().unwrap(), 4);
    assert!(!ids(s
        .dense_search(&along(4, 0.1), &Filter::default(), 5)
        .unwrap())
    .contains(&"e".to_string()));
    assert!(s
        .keyword_search("Jackson", &Filter::default(), 5)
        .unwrap()
        .is_empty());
}

fn dense_search_ranks_by_cosine(b: &dyn Backend) {
    let s = loaded(b);
    let hits = s
        .dense_search(&along(2, 0.1), &Filter::default(), 3)
        .unwrap();
    assert_eq!(ids(hits.clone()), ["c", "d", "b"]);
    assert!(
        (hits[0].score - 1.0).abs() < 1e-4,
        "cosine of a vector with itself"
    );
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    let many = s
        .dense_search_many(
            &along(2, 0.1),
            &[
                Filter::default(),
                Filter {
                    live: Some(true),
                    ..Default::default()
                },
            ],
            2,
        )
        .unwrap();
    assert_eq!(ids(many[0].clone()), ["c", "d"]);
    assert_eq!(ids(many[1].clone()), ["b"]);
}

/// Every kind of filter, inside both retrievers: a hit always satisfies the filter, and every
/// track that satisfies it can be found.
fn filters_apply_inside_both_retrievers(b: &dyn Backend) {
    let s = loaded(b);
    let list = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Filter, Vec<&str>)> = vec![
        (
            Filter {
                genres: list(&["Hip-Hop"]),
                ..Default::default()
            },
            vec!["b", "e"],
        ),
        (
            Filter {
                genres: list(&["hip hop", "classical"]),
                ..Default::default()
            },
            vec!["b", "c", "d", "e"],
        ),
        (
            Filter {
                tags: list(&["hip hop"]),
                ..Default::default()
            },
            vec!["a"],
        ),
        (
            Filter {
                genres_or_tags: list(&["hip hop"]),
                ..Default::default()
            },
            vec!["a", "b", "e"],
        ),
        (
            Filter {
                moods: list(&["Melancholic"]),
                ..Default::default()
            },
            vec!["d"],
        ),
        (
            Filter {
                instruments: list(&["violin"]),
                ..Default::default()
            },
            vec!["c"],
        ),
        (
            Filter {
                exclude_instruments: list(&["vocals"]),
                ..Default::default()
            },
            vec!["c", "d"],
        ),
        (
            Filter {
                keys: list(&["D# minor"]),
                ..Default::default()
            },
            vec!["d"],
        ),
        (
            Filter {
                mode: Some(Mode::Major),
                ..Default::default()
            },
            vec!["b", "c"],
        ),
        (
            Filter {
                time_signatures: list(&["3/4"]),
                ..Default::default()
            },
            vec!["c", "d"],
        ),
        (
            Filter {
                tempo: Some(Range::new(Some(120.0), Some(145.0))),
                ..Default::default()
            },
            vec!["a", "d"],
        ),
        (
            Filter {
                year: Some(Range::new(None, Some(2000.0))),
                ..Default::default()
            },
            vec!["b"],
        ),
        (
            Filter {
                live: Some(false),
                ..Default::default()
            },
            vec!["a", "c", "d", "e"],
        ),
        (
            Filter {
                genres: list(&["classical"]),
                ..Default::default()
            }
            .and(&Filter {
                genres: list(&["dance"]),
                ..Default::default()
            }),
            vec![],
        ),
    ];
    for (filter, want) in cases {
        let want = sorted(want.into_iter().map(String::from).collect());
        let dense = sorted(ids(s.dense_search(&along(3, 0.5), &filter, 10).unwrap()));
        assert_eq!(dense, want, "dense with {filter:?}");
        let browse = sorted(ids(s.keyword_search("", &filter, 10).unwrap()));
        assert_eq!(browse, want, "browse with {filter:?}");
        // "strings" is in two tracks' artist, "party" in one title: keyword hits are
        // the filter's tracks among them.
        let words = sorted(ids(s.keyword_search("strings party", &filter, 10).unwrap()));
        let expected: Vec<String> = want
            .iter()
            .filter(|id| ["b", "c", "d"].contains(&id.as_str()))
            .cloned()
            .collect();
        assert_eq!(words, expected, "keyword with {filter:?}");
    }
}

fn keyword_search_weighs_names_and_forgives_typos(b: &dyn Backend) {
    let s = loaded(b);
    // Title and artist words rank above description words.
    let hits = ids(s.keyword_search("waltz", &Filter::default(), 5).unwrap());
    assert_eq!(hits, ["d", "c"], "title before description");
    // A typo in a name still finds it; "five" is the 5 in "The Jackson 5".
    assert_eq!(
        ids(s.keyword_search("Jakson", &Filter::default(), 5).unwrap()),
        ["e"]
    );
    assert_eq!(
        ids(s
            .keyword_search("jackson five", &Filter::default(), 1)
            .unwrap()),
        ["e"]
    );
    assert_eq!(
        ids(s
            .keyword_search("Viena Strigns", &Filter::default(), 5)
            .unwrap())
        .len(),
        2
    );
    // Lyrics are searched too; a word nothing holds finds nothing.
    assert_eq!(
        ids(s.keyword_search("easy", &Filter::default(), 5).unwrap()),
        ["e"]
    );
    assert!(s
        .keyword_search("zzzzqqq", &Filter::default(), 5)
        .unwrap()
        .is_empty());
    // A word the catalog holds as typed is not stretched to a near name.
    let mut m = track("m", "Mourning Song", "Elegy");
    m.description = Some("for the dead".into());
    let mut n = track("n", "Sunrise", "Dawn Chorus");
    n.description = Some("a bright morning".into());
    s.upsert(vec![stored(m, along(5, 0.1)), stored(n, along(6, 0.1))])
        .unwrap();
    assert_eq!(
        ids(s.keyword_search("morning", &Filter::default(), 5).unwrap()),
        ["n"]
    );
}

/// Each keyword hit carries the query words the retriever matched in it: as typed (through the
/// stemmer too), or as a typo of a name; words it did not match are not claimed.
/// The one typo rule both stores keep (`domain::query::text::typo_budget`): a name word of 4 to
/// 7 letters is found with one edit, of 8 or more with two (a swap of neighbours is one), a
/// word of 3 letters or fewer only as typed. How each store measures it differs on purpose:
/// the embedded index counts edits (tantivy's Levenshtein automata), PostgreSQL scores trigram
/// word similarity (`pg_trgm`, the only typo search its indexes serve), so beyond the budget
/// PostgreSQL may still find a long word the embedded store does not. Within it they agree.
fn typo_tolerance_keeps_one_budget(b: &dyn Backend) {
    let s = loaded(b);
    let mut bird = track("bird", "Nightingale Serenade", "Marguerite Okonkwo");
    bird.description = Some("a song at dusk".into());
    let mut sun = track("sun", "Sun", "Ra Quartet");
    sun.description = Some("an old tune".into());
    s.upsert(vec![
        stored(bird, along(5, 0.1)),
        stored(sun, along(6, 0.1)),
    ])
    .unwrap();
    let found = |q: &str| ids(s.keyword_search(q, &Filter::default(), 5).unwrap());
    // Within the budget: one edit in a 4-7 letter word, two in a longer one.
    for typo in [
        "Okonkow",
        "Serenad",
        "Nightingael",
        "Nigtingal",
        "Margeurite",
    ] {
        assert!(
            found(typo).contains(&"bird".to_string()),
            "{typo}: {:?}",
            found(typo)
        );
    }
    // A word of three letters is read only as typed.
    assert!(
        !found("Sin").contains(&"sun".to_string()),
        "{:?}",
        found("Sin")
    );
    assert_eq!(found("Sun"), ["sun"]);
    // Beyond the budget the measures part: "Serenda" is two edits from "Serenade" (a swap and
    // a dropped letter) in a 7-letter word, one more than the budget, yet shares most of its
    // trigrams.
    let beyond = found("Serenda").contains(&"bird".to_string());
    match b.typo_measure() {
        TypoMeasure::EditDistance => assert!(!beyond, "edits beyond the budget found a name"),
        TypoMeasure::Trigrams => assert!(beyond, "trigram similarity no longer reaches it"),
    }
}

/// What planned questions read: the exact set under a filter and an artist, counted, sorted by
/// a fact (tracks without it last) and paged.
fn selections_count_sort_and_page_the_exact_set(b: &dyn Backend) {
    use music_rag_core::domain::catalog::measure::Measure;
    use music_rag_core::Selection;
    let s = loaded(b);
    let pick = |sel: Selection| {
        let got = s.select(&sel).unwrap();
        (
            got.total,
            ids(got
                .tracks
                .iter()
                .map(|t| music_rag_core::Candidate::scored(t.id.clone(), 0.0))
                .collect()),
        )
    };
    // Everything, fastest first.
    let all = pick(Selection {
        order: Some((Measure::Tempo, true)),
        limit: 10,
        ..Default::default()
    });
    assert_eq!(
        all,
        (
            5,
            vec!["c".into(), "d".into(), "a".into(), "b".into(), "e".into()]
        )
    );
    // Under a filter, slowest first, one page of one.
    let classical = Filter {
        genres: vec!["classical".into()],
        ..Default::default()
    };
    let page = pick(Selection {
        filter: classical.clone(),
        order: Some((Measure::Tempo, false)),
        offset: 0,
        limit: 1,
        ..Default::default()
    });
    assert_eq!(page, (2, vec!["d".to_string()]));
    let next = pick(Selection {
        filter: classical,
        order: Some((Measure::Tempo, false)),
        offset: 1,
        limit: 1,
        ..Default::default()
    });
    assert_eq!(next, (2, vec!["c".to_string()]));
    // By artist (as the catalog's names give it), with a filter beside it.
    let vienna = pick(Selection {
        artists: vec!["vienna strings".into()],
        limit: 10,
        ..Default::default()
    });
    assert_eq!(vienna.0, 2);
    let none = pick(Selection {
        artists: vec!["vienna strings".into()],
        filter: Filter {
            genres: vec!["hip hop".into()],
            ..Default::default()
        },
        limit: 10,
        ..Default::default()
    });
    assert_eq!(none, (0, Vec::<String>::new()));
    // Year: tracks that state none come last.
    let newest = pick(Selection {
        order: Some((Measure::Year, true)),
        limit: 2,
        ..Default::default()
    });
    assert_eq!(newest, (5, vec!["a".to_string(), "b".to_string()]));
}

fn keyword_hits_say_which_words_they_matched(b: &dyn Backend) {
    use music_rag_core::domain::retrieval::hit::TermMatch;
    let s = loaded(b);
    let matched = |text: &str, id: &str| -> Vec<TermMatch> {
        s.keyword_search(text, &Filter::default(), 5)
            .unwrap()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{text:?} finds {id}"))
            .matched
    };
    // "waltzes" reaches the description's "waltz" by its stem; "strings" is in c's artist.
    let mut c = matched("waltzes strings zzzzqqq", "c");
    c.sort_by(|a, b| a.term.cmp(&b.term));
    assert_eq!(
        c,
        [TermMatch::exact("strings"), TermMatch::exact("waltzes")]
    );
    // A misspelt artist word is matched as a typo; the exact word beside it as typed.
    let e = matched("jakson abc", "e");
    assert!(e.contains(&TermMatch::typo("jakson")), "{e:?}");
    assert!(e.contains(&TermMatch::exact("abc")), "{e:?}");
    // Dense retrieval matches no words.
    let dense = s
        .dense_search(&along(4, 0.1), &Filter::default(), 1)
        .unwrap();
    assert!(dense[0].matched.is_empty());
}

fn audio_search_reads_audio_vectors_with_filters(b: &dyn Backend) {
    let s = b.open();
    let with_audio = |id: &str, genre: &str, axis: usize| {
        let mut t = track(id, id, "Sound Maker");
        t.metadata.genre = Some(genre.into());
        let mut v = vec![0.0; AUDIO_VECTOR_DIM];
        v[axis] = 1.0;
        v[axis + 1] = 0.2;
        t.audio = Some(AudioFeatures {
            vector: unit(v),
            ..Default::default()
        });
        stored(t, along(axis, 0.1))
    };
    s.upsert(vec![
        with_audio("x", "ambient", 0),
        with_audio("y", "ambient", 3),
        with_audio("z", "rock", 0),
        stored(track("plain", "No Audio", "Quiet"), along(0, 0.1)),
    ])
    .unwrap();
    let mut q = vec![0.0; AUDIO_VECTOR_DIM];
    q[0] = 1.0;
    let all = s.audio_search(&q, &Filter::default(), 10).unwrap();
    assert_eq!(all.len(), 3, "only tracks with audio");
    assert_eq!(sorted(ids(all[..2].to_vec())), ["x", "z"]);
    let ambient = Filter {
        genres: vec!["ambient".into()],
        ..Default::default()
    };
    assert_eq!(ids(s.audio_search(&q, &ambient, 10).unwrap()), ["x", "y"]);
    assert_eq!(s.stats().unwrap().audio_embeddings, 3);
    let back = s.get("x").unwrap().unwrap();
    assert_eq!(back.audio.as_ref().unwrap().vector.len(), AUDIO_VECTOR_DIM);
}

fn writes_survive_reopening_and_another_model_is_refused(b: &dyn Backend) {
    let seq = {
        let s = loaded(b);
        s.delete("b").unwrap();
        s.sequence().unwrap()
    };
    let s = b.open();
    assert_eq!(s.count().unwrap(), 4);
    assert_eq!(s.sequence().unwrap(), seq);
    assert_eq!(
        ids(s.keyword_search("Jackson", &Filter::default(), 5).unwrap()),
        ["e"]
    );
    drop(s);
    let refused = b.open_with(("another-model", DIM)).err().expect("refused");
    assert!(refused.to_string().contains("another-model"), "{refused}");
}

fn the_vocabulary_knows_facets_and_names(b: &dyn Backend) {
    let s = loaded(b);
    let v = s.vocabulary().unwrap();
    use music_rag_core::domain::catalog::vocabulary::FacetKind;
    assert_eq!(v.kind_of("classical"), Some(FacetKind::Genre));
    assert_eq!(v.kind_of("violin"), Some(FacetKind::Instrument));
    let genres: Vec<String> = v
        .terms(FacetKind::Genre)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(genres[0], "classical");
}

/// Writers on several threads at once, over overlapping ids: every track lands once, none is
/// lost or doubled, and the sequence moved once per write.
fn concurrent_writers_lose_and_double_nothing(b: &dyn Backend) {
    let s = b.open();
    let before = s.sequence().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                for batch in 0..5 {
                    let items = (0..10)
                        .map(|i| {
                            // Half the ids are written by every thread.
                            let id = if i % 2 == 0 {
                                format!("shared-{batch}-{i}")
                            } else {
                                format!("w{w}-{batch}-{i}")
                            };
                            stored(
                                track(&id, &format!("Song {w} {batch} {i}"), "Many Hands"),
                                along(i, 0.3),
                            )
                        })
                        .collect();
                    s.upsert(items).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let shared = 5 * 5;
    let own = 4 * 5 * 5;
    assert_eq!(s.count().unwrap(), shared + own);
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = s.list(cursor.as_deref(), 17).unwrap();
        for t in &page.tracks {
            assert!(seen.insert(t.id.clone()), "{} listed twice", t.id);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), shared + own);
    assert_eq!(s.sequence().unwrap(), before + 20);
}

/// Replicas (PostgreSQL only: the embedded store has one writer per data directory): a write
/// through one store is seen by another over the same data at once.
#[test]
fn postgres_replicas_see_every_write_at_once() {
    let b = Postgres(TestSchema::new("replicas"));
    let one = loaded(&b);
    let two = b.open();
    assert_eq!(two.sequence().unwrap(), one.sequence().unwrap());
    let mut t = track("new", "Fresh Tune", "Late Arrival");
    t.metadata.genre = Some("Dance".into());
    one.upsert(vec![stored(t, along(7, 0.1))]).unwrap();
    assert_eq!(two.sequence().unwrap(), one.sequence().unwrap());
    assert_eq!(two.get("new").unwrap().unwrap().title, "Fresh Tune");
    assert_eq!(
        ids(two
            .dense_search(&along(7, 0.1), &Filter::default(), 1)
            .unwrap()),
        ["new"]
    );
    assert_eq!(
        ids(two
            .keyword_search("Fresh Tune", &Filter::default(), 1)
            .unwrap()),
        ["new"]
    );
    assert!(two.delete("new").unwrap());
    assert!(one.get("new").unwrap().is_none());
}

/// PostgreSQL only (the embedded store ranks with BM25 over every match): once the statistics
/// know a word is common, it still ranks the candidates but only distinctive words make them,
/// so a plain-words query does not rank a fifth of the catalog.
#[test]
fn postgres_common_words_rank_but_distinctive_words_choose() {
    let b = Postgres(TestSchema::new("common"));
    let store = b.open();
    let mut items: Vec<StoredTrack> = (0..60)
        .map(|i| {
            let mut t = track(&format!("r{i:02}"), &format!("Anthem {i}"), "Band");
            t.description = Some("loud rock with drums".into());
            stored(t, along(i, 0.1))
        })
        .collect();
    let mut kazoo = track("kazoo", "Kazoo Rock", "Band");
    kazoo.description = Some("rock played on a kazoo".into());
    items.push(stored(kazoo, along(3, 0.2)));
    store.upsert(items).unwrap();
    let mut c = ::postgres::Client::connect(&b.0.url, ::postgres::NoTls).unwrap();
    c.batch_execute(&format!("ANALYZE {}.tracks", b.0.name))
        .unwrap();

    let hits = ids(store
        .keyword_search("rock kazoo", &Filter::default(), 100)
        .unwrap());
    assert_eq!(
        hits,
        ["kazoo"],
        "only the track holding the distinctive word"
    );
    // Every word common: the tracks holding all of them, ranked.
    let all = store
        .keyword_search("loud rock", &Filter::default(), 100)
        .unwrap();
    assert_eq!(all.len(), 60, "the kazoo track is not loud");
    assert_eq!(
        store
            .keyword_search("rock", &Filter::default(), 100)
            .unwrap()
            .first()
            .map(|h| h.id.as_str()),
        Some("kazoo"),
        "a title match ranks first"
    );
}

/// PostgreSQL only: a large load into an empty catalog builds the vector index once at its
/// end; searches meanwhile are exact; a load that dies before its end leaves a catalog whose
/// next open builds the index.
#[test]
fn postgres_bulk_loads_build_the_vector_index_at_the_end() {
    use music_rag_store_postgres::BULK_LOAD_MIN_ROWS;
    let b = Postgres(TestSchema::new("bulk"));
    let mut c = ::postgres::Client::connect(&b.0.url, ::postgres::NoTls).unwrap();
    let index = format!("{}.tracks_embedding", b.0.name);
    let mut has_index = || -> bool {
        c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&index])
            .unwrap()
            .get(0)
    };

    let store = b.open();
    store.begin_bulk_load(BULK_LOAD_MIN_ROWS - 1).unwrap();
    assert!(has_index(), "a small load keeps the index");
    store.end_bulk_load().unwrap();

    store.begin_bulk_load(BULK_LOAD_MIN_ROWS).unwrap();
    assert!(!has_index(), "deferred while loading");
    store.upsert(catalog()).unwrap();
    let during = ids(store
        .dense_search(&along(2, 0.1), &Filter::default(), 3)
        .unwrap());
    store.end_bulk_load().unwrap();
    assert!(has_index(), "built at the end");
    let after = ids(store
        .dense_search(&along(2, 0.1), &Filter::default(), 3)
        .unwrap());
    assert_eq!(during, after);

    // A served catalog is never left without its index.
    store.begin_bulk_load(BULK_LOAD_MIN_ROWS).unwrap();
    assert!(has_index(), "only an empty catalog defers the index");
    store.end_bulk_load().unwrap();

    // A load that died: the next open builds the index.
    let other = Postgres(TestSchema::new("bulkdied"));
    let store = other.open();
    store.begin_bulk_load(BULK_LOAD_MIN_ROWS).unwrap();
    store.upsert(catalog()).unwrap();
    drop(store);
    let reopened = other.open();
    let mut c = ::postgres::Client::connect(&other.0.url, ::postgres::NoTls).unwrap();
    let present: bool = c
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{}.tracks_embedding", other.0.name)],
        )
        .unwrap()
        .get(0);
    assert!(present, "rebuilt at open");
    assert_eq!(reopened.count().unwrap(), catalog().len());
}

/// Replicas searching local copies see every write through any of them at once, with the
/// timestamps PostgreSQL gave it, and their searches are the embedded store's.
#[test]
fn replica_copies_follow_every_write_at_once() {
    let b = Replica::new(TestSchema::new("copies"));
    let one = loaded(&b);
    let two = b.open();
    let pg = b.source();
    let mut t = track("new", "Fresh Tune", "Late Arrival");
    t.metadata.genre = Some("Dance".into());
    one.upsert(vec![stored(t, along(7, 0.1))]).unwrap();
    assert_eq!(two.sequence().unwrap(), pg.sequence().unwrap());
    let copied = two.get("new").unwrap().unwrap();
    let held = pg.get("new").unwrap().unwrap();
    assert_eq!(copied.title, "Fresh Tune");
    assert_eq!(
        (&copied.created_at, &copied.updated_at),
        (&held.created_at, &held.updated_at),
        "the copy keeps PostgreSQL's timestamps"
    );
    assert_eq!(
        ids(two
            .dense_search(&along(7, 0.1), &Filter::default(), 1)
            .unwrap()),
        ["new"]
    );
    assert_eq!(
        ids(two
            .keyword_search("Frseh Tune", &Filter::default(), 1)
            .unwrap()),
        ["new"],
        "typos forgiven as the embedded store does"
    );
    assert!(pg.delete("new").unwrap());
    assert!(two.get("new").unwrap().is_none());
    assert!(two
        .keyword_search("Fresh Tune", &Filter::default(), 5)
        .unwrap()
        .iter()
        .all(|c| c.id != "new"));
    assert_eq!(one.count().unwrap(), catalog().len());
    // Several deletions between two reads are applied at once.
    for id in ["a", "b", "c"] {
        assert!(pg.delete(id).unwrap());
    }
    assert_eq!(two.count().unwrap(), catalog().len() - 3);
    assert!(two
        .get_many(&["a", "b", "c"])
        .unwrap()
        .iter()
        .all(Option::is_none));
    assert!(ids(two
        .dense_search(&along(0, 0.1), &Filter::default(), 10)
        .unwrap())
    .iter()
    .all(|id| !["a", "b", "c"].contains(&id.as_str())));
}

/// A restarted replica carries on from its copy (only what changed meanwhile is applied),
/// a copy that recorded an older point than it holds (killed between applying and recording)
/// applies the changes again to the same result, and a copy of a catalog that was dropped and
/// made again starts over.
#[test]
fn a_replica_copy_resumes_replays_and_starts_over() {
    use music_rag_store::{Access, EmbeddedStore};
    let b = Replica::new(TestSchema::new("resume"));
    let pg = b.source();
    pg.upsert(catalog()).unwrap();
    let copy_dir = b.copies.path().join("0");
    let copy_sequence = || {
        EmbeddedStore::open(&copy_dir, None, Access::ReadOnly)
            .unwrap()
            .sequence()
            .unwrap()
    };
    drop(b.open_at(0, MODEL).unwrap());
    let first = copy_sequence();

    // Meanwhile: one track deleted, one written.
    assert!(pg.delete("a").unwrap());
    pg.upsert(vec![stored(
        track("g", "Glass Harp", "Someone"),
        along(5, 0.3),
    )])
    .unwrap();
    // The changes come in write order, each batch saying through which write every change
    // is given (what an interrupted first copy resumes from).
    {
        use music_rag_store_postgres::{Change, PgError};
        let source = b.source();
        let (mut rows, mut marks, mut deleted) = (0, Vec::new(), Vec::new());
        let to = source
            .changes_since(0, 1, |change| -> Result<(), PgError> {
                match change {
                    Change::Deleted(ids) => deleted.extend(ids),
                    Change::Written {
                        tracks,
                        complete_through,
                    } => {
                        rows += tracks.len();
                        marks.push(complete_through);
                    }
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(to, pg.sequence().unwrap());
        assert_eq!(deleted, ["a"]);
        assert_eq!(rows, catalog().len());
        assert!(marks.windows(2).all(|w| w[0] <= w[1]), "{marks:?}");
        assert_eq!(
            marks.last(),
            Some(&(to - 1)),
            "the last write's row came last"
        );
        assert!(marks[0] < marks[marks.len() - 1], "{marks:?}");
    }
    let replica = b.open_at(0, MODEL).unwrap();
    assert_eq!(
        copy_sequence(),
        first + 2,
        "the deletion and the write applied, not the catalog copied again"
    );
    assert_eq!(replica.copied_sequence(), pg.sequence().unwrap());
    assert!(replica.get("a").unwrap().is_none());
    assert_eq!(replica.count().unwrap(), catalog().len());
    drop(replica);

    // Killed after applying, before recording: the changes are applied again.
    {
        let copy = EmbeddedStore::open(&copy_dir, Some(MODEL), Access::ReadWrite).unwrap();
        let mark = copy.copy_of().unwrap().unwrap();
        let catalog_id = mark.split(' ').next().unwrap();
        copy.set_copy_of(&format!("{catalog_id} 1")).unwrap();
    }
    let replica = b.open_at(0, MODEL).unwrap();
    assert_eq!(listed(&replica), listed(&pg));
    drop(replica);

    // The catalog dropped and made again under the same schema: the copy starts over.
    let mut c = ::postgres::Client::connect(&b.schema.url, ::postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP SCHEMA {} CASCADE", b.schema.name))
        .unwrap();
    let pg = b.source();
    pg.upsert(vec![stored(
        track("z", "Only One", "New Catalog"),
        along(1, 0.2),
    )])
    .unwrap();
    pg.upsert(vec![stored(
        track("y", "Second", "New Catalog"),
        along(2, 0.2),
    )])
    .unwrap();
    let replica = b.open_at(0, MODEL).unwrap();
    assert_eq!(listed(&replica), ["y", "z"]);

    // A second replica over the same folder is refused (it is in use), not corrupted.
    let again = b.open_at(0, MODEL);
    assert!(
        again
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("in use")),
        "{:?}",
        again.err()
    );
}

/// A catalog restored to an earlier state than a replica's copy: the replica gives its copy up
/// and answers from PostgreSQL (right, if slower), even once later writes reuse the copy's
/// sequence numbers, and its next start copies the catalog again.
#[test]
fn a_replica_whose_catalog_went_back_answers_from_postgres_then_copies_again() {
    let b = Replica::new(TestSchema::new("wentback"));
    let pg = b.source();
    pg.upsert(catalog()).unwrap();
    pg.upsert(vec![stored(
        track("g", "Glass Harp", "Someone"),
        along(5, 0.3),
    )])
    .unwrap();
    let replica = b.open_at(0, MODEL).unwrap();
    assert!(replica.get("g").unwrap().is_some());

    // Restored from a backup taken before the last write.
    let back = pg.sequence().unwrap() - 1;
    let mut c = ::postgres::Client::connect(&b.schema.url, ::postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DELETE FROM {s}.tracks WHERE id = 'g'; UPDATE {s}.store_state SET sequence = {back}",
        s = b.schema.name
    ))
    .unwrap();
    assert!(
        replica.get("g").unwrap().is_none(),
        "answered by PostgreSQL"
    );
    // The next write takes the sequence number the copy had reached.
    pg.upsert(vec![stored(
        track("h", "Hurdy Gurdy", "Late"),
        along(4, 0.3),
    )])
    .unwrap();
    assert_eq!(pg.sequence().unwrap(), replica.copied_sequence());
    assert_eq!(replica.get("h").unwrap().unwrap().title, "Hurdy Gurdy");
    assert!(replica.get("g").unwrap().is_none());
    assert_eq!(replica.count().unwrap(), catalog().len() + 1);
    drop(replica);

    let again = b.open_at(0, MODEL).unwrap();
    assert_eq!(again.copied_sequence(), pg.sequence().unwrap());
    assert!(again.get("g").unwrap().is_none());
    assert_eq!(again.get("h").unwrap().unwrap().title, "Hurdy Gurdy");
    assert_eq!(again.count().unwrap(), catalog().len() + 1);
}

/// Two replicas' engines: a write through one retires the other's cached response at once
/// (the cache is keyed by the sequence PostgreSQL holds).
#[test]
fn postgres_a_write_through_one_replica_retires_the_others_cache() {
    use music_rag_core::testing::HashingEmbedder;
    use music_rag_core::{Engine, SearchRequest};
    let b = Postgres(TestSchema::new("cache"));
    let model = ("hashing-test-embedder", 64);
    let engine = |b: &Postgres| {
        Engine::new(
            Arc::new(HashingEmbedder::new(64)),
            b.open_with(model).unwrap(),
        )
    };
    let (one, two) = (engine(&b), engine(&b));
    one.upsert(catalog().into_iter().map(|s| s.track).collect())
        .unwrap();
    let req = SearchRequest {
        text: "dusk quartet".into(),
        top_k: 3,
        ..Default::default()
    };
    two.search(&req).unwrap();
    assert!(two.search(&req).unwrap().cached);
    one.upsert(vec![track("f", "Strings at Dusk", "Evening Quartet")])
        .unwrap();
    let after = two.search(&req).unwrap();
    assert!(!after.cached);
    assert_eq!(after.hits[0].track.id, "f");
}

/// The use cases over the store: a repeated ingest changes nothing (content hashes), a
/// repeated search is served from the cache, and a write retires the cached response.
fn ingest_is_idempotent_and_writes_retire_cached_searches(b: &dyn Backend) {
    use music_rag_core::testing::HashingEmbedder;
    use music_rag_core::{Engine, SearchRequest};
    let model = ("hashing-test-embedder", 64);
    let engine = Engine::new(
        Arc::new(HashingEmbedder::new(64)),
        b.open_with(model).unwrap(),
    );
    let tracks: Vec<Track> = catalog().into_iter().map(|s| s.track).collect();
    assert_eq!(engine.upsert(tracks.clone()).unwrap().created, 5);
    let seq = engine.catalog().sequence().unwrap();
    let again = engine.upsert(tracks).unwrap();
    assert_eq!((again.created, again.unchanged), (0, 5));
    assert_eq!(engine.catalog().sequence().unwrap(), seq, "nothing written");
    let req = SearchRequest {
        text: "waltz for strings".into(),
        top_k: 3,
        ..Default::default()
    };
    let first = engine.search(&req).unwrap();
    assert!(!first.cached);
    assert!(engine.search(&req).unwrap().cached);
    engine
        .upsert(vec![track("f", "Strings at Dusk", "Evening Quartet")])
        .unwrap();
    let after = engine.search(&req).unwrap();
    assert!(!after.cached, "a write retires cached responses");
    assert!(
        after.hits.iter().any(|h| h.track.id == "f"),
        "and the next search sees it"
    );
}

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(#[test]
            fn $test() {
                super::$test(&super::Embedded(tempfile::tempdir().unwrap()));
            })*
        }
        mod embedded_from_disk {
            $(#[test]
            fn $test() {
                super::$test(&super::EmbeddedFromDisk(tempfile::tempdir().unwrap()));
            })*
        }
        mod postgres {
            $(#[test]
            fn $test() {
                super::$test(&super::Postgres(music_rag_store_postgres::test_database::TestSchema::new(stringify!($test).split('_').next().unwrap())));
            })*
        }
        mod replica {
            $(#[test]
            fn $test() {
                super::$test(&super::Replica::new(music_rag_store_postgres::test_database::TestSchema::new(stringify!($test).split('_').next().unwrap())));
            })*
        }
    };
}

contract!(
    upsert_get_list_and_count,
    batched_fetches_and_counts_match_one_by_one,
    upserts_replace_keep_created_and_move_the_sequence,
    deletes_leave_no_trace,
    dense_search_ranks_by_cosine,
    filters_apply_inside_both_retrievers,
    keyword_search_weighs_names_and_forgives_typos,
    typo_tolerance_keeps_one_budget,
    selections_count_sort_and_page_the_exact_set,
    keyword_hits_say_which_words_they_matched,
    audio_search_reads_audio_vectors_with_filters,
    writes_survive_reopening_and_another_model_is_refused,
    the_vocabulary_knows_facets_and_names,
    concurrent_writers_lose_and_double_nothing,
    ingest_is_idempotent_and_writes_retire_cached_searches,
);
