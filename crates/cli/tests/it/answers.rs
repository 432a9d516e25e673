//! Answers, recommendations, playlists and evaluation: the real binary, the real model and
//! store, over real HTTP; a local chat-completions server stands in for a hosted model.

use crate::common;

use common::server::*;
use music_rag_llm::fake::{FakeServer, Reply};
use serde_json::{json, Value};

fn numbers(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// Every number and name in an answer appears in a track it cites.
fn assert_faithful(resp: &Value, tracks: &[Value]) {
    let answer = resp["answer"].as_str().unwrap();
    let cited: Vec<&Value> = resp["cited"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &tracks[n.as_u64().unwrap() as usize - 1])
        .collect();
    assert!(
        !cited.is_empty(),
        "a grounded answer cites something: {answer}"
    );
    // Citation markers themselves are not facts.
    let mut facts_only = answer.to_string();
    for n in 1..=tracks.len() {
        facts_only = facts_only.replace(&format!("[{n}]"), "");
    }
    let known: Vec<f64> = cited.iter().flat_map(|t| numbers(&t.to_string())).collect();
    for n in numbers(&facts_only) {
        assert!(
            known.iter().any(|k| (k - n).abs() <= 0.5),
            "{n} in {answer:?} is in no cited track"
        );
    }
    for (i, part) in answer.split('"').enumerate() {
        if i % 2 == 1 {
            assert!(
                cited.iter().any(|t| t["title"] == part),
                "title {part:?} is in no cited track: {:?} {:?}",
                resp["cited"],
                cited.iter().map(|t| t["title"].clone()).collect::<Vec<_>>()
            );
        }
    }
    for part in answer.split("\" by ").skip(1) {
        let end = [
            " runs",
            " is ",
            " lasts",
            " appears",
            " feels",
            " features",
            " comes",
            " (",
            " [",
        ]
        .iter()
        .filter_map(|d| part.find(d))
        .min()
        .unwrap_or(part.len());
        let artist = &part[..end];
        assert!(
            cited.iter().any(|t| t["artist"] == artist),
            "artist {artist:?} is in no cited track"
        );
    }
}

fn ask(app: &App, body: Value) -> Value {
    let (status, r) = call(
        "POST",
        &format!("{}/v1/ask", app.base),
        Some(READER),
        Some(body),
    );
    assert_eq!(status, 200);
    json_of(r)
}

fn source_tracks(app: &App, resp: &Value) -> Vec<Value> {
    resp["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let id = s["id"].as_str().unwrap();
            json_of(
                call(
                    "GET",
                    &format!("{}/v1/tracks/{id}", app.base),
                    Some(READER),
                    None,
                )
                .1,
            )
        })
        .collect()
}

#[test]
fn answers_say_when_the_catalog_lacks_a_named_artist_title_or_album() {
    let app = spawn_app(&[]);
    for (q, said) in [
        (
            "what songs by the band Zorblax Quartet do you have?",
            "no artist named \"Zorblax Quartet\"",
        ),
        (
            "what tempo is Velvet Hammer Overdrive by Glimmerjack?",
            "no artist named \"Glimmerjack\"",
        ),
        (
            "who sang \"Crimson Lantern Parade\"?",
            "no track, artist or album named \"Crimson Lantern Parade\"",
        ),
        (
            "what is on the album Glass Harbour Nights?",
            "no album named \"Glass Harbour Nights\"",
        ),
    ] {
        let r = ask(&app, json!({"question": q}));
        let answer = r["answer"].as_str().unwrap();
        assert!(answer.starts_with("The catalog has "), "{q}: {answer}");
        assert!(answer.contains(said), "{q}: {answer}");
        assert_eq!(r["grounded"], false, "{q}: {r}");
        assert!(!r["missing"].as_array().unwrap().is_empty(), "{r}");
        if !r["sources"].as_array().unwrap().is_empty() {
            assert!(answer.contains("not what you asked for"), "{answer}");
        }
    }
    // A name the catalog holds is answered as before.
    let r = ask(&app, json!({"question": "songs by the jacksn 5"}));
    assert!(r.get("missing").is_none(), "{r}");
    assert_eq!(r["grounded"], true, "{r}");
}

