//! The real server (`music-rag serve` on port 0 over a real data directory) over real HTTP.

use crate::common;

use common::server::*;

use serde_json::{json, Value};

fn track(id: &str) -> Value {
    json!({"id": id, "title": "Harbour Lights", "artist": "The Test Band", "description": "A calm accordion waltz by the sea.",
           "metadata": {"genre": "folk", "tempo": 90, "mood": ["calm", "nostalgic"], "instrumentation": ["accordion"]}})
}

#[test]
fn original_endpoints_keep_their_shapes() {
    let app = spawn_app(&[]);
    let b = &app.base;
    let (s, r) = call("GET", &format!("{b}/"), None, None);
    let v = json_of(r);
    assert_eq!(s, 200);
    assert_eq!(v["name"], "Music RAG");
    assert!(v["version"].is_string());
    let (s, r) = call("GET", &format!("{b}/health"), None, None);
    assert_eq!((s, json_of(r)["status"].clone()), (200, json!("healthy")));

    let (s, r) = call(
        "POST",
        &format!("{b}/search"),
        Some(READER),
        Some(json!({"text_query": "jakson five abc", "top_k": 3})),
    );
    assert_eq!(s, 200);
    let hits = json_of(r);
    let first = &hits[0];
    for field in [
        "id",
        "title",
        "artist",
        "description",
        "genre",
        "mood",
        "cultural_origin",
        "tempo",
        "score",
        "retrieval_type",
    ] {
        assert!(first.get(field).is_some(), "missing {field}: {first}");
    }
    assert_eq!(first["id"], "harmonix:0004_abc");

    // Filters apply to every mood and to the tempo range, on every hit.
    let body = json!({"text_query": "music", "top_k": 20, "mood_filter": ["intense"], "tempo_range": [100, 150],
                      "use_broad_retrieval": true, "use_targeted_retrieval": true, "semantic_weight": 0.5});
    let (s, r) = call("POST", &format!("{b}/search"), Some(READER), Some(body));
    assert_eq!(s, 200);
    let hits = json_of(r);
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == "extra:djembe"),
        "{hits}"
    );
    for h in hits.as_array().unwrap() {
        assert!(h["mood"].as_array().unwrap().iter().any(|m| m == "intense"));
        let t = h["tempo"].as_f64().unwrap();
        assert!((100.0..=150.0).contains(&t));
    }

    // A cached response never outlives a write.
    let harbour = json!({"text_query": "harbour lights the test band", "top_k": 1});
    let (_, r) = call(
        "POST",
        &format!("{b}/search"),
        Some(READER),
        Some(harbour.clone()),
    );
    assert_ne!(json_of(r)[0]["id"], "api:one");
    let (s, r) = call(
        "POST",
        &format!("{b}/index"),
        Some(WRITER),
        Some(track("api:one")),
    );
    assert_eq!(s, 200);
    let v = json_of(r);
    assert_eq!(
        (v["status"].clone(), v["id"].clone()),
        (json!("success"), json!("api:one"))
    );
    assert!(v["message"].is_string());

    let (_, r) = call("POST", &format!("{b}/search"), Some(READER), Some(harbour));
    assert_eq!(
        json_of(r)[0]["id"],
        "api:one",
        "the search after the write must see it"
    );
    let batch = json!([track("api:two"), {"id": "api:bad", "title": "", "artist": "x"}, track("api:three")]);
    let (s, r) = call(
        "POST",
        &format!("{b}/index/batch"),
        Some(WRITER),
        Some(batch),
    );
    assert_eq!(s, 200);
    let v = json_of(r);
    assert_eq!(v["count"], 2, "{v}");
    assert_eq!(v["status"], "partial");
    assert_eq!(v["errors"][0]["field"], "title");

    let (s, r) = call("GET", &format!("{b}/item/api:two"), Some(READER), None);
    assert_eq!(s, 200);
    assert_eq!(json_of(r)["metadata"]["mood"], json!(["calm", "nostalgic"]));
    let (s, r) = call("GET", &format!("{b}/item/api:bad"), Some(READER), None);
    assert_eq!(s, 404);
    assert_eq!(json_of(r)["error"]["code"], "not_found");

    let (s, r) = call("GET", &format!("{b}/stats"), Some(READER), None);
    let v = json_of(r);
    assert_eq!(s, 200);
    assert!(v["text_embeddings_count"].as_u64().unwrap() > 1000);
    assert_eq!(v["audio_embeddings_count"], 0);
}

