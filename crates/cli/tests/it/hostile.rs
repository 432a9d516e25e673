//! Hostile inputs and damaged states through the real binary and server: each test is a probe
//! that once broke the service (a read key exhausting memory, a WAV that panicked the decoder,
//! cross-site writes, NUL characters, deleted lock files, leftover partial files, guessed keys,
//! unsupported ranges, timeouts that hid writes), kept so it never comes back.

use crate::common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use common::server::*;
use common::sound::{music, write_wav};
use common::{ok_json, run};
use serde_json::{json, Value};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A real WAV whose header then claims `rate` Hz (and a byte rate to match).
fn wav_claiming_rate(path: &Path, rate: u32) {
    write_wav(path, &music(100.0, &[60, 64, 67], 2.0, 0.3));
    let mut bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[12..16], b"fmt ", "a plain PCM header");
    bytes[24..28].copy_from_slice(&rate.to_le_bytes());
    bytes[28..32].copy_from_slice(&(rate * 2).to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// Peak resident memory of a process in kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Sends raw bytes over HTTP/1.1 and returns the status and the body of the answer.
fn raw_request(base: &str, head: &str, body: &[u8], pause: Option<Duration>) -> (u16, Value) {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    match pause {
        // Half the body, then silence: a slow client.
        Some(pause) => {
            stream.write_all(&body[..body.len() / 2]).unwrap();
            std::thread::sleep(pause);
        }
        None => stream.write_all(body).unwrap(),
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn form_fields_beside_an_upload_are_bounded_while_they_arrive() {
    let app = spawn_app(&[]);
    let url = format!("{}/v1/search/audio", app.base);
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("clip.wav");
    write_wav(&clip, &music(120.0, &[57, 60, 64], 3.0, 0.3));
    let audio = std::fs::read(&clip).unwrap();
    // A text field past the limit is refused naming the field.
    let long = vec![b'a'; 100_000];
    let (status, body) = post_multipart(
        &url,
        READER,
        &[("file", Some("clip.wav"), &audio), ("text", None, &long)],
    );
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["field"], "text", "{body}");
    // Many large text fields at once do not grow the server by their size: each is refused
    // after its first 16 KiB.
    let before = peak_rss_kb(app.child.id());
    let huge = vec![b'b'; 40 << 20];
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let (content_type, body) =
                    multipart(&[("text", None, &huge), ("file", Some("c.wav"), &audio)]);
                // The server may close while the rest is still being sent: refused either way.
                match agent()
                    .post(&url)
                    .set("X-API-Key", READER)
                    .set("Content-Type", &content_type)
                    .send_bytes(&body)
                {
                    Err(ureq::Error::Status(code, _)) => assert_eq!(code, 413),
                    Ok(r) => panic!("accepted with {}", r.status()),
                    Err(_) => {}
                }
            });
        }
    });
    // The kernel's peak is only brought up to date at some points (not when an allocator
    // returns pages with madvise), so a later reading can be lower: no growth.
    let grown_mb = peak_rss_kb(app.child.id()).saturating_sub(before) / 1024;
    assert!(
        grown_mb < 60,
        "the server grew by {grown_mb} MB taking four 40 MB text fields"
    );
    // And it still answers.
    let (status, body) = post_multipart(
        &url,
        READER,
        &[("file", Some("clip.wav"), &audio), ("top_k", None, b"2")],
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_wav_claiming_zero_hertz_is_that_files_error_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("folder");
    std::fs::create_dir_all(&folder).unwrap();
    for i in 0..5 {
        write_wav(
            &folder.join(format!("good_{i}.wav")),
            &music(90.0 + 10.0 * i as f32, &[57, 60, 64], 3.0, 0.3),
        );
    }
    let bad = folder.join("zero_hertz.wav");
    wav_claiming_rate(&bad, 0);
    let data = tmp.path().join("data");

    // A folder: the bad file is reported and skipped, the five good ones are imported.
    let out = run(&data, &["ingest-audio", folder.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        text.contains("zero_hertz.wav") && text.contains("sample rate"),
        "{text}"
    );
    assert_eq!(ok_json(&data, &["stats"])["tracks"], 5);
    // One file: a clear error and exit 1, not a panic (101).
    let out = run(&data, &["similar", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("sample rate"), "{}", stderr(&out));

    // Over HTTP: 422 naming the file, and nothing left in the upload folder.
    let app = spawn_on(&data, &[]);
    let bytes = std::fs::read(&bad).unwrap();
    for (path, key) in [("/v1/tracks/audio", WRITER), ("/v1/search/audio", READER)] {
        let (status, body) = post_multipart(
            &format!("{}{path}", app.base),
            key,
            &[("file", Some("zero_hertz.wav"), &bytes)],
        );
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["error"]["field"], "file");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("sample rate"),
            "{body}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(data.join("uploads"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "uploads left behind: {left:?}");
}

#[test]
fn a_page_of_another_site_cannot_write_through_the_users_browser() {
    // No keys: the loopback default, where only the origin check stands in the way.
    let app = spawn_app(&[("MUSIC_RAG_API_KEYS", ""), ("MUSIC_RAG_SNAPSHOT_KEEP", "2")]);
    let b = &app.base;
    let before = ok_json(&app.data, &["stats"])["tracks"].clone();
    let csv = "id,title,artist\ncsrf-1,Planted,Attacker\n";
    let post = |path: &str, headers: &[(&str, &str)], body: &str| {
        let mut req = agent().post(&format!("{b}{path}"));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        match req.send_string(body) {
            Ok(r) => (r.status(), r.into_json::<Value>().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(code, r)) => {
                (code, r.into_json::<Value>().unwrap_or(Value::Null))
            }
            Err(e) => panic!("{path}: {e}"),
        }
    };
    for headers in [
        vec![
            ("Origin", "https://evil.example"),
            ("Content-Type", "text/csv"),
        ],
        vec![("Origin", "null"), ("Content-Type", "text/csv")],
        vec![
            ("Sec-Fetch-Site", "cross-site"),
            ("Content-Type", "text/csv"),
        ],
    ] {
        let (status, body) = post("/v1/tracks", &headers, csv);
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
        let (status, _) = post("/v1/admin/snapshots", &headers, "");
        assert_eq!(status, 403, "{headers:?}");
    }
    assert_eq!(ok_json(&app.data, &["stats"])["tracks"], before);
    // The server's own page, and clients that are not browsers, still write.
    let own = b.trim_end_matches('/');
    let (status, body) = post(
        "/v1/tracks",
        &[("Origin", own), ("Content-Type", "text/csv")],
        csv,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        "/v1/tracks",
        &[
            ("Content-Type", "text/csv"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        csv,
    );
    assert_eq!(status, 200, "{body}");
    // Reads from anywhere are unaffected.
    let (status, _) = call("GET", &format!("{b}/v1/stats"), None, None);
    assert_eq!(status, 200);

    // Snapshots: only the newest MUSIC_RAG_SNAPSHOT_KEEP are kept.
    for _ in 0..4 {
        let (status, body) = post("/v1/admin/snapshots", &[], "");
        assert_eq!(status, 201, "{body}");
    }
    let (_, r) = call("GET", &format!("{b}/v1/admin/snapshots"), None, None);
    assert_eq!(json_of(r)["snapshots"].as_array().unwrap().len(), 2);
}

#[test]
fn nul_characters_are_refused_naming_the_field() {
    let app = spawn_app(&[]);
    let b = &app.base;
    let nul_track = json!({"id": "nul-1", "title": "A\u{0}B", "artist": "Someone"});
    let (status, r) = call(
        "PUT",
        &format!("{b}/v1/tracks/nul-1"),
        Some(WRITER),
        Some(nul_track.clone()),
    );
    let body = json_of(r);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "title");
    // In a batch, that row fails and the rest are written.
    let good = json!({"id": "nul-2", "title": "Fine", "artist": "Someone"});
    let tagged =
        json!({"id": "nul-3", "title": "Fine", "artist": "Someone", "tags": ["ok", "b\u{0}d"]});
    let (status, r) = call(
        "POST",
        &format!("{b}/v1/tracks"),
        Some(WRITER),
        Some(json!({"tracks": [good, tagged]})),
    );
    let body = json_of(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["created"].clone(), body["failed"].clone()),
        (json!(1), json!(1)),
        "{body}"
    );
    assert_eq!(body["results"][1]["field"], "tags[1]", "{body}");
    assert_eq!(
        call("GET", &format!("{b}/v1/tracks/nul-2"), Some(READER), None).0,
        200
    );
    assert_eq!(
        call("GET", &format!("{b}/v1/tracks/nul-3"), Some(READER), None).0,
        404
    );
    // Queries, filters, ids and cursors too.
    for (method, path, body, field) in [
        (
            "POST",
            "/v1/search",
            Some(json!({"text": "calm\u{0}"})),
            "text",
        ),
        (
            "POST",
            "/v1/search",
            Some(json!({"text": "calm", "filters": {"genres": ["ro\u{0}ck"]}})),
            "filters.genres[0]",
        ),
        ("GET", "/v1/tracks/nul%00id", None, "path"),
        ("GET", "/v1/tracks?cursor=a%00b", None, "cursor"),
        ("GET", "/item/a%00", None, "path"),
    ] {
        let (status, r) = call(method, &format!("{b}{path}"), Some(WRITER), body);
        let body = json_of(r);
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
}

#[test]
fn deleting_the_lock_file_does_not_let_a_second_writer_in() {
    let app = spawn_app(&[]);
    std::fs::remove_file(app.data.join("LOCK")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("more.jsonl");
    std::fs::write(
        &file,
        "{\"id\": \"lock-1\", \"title\": \"Behind The Back\", \"artist\": \"Second Writer\"}\n",
    )
    .unwrap();
    let out = run(&app.data, &["ingest", file.to_str().unwrap()]);
    assert!(!out.status.success(), "a second writer got in");
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    // The server still writes, and puts its LOCK file back.
    let (status, _) = call(
        "PUT",
        &format!("{}/v1/tracks/lock-2", app.base),
        Some(WRITER),
        Some(json!({"id": "lock-2", "title": "Front Door", "artist": "First Writer"})),
    );
    assert_eq!(status, 200);
    assert_eq!(
        std::fs::read_to_string(app.data.join("LOCK")).unwrap(),
        app.child.id().to_string()
    );
}

#[test]
fn what_killed_writers_left_is_swept_and_what_is_being_written_is_not() {
    let (_tmp, data) = common::fresh_copy();
    let snapshots = data.join("snapshots");
    let uploads = data.join("uploads");
    std::fs::create_dir_all(&snapshots).unwrap();
    std::fs::create_dir_all(&uploads).unwrap();
    let left = [
        snapshots.join(".snapshot-20260101T000000.000Z.mrsnap.partial"),
        snapshots.join(".snapshot-20260101T000000.000Z.mrsnap.sqlite.partial"),
        uploads.join(".partial-0123456789abcdef"),
    ];
    for f in &left {
        std::fs::write(f, vec![0u8; 4096]).unwrap();
    }
    // A snapshot some living process is writing: it holds its lock.
    let live = snapshots.join(".snapshot-20260102T000000.000Z.mrsnap.partial");
    let writing = std::fs::File::create(&live).unwrap();
    writing.try_lock().unwrap();
    let app = spawn_on(&data, &[]);
    for f in &left {
        assert!(!f.exists(), "{} was not swept at start", f.display());
    }
    assert!(live.exists(), "a snapshot being written was removed");
    drop(app);
    drop(writing);
    // `backup` sweeps too (here, what the killed writer left behind it).
    std::fs::write(&left[0], b"x").unwrap();
    let out = run(&data, &["backup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!left[0].exists() && !live.exists());
    // `backup --server` sweeps its own unfinished downloads.
    let app = spawn_on(&data, &[]);
    let to = data.join("offsite");
    std::fs::create_dir_all(&to).unwrap();
    let part = to.join("snapshot-20260101T000000.000Z.mrsnap.part");
    std::fs::write(&part, b"half a download").unwrap();
    let out = common::bin()
        .args([
            "backup",
            "--server",
            &app.base,
            "--to",
            to.to_str().unwrap(),
        ])
        .env("API_KEY", ADMIN)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!part.exists());
}

#[test]
fn guessed_keys_are_rate_limited_per_address() {
    let app = spawn_app(&[("MUSIC_RAG_AUTH_FAILURES_PER_MINUTE", "5")]);
    let url = format!("{}/v1/stats", app.base);
    let statuses: Vec<u16> = (0..12)
        .map(|i| call("GET", &url, Some(&format!("guess-{i:08}")), None).0)
        .collect();
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    // While the address is refused, even the right key waits: guessing gains nothing.
    let (status, r) = call("GET", &url, Some(READER), None);
    assert_eq!(status, 429);
    assert!(r.header("retry-after").is_some());
}

#[test]
fn ranges_the_server_does_not_support_get_the_whole_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let app = spawn_on(&data, &[]);
    let clip = tmp.path().join("clip.wav");
    write_wav(&clip, &music(120.0, &[57, 60, 64], 3.0, 0.3));
    let bytes = std::fs::read(&clip).unwrap();
    let (status, body) = post_multipart(
        &format!("{}/v1/tracks/audio", app.base),
        WRITER,
        &[("file", Some("clip.wav"), &bytes)],
    );
    assert_eq!(status, 201, "{body}");
    let url = format!(
        "{}/v1/tracks/{}/audio",
        app.base,
        body["id"].as_str().unwrap()
    );
    let get = |range: &str| {
        let r = agent()
            .get(&url)
            .set("X-API-Key", READER)
            .set("Range", range)
            .call();
        let r = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let status = r.status();
        let mut body = Vec::new();
        r.into_reader().read_to_end(&mut body).unwrap();
        (status, body)
    };
    for ignored in ["bytes=0-0,2-3", "items=0-5", "bytes=abc", "bytes=5-1"] {
        let (status, body) = get(ignored);
        assert_eq!(status, 200, "{ignored}");
        assert_eq!(body, bytes, "{ignored}: the whole file");
    }
    let (status, body) = get("bytes=4-11");
    assert_eq!((status, body.as_slice()), (206, &bytes[4..12]));
    let (status, _) = get(&format!("bytes={}-", bytes.len() + 10));
    assert_eq!(status, 416);

    // The upload lives only in the data directory, so a snapshot holds it, and says so.
    let out = run(&data, &["backup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("1 audio file kept in the data directory"),
        "{said}"
    );
}

#[test]
fn a_timeout_never_hides_a_write() {
    let app = spawn_app(&[("MUSIC_RAG_REQUEST_TIMEOUT_SECONDS", "1")]);
    let b = &app.base;
    // A client that stops sending half way: 408 with the JSON error, and nothing written.
    let body =
        json!({"tracks": [{"id": "slow-1", "title": "Never Finished", "artist": "Slow Client"}]})
            .to_string();
    let head = format!(
        "POST /v1/tracks HTTP/1.1\r\nHost: {}\r\nX-API-Key: {WRITER}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        b.trim_start_matches("http://"),
        body.len()
    );
    let (status, answer) = raw_request(b, &head, body.as_bytes(), Some(Duration::from_secs(3)));
    assert_eq!(status, 408, "{answer}");
    assert_eq!(answer["error"]["code"], "request_timeout", "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nothing was written"));
    assert_eq!(
        call("GET", &format!("{b}/v1/tracks/slow-1"), Some(READER), None).0,
        404
    );
    // A write that takes longer than the timeout once started is finished and answered.
    let long = "A slow and gentle piece for piano and strings that goes on and on. ".repeat(20);
    let tracks: Vec<Value> = (0..600)
        .map(|i| json!({"id": format!("long-{i}"), "title": format!("Long Piece {i}"), "artist": "Patient Writer", "description": format!("{long} Number {i}.")}))
        .collect();
    let started = Instant::now();
    let (status, r) = call(
        "POST",
        &format!("{b}/v1/tracks"),
        Some(WRITER),
        Some(json!({ "tracks": tracks })),
    );
    let seconds = started.elapsed().as_secs_f64();
    let report = json_of(r);
    assert_eq!(status, 200, "after {seconds:.1} s: {report}");
    assert_eq!(report["created"], 600, "{report}");
    eprintln!("a 600-track write took {seconds:.1} s with a 1 s request timeout");
}
