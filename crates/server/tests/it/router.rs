//! The HTTP application in process: the real router, middleware, store and use cases, called
//! through `tower::ServiceExt::oneshot` without a socket, with a deterministic hashing embedder
//! (tests of meaning over real HTTP and the real model are in the CLI crate's `http` suite).

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use music_rag_server::config::ServerConfig;
use music_rag_server::error::ErrorCode;
use serde_json::{json, Value};
use tower::ServiceExt;

const READER: &str = "reader-key-0001";
const WRITER: &str = "writer-key-0001";

struct TestApp {
    _dir: tempfile::TempDir,
    router: axum::Router,
}

fn test_app() -> TestApp {
    test_app_with(ServerConfig::default())
}

fn test_app_with(config: ServerConfig) -> TestApp {
    let (dir, state) = common::hashing_state(ServerConfig {
        api_keys: Some(format!("{READER}:read,{WRITER}:write").as_str().into()),
        ..config
    });
    TestApp {
        router: music_rag_server::app(state),
        _dir: dir,
    }
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(Body::from(body.unwrap_or("").to_string()))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

/// Posts a `{"tracks": [...]}` batch with the write key.
async fn write_tracks(app: &TestApp, batch: &Value) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        "/v1/tracks",
        Some(WRITER),
        Some(&batch.to_string()),
    )
    .await
}

fn track(id: &str, genre: &str, tags: &[&str]) -> Value {
    json!({"id": id, "title": format!("Song {id}"), "artist": "Band", "tags": tags,
           "metadata": {"genre": genre, "tempo": 100}})
}