#[test]
fn versioned_api_crud_search_and_pages() {
    let app = spawn_app(&[]);
    let b = &app.base;
    let (s, r) = call(
        "PUT",
        &format!("{b}/v1/tracks/v1:a"),
        Some(WRITER),
        Some(track("")),
    );
    assert_eq!(s, 200);
    assert_eq!(json_of(r)["status"], "created");
    let (s, r) = call(
        "PUT",
        &format!("{b}/v1/tracks/v1:a"),
        Some(WRITER),
        Some(track("other")),
    );
    assert_eq!(s, 422);
    assert_eq!(json_of(r)["error"]["field"], "id");
    let (s, r) = call("GET", &format!("{b}/v1/tracks/v1:a"), Some(READER), None);
    assert_eq!(
        (s, json_of(r)["title"].clone()),
        (200, json!("Harbour Lights"))
    );

    let body = json!({"tracks": [track("v1:b"), track("v1:c"), {"id": "v1:x", "title": "t", "artist": "a", "year": 5}]});
    let (s, r) = call(
        "POST",
        &format!("{b}/v1/tracks"),
        Some(WRITER),
        Some(body.clone()),
    );
    let v = json_of(r);
    assert_eq!(s, 200);
    assert_eq!(
        (v["created"].clone(), v["failed"].clone()),
        (json!(2), json!(1)),
        "{v}"
    );
    assert_eq!(v["results"][2]["field"], "year");
    let mut strict = body;
    strict["all_or_nothing"] = json!(true);
    strict["tracks"][0]["id"] = json!("v1:never");
    let (s, r) = call(
        "POST",
        &format!("{b}/v1/tracks"),
        Some(WRITER),
        Some(strict),
    );
    assert_eq!(s, 422);
    assert_eq!(json_of(r)["error"]["field"], "tracks[2].year");
    assert_eq!(
        call(
            "GET",
            &format!("{b}/v1/tracks/v1:never"),
            Some(READER),
            None
        )
        .0,
        404
    );

    let q = json!({"text": "calm accordion waltz", "top_k": 3, "filters": {"genres": ["folk"]}});
    let (s, r) = call("POST", &format!("{b}/v1/search"), Some(READER), Some(q));
    let v = json_of(r);
    assert_eq!(s, 200);
    let hits = v["hits"].as_array().unwrap();
    assert!(hits
        .iter()
        .all(|h| h["track"]["metadata"]["genre"] == "folk"));
    assert!(hits[0]["why"]["summary"]
        .as_str()
        .unwrap()
        .contains("similarity"));
    assert!(v["parsed"].is_object() && v["timings"]["embed_ms"].is_number());
    assert_eq!(v["cached"], false);
    let again =
        json!({"text": "calm accordion waltz", "top_k": 3, "filters": {"genres": ["folk"]}});
    let (_, r) = call("POST", &format!("{b}/v1/search"), Some(READER), Some(again));
    let v2 = json_of(r);
    assert_eq!(v2["cached"], true);
    assert_eq!(v2["hits"], v["hits"]);

    // Every track exactly once across pages.
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{b}/v1/tracks?limit=400&cursor={}", urlencode(c)),
            None => format!("{b}/v1/tracks?limit=400"),
        };
        let (s, r) = call("GET", &url, Some(READER), None);
        assert_eq!(s, 200);
        let v = json_of(r);
        for t in v["tracks"].as_array().unwrap() {
            assert!(
                seen.insert(t["id"].as_str().unwrap().to_string()),
                "duplicate across pages"
            );
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let (_, r) = call("GET", &format!("{b}/v1/stats"), Some(READER), None);
    assert_eq!(seen.len() as u64, json_of(r)["tracks"].as_u64().unwrap());
    assert_eq!(
        call("GET", &format!("{b}/v1/tracks?limit=0"), Some(READER), None).0,
        422
    );

    assert_eq!(
        call("DELETE", &format!("{b}/v1/tracks/v1:a"), Some(WRITER), None).0,
        204
    );
    assert_eq!(
        call("DELETE", &format!("{b}/v1/tracks/v1:a"), Some(WRITER), None).0,
        404
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn keys_and_scopes_guard_every_route() {
    let app = spawn_app(&[]);
    let b = &app.base;
    let search = json!({"text_query": "x"});
    let routes: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("POST", format!("{b}/search"), Some(search.clone()), "read"),
        ("GET", format!("{b}/stats"), None, "read"),
        ("GET", format!("{b}/item/harmonix:0004_abc"), None, "read"),
        (
            "POST",
            format!("{b}/v1/search"),
            Some(json!({"text": "x"})),
            "read",
        ),
        ("GET", format!("{b}/v1/tracks"), None, "read"),
        (
            "GET",
            format!("{b}/v1/tracks/harmonix:0004_abc"),
            None,
            "read",
        ),
        ("GET", format!("{b}/v1/stats"), None, "read"),
        ("POST", format!("{b}/index"), Some(track("auth:1")), "write"),
        (
            "POST",
            format!("{b}/index/batch"),
            Some(json!([track("auth:2")])),
            "write",
        ),
        (
            "POST",
            format!("{b}/v1/tracks"),
            Some(json!({"tracks": [track("auth:3")]})),
            "write",
        ),
        (
            "PUT",
            format!("{b}/v1/tracks/auth:4"),
            Some(track("auth:4")),
            "write",
        ),
        ("DELETE", format!("{b}/v1/tracks/auth:4"), None, "write"),
        ("GET", format!("{b}/metrics"), None, "metrics"),
    ];
    for (method, url, body, scope) in &routes {
        let (s, r) = call(method, url, None, body.clone());
        assert_eq!(s, 401, "{method} {url} without a key");
        assert_eq!(json_of(r)["error"]["code"], "unauthorized");
        assert_eq!(
            call(method, url, Some("wrong-key-123"), body.clone()).0,
            401,
            "{method} {url} with a wrong key"
        );
        if *scope != "read" && *scope != "metrics" {
            let (s, r) = call(method, url, Some(READER), body.clone());
            assert_eq!(s, 403, "{method} {url} with a read key");
            assert_eq!(json_of(r)["error"]["code"], "forbidden");
        }
        if *scope == "admin" {
            assert_eq!(
                call(method, url, Some(WRITER), body.clone()).0,
                403,
                "{method} {url} with a write key"
            );
        }
    }
    // The right scope (and Bearer) is let in.
    let r = agent()
        .get(&format!("{b}/v1/stats"))
        .set("Authorization", &format!("Bearer {READER}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        call(
            "DELETE",
            &format!("{b}/v1/tracks/harmonix:0004_abc"),
            Some(WRITER),
            None
        )
        .0,
        204
    );
    // Public routes need no key.
    for p in ["/", "/health", "/ready", "/openapi.json", "/docs"] {
        assert_eq!(call("GET", &format!("{b}{p}"), None, None).0, 200, "{p}");
    }
}

#[test]
fn operations_endpoints() {
    let app = spawn_app(&[]);
    let b = &app.base;
    call(
        "POST",
        &format!("{b}/search"),
        Some(READER),
        Some(json!({"text_query": "calm piano"})),
    );
    let (s, r) = call("GET", &format!("{b}/metrics"), Some(ADMIN), None);
    assert_eq!(s, 200);
    let text = r.into_string().unwrap();
    for name in [
        "music_rag_http_requests_total",
        "music_rag_http_request_duration_seconds_bucket",
        "music_rag_search_stage_seconds_bucket{stage=\"embed\"",
        "music_rag_catalog_tracks",
        "music_rag_query_cache_misses_total",
    ] {
        assert!(text.contains(name), "metrics lack {name}:\n{text}");
    }
    assert!(text.contains("route=\"/search\""), "{text}");
    let (_, r) = call("GET", &format!("{b}/openapi.json"), None, None);
    let doc = json_of(r);
    for path in [
        "/",
        "/health",
        "/search",
        "/index",
        "/index/batch",
        "/stats",
        "/item/{id}",
        "/v1/search",
        "/v1/tracks",
        "/v1/tracks/{id}",
        "/ready",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    let (_, r) = call("GET", &format!("{b}/docs"), None, None);
    let html = r.into_string().unwrap();
    assert!(
        html.contains("/openapi.json") && !html.contains("cdn"),
        "the docs page must not load outside scripts"
    );
    let (s, r) = call("GET", &format!("{b}/ready"), None, None);
    assert_eq!((s, json_of(r)["status"].clone()), (200, json!("ready")));
    let (s, r) = call("GET", &format!("{b}/nowhere"), None, None);
    assert_eq!(
        (s, json_of(r)["error"]["code"].clone()),
        (404, json!("not_found"))
    );
}

#[test]
fn bad_requests_are_4xx_naming_the_field() {
    let app = spawn_app(&[]);
    let b = &app.base;
    let cases = [
        (json!({"text_query": "x", "top_k": 0}), 422, "top_k"),
        (json!({"text_query": "x", "top_k": "ten"}), 422, "top_k"),
        (
            json!({"text_query": "x", "semantic_weight": 2}),
            422,
            "semantic_weight",
        ),
        (
            json!({"text_query": "x", "tempo_range": [150, 90]}),
            422,
            "tempo_range",
        ),
        (
            json!({"text_query": "x", "tempo_range": [90]}),
            422,
            "tempo_range",
        ),
        (json!({"top_k": 3}), 422, "text_query"),
        (json!({"text_query": "x", "surprise": 1}), 422, "surprise"),
    ];
    for (body, status, field) in cases {
        let (s, r) = call(
            "POST",
            &format!("{b}/search"),
            Some(READER),
            Some(body.clone()),
        );
        let v = json_of(r);
        assert_eq!(s, status, "{body} -> {v}");
        assert_eq!(v["error"]["field"], field, "{body} -> {v}");
    }
    let bad_track = json!({"id": "t", "title": "T", "artist": "A", "metadata": {"tempo": 900}});
    let (s, r) = call("POST", &format!("{b}/index"), Some(WRITER), Some(bad_track));
    assert_eq!(
        (s, json_of(r)["error"]["field"].clone()),
        (422, json!("metadata.tempo"))
    );
    let r = agent()
        .post(&format!("{b}/search"))
        .set("X-API-Key", READER)
        .set("Content-Type", "application/json")
        .send_string("{\"text_query\":");
    match r {
        Err(ureq::Error::Status(400, r)) => {
            assert_eq!(json_of(r)["error"]["code"], "malformed_json")
        }
        other => panic!("malformed JSON must be a 400, got {other:?}"),
    }
}

#[test]
fn cors_rate_limits_and_body_limits() {
    let app = spawn_app(&[
        ("CORS_ORIGINS", "https://music.example"),
        ("MUSIC_RAG_RATE_LIMIT_PER_SECOND", "1"),
        ("MUSIC_RAG_RATE_LIMIT_BURST", "3"),
        ("MUSIC_RAG_MAX_BODY_BYTES", "2000"),
    ]);
    let b = &app.base;
    let pre = |origin: &str| {
        agent()
            .request("OPTIONS", &format!("{b}/search"))
            .set("Origin", origin)
            .set("Access-Control-Request-Method", "POST")
            .set("Access-Control-Request-Headers", "x-api-key,content-type")
            .call()
            .unwrap()
    };
    let ok = pre("https://music.example");
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://music.example")
    );
    assert!(ok
        .header("access-control-allow-headers")
        .unwrap()
        .contains("x-api-key"));
    assert_eq!(
        pre("https://evil.example").header("access-control-allow-origin"),
        None
    );

    let big = json!([{"id": "big", "title": "T", "artist": "A", "description": "x".repeat(5000)}]);
    let (s, r) = call("POST", &format!("{b}/index/batch"), Some(WRITER), Some(big));
    assert_eq!(
        (s, json_of(r)["error"]["code"].clone()),
        (413, json!("payload_too_large"))
    );

    let mut limited = None;
    for _ in 0..8 {
        let (s, r) = call("GET", &format!("{b}/v1/stats"), Some(READER), None);
        if s == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a burst over the limit gets 429");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(json_of(r)["error"]["code"], "rate_limited");
    // Another key has its own budget.
    assert_eq!(
        call("GET", &format!("{b}/v1/stats"), Some(ADMIN), None).0,
        200
    );
}

#[test]
fn a_restart_keeps_what_the_api_wrote_and_sigterm_exits_cleanly() {
    let mut app = spawn_app(&[]);
    let b = app.base.clone();
    assert_eq!(
        call(
            "PUT",
            &format!("{b}/v1/tracks/restart:1"),
            Some(WRITER),
            Some(track(""))
        )
        .0,
        200
    );
    let status = app.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM must drain and exit 0");
    let data = app.data.clone();
    let again = spawn_on(&data, &[]);
    let (s, r) = call(
        "GET",
        &format!("{}/v1/tracks/restart:1", again.base),
        Some(READER),
        None,
    );
    assert_eq!(
        (s, json_of(r)["title"].clone()),
        (200, json!("Harbour Lights"))
    );
    let q = json!({"text_query": "harbour lights test band", "top_k": 1});
    let (_, r) = call(
        "POST",
        &format!("{}/search", again.base),
        Some(READER),
        Some(q),
    );
    assert_eq!(json_of(r)[0]["id"], "restart:1");
}

#[test]
fn unsafe_exposure_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::bin()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .env_remove("MUSIC_RAG_API_KEYS")
        .env_remove("API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--allow-unauthenticated") && err.contains("API_KEY"),
        "{err}"
    );
    let out = common::bin()
        .args(["config", "--json"])
        .env("API_KEY", "super-secret-value")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !text.contains("super-secret-value") && text.contains("********"),
        "{text}"
    );
}