#[test]
fn extractive_answers_cite_real_tracks_and_decline_when_nothing_fits() {
    let app = spawn_app(&[]);
    let r = ask(
        &app,
        json!({"question": "what tempo is ABC by the Jackson 5?"}),
    );
    assert_eq!(r["answer"], "\"ABC\" by The Jackson 5 runs at 94 BPM [1].");
    assert_eq!(r["sources"][0]["id"], "harmonix:0004_abc");
    assert_eq!(r["generator"], "extractive");
    assert_eq!(r["grounded"], true);
    assert_eq!(r["cited"], json!([1]));
    for q in [
        "what tempo is ABC by the Jackson 5?",
        "who sang Bad Romance?",
        "what is the time signature of Bad Romance",
        "sad piano ballads with a soft female voice",
        "upbeat dance songs over 120 bpm",
        "calm classical string quartet",
    ] {
        let r = ask(&app, json!({"question": q}));
        assert_eq!(r["grounded"], true, "{q}: {r}");
        assert!(r["citation_issues"].as_array().unwrap().is_empty());
        let tracks = source_tracks(&app, &r);
        assert_faithful(&r, &tracks);
    }
    for q in [
        "what is the capital of France?",
        "quantum physics lecture about black holes",
    ] {
        let r = ask(&app, json!({"question": q}));
        assert_eq!(r["grounded"], false, "{q}: {r}");
        assert_eq!(r["sources"], json!([]));
        assert_eq!(r["cited"], json!([]));
        let answer = r["answer"].as_str().unwrap();
        assert!(
            answer.contains("questions about the music in this catalog")
                || answer.contains("found nothing in the catalog"),
            "{q}: {answer}"
        );
    }
    // A question about no music at all says so plainly.
    let r = ask(&app, json!({"question": "what is the capital of France?"}));
    assert_eq!(r["generator"], "planner", "{r}");
    let (status, r) = call(
        "POST",
        &format!("{}/v1/ask", app.base),
        Some(READER),
        Some(json!({"question": ""})),
    );
    assert_eq!(status, 422);
    assert_eq!(json_of(r)["error"]["field"], "text");
}

/// (event, data) pairs of a server-sent event stream.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            event.map(|e| (e, serde_json::from_str(&data).unwrap_or(Value::Null)))
        })
        .collect()
}

#[test]
fn streamed_answers_send_tokens_then_sources_then_the_checked_answer() {
    let app = spawn_app(&[]);
    let (status, r) = call(
        "POST",
        &format!("{}/v1/ask", app.base),
        Some(READER),
        Some(json!({"question": "what tempo is ABC by the Jackson 5?", "stream": true})),
    );
    assert_eq!(status, 200);
    assert!(r.content_type().starts_with("text/event-stream"));
    let ev = events(&r.into_string().unwrap());
    let kinds: Vec<&str> = ev.iter().map(|(k, _)| k.as_str()).collect();
    let first_sources = kinds
        .iter()
        .position(|k| *k == "sources")
        .expect("a sources event");
    assert!(first_sources > 1, "tokens come first: {kinds:?}");
    assert!(kinds[..first_sources].iter().all(|k| *k == "token"));
    assert_eq!(kinds[first_sources + 1..], ["done"]);
    let streamed: String = ev
        .iter()
        .filter(|(k, _)| k == "token")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    let done = &ev.last().unwrap().1;
    assert_eq!(streamed, done["answer"].as_str().unwrap());
    assert_eq!(ev[first_sources].1["sources"][0]["id"], "harmonix:0004_abc");
}

