//! Audio ingest and listen-alike search through the real binary and the real server, on files
//! synthesised here and encoded with the reference encoders (flac, oggenc, lame).

use crate::common;

use std::path::{Path, PathBuf};

use common::server::*;
use common::sound::{music, tool, write_wav};
use serde_json::{json, Value};

/// A small library: untagged WAV, FLAC, tagged OGG and MP3 (one in a subfolder), and a
/// corrupt file.
fn library(dir: &Path) -> PathBuf {
    let lib = dir.join("library");
    std::fs::create_dir_all(lib.join("disc2")).unwrap();
    write_wav(
        &lib.join("slow_minor.wav"),
        &music(70.0, &[57, 60, 64], 12.0, 0.1),
    );
    let fast = dir.join("fast.wav");
    write_wav(&fast, &music(150.0, &[60, 64, 67], 12.0, 0.9));
    tool(
        "flac",
        &[
            "--silent",
            "-f",
            "-o",
            lib.join("fast_major.flac").to_str().unwrap(),
            fast.to_str().unwrap(),
        ],
    );
    let mid = dir.join("mid.wav");
    write_wav(&mid, &music(110.0, &[62, 66, 69], 12.0, 0.5));
    tool(
        "oggenc",
        &[
            "--quiet",
            "-t",
            "River Song",
            "-a",
            "The Test Ensemble",
            "-l",
            "Synthetic Sessions",
            "-G",
            "Ambient",
            "-d",
            "2021",
            "-N",
            "3",
            "-o",
            lib.join("disc2/river.ogg").to_str().unwrap(),
            mid.to_str().unwrap(),
        ],
    );
    tool(
        "lame",
        &[
            "--silent",
            "--tt",
            "Mountain Call",
            "--ta",
            "Echo Choir",
            "--tl",
            "Synthetic Sessions",
            "--ty",
            "2019",
            "--tn",
            "4",
            "--tg",
            "Folk",
            mid.to_str().unwrap(),
            lib.join("mountain.mp3").to_str().unwrap(),
        ],
    );
    std::fs::write(
        lib.join("corrupt.mp3"),
        b"not an mp3, only bytes that pretend",
    )
    .unwrap();
    lib
}

fn json_of_output(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn a_folder_becomes_tracks_with_tags_and_measured_sound() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    let data = tmp.path().join("data");
    let out = common::run(&data, &["ingest-audio", lib.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2), "a failed file makes exit 2");
    let r = json_of_output(&out);
    assert_eq!(r["files"], 5);
    assert_eq!(r["created"], 4);
    assert_eq!(r["untagged"], 2);
    assert_eq!(r["failed"].as_array().unwrap().len(), 1);
    assert!(r["failed"][0]["path"]
        .as_str()
        .unwrap()
        .ends_with("corrupt.mp3"));
    assert!(r["audio_seconds"].as_f64().unwrap() > 47.0);

    // A re-run decodes nothing that did not change.
    let again = json_of_output(&common::run(
        &data,
        &["ingest-audio", lib.to_str().unwrap(), "--json"],
    ));
    assert_eq!(again["skipped_unchanged"], 4);
    assert_eq!(again["created"], 0);

    // The broken file is one clean line: no decoder log lines, no colour codes in a pipe.
    let text = common::bin()
        .env_remove("LOG_LEVEL")
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest-audio", lib.to_str().unwrap()])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&text.stdout),
        String::from_utf8_lossy(&text.stderr)
    );
    assert_eq!(all.matches("corrupt.mp3").count(), 1, "{all}");
    assert!(!all.contains("WARN") && !all.contains("ERROR"), "{all}");
    assert!(!all.contains('\u{1b}'), "colour codes in a pipe: {all}");

    let stats = common::ok_json(&data, &["stats"]);
    assert_eq!(stats["audio_embeddings_count"], 4, "{stats}");

    let hits = common::ok_json(&data, &["search", "slow song in a minor key", "-k", "4"]);
    let first = &hits["hits"][0]["track"];
    assert_eq!(
        first["title"], "slow minor",
        "untagged: the title comes from the file name"
    );
    assert!((first["metadata"]["tempo"].as_f64().unwrap() - 70.0).abs() <= 2.0);
    assert_eq!(first["metadata"]["key"], "A minor");
    assert!(first["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "slow"));

    let ogg = common::ok_json(&data, &["search", "River Song", "-k", "1"]);
    let t = &ogg["hits"][0]["track"];
    assert_eq!(t["title"], "River Song");
    assert_eq!(t["artist"], "The Test Ensemble");
    assert_eq!(t["album"], "Synthetic Sessions");
    assert_eq!(t["year"], 2021);
    assert_eq!(t["metadata"]["genre"], "Ambient");
    assert_eq!(t["description"], "Track 3 of Synthetic Sessions.");
    let mp3 = common::ok_json(&data, &["search", "Mountain Call Echo Choir", "-k", "1"]);
    assert_eq!(mp3["hits"][0]["track"]["artist"], "Echo Choir");
    assert_eq!(mp3["hits"][0]["track"]["year"], 2019);

    // The same sound in another file finds the catalog's copy first.
    let probe = tmp.path().join("probe.wav");
    write_wav(&probe, &music(150.0, &[60, 64, 67], 8.0, 0.9));
    let s = common::ok_json(&data, &["similar", probe.to_str().unwrap(), "-k", "3"]);
    assert_eq!(s["hits"][0]["track"]["title"], "fast major", "{s}");
    let fast_id = s["hits"][0]["track"]["id"].as_str().unwrap().to_string();
    let by_id = common::ok_json(&data, &["similar", &fast_id, "--sound", "-k", "3"]);
    let ids: Vec<&str> = by_id["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["track"]["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&fast_id.as_str()),
        "the seed is never returned"
    );
    assert_eq!(ids.len(), 3);

    // A local M3U of ingested files is extended: its files are found as their tracks, which
    // open the playlist (how many of the other two fit after them depends on which two were
    // given; answers.rs checks what is added).
    let listed = common::run(&data, &["list", "--json"]);
    let tracks: Vec<Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let m3u = tmp.path().join("mine.m3u");
    let lines: Vec<String> = tracks[..2]
        .iter()
        .map(|t| format!("#EXTINF:-1,x\n{}", t["audio_path"].as_str().unwrap()))
        .collect();
    std::fs::write(&m3u, format!("#EXTM3U\n{}\n", lines.join("\n"))).unwrap();
    let out = common::ok_json(
        &data,
        &["playlist", "--expand", m3u.to_str().unwrap(), "-n", "1"],
    );
    let got: Vec<&str> = out["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track"]["id"].as_str().unwrap())
        .collect();
    assert!((2..=3).contains(&got.len()), "{out}");
    assert_eq!(
        got[..2],
        [
            tracks[0]["id"].as_str().unwrap(),
            tracks[1]["id"].as_str().unwrap()
        ]
    );
}