/// The schemathesis CLI: `SCHEMATHESIS`, else the one `scripts/test.sh` installs.
fn schemathesis() -> std::path::PathBuf {
    let path = std::env::var_os("SCHEMATHESIS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/schemathesis/bin/schemathesis")
        });
    assert!(
        path.is_file(),
        "schemathesis is needed at {} (scripts/test.sh installs it from PyPI)",
        path.display()
    );
    path
}

/// The OpenAPI document tells the truth: schemathesis generates requests from it (valid and
/// invalid, every operation, and sequences that follow the document's links) and checks
/// every answer: no 5xx, status codes, content types, headers and bodies as documented,
/// schema-valid requests accepted and schema-invalid ones refused. The few rules a schema
/// cannot state (across fields, row-by-row batches) are listed with their reasons in
/// `tests/schemathesis.toml`.
#[test]
fn the_openapi_document_holds_under_schemathesis() {
    let app = spawn_app(&[
        ("MUSIC_RAG_RATE_LIMIT_PER_SECOND", "100000"),
        ("MUSIC_RAG_RATE_LIMIT_BURST", "100000"),
        // Its requests without keys are failed authentications, many of them.
        ("MUSIC_RAG_AUTH_FAILURES_PER_MINUTE", "100000"),
    ]);
    let report = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    let out = std::process::Command::new(schemathesis())
        .arg("--config-file")
        .arg(&config)
        .args([
            "run",
            &format!("{}/openapi.json", app.base),
            "--checks",
            "all",
            "--max-examples",
            "15",
            "--generation-deterministic",
            "--request-timeout",
            "60",
            "--header",
            &format!("X-API-Key: {ADMIN}"),
            "--report-dir",
            report.path().to_str().unwrap(),
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    assert!(text.contains("Tested: "), "{text}");
}

/// Status of `GET /v1/stats` with `key`.
fn status_with(base: &str, key: &str) -> u16 {
    call("GET", &format!("{base}/v1/stats"), Some(key), None).0
}

/// Waits up to `seconds` for `check` to hold.
fn eventually(seconds: u64, check: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    check()
}

#[test]
fn keys_come_from_a_file_and_rotate_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api-keys");
    let (old, new) = ("old-rotating-key-0001", "new-rotating-key-0002");
    std::fs::write(&file, format!("{old}:read\n")).unwrap();
    let app = spawn_app(&[
        ("MUSIC_RAG_API_KEYS", ""),
        ("MUSIC_RAG_API_KEYS_FILE", file.to_str().unwrap()),
    ]);
    let b = &app.base;
    assert_eq!(status_with(b, old), 200);
    assert_eq!(status_with(b, new), 401);
    // Both keys during the rotation, on SIGHUP.
    std::fs::write(&file, format!("{old}:read,{new}:read\n")).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &app.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert!(
        eventually(5, || status_with(b, new) == 200),
        "the new key works after SIGHUP"
    );
    assert_eq!(
        status_with(b, old),
        200,
        "the old key still works during the rotation"
    );
    // The old key removed: a change of the file is enough.
    std::fs::write(&file, format!("{new}:read\n")).unwrap();
    assert!(
        eventually(6, || status_with(b, old) == 401),
        "the old key is refused"
    );
    assert_eq!(status_with(b, new), 200);
    // A broken file keeps the keys in force.
    std::fs::write(&file, "short:read\n").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        status_with(b, new),
        200,
        "an invalid keys file changes nothing"
    );

    // A secret and its file together are refused, naming both.
    let secret = dir.path().join("api-key");
    std::fs::write(&secret, "file-secret-value-0001\n").unwrap();
    let out = common::bin()
        .args(["config", "--json"])
        .env("API_KEY", "direct-secret-value-01")
        .env("API_KEY_FILE", &secret)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("API_KEY_FILE") && err.contains("API_KEY is set too"),
        "{err}"
    );
    let out = common::bin()
        .args(["config", "--json"])
        .env_remove("API_KEY")
        .env("API_KEY_FILE", &secret)
        .env("PORT", "8123")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["config"]["api_key"], "********");
    assert_eq!(
        v["config"]["port"], 8123,
        "PORT is used when API_PORT is unset"
    );
    let out = common::bin()
        .args(["config", "--json"])
        .env("PORT", "8123")
        .env("API_PORT", "9000")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["port"], 9000, "API_PORT wins over PORT");

    // `config` checks what `serve` checks before listening: TLS files that load, one database
    // URL. It never says "would start" for a configuration that will not.
    let missing = dir.path().join("missing.pem");
    let url_file = dir.path().join("db-url");
    std::fs::write(&url_file, "postgres://u@127.0.0.1:1/x\n").unwrap();
    for (env, needle) in [
        (
            vec![
                ("MUSIC_RAG_TLS_CERT_FILE", missing.to_str().unwrap()),
                ("MUSIC_RAG_TLS_KEY_FILE", missing.to_str().unwrap()),
            ],
            "TLS",
        ),
        (
            vec![
                ("DATABASE_URL", "postgres://u@127.0.0.1:1/x"),
                ("DATABASE_URL_FILE", url_file.to_str().unwrap()),
            ],
            "DATABASE_URL_FILE",
        ),
    ] {
        let mut cmd = common::bin();
        cmd.args(["config"]).env_remove("API_KEY");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {err}");
        assert!(
            err.contains("will not start") && err.contains(needle),
            "{env:?}: {err}"
        );
    }
}

