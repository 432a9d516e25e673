//! The real binary, the real model and the real store: plain-words search and filters.

use crate::common;

use common::{hits, ids, ok_json, run, shared_store};

fn search(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    ok_json(shared_store(), &all)
}

#[test]
fn misspelled_artist_and_title_find_the_song() {
    let v = search(&["jakson five abc", "--top-k", "1"]);
    assert_eq!(ids(&v), vec!["harmonix:0004_abc"]);
    // `--limit` is the same option, under the name other tools give it.
    assert_eq!(ids(&search(&["jakson five abc", "--limit", "1"])), ids(&v));
    let why = &hits(&v)[0]["why"]["matched_terms"];
    assert!(
        why.as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("jakson~")),
        "{why}"
    );
}

#[test]
fn plain_words_find_fitting_tracks() {
    let v = search(&[
        "sad song with gentle piano and a soft female voice",
        "--top-k",
        "5",
    ]);
    let hs = hits(&v);
    assert_eq!(hs.len(), 5);
    for h in &hs {
        let m = &h["track"]["metadata"];
        let text = format!(
            "{} {} {}",
            m["mood"], m["instrumentation"], h["track"]["description"]
        )
        .to_lowercase();
        assert!(
            ["sad", "melanchol", "piano", "female"]
                .iter()
                .any(|w| text.contains(w)),
            "an unfitting hit: {text}"
        );
    }
    // A hit's "why" names only the preferences it fits.
    for h in &hs {
        for p in h["why"]["preferences_matched"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            if let Some(list) = p.strip_prefix("instrument: ") {
                let inst = h["track"]["metadata"]["instrumentation"]
                    .to_string()
                    .to_lowercase();
                assert!(
                    list.split(" | ").any(|i| inst.contains(i)),
                    "{p} listed for {inst}"
                );
            }
        }
    }
    // The parse is reported with the results.
    let prefs = &v["parsed"]["preferences"];
    assert!(
        prefs["instruments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "piano"),
        "{prefs}"
    );
}

#[test]
fn west_african_drumming_over_130_bpm() {
    let v = search(&["West African drumming over 130 bpm", "--top-k", "5"]);
    let hs = hits(&v);
    assert!(!hs.is_empty());
    assert_eq!(hs[0]["id"], "extra:djembe");
    for h in &hs {
        let tempo = h["track"]["metadata"]["tempo"].as_f64().unwrap();
        assert!(tempo >= 130.0, "tempo {tempo} breaks the parsed filter");
    }
}

#[test]
fn the_issue_example_parses_and_filters() {
    let v = search(&[
        "fast 80s synth pop without vocals under 140 bpm",
        "--top-k",
        "5",
    ]);
    let p = &v["parsed"];
    assert_eq!(p["filters"]["tempo"]["max"], 140.0);
    assert_eq!(p["filters"]["year"]["min"], 1980.0);
    assert_eq!(p["filters"]["exclude_instruments"][0], "vocals");
    // Only the instrumental 80s synth pop track satisfies every hard constraint.
    assert_eq!(ids(&v), vec!["extra:synthpop"]);
}

#[test]
fn every_hit_satisfies_every_flag_filter() {
    let v = search(&[
        "dance", "--genre", "pop", "--tempo", "100-120", "--top-k", "20",
    ]);
    let hs = hits(&v);
    assert!(hs.len() >= 5, "expected several pop tracks at 100-120 bpm");
    for h in &hs {
        let m = &h["track"]["metadata"];
        assert!(
            m["genre"].as_str().unwrap().to_lowercase().contains("pop"),
            "{m}"
        );
        let t = m["tempo"].as_f64().unwrap();
        assert!((100.0..=120.0).contains(&t), "{t}");
        assert!(!h["why"]["filters_satisfied"].as_array().unwrap().is_empty());
    }
}

#[test]
fn mood_instrument_live_year_key_origin_filters() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "music",
                "--year",
                "1980-1989",
                "--instrument",
                "synthesizer",
            ],
            "extra:synth",
        ),
        (&["music", "--origin", "west african", "--studio"], "none"),
    ];
    for (args, expect) in cases {
        let mut all = args.to_vec();
        all.extend(["--top-k", "50", "--no-parse"]);
        let v = search(&all);
        let got = ids(&v);
        if *expect == "none" {
            assert!(got.is_empty(), "{args:?} matched {got:?}");
        } else {
            assert!(!got.is_empty(), "{args:?} matched nothing");
            assert!(
                got.iter().all(|id| id.starts_with(expect)),
                "{args:?} -> {got:?}"
            );
        }
    }
    // Keys compare by pitch class and mode: every spelling of A minor, and only A minor.
    for spelling in ["A minor", "Am", "a min"] {
        let v = search(&["music", "--key", spelling, "--top-k", "50", "--no-parse"]);
        assert!(ids(&v).contains(&"extra:djembe".to_string()), "{spelling}");
        for h in hits(&v) {
            assert_eq!(h["track"]["metadata"]["key"], "A minor", "{spelling}: {h}");
        }
    }
    let v = search(&["music", "--mood", "energetic", "--live", "--top-k", "50"]);
    assert!(ids(&v).contains(&"extra:highlife".to_string()));
    for h in hits(&v) {
        let m = &h["track"]["metadata"];
        assert_eq!(m["is_live_performance"], true, "{m}");
        assert!(
            m["mood"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "energetic"),
            "{m}"
        );
    }
    // Mood filters look at every mood of a track, not only the first.
    let v = search(&["music", "--mood", "intense", "--no-parse", "--top-k", "100"]);
    assert!(ids(&v).contains(&"extra:djembe".to_string()));
}