#[test]
fn uploads_and_listen_alike_search_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let app = spawn_on(&data, &[]);
    let clip = tmp.path().join("clip.wav");
    write_wav(&clip, &music(120.0, &[57, 60, 64], 10.0, 0.3));
    let bytes = std::fs::read(&clip).unwrap();
    let url = format!("{}/v1/tracks/audio", app.base);
    // A small body: the server refuses before reading, and a large body still being sent
    // when it closes makes the client see a broken pipe instead of the 403.
    let (status, body) = post_multipart(&url, READER, &[("file", Some("clip.wav"), &bytes[..512])]);
    assert_eq!(status, 403, "uploads need the write scope: {body}");
    let (status, body) = post_multipart(&url, WRITER, &[("file", Some("clip.wav"), &bytes)]);
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert!((body["track"]["metadata"]["tempo"].as_f64().unwrap() - 120.0).abs() <= 2.0);
    assert_eq!(body["track"]["metadata"]["key"], "A minor");
    let other = tmp.path().join("other.wav");
    write_wav(&other, &music(90.0, &[60, 64, 67], 10.0, 0.8));
    let (status, other_body) = post_multipart(
        &url,
        WRITER,
        &[("file", Some("other.wav"), &std::fs::read(&other).unwrap())],
    );
    assert_eq!(status, 201);
    let other_id = other_body["id"].as_str().unwrap().to_string();
    let (status, body) =
        post_multipart(&url, WRITER, &[("file", Some("bad.mp3"), b"garbage bytes")]);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "file");

    let (_, r) = call("GET", &format!("{}/stats", app.base), Some(READER), None);
    assert_eq!(json_of(r)["audio_embeddings_count"], 2);

    let search = format!("{}/v1/search/audio", app.base);
    let (status, r) = call(
        "POST",
        &search,
        Some(READER),
        Some(json!({"track_id": id, "top_k": 5})),
    );
    assert_eq!(status, 200);
    let hits = json_of(r)["hits"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 1, "only the other track: the seed is excluded");
    let (status, body) = post_multipart(
        &search,
        READER,
        &[("file", Some("clip.wav"), &bytes), ("top_k", None, b"2")],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["hits"][0]["track"]["id"],
        id.as_str(),
        "the uploaded clip sounds most like itself"
    );
    let (status, r) = call(
        "POST",
        &search,
        Some(READER),
        Some(json!({"track_id": "nope"})),
    );
    assert_eq!(status, 404);
    assert!(json_of(r)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nope"));
    let (status, r) = call(
        "POST",
        &search,
        Some(READER),
        Some(json!({"track_id": id, "audio_weight": 2})),
    );
    assert_eq!(status, 422);
    assert_eq!(json_of(r)["error"]["field"], "audio_weight");

    // An exported playlist locates each track at this server's stream, so another device can
    // play it: each link carries a signed token, so a real HTTP client fetches every entry
    // without a key, and a proxy's forwarded host is used.
    let (status, r) = call(
        "POST",
        &format!("{}/v1/playlist?format=m3u", app.base),
        Some(READER),
        Some(json!({"seed_ids": [id, other_id], "length": 2})),
    );
    assert_eq!(status, 200);
    let m3u = r.into_string().unwrap();
    let urls: Vec<&str> = m3u.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(urls.len(), 2, "{m3u}");
    let (path, token) = urls[0].split_once("?token=").expect("a signed link");
    assert!(path.ends_with(&format!("/v1/tracks/{id}/audio")), "{m3u}");
    for url in &urls {
        assert!(url.starts_with(&app.base), "{url}");
        let (status, r) = call("GET", url, None, None);
        assert_eq!(status, 200, "{url}");
        let mut audio = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut audio).unwrap();
        assert_eq!(&audio[..4], b"RIFF", "{url}");
    }
    // The link opens that stream only: not unsigned, not altered, not another track's, not
    // another route; a key still opens it without a link.
    assert_eq!(call("GET", path, None, None).0, 401);
    let (expires, signature) = token.split_once('.').unwrap();
    let later = format!(
        "{path}?token={}.{signature}",
        expires.parse::<u64>().unwrap() + 3600
    );
    let (status, r) = call("GET", &later, None, None);
    assert_eq!(status, 401);
    assert!(json_of(r)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired or is not valid"));
    let other_path = urls[1].split_once('?').unwrap().0;
    assert_eq!(
        call("GET", &format!("{other_path}?token={token}"), None, None).0,
        401
    );
    assert_eq!(
        call(
            "GET",
            &format!("{}/v1/tracks/{id}?token={token}", app.base),
            None,
            None
        )
        .0,
        401
    );
    assert_eq!(call("GET", path, Some(READER), None).0, 200);
    let r = agent()
        .post(&format!("{}/v1/playlist?format=jspf", app.base))
        .set("X-API-Key", READER)
        .set("X-Forwarded-Proto", "https")
        .set("X-Forwarded-Host", "music.example.org")
        .send_json(json!({"seed_ids": [id], "length": 1}))
        .unwrap();
    let jspf: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
    let location = jspf["playlist"]["track"][0]["location"][0]
        .as_str()
        .unwrap();
    assert!(
        location.starts_with(&format!(
            "https://music.example.org/v1/tracks/{id}/audio?token="
        )),
        "{location}"
    );
}