#[test]
fn versions_and_the_container_healthcheck() {
    let app = spawn_app(&[]);
    let (_, r) = call("GET", &format!("{}/health", app.base), None, None);
    let v = json_of(r);
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["store_schema_version"], 1, "{v}");
    let out = common::bin().arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")) && text.contains("store schema 1"),
        "{text}"
    );

    let ok = common::bin()
        .args(["healthcheck", "--url", &app.base])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("\"status\":\"ready\""));
    // Nothing listens on this port any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = common::bin()
        .args(["healthcheck", "--url", &url, "--timeout", "2"])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("not ready: cannot reach"));
}

/// A self-signed certificate for localhost written as PEM files; returns its DER form.
fn write_certificate(dir: &std::path::Path) -> Vec<u8> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem()).unwrap();
    made.cert.der().to_vec()
}

/// `GET /health` over HTTPS trusting only `trusted`: the status, or the TLS error.
fn https_status(base: &str, trusted: &[u8]) -> Result<u16, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.to_vec().into()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let agent = ureq::AgentBuilder::new()
        .tls_config(std::sync::Arc::new(config))
        .timeout(std::time::Duration::from_secs(10))
        .build();
    let url = base.replace("127.0.0.1", "localhost");
    match agent.get(&format!("{url}/health")).call() {
        Ok(r) => Ok(r.status()),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn https_with_a_certificate_reloaded_on_sighup() {
    let files = tempfile::tempdir().unwrap();
    let first = write_certificate(files.path());
    let cert = files.path().join("cert.pem");
    let key = files.path().join("key.pem");
    let app = spawn_app(&[
        ("MUSIC_RAG_TLS_CERT_FILE", cert.to_str().unwrap()),
        ("MUSIC_RAG_TLS_KEY_FILE", key.to_str().unwrap()),
    ]);
    assert!(app.base.starts_with("https://"), "{}", app.base);
    assert_eq!(https_status(&app.base, &first), Ok(200));

    // The container probe speaks HTTPS to its own server.
    let port = app.base.rsplit(':').next().unwrap();
    let probe = common::bin()
        .args(["healthcheck"])
        .env("API_PORT", port)
        .env("MUSIC_RAG_TLS_CERT_FILE", &cert)
        .env("MUSIC_RAG_TLS_KEY_FILE", &key)
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );

    let second = write_certificate(files.path());
    assert!(
        https_status(&app.base, &second).is_err(),
        "the new certificate is not served before SIGHUP"
    );
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &app.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert!(
        eventually(5, || https_status(&app.base, &second) == Ok(200)),
        "the new certificate is served after SIGHUP"
    );
    assert!(https_status(&app.base, &first).is_err());

    // Backups over HTTPS with a self-signed (or private-CA) certificate: refused against the
    // public roots, taken with --cacert or SSL_CERT_FILE.
    let server = app.base.replace("127.0.0.1", "localhost");
    let to = files.path().join("offsite");
    let backup = |cacert: Option<&std::path::Path>, ssl_cert_file: Option<&std::path::Path>| {
        let mut cmd = common::bin();
        cmd.args(["backup", "--server", &server, "--to", to.to_str().unwrap()])
            .env("API_KEY", ADMIN)
            .env_remove("SSL_CERT_FILE")
            .env_remove("MUSIC_RAG_CA_CERT_FILE");
        if let Some(c) = cacert {
            cmd.arg("--cacert").arg(c);
        }
        if let Some(f) = ssl_cert_file {
            cmd.env("SSL_CERT_FILE", f);
        }
        cmd.output().unwrap()
    };
    let refused = backup(None, None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("cannot reach"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    for (cacert, env) in [(Some(cert.as_path()), None), (None, Some(cert.as_path()))] {
        let out = backup(cacert, env);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let kept = std::fs::read_dir(&to).unwrap().count();
    assert_eq!(kept, 2, "two snapshots downloaded over HTTPS");

    // Half a pair is refused at start, naming the missing setting.
    let out = common::bin()
        .args(["serve", "--port", "0", "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses --tls-cert alone");
    let out = common::bin()
        .args(["config", "--json"])
        .env("MUSIC_RAG_TLS_CERT_FILE", &cert)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["problem"].as_str().unwrap_or("").contains("tls_key_file"),
        "{v}"
    );
}

#[test]
fn logs_are_json_lines_with_an_access_line_per_request_and_no_secret() {
    let (_tmp, data) = common::fresh_copy();
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("server.log");
    let mut child = common::bin()
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--port", "0"])
        .env("MUSIC_RAG_API_KEYS", format!("{READER}:read"))
        .env("LOG_LEVEL", "info")
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    call(
        "POST",
        &format!("{base}/v1/search"),
        Some(READER),
        Some(json!({"text": "calm piano"})),
    );
    call(
        "GET",
        &format!("{base}/v1/tracks/harmonix:0004_abc"),
        Some(READER),
        None,
    );
    call("GET", &format!("{base}/v1/stats"), None, None);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(!text.contains(READER), "a key was logged:\n{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let start = lines
        .iter()
        .find(|l| l["fields"]["message"] == "music-rag listening")
        .expect("a startup line");
    assert_eq!(start["fields"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(start["fields"]["store_schema"], 1);
    assert!(
        start["fields"]["settings"]
            .as_str()
            .unwrap()
            .contains("********:read"),
        "{start}"
    );
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "music_rag_server::access")
        .collect();
    assert_eq!(access.len(), 3, "{text}");
    let get = access
        .iter()
        .find(|l| l["fields"]["route"] == "/v1/tracks/{id}")
        .expect("the route template, not the raw path");
    assert_eq!(get["fields"]["status"], 200);
    assert_eq!(get["fields"]["method"], "GET");
    assert!(get["fields"]["latency_ms"].as_f64().is_some());
    assert!(!get["fields"]["request_id"].as_str().unwrap().is_empty());
    assert_eq!(get["fields"]["key_id"].as_str().unwrap().len(), 8, "{get}");
    let refused = access
        .iter()
        .find(|l| l["fields"]["status"] == 401)
        .expect("the refused call");
    assert_eq!(refused["fields"]["key_id"], "");
}

#[test]
fn sigterm_during_a_long_batch_exits_within_the_grace_period_and_commits_all_or_nothing() {
    let mut app = spawn_app(&[("MUSIC_RAG_SHUTDOWN_GRACE_SECONDS", "2")]);
    let b = app.base.clone();
    let tracks_in = |base: &str| {
        let (_, r) = call("GET", &format!("{base}/v1/stats"), Some(READER), None);
        json_of(r)["tracks"].as_u64().unwrap()
    };
    let before = tracks_in(&b);
    // Long enough to be embedding when SIGTERM comes and past the grace (each description
    // differs, and is long: about 5 s of embedding here).
    const N: u64 = 1000;
    let tracks: Vec<Value> = (0..N)
        .map(|i| {
            json!({"id": format!("grace:{i}"), "title": format!("Grace Note {i}"), "artist": "The Drain Band",
                   "description": format!("A slow piece number {i} about leaving on time, with strings and a piano. \
                        The cello answers the violins in the second part, and the piano keeps a quiet pulse \
                        under them until the last chord {i} fades into the sound of the harbour at night.")})
        })
        .collect();
    let url = format!("{b}/v1/tracks");
    // 0: the connection closed without an answer.
    let writer = std::thread::spawn(move || {
        match agent()
            .post(&url)
            .set("X-API-Key", WRITER)
            .send_json(json!({ "tracks": tracks }))
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(_) => 0,
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(800));
    let sent = std::time::Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &app.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = app.child.wait().unwrap();
    let took = sent.elapsed();
    assert!(
        took.as_secs_f64() < 5.0,
        "exited {took:?} after SIGTERM; the grace is 2 s"
    );
    assert_eq!(status.code(), Some(0));
    let answered = writer.join().unwrap();
    // The store opens, and holds the batch whole (answered 200) or not at all.
    let data = app.data.clone();
    let again = spawn_on(&data, &[]);
    // Counted in one request: 600 lookups would run into the per-key rate limit.
    let stored = tracks_in(&again.base) - before;
    if answered == 200 {
        assert_eq!(stored, N);
    } else {
        assert!(
            stored == 0 || stored == N,
            "{stored} of {N} tracks committed"
        );
    }
}

/// `promtool` from Debian's `prometheus` package (`.ci/run` installs it), or `PROMTOOL`.
fn promtool() -> String {
    let tool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let found = std::process::Command::new(&tool).arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "{tool} is needed for the alert rules (Debian package prometheus; .ci/run installs it)"
    );
    tool
}

#[test]
fn alert_rules_and_the_dashboard_read_only_exported_metrics() {
    let rules_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/monitoring");
    let tool = promtool();
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = std::process::Command::new(&tool)
            .current_dir(&rules_dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every metric a rule or a dashboard panel reads is exported by a server that has served,
    // answered, written and snapshotted.
    let app = spawn_app(&[]);
    let b = &app.base;
    call(
        "POST",
        &format!("{b}/v1/search"),
        Some(READER),
        Some(json!({"text": "calm piano"})),
    );
    call(
        "POST",
        &format!("{b}/v1/tracks"),
        Some(WRITER),
        Some(json!({"tracks": [track("metrics:1")]})),
    );
    call(
        "POST",
        &format!("{b}/v1/ask"),
        Some(READER),
        Some(json!({"text": "calm piano?"})),
    );
    call("GET", &format!("{b}/ready"), None, None);
    call(
        "POST",
        &format!("{b}/v1/admin/snapshots"),
        Some(ADMIN),
        None,
    );
    let (_, r) = call("GET", &format!("{b}/metrics"), Some(ADMIN), None);
    let exported = r.into_string().unwrap();
    // The rules and the Grafana dashboard's queries.
    let dashboard = std::fs::read_to_string(rules_dir.join("dashboard.json")).unwrap();
    let panels = serde_json::from_str::<Value>(&dashboard).unwrap()["panels"]
        .as_array()
        .map_or(0, |p| p.len());
    assert!(panels >= 10, "the dashboard has {panels} panels");
    let rules = std::fs::read_to_string(rules_dir.join("alerts.yml")).unwrap() + &dashboard;
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| (w.starts_with("music_rag_") || w.starts_with("process_")) && !w.contains(':'))
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 10, "{used:?}");
    // Exported only where a feature is configured; crates/cli/tests/it/offsite.rs checks them
    // where it is.
    let configured_only = ["music_rag_snapshot_upload_"];
    for name in used {
        if configured_only.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        assert!(
            exported.lines().any(|l| l.starts_with(name)),
            "the rules or the dashboard read {name}, which /metrics does not export"
        );
    }
}