#[test]
fn a_configured_model_writes_answers_enhances_queries_and_failures_fall_back() {
    let model = FakeServer::start(vec![
        Reply::Stream(vec!["ABC runs at".into(), " 94 BPM [1]".into(), ", not 300 BPM [7].".into()]),
        Reply::Completion(
            r#"{"query": "melancholy piano ballad", "genres": ["ballad"], "moods": ["sad", "vaporwave"]}"#.into(),
        ),
        Reply::Status(500, None),
    ]);
    let app = spawn_app(&[
        ("OPENAI_BASE_URL", model.base_url.as_str()),
        ("OPENAI_MODEL", "test-model"),
        ("OPENAI_API_KEY", "sk-test"),
        ("MUSIC_RAG_LLM_MAX_RETRIES", "1"),
    ]);
    let r = ask(
        &app,
        json!({"question": "what tempo is ABC by the Jackson 5?"}),
    );
    assert_eq!(r["generator"], "openai");
    assert_eq!(r["answer"], "ABC runs at 94 BPM [1], not 300 BPM.");
    assert_eq!(r["citation_issues"][0]["marker"], "[7]");
    assert_eq!(r["usage"]["total_tokens"], 49);
    let sent = &model.received()[0];
    assert_eq!(sent.authorization.as_deref(), Some("Bearer sk-test"));
    let prompt = sent.body["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("[1] \"ABC\" by The Jackson 5") && prompt.contains("tempo: 94 BPM"));

    let (status, s) = call(
        "POST",
        &format!("{}/v1/search", app.base),
        Some(READER),
        Some(json!({"text": "sad songs", "enhance": true, "top_k": 5})),
    );
    assert_eq!(status, 200);
    let e = &json_of(s)["enhancement"];
    assert_eq!(e["applied"], true);
    assert_eq!(e["rewritten_query"], "melancholy piano ballad");
    assert_eq!(e["accepted"]["moods"], json!(["sad"]));
    assert!(e["rejected"][0].as_str().unwrap().contains("vaporwave"));

    let r = ask(
        &app,
        json!({"question": "what tempo is ABC by the Jackson 5?", "top_k": 4}),
    );
    assert_eq!(r["generator"], "extractive");
    assert_eq!(r["fallback"]["from"], "openai");
    assert!(
        r["fallback"]["reason"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{r}"
    );
    assert_eq!(r["answer"], "\"ABC\" by The Jackson 5 runs at 94 BPM [1].");

    // The command line reads the same settings from the environment.
    let out = common::bin()
        .arg("--data-dir")
        .arg(&app.data)
        .args(["ask", "what tempo is ABC by the Jackson 5?", "--json"])
        .env("OPENAI_BASE_URL", &model.base_url)
        .env("OPENAI_MODEL", "test-model")
        .env("MUSIC_RAG_LLM_MAX_RETRIES", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["fallback"]["from"], "openai");
    assert!(cli["answer"].as_str().unwrap().contains("94 BPM [1]"));
}