/// The committed MusiCNN fixtures (piano, rock, choir excerpts of the labelled set), copied
/// under names that say nothing: only what is heard can match a word.
fn untagged_fixtures(dir: &Path) -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../audio/tests/fixtures");
    let lib = dir.join("untagged");
    std::fs::create_dir_all(&lib).unwrap();
    for (from, to) in [
        ("musicnn-piano.flac", "a.flac"),
        ("musicnn-rock.flac", "b.flac"),
        ("musicnn-choir.flac", "c.flac"),
    ] {
        std::fs::copy(fixtures.join(from), lib.join(to)).unwrap();
    }
    lib
}

#[test]
fn untagged_recordings_are_heard_and_found_in_words_after_reanalyse() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = untagged_fixtures(tmp.path());
    let data = tmp.path().join("data");
    // Ingested before the sound model was there: measured, not heard.
    let out = common::bin()
        .env("SOUND_MODEL_DIR", tmp.path().join("no-model"))
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest-audio", lib.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = common::run(&data, &["list", "--json"]);
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let t: Value = serde_json::from_str(line).unwrap();
        assert!(t["audio"]["heard"].is_null(), "not heard yet: {t}");
    }

    // `reanalyse` hears them; a second run finds nothing left to do.
    let r = common::ok_json(&data, &["reanalyse"]);
    assert_eq!(
        (r["with_audio"].as_u64(), r["heard"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    let again = common::ok_json(&data, &["reanalyse"]);
    assert_eq!(
        (again["heard"].as_u64(), again["already_heard"].as_u64()),
        (Some(0), Some(3))
    );

    // Words find what was heard, and why says it was heard, with the confidence.
    let choir = common::ok_json(&data, &["search", "choir singing", "-k", "3"]);
    let first = &choir["hits"][0];
    assert_eq!(first["track"]["title"], "c", "{choir}");
    let why = first["why"]["heard"].as_array().unwrap();
    assert!(
        why.iter()
            .any(|w| w.as_str().unwrap().starts_with("heard: choir 0.")),
        "{why:?}"
    );
    let heard = first["track"]["audio"]["heard"].as_array().unwrap();
    let word = heard.iter().find(|h| h["word"] == "choir").unwrap();
    assert_eq!(word["aspect"], "instrument");
    assert!(word["confidence"].as_f64().unwrap() >= 0.2);
    assert_eq!(
        first["track"]["audio"]["sound_embedding"]
            .as_array()
            .unwrap()
            .len(),
        200
    );
    let piano = common::ok_json(&data, &["search", "solo piano", "-k", "3"]);
    assert_eq!(piano["hits"][0]["track"]["title"], "a", "{piano}");
    // Filters see heard values too, beside (never instead of) the tags.
    let rock = common::ok_json(&data, &["search", "music", "--genre", "rock", "-k", "3"]);
    let titles: Vec<&str> = rock["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["track"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["b"], "{rock}");

    // The CLI shows heard values as heard.
    let shown = common::run(&data, &["search", "choir singing", "-k", "1"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("heard: choir 0."), "{text}");
}