#[test]
fn a_filter_that_matches_nothing_returns_nothing() {
    let v = search(&["jazz", "--genre", "no-such-genre-anywhere"]);
    assert!(hits(&v).is_empty());
}

#[test]
fn human_output_and_explain() {
    let out = run(
        shared_store(),
        &["search", "jakson five abc", "-k", "2", "--explain"],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ABC — The Jackson 5"), "{text}");
    assert!(text.contains("why:") && text.contains("timings:"), "{text}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = run(shared_store(), &["search", "x", "--tempo", "fast"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tempo") && err.contains("range"), "{err}");
    let out = run(shared_store(), &["search", "x", "--top-k", "500"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("top_k"));
}

#[test]
fn item_and_stats() {
    let v = ok_json(shared_store(), &["item", "harmonix:0004_abc"]);
    assert_eq!(v["metadata"]["tempo"], 94.0);
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
    let out = run(shared_store(), &["item", "nope"]);
    assert!(!out.status.success());
    let s = ok_json(shared_store(), &["stats"]);
    let n = s["tracks"].as_u64().unwrap();
    assert!(n > 1200, "{s}");
    assert_eq!(s["text_embeddings_count"].as_u64().unwrap(), n);
}

/// A normalised genre the way the filter compares it.
fn genre_words(h: &serde_json::Value) -> String {
    let m = &h["track"]["metadata"];
    format!("{} {}", m["genre"], m["subgenre"])
        .to_lowercase()
        .replace(['-', '_'], " ")
}

#[test]
fn a_genre_filter_reads_the_genre_field_only() {
    let v = search(&[
        "energetic dance music",
        "--genre",
        "Hip-Hop",
        "--top-k",
        "10",
    ]);
    let hs = hits(&v);
    assert_eq!(hs.len(), 10, "{v}");
    for h in &hs {
        assert!(genre_words(h).contains("hip hop"), "not hip hop: {h}");
    }
    // Other spellings are the same genre.
    let other = search(&[
        "energetic dance music",
        "--genre",
        "hiphop",
        "--top-k",
        "10",
    ]);
    assert_eq!(ids(&v), ids(&other));
    // Tags have their own filter.
    for h in hits(&search(&["guitar", "--tag", "no voice", "--top-k", "5"])) {
        let tags = h["track"]["tags"].to_string().to_lowercase();
        assert!(tags.contains("no voice"), "{tags}");
    }
}

#[test]
fn an_instrument_filter_reads_the_instrumentation() {
    let v = search(&["relaxing music", "--instrument", "piano", "--top-k", "10"]);
    let hs = hits(&v);
    assert!(!hs.is_empty());
    for h in &hs {
        let inst = h["track"]["metadata"]["instrumentation"]
            .to_string()
            .to_lowercase();
        assert!(inst.contains("piano"), "no piano: {inst}");
    }
}

#[test]
fn time_signatures_and_keys_in_plain_words_are_filters() {
    let v = search(&["waltzes in 3/4", "--top-k", "10", "--explain"]);
    let hs = hits(&v);
    assert!(!hs.is_empty(), "{v}");
    for h in &hs {
        assert_eq!(h["track"]["metadata"]["time_signature"], "3/4", "{h}");
    }
    assert_eq!(v["parsed"]["filters"]["time_signatures"][0], "3/4");
    let v = search(&["songs in 6/8", "--top-k", "20"]);
    let hs = hits(&v);
    assert!(!hs.is_empty());
    assert!(hs
        .iter()
        .all(|h| h["track"]["metadata"]["time_signature"] == "6/8"));
    let v = search(&["west african drumming in a minor", "--top-k", "5"]);
    assert_eq!(ids(&v)[0], "extra:djembe", "{v}");
    assert!(hits(&v)
        .iter()
        .all(|h| h["track"]["metadata"]["key"] == "A minor"));
    let v = search(&["music in a major key", "--top-k", "30"]);
    for h in hits(&v) {
        let key = h["track"]["metadata"]["key"].as_str().unwrap_or("");
        assert!(key.ends_with("major"), "{key}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly_with_success() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for args in [
        vec!["search", "music", "--top-k", "100", "--explain"],
        vec!["list"],
    ] {
        let mut child = common::bin()
            .arg("--data-dir")
            .arg(shared_store())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is gone (as `| head -1` would be); the rest of the output has nowhere to go.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!first.is_empty(), "{args:?}");
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(
            !err.contains("panicked") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
}

/// `model embed` gives scripts the query vectors search uses: one JSON line per text, unit
/// length, the model's dimension and id, the same from arguments and from standard input.
#[test]
fn model_embed_writes_query_vectors_for_scripts() {
    use std::io::Write;
    let out = run(
        shared_store(),
        &["model", "embed", "slow sad piano", "west african drums"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let vector = |v: &serde_json::Value| -> Vec<f64> {
        v["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let first = vector(&lines[0]);
    assert_eq!(first.len(), 384);
    let norm = first.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "unit length, got {norm}");
    assert!(lines[0]["embedding_model"]
        .as_str()
        .unwrap()
        .starts_with("MiniLM"));
    assert_ne!(first, vector(&lines[1]));

    let mut child = common::bin()
        .args(["model", "embed"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"slow sad piano\n")
        .unwrap();
    let piped = child.wait_with_output().unwrap();
    let from_stdin: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&piped.stdout).trim()).unwrap();
    assert_eq!(from_stdin["text"], "slow sad piano");
    assert_eq!(vector(&from_stdin), first);
}

/// `bench-search` measures the real engine on the store; with no warm rounds it reports the
/// warm sets as empty instead of failing.
#[test]
fn bench_search_reports_latencies_and_takes_zero_warm_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("queries.txt");
    std::fs::write(&queries, "calm piano\nenergetic dance music\n").unwrap();
    let report = ok_json(
        shared_store(),
        &[
            "bench-search",
            "--queries",
            queries.to_str().unwrap(),
            "--warm-rounds",
            "0",
        ],
    );
    assert!(report["tracks"].as_u64().unwrap() > 0, "{report}");
    // Five prefixes of two queries, alternately plain and filtered.
    assert_eq!(report["cold"]["n"], 5);
    assert_eq!(report["cold_filtered"]["n"], 5);
    assert!(report["cold"]["p95_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(report["warm"]["n"], 0);
    assert_eq!(report["warm_filtered"]["n"], 0);
}