#[test]
fn recommendations_never_return_seeds_and_honour_filters() {
    let app = spawn_app(&[]);
    let url = format!("{}/v1/recommend", app.base);
    let seeds = ["harmonix:0004_abc", "harmonix:0145_iwantyouback"];
    let (status, r) = call(
        "POST",
        &url,
        Some(READER),
        Some(json!({"positive": seeds, "top_k": 10})),
    );
    assert_eq!(status, 200);
    let hits = json_of(r)["hits"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 10);
    let ids: Vec<&str> = hits
        .iter()
        .map(|h| h["track"]["id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| !seeds.contains(id)), "{ids:?}");
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    let body = json!({"positive": [seeds[0]], "negative": [seeds[1]], "filters": {"genres": ["rock"]}, "top_k": 5});
    let (status, r) = call("POST", &url, Some(READER), Some(body));
    assert_eq!(status, 200);
    for h in json_of(r)["hits"].as_array().unwrap() {
        let genre = h["track"]["metadata"]["genre"]
            .as_str()
            .unwrap_or("")
            .to_lowercase();
        assert!(genre.contains("rock"), "{genre}");
        assert_ne!(h["track"]["id"], seeds[1]);
    }
    let (status, r) = call(
        "POST",
        &url,
        Some(READER),
        Some(json!({"positive": ["nope:1", seeds[0], "nope:2"]})),
    );
    assert_eq!(status, 404);
    let message = json_of(r)["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("nope:1") && message.contains("nope:2"),
        "{message}"
    );
    let (status, r) = call("POST", &url, Some(READER), Some(json!({"positive": []})));
    assert_eq!(status, 422);
    assert_eq!(json_of(r)["error"]["field"], "positive");
}

fn artist_key(t: &Value) -> Option<String> {
    let a = t["artist"].as_str().unwrap_or("").to_lowercase();
    (a != "unknown artist" && !a.is_empty()).then_some(a)
}

#[test]
fn playlists_flow_and_export() {
    let app = spawn_app(&[]);
    let url = format!("{}/v1/playlist", app.base);
    let body = json!({"prompt": "energetic rock", "length": 12, "filters": {"tempo": {"min": 100, "max": 160}}});
    let (status, r) = call("POST", &url, Some(READER), Some(body.clone()));
    assert_eq!(status, 200);
    let p = json_of(r);
    let entries = p["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 12);
    let tracks: Vec<&Value> = entries.iter().map(|e| &e["track"]).collect();
    let mut ids: Vec<&str> = tracks.iter().map(|t| t["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "no duplicates");
    for w in tracks.windows(2) {
        if let (Some(a), Some(b)) = (artist_key(w[0]), artist_key(w[1])) {
            assert_ne!(a, b, "the same artist twice in a row");
        }
        let (a, b) = (
            w[0]["metadata"]["tempo"].as_f64().unwrap(),
            w[1]["metadata"]["tempo"].as_f64().unwrap(),
        );
        assert!((a - b).abs() <= 18.0, "tempo step {a} -> {b}");
    }
    for t in &tracks {
        let tempo = t["metadata"]["tempo"].as_f64().unwrap();
        assert!((100.0..=160.0).contains(&tempo), "filter honoured: {tempo}");
    }
    let (status, r) = call(
        "POST",
        &format!("{url}?format=m3u"),
        Some(READER),
        Some(body.clone()),
    );
    assert_eq!(status, 200);
    assert!(r.content_type().contains("mpegurl"));
    // No track of the sample has an audio file: the M3U plays nothing and says so.
    assert_eq!(r.header("x-playlist-left-out"), Some("12"));
    let m3u = r.into_string().unwrap();
    assert!(m3u.starts_with("#EXTM3U\n"));
    assert!(
        m3u.contains("# 12 of 12 tracks left out: they have no audio file"),
        "{m3u}"
    );
    assert_eq!(
        m3u.lines().filter(|l| !l.starts_with('#')).count(),
        0,
        "{m3u}"
    );
    // Each is still named, in a comment.
    assert_eq!(m3u.matches("\n# no audio: ").count(), 12, "{m3u}");
    let (_, r) = call(
        "POST",
        &format!("{url}?format=jspf"),
        Some(READER),
        Some(body),
    );
    let jspf: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
    assert_eq!(jspf["playlist"]["track"].as_array().unwrap().len(), 12);

    let (status, r) = call(
        "POST",
        &url,
        Some(READER),
        Some(json!({"prompt": "upbeat pop", "minutes": 20})),
    );
    assert_eq!(status, 200);
    let p = json_of(r);
    // The total counts known durations only; the others are counted, never guessed into it.
    let entries = p["entries"].as_array().unwrap();
    let known: f64 = entries
        .iter()
        .filter_map(|e| e["track"]["metadata"]["duration"].as_f64())
        .sum();
    let unknown = entries
        .iter()
        .filter(|e| e["track"]["metadata"]["duration"].is_null())
        .count();
    assert!(
        (p["total_seconds"].as_f64().unwrap() - known).abs() < 1.0,
        "{p}"
    );
    assert_eq!(p["unknown_durations"].as_u64(), Some(unknown as u64));
    assert_eq!(p["duration_estimated"], unknown > 0);
    // Filling minutes counts a track of unknown length as 210 s (ASSUMED_SECONDS), and a
    // running time is met within 5 % either way.
    let estimated = known + 210.0 * unknown as f64;
    assert!(
        (1140.0..=1260.0).contains(&estimated),
        "20 minutes were asked for, {estimated} s given: {p}"
    );
    let seeded = json!({"seed_ids": ["harmonix:0004_abc"], "length": 6});
    let (status, r) = call("POST", &url, Some(READER), Some(seeded));
    assert_eq!(status, 200);
    assert_eq!(json_of(r)["entries"].as_array().unwrap().len(), 6);
    for (body, field) in [
        (json!({"prompt": "x", "length": 0}), "length"),
        (json!({"length": 5}), "text"),
        (json!({"prompt": "x", "length": 5, "minutes": 3}), "minutes"),
    ] {
        let (status, r) = call("POST", &url, Some(READER), Some(body));
        assert_eq!(status, 422);
        assert_eq!(json_of(r)["error"]["field"], field);
    }
    let (status, r) = call(
        "POST",
        &format!("{url}?format=xml"),
        Some(READER),
        Some(json!({"prompt": "x"})),
    );
    assert_eq!(status, 422);
    assert_eq!(json_of(r)["error"]["field"], "format");
}

#[test]
fn a_playlist_is_extended_as_it_is_with_tracks_that_fit_it() {
    let app = spawn_app(&[]);
    let url = format!("{}/v1/playlist", app.base);
    let (_, r) = call(
        "POST",
        &url,
        Some(READER),
        Some(json!({"prompt": "energetic rock", "length": 8})),
    );
    let given: Vec<String> = json_of(r)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(given.len(), 8);
    let (status, r) = call(
        "POST",
        &url,
        Some(READER),
        Some(json!({"expand": given, "length": 6})),
    );
    assert_eq!(status, 200);
    let p = json_of(r);
    let tracks: Vec<&Value> = p["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["track"])
        .collect();
    let ids: Vec<&str> = tracks.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 14, "8 given and 6 added");
    assert_eq!(
        ids[..8],
        given.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 14, "nothing twice");
    // No artist more often than the caps (max(2, 14/5) = 2) allow among what was added.
    let mut per_artist = std::collections::HashMap::new();
    for t in &tracks {
        if let Some(a) = artist_key(t) {
            *per_artist.entry(a).or_insert(0) += 1;
        }
    }
    for t in &tracks[8..] {
        if let Some(a) = artist_key(t) {
            assert!(per_artist[&a] <= 2, "{a} appears {} times", per_artist[&a]);
        }
    }
    // The added tracks fit: energetic rock stays rock-ish (the genre of most given tracks).
    let given_genres: Vec<&str> = tracks[..8]
        .iter()
        .filter_map(|t| t["metadata"]["genre"].as_str())
        .collect();
    let added_fit = tracks[8..]
        .iter()
        .filter(|t| {
            t["metadata"]["genre"]
                .as_str()
                .is_some_and(|g| given_genres.contains(&g))
        })
        .count();
    assert!(
        added_fit >= 3,
        "{added_fit} of 6 added share a genre with the playlist"
    );

    // The same from the command line, from a file of ids.
    let list = app.data.parent().unwrap().join("given.txt");
    std::fs::write(&list, ids[..8].join("\n")).unwrap();
    let out = common::ok_json(
        &app.data,
        &["playlist", "--expand", list.to_str().unwrap(), "-n", "3"],
    );
    let cli: Vec<&str> = out["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(cli.len(), 11);
    assert_eq!(cli[..8], ids[..8]);

    // Refusals name the field.
    for (body, field, status) in [
        (json!({"expand": ["nope"], "length": 2}), "expand", 404),
        (
            json!({"expand": [ids[0]], "seed_ids": [ids[1]]}),
            "expand",
            422,
        ),
    ] {
        let (code, r) = call("POST", &url, Some(READER), Some(body));
        assert_eq!(code, status);
        let err = json_of(r)["error"].clone();
        assert!(
            err["field"] == field || err["message"].as_str().unwrap().contains(field),
            "{err}"
        );
    }
}

#[test]
fn command_line_playlist_similar_and_eval() {
    let data = common::shared_store();
    let tmp = tempfile::tempdir().unwrap();
    let out_file = tmp.path().join("rock.jspf");
    let p = common::ok_json(
        data,
        &[
            "playlist",
            "energetic rock",
            "-n",
            "5",
            "-o",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(p["entries"].as_array().unwrap().len(), 5);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(written["playlist"]["track"].as_array().unwrap().len(), 5);

    let s = common::ok_json(data, &["similar", "harmonix:0004_abc", "-k", "3"]);
    assert_eq!(s["hits"].as_array().unwrap().len(), 3);
    let out = common::run(data, &["similar", "harmonix:missing"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("harmonix:missing"));

    // Follow-ups from the command line: a search's --json output refined by `ask --previous`.
    let searched = common::ok_json(data, &["search", "songs with piano or strings", "-k", "8"]);
    let hits: Vec<&str> = searched["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(searched["conversation"]["sources"], json!(hits));
    let saved = tmp.path().join("search.json");
    std::fs::write(&saved, searched.to_string()).unwrap();
    let narrowed = common::ok_json(
        data,
        &[
            "ask",
            "only the ones with piano",
            "--previous",
            saved.to_str().unwrap(),
        ],
    );
    let kept = source_ids(&narrowed);
    assert!(
        !kept.is_empty() && kept.iter().all(|id| hits.contains(&id.as_str())),
        "{narrowed}"
    );
    let bad = tmp.path().join("not-a-conversation.json");
    std::fs::write(&bad, "{\"sources\": 3}").unwrap();
    let out = common::run(
        data,
        &["ask", "calmer", "--previous", bad.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--previous"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let queries = tmp.path().join("q.jsonl");
    std::fs::write(
        &queries,
        "{\"query\": \"jacksn 5 abc\", \"relevant\": [\"harmonix:0004_abc\"], \"kind\": \"known_item\"}\n\
         {\"query\": \"bad romance lady gaga\", \"relevant\": [\"harmonix:0017_badromance\"], \"kind\": \"known_item\"}\n",
    )
    .unwrap();
    let e = common::ok_json(data, &["eval", "--queries", queries.to_str().unwrap()]);
    let rows = e["results"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "four methods");
    for r in rows {
        for m in ["precision", "recall", "ndcg", "mrr", "rank1"] {
            let v = r[m].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v));
        }
    }
    let full = rows
        .iter()
        .find(|r| r["method"] == "hybrid + parsing + rerank")
        .unwrap();
    assert_eq!(full["rank1"], 1.0);
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"query\": \"x\", \"relevant\": []}\n").unwrap();
    let out = common::run(data, &["eval", "--queries", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("relevant must list"));
}

#[test]
fn a_slow_model_does_not_hold_the_search_slots() {
    let model = FakeServer::start(vec![Reply::Slow(
        std::time::Duration::from_millis(2500),
        Box::new(Reply::Stream(vec!["ABC runs at 94 BPM [1].".into()])),
    )]);
    let app = spawn_app(&[
        ("OPENAI_BASE_URL", model.base_url.as_str()),
        ("OPENAI_MODEL", "test-model"),
        ("MUSIC_RAG_MAX_CONCURRENT_SEARCHES", "1"),
    ]);
    let ask_url = format!("{}/v1/ask", app.base);
    let asking = std::thread::spawn(move || {
        let (status, r) = call(
            "POST",
            &ask_url,
            Some(READER),
            Some(json!({"question": "what tempo is ABC by the Jackson 5?"})),
        );
        (status, json_of(r))
    });
    // Wait until the model has the request, then search while it is still writing.
    let start = std::time::Instant::now();
    while model.received().is_empty() {
        assert!(
            start.elapsed().as_secs() < 20,
            "the model never got the question"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let t = std::time::Instant::now();
    let (status, _) = call(
        "POST",
        &format!("{}/v1/search", app.base),
        Some(READER),
        Some(json!({"text": "sad piano"})),
    );
    assert_eq!(status, 200);
    assert!(
        t.elapsed().as_millis() < 2000,
        "search waited for the model: {:?}",
        t.elapsed()
    );
    let (status, answer) = asking.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(answer["generator"], "openai");
}

/// Ids of an answer's sources, in order.
fn source_ids(resp: &Value) -> Vec<String> {
    resp["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn follow_ups_refine_the_previous_answer_without_server_sessions() {
    let app = spawn_app(&[]);
    let first = ask(
        &app,
        json!({"text": "songs with piano or strings", "top_k": 10}),
    );
    let conversation = first["conversation"].clone();
    assert_eq!(conversation["question"], "songs with piano or strings");
    assert_eq!(
        conversation["sources"].as_array().unwrap().len(),
        first["sources"].as_array().unwrap().len()
    );
    let before = source_ids(&first);
    assert!(before.len() >= 3, "{first}");

    // Narrowed: only tracks of the previous answer that also have piano, each cited.
    let piano = ask(
        &app,
        json!({"text": "only the ones with piano", "previous": conversation, "top_k": 10}),
    );
    let kept = source_ids(&piano);
    assert!(!kept.is_empty(), "{piano}");
    assert!(kept.iter().all(|id| before.contains(id)), "{piano}");
    for t in source_tracks(&app, &piano) {
        assert!(
            t.to_string().to_lowercase().contains("piano"),
            "{} has no piano",
            t["title"]
        );
    }
    let text = piano["answer"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "Of the previous {} tracks, {} fit",
            before.len(),
            kept.len()
        )),
        "{piano}"
    );
    // Past the counts, every title and number is a cited track's.
    let mut listed = piano.clone();
    listed["answer"] = json!(text.split_once(": ").unwrap().1);
    assert_faithful(&listed, &source_tracks(&app, &piano));

    // More like the second one: the seed is not its own neighbour; answers name only sources.
    let like = ask(
        &app,
        json!({"text": "more like the second one", "previous": piano["conversation"], "top_k": 5}),
    );
    let seed = &kept[1.min(kept.len() - 1)];
    assert!(!source_ids(&like).contains(seed), "{like}");
    let text = like["answer"].as_str().unwrap();
    let seed_title = json_of(
        call(
            "GET",
            &format!("{}/v1/tracks/{seed}", app.base),
            Some(READER),
            None,
        )
        .1,
    )["title"]
        .clone();
    assert!(
        text.starts_with(&format!("Tracks like {seed_title} by ")),
        "{like}"
    );
    let mut listed = like.clone();
    listed["answer"] = json!(text.split_once(": ").unwrap().1);
    assert_faithful(&listed, &source_tracks(&app, &like));

    // Less upbeat: tracks like these, moved calmer: their mean tempo is lower when known.
    let calmer = ask(
        &app,
        json!({"text": "less upbeat", "previous": like["conversation"], "top_k": 5}),
    );
    assert!(!source_ids(&calmer).is_empty(), "{calmer}");
    let mean = |tracks: &[Value]| {
        let t: Vec<f64> = tracks
            .iter()
            .filter_map(|t| t["metadata"]["tempo"].as_f64())
            .collect();
        (!t.is_empty()).then(|| t.iter().sum::<f64>() / t.len() as f64)
    };
    if let (Some(a), Some(b)) = (
        mean(&source_tracks(&app, &like)),
        mean(&source_tracks(&app, &calmer)),
    ) {
        assert!(b <= a, "calmer moved from {a} to {b} BPM");
    }

    // Why that one: the first source of the answer asked about, alone, with the reason.
    let why = ask(
        &app,
        json!({"text": "why that one?", "previous": first["conversation"]}),
    );
    assert_eq!(source_ids(&why), vec![before[0].clone()]);
    assert_eq!(
        why["conversation"], first["conversation"],
        "asking why moves nothing"
    );
    assert!(why["answer"].as_str().unwrap().contains("[1]"), "{why}");

    // A number the previous answer does not have is named as such; a fresh question is
    // answered afresh even with a conversation.
    let (status, r) = call(
        "POST",
        &format!("{}/v1/ask", app.base),
        Some(READER),
        Some(
            json!({"text": "more like the ninth one", "previous": {"question": "x", "sources": [before[0]]}}),
        ),
    );
    assert_eq!(status, 422);
    let body = json_of(r);
    assert_eq!(body["error"]["field"], "previous.sources", "{body}");
    let fresh = ask(
        &app,
        json!({"text": "what tempo is ABC by the Jackson 5?", "previous": first["conversation"]}),
    );
    assert!(fresh["answer"].as_str().unwrap().contains("ABC"), "{fresh}");
    let (status, _) = call(
        "POST",
        &format!("{}/v1/ask", app.base),
        Some(READER),
        Some(json!({"text": "less upbeat", "previous": {"sources": "a"}})),
    );
    assert_eq!(status, 422);

    // A search's results are refined the same way: its `conversation` is the search's text,
    // filters and hits, in order.
    let (status, r) = call(
        "POST",
        &format!("{}/v1/search", app.base),
        Some(READER),
        Some(
            json!({"text": "songs with piano or strings", "top_k": 12, "filters": {"year": {"min": 1900}}}),
        ),
    );
    assert_eq!(status, 200);
    let searched = json_of(r);
    let hits: Vec<String> = searched["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["track"]["id"].as_str().unwrap().to_string())
        .collect();
    assert!(hits.len() >= 3, "{searched}");
    assert_eq!(
        searched["conversation"]["question"],
        "songs with piano or strings"
    );
    assert_eq!(
        searched["conversation"]["filters"]["year"]["min"].as_f64(),
        Some(1900.0)
    );
    assert_eq!(searched["conversation"]["sources"], json!(hits));
    let narrowed = ask(
        &app,
        json!({"text": "only the ones with piano", "previous": searched["conversation"]}),
    );
    let kept = source_ids(&narrowed);
    assert!(
        !kept.is_empty() && kept.iter().all(|id| hits.contains(id)),
        "{narrowed}"
    );
    assert!(
        narrowed["answer"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Of the previous {} tracks", hits.len())),
        "{narrowed}"
    );
}

#[test]
fn a_configured_model_plans_with_tools_and_names_only_what_they_returned() {
    // What the catalog says, offline: the fastest metal song.
    let expected = {
        let app = spawn_app(&[]);
        let r = ask(
            &app,
            json!({"text": "what's the fastest metal song in the catalog?"}),
        );
        r["sources"][0].clone()
    };
    let title = expected["title"].as_str().unwrap().to_string();
    let model = FakeServer::start(vec![
        Reply::ToolCalls(vec![(
            "select".into(),
            json!({"filters": {"genres": ["metal"]}, "order_by": "tempo", "limit": 3}),
        )]),
        Reply::Completion(format!("The fastest metal song here is \"{title}\" [1].")),
        Reply::ToolCalls(vec![("search".into(), json!({"text": "calm piano"}))]),
        Reply::Completion("Try \"Imaginary Song\" by Nobody [1].".into()),
        Reply::Status(500, None),
    ]);
    let app = spawn_app(&[
        ("OPENAI_BASE_URL", model.base_url.as_str()),
        ("OPENAI_MODEL", "test-model"),
        ("MUSIC_RAG_LLM_MAX_RETRIES", "0"),
    ]);
    let r = ask(
        &app,
        json!({"text": "what's the fastest metal song in the catalog?", "tools": true}),
    );
    assert_eq!(r["generator"], "openai", "{r}");
    assert_eq!(r["sources"][0]["id"], expected["id"], "{r}");
    assert_eq!(r["cited"], json!([1]));
    assert!(r["answer"].as_str().unwrap().contains(&title), "{r}");
    assert_eq!(r["usage"]["total_tokens"], 98, "both turns are billed");
    // The wire format: tools offered, the call answered with the tool's result.
    let sent = model.received();
    let names: Vec<&str> = sent[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["search", "select", "count", "get_track"]);
    let messages = sent[1].body["messages"].as_array().unwrap();
    assert_eq!(messages[2]["tool_calls"][0]["function"]["name"], "select");
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "call_0");
    assert!(messages[3]["content"].as_str().unwrap().contains(&title));

    // A title no tool returned: refused, answered offline, and said why.
    let r = ask(&app, json!({"text": "calm piano songs", "tools": true}));
    assert_ne!(r["generator"], "openai", "{r}");
    assert_eq!(r["fallback"]["from"], "openai");
    assert!(
        r["fallback"]["reason"]
            .as_str()
            .unwrap()
            .contains("Imaginary Song"),
        "{r}"
    );
    assert!(!r["answer"].as_str().unwrap().contains("Imaginary"), "{r}");
    assert!(!r["sources"].as_array().unwrap().is_empty());

    // The model failing: the offline answer, with the reason.
    let r = ask(&app, json!({"text": "calm piano songs", "tools": true}));
    assert_eq!(r["fallback"]["from"], "openai");
    assert!(
        r["fallback"]["reason"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{r}"
    );
}