#[tokio::test]
async fn every_error_is_one_json_shape_with_a_code_from_the_table() {
    let app = test_app();
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    /// Method, path, key, body, expected status.
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, u16);
    let cases: [Case; 10] = [
        ("GET", "/no/such/route", Some(READER), None, 404),
        ("DELETE", "/health", Some(READER), None, 405),
        ("POST", "/v1/search", None, Some(r#"{"text":"x"}"#), 401),
        (
            "POST",
            "/v1/tracks",
            Some(READER),
            Some(r#"{"tracks":[]}"#),
            403,
        ),
        ("POST", "/v1/search", Some(READER), Some("{not json"), 400),
        (
            "POST",
            "/v1/search",
            Some(READER),
            Some(r#"{"text":"x","filters":{"keys":["Q major"]}}"#),
            422,
        ),
        ("GET", "/v1/tracks/nobody", Some(READER), None, 404),
        ("GET", "/v1/tracks?limit=-1", Some(READER), None, 422),
        ("GET", "/v1/tracks/%FF", Some(READER), None, 400),
        (
            "POST",
            "/v1/playlist?format=wav",
            Some(READER),
            Some(r#"{"text":"x"}"#),
            422,
        ),
    ];
    for (method, path, key, body, want) in cases {
        let (status, v) = call(&app, method, path, key, body).await;
        assert_eq!(status.as_u16(), want, "{method} {path}: {v}");
        let code = v["error"]["code"].as_str().unwrap_or_default();
        assert!(
            codes.contains(&code),
            "{method} {path}: unknown code in {v}"
        );
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        let expected = ErrorCode::ALL
            .iter()
            .find(|c| c.as_str() == code)
            .unwrap()
            .status();
        assert_eq!(status, expected, "{code} is sent with its own status");
    }
    let (_, v) = call(
        &app,
        "POST",
        "/v1/search",
        Some(READER),
        Some(r#"{"text":"x","filters":{"keys":["Q major"]}}"#),
    )
    .await;
    assert_eq!(v["error"]["field"], "filters.keys", "{v}");
    let (_, v) = call(&app, "GET", "/v1/tracks?limit=-1", Some(READER), None).await;
    assert_eq!(v["error"]["field"], "limit", "{v}");
    // A multipart body without its boundary.
    let req = Request::builder()
        .method("POST")
        .uri("/v1/tracks/audio")
        .header("x-api-key", WRITER)
        .header("content-type", "multipart/form-data")
        .body(Body::from("--x\r\n"))
        .unwrap();
    let (status, _, body) = send(&app, req).await;
    let v: Value = serde_json::from_slice(&body).expect("a JSON error body");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "file", "{v}");
}

#[tokio::test]
async fn batches_report_every_track_and_filters_read_their_own_field() {
    let app = test_app();
    let batch = json!({"tracks": [
        track("a", "Hip-Hop", &[]),
        track("b", "dance", &["hip hop feel"]),
        track("a", "hiphop", &[]),
        {"id": "bad", "title": "", "artist": "x"},
    ]})
    .to_string();
    let bare = json!([track("a", "Hip-Hop", &[])]).to_string();
    let (status, r) = call(&app, "POST", "/v1/tracks", Some(WRITER), Some(&bare)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("bare JSON array") && message.contains("{\"tracks\""),
        "{r}"
    );
    assert_eq!(r["error"]["field"], "tracks");
    let (status, r) = call(&app, "POST", "/v1/tracks", Some(WRITER), Some(&batch)).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (
            &r["created"],
            &r["superseded"],
            &r["failed"],
            &r["results"][3]["field"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!("title")),
        "{r}"
    );
    let search =
        |filters: Value| json!({"text": "song", "top_k": 10, "filters": filters}).to_string();
    let (_, v) = call(
        &app,
        "POST",
        "/v1/search",
        Some(READER),
        Some(&search(json!({"genres": ["Hip Hop"]}))),
    )
    .await;
    let ids: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["track"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["a"], "{v}");
    let (_, v) = call(
        &app,
        "POST",
        "/v1/search",
        Some(READER),
        Some(&search(json!({"tags": ["hip hop feel"]}))),
    )
    .await;
    assert_eq!(v["hits"][0]["track"]["id"], "b", "{v}");
    assert_eq!(v["hits"].as_array().unwrap().len(), 1);
    // The original endpoint counts each stored track once.
    let (_, v) = call(
        &app,
        "POST",
        "/index/batch",
        Some(WRITER),
        Some(&json!([track("c", "rock", &[]), track("c", "rock", &[])]).to_string()),
    )
    .await;
    assert_eq!(v["count"], 1, "{v}");
}

async fn send(app: &TestApp, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 24).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::builder().uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn audio_streams_with_ranges_only_from_the_audio_folders() {
    let app = test_app();
    let uploads = app._dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let inside = uploads.join("song.ogg");
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&inside, &bytes).unwrap();
    let outside = app._dir.path().join("secret.ogg");
    std::fs::write(&outside, b"not for the web").unwrap();
    let sneaky = uploads.join("link.ogg");
    std::os::unix::fs::symlink(&outside, &sneaky).unwrap();
    let tracks = json!({"tracks": [
        {"id": "in", "title": "In", "artist": "A", "audio_path": inside},
        {"id": "out", "title": "Out", "artist": "A", "audio_path": outside},
        {"id": "dots", "title": "Dots", "artist": "A", "audio_path": uploads.join("../secret.ogg")},
        {"id": "link", "title": "Link", "artist": "A", "audio_path": sneaky},
        {"id": "none", "title": "None", "artist": "A"},
    ]});
    let (status, v) = write_tracks(&app, &tracks).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let key = [("x-api-key", READER)];
    let (status, headers, body) = send(&app, get("/v1/tracks/in/audio", &key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "audio/ogg");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(body, bytes);
    let ranged = |range: &'static str| {
        get(
            "/v1/tracks/in/audio",
            &[("x-api-key", READER), ("range", range)],
        )
    };
    let (status, headers, body) = send(&app, ranged("bytes=100-199")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(headers["content-range"], "bytes 100-199/10000");
    assert_eq!(body, bytes[100..200]);
    let (status, headers, body) = send(&app, ranged("bytes=20000-")).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers["content-range"], "bytes */10000");
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "range_not_satisfiable");

    for id in ["out", "dots", "link", "none"] {
        let (status, _, body) = send(&app, get(&format!("/v1/tracks/{id}/audio"), &key)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("not for the web"), "{id}: {text}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "not_found", "{id}: {v}");
    }
    let (status, _, _) = send(&app, get("/v1/tracks/in/audio", &[])).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "reading audio needs the read scope"
    );
}

#[tokio::test]
async fn browsers_get_the_page_and_api_clients_the_json() {
    let app = test_app();
    let (status, headers, _) = send(
        &app,
        get("/", &[("accept", "text/html,application/xhtml+xml")]),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/ui");
    let (status, _, body) = send(&app, get("/", &[("accept", "application/json")])).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["name"], "Music RAG");

    let (status, headers, page) = send(&app, get("/ui", &[])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert_eq!(headers["cache-control"], "no-cache");
    let page = String::from_utf8(page).unwrap();
    let script = page
        .split('"')
        .find(|s| s.starts_with("/ui/assets/app.") && s.ends_with(".js"))
        .expect("the page links its script by hashed name")
        .to_string();
    let (status, headers, gz) = send(&app, get(&script, &[("accept-encoding", "gzip")])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = headers["etag"].to_str().unwrap().to_string();
    let (_, _, plain) = send(&app, get(&script, &[])).await;
    assert!(
        gz.len() < plain.len() / 2,
        "{} vs {}",
        gz.len(),
        plain.len()
    );
    let (status, _, _) = send(&app, get(&script, &[("if-none-match", &etag)])).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, _) = send(&app, get("/ui/assets/app.000000000000.js", &[])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stats_give_the_catalog_overview_for_filters_and_charts() {
    let app = test_app();
    let tracks = json!({"tracks": [
        {"id": "a", "title": "A", "artist": "X", "year": 1984, "metadata": {"genre": "Hip-Hop", "tempo": 95, "key": "A minor", "is_live_performance": true}},
        {"id": "b", "title": "B", "artist": "Y", "year": 1999, "metadata": {"genre": "hip hop", "tempo": 128, "key": "Am"}},
        {"id": "c", "title": "C", "artist": "Z", "metadata": {"genre": "rock", "mood": ["calm"]}},
    ]});
    write_tracks(&app, &tracks).await;
    let (status, v) = call(&app, "GET", "/v1/stats", Some(READER), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let o = &v["overview"];
    assert_eq!(v["tracks"], 3);
    assert_eq!(
        o["genres"][0],
        json!({"name": "hip hop", "count": 2}),
        "{o}"
    );
    assert_eq!(
        o["keys"],
        json!([{"key": "A minor", "camelot": "8A", "count": 2}])
    );
    assert_eq!(o["tempo"].as_array().unwrap().len(), 2);
    assert_eq!(
        o["decades"],
        json!([{"decade": 1980, "count": 1}, {"decade": 1990, "count": 1}])
    );
    assert_eq!(o["live"], 1);
    assert_eq!(o["moods"][0]["name"], "calm");
    // The overview follows writes.
    call(&app, "DELETE", "/v1/tracks/a", Some(WRITER), None).await;
    let (_, v) = call(&app, "GET", "/v1/stats", Some(READER), None).await;
    assert_eq!(v["overview"]["live"], 0, "{v}");
    assert_eq!(v["overview"]["genres"][0]["count"], 1);
}

#[tokio::test]
async fn catalog_files_are_imported_row_by_row() {
    let app = test_app();
    let post = |content_type: &'static str, body: &'static str, query: &'static str| {
        Request::builder()
            .method("POST")
            .uri(format!("/v1/tracks{query}"))
            .header("x-api-key", WRITER)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let csv = "id,title,artist,tempo,metadata.mood\n\
               c1,Salt Road,Band,101,calm;warm\n\
               c2,Broken Row,Band,fast,\n\
               c3,,Band,90,\n";
    let (status, _, body) = send(&app, post("text/csv; charset=utf-8", csv, "")).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (v["created"].as_u64(), v["failed"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert_eq!(v["results"][0], json!({"status": "created", "id": "c1"}));
    assert_eq!(v["results"][1]["field"], "line 3", "{v}");
    assert!(v["results"][1]["message"]
        .as_str()
        .unwrap()
        .contains("tempo must be a number"));
    assert_eq!(v["results"][2]["field"], "title", "{v}");
    let (_, t) = call(&app, "GET", "/v1/tracks/c1", Some(READER), None).await;
    assert_eq!(t["metadata"]["mood"], json!(["calm", "warm"]));

    let lines = "{\"id\":\"j1\",\"title\":\"Lines\",\"artist\":\"Band\"}\nnot json\n";
    let (_, _, body) = send(
        &app,
        post("application/x-ndjson", lines, "?all_or_nothing=true"),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["field"], "line 2", "{v}");
    let (status, _) = call(&app, "GET", "/v1/tracks/j1", Some(READER), None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "all or nothing wrote nothing"
    );
    let (_, _, body) = send(&app, post("application/x-ndjson", lines, "")).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["created"], 1, "{v}");

    let (status, _, body) = send(&app, post("text/csv", "title,artist\nA,B\n", "")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no id column"),
        "{v}"
    );
}

/// The paths `lib.rs` registers with `.route("PATH", ...)`, read from its source so that a
/// route added without documentation fails the test below.
fn registered_paths() -> Vec<String> {
    let source = include_str!("../../src/lib.rs");
    source
        .split(".route(")
        .skip(1)
        .filter_map(|rest| {
            let start = rest.find('"')? + 1;
            let len = rest[start..].find('"')?;
            Some(rest[start..start + len].to_string())
        })
        .collect()
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_answers() {
    let app = test_app();
    let (_, doc) = call(&app, "GET", "/openapi.json", None, None).await;
    let paths = doc["paths"].as_object().expect("paths");
    let registered = registered_paths();
    assert!(registered.len() > 20, "{registered:?}");
    for path in &registered {
        // `/ui/` is the same page as `/ui`.
        if path != "/ui/" {
            assert!(
                paths.contains_key(path),
                "{path} is served but not in /openapi.json"
            );
        }
    }
    for (path, operations) in paths {
        assert!(
            registered.contains(path),
            "{path} is documented but not served"
        );
        for method in operations.as_object().unwrap().keys() {
            let uri = path
                .replace("{id}", "no-such-id")
                .replace("{name}", "no-such-name");
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header("x-api-key", WRITER)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let (status, _, body) = send(&app, req).await;
            let text = String::from_utf8_lossy(&body);
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED && !text.contains("no such route"),
                "{method} {path} is documented but the router answers {status}: {text}"
            );
        }
    }
    // Every reference resolves to a schema in the document.
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{name} is referenced but not defined"
        );
    }
    // Every operation has its own id (generated clients name their methods by them).
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap_or(""))
        .collect();
    ids.sort_unstable();
    let repeated: Vec<&&str> = ids
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| &w[0])
        .collect();
    assert!(repeated.is_empty(), "operationIds used twice: {repeated:?}");
    // Parameters are where they are sent: query parameters are not path parameters.
    for (path, operations) in paths {
        for (method, op) in operations.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    p["in"] == "path",
                    in_path,
                    "{method} {path}: parameter {name} is declared in {}",
                    p["in"]
                );
            }
        }
    }
}

#[tokio::test]
async fn v1_requests_name_their_words_text_and_accept_the_old_names() {
    let app = test_app();
    let tracks = json!({"tracks": [track("a", "pop", &[]), track("b", "rock", &[])]});
    write_tracks(&app, &tracks).await;
    for body in [json!({"text": "song"}), json!({"question": "song"})] {
        let (status, v) = call(
            &app,
            "POST",
            "/v1/ask",
            Some(READER),
            Some(&body.to_string()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}: {v}");
    }
    for body in [
        json!({"text": "song", "length": 2}),
        json!({"prompt": "song", "length": 2}),
    ] {
        let (status, v) = call(
            &app,
            "POST",
            "/v1/playlist",
            Some(READER),
            Some(&body.to_string()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}: {v}");
    }
    let (status, v) = call(
        &app,
        "POST",
        "/v1/ask",
        Some(READER),
        Some(r#"{"text": " "}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["field"], "text");
    let (_, doc) = call(&app, "GET", "/openapi.json", None, None).await;
    for schema in ["AskRequest", "PlaylistRequest", "SearchRequest"] {
        assert!(
            doc["components"]["schemas"][schema]["properties"]["text"].is_object(),
            "{schema} documents `text`"
        );
    }
}

fn multipart_upload(path: &str, file: &[u8]) -> Request<Body> {
    let boundary = "test-boundary-7f3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.ogg\"\r\nContent-Type: audio/ogg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method("POST")
        .uri(path)
        .header("x-api-key", WRITER)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn uploads_stream_to_disk_and_an_oversized_one_is_413_leaving_nothing() {
    let app = test_app_with(ServerConfig {
        max_upload_bytes: 64 * 1024,
        ..Default::default()
    });
    let uploads = app._dir.path().join("uploads");
    let leftovers = || std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    let (status, _, body) = send(
        &app,
        multipart_upload("/v1/tracks/audio", &vec![7u8; 200 * 1024]),
    )
    .await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");
    assert_eq!(leftovers(), 0, "a refused upload leaves no file");
    // Within the limit but not audio: refused by the analysis, and nothing is kept either.
    let (status, _, body) = send(&app, multipart_upload("/v1/tracks/audio", &[1u8; 4096])).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(leftovers(), 0);
    let (status, _, _) = send(&app, multipart_upload("/v1/search/audio", &[1u8; 4096])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(leftovers(), 0, "a clip searched by sound is not kept");
}

/// A key of the metrics scope scrapes `/metrics` and nothing else; stronger keys scrape too.
#[tokio::test]
async fn a_metrics_key_scrapes_and_reads_nothing_else() {
    let (dir, state) = common::hashing_state(ServerConfig {
        api_keys: Some(
            format!("{READER}:read,{WRITER}:write,metrics-key-0001:metrics")
                .as_str()
                .into(),
        ),
        ..ServerConfig::default()
    });
    let app = TestApp {
        router: music_rag_server::app(state),
        _dir: dir,
    };
    let metrics = Some("metrics-key-0001");
    assert_eq!(
        call(&app, "GET", "/metrics", metrics, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "GET", "/metrics", Some(READER), None).await.0,
        StatusCode::OK
    );
    for (method, path, body) in [
        ("GET", "/v1/stats", None),
        ("GET", "/v1/tracks", None),
        ("POST", "/v1/search", Some(r#"{"text": "calm"}"#)),
    ] {
        let (status, body) = call(&app, method, path, metrics, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
}
