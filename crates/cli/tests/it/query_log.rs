//! What people search for, through the real server: `MUSIC_RAG_QUERY_LOG=off` keeps nothing
//! (no report, no counters, no file), `counts` numbers only, `texts` the normalised texts; the
//! log outlives a restart, is admin-only, and never holds a key or a client address.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::fresh_copy;
use common::server::{call, json_of, spawn_on, App, ADMIN, READER};
use serde_json::{json, Value};

fn search(app: &App, body: Value) {
    let (status, _) = call(
        "POST",
        &format!("{}/v1/search", app.base),
        Some(READER),
        Some(body),
    );
    assert_eq!(status, 200);
}

fn report(app: &App) -> Value {
    let (status, r) = call(
        "GET",
        &format!("{}/v1/stats/queries", app.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 200);
    json_of(r)
}

/// Stops the server as an orchestrator does (SIGTERM), so it saves what it keeps.
fn stop(mut app: App) {
    let pid = app.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    for _ in 0..100 {
        if app.child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not stop on SIGTERM");
}

fn run_queries(app: &App) {
    search(app, json!({"text": "Calm  Piano"}));
    search(app, json!({"text": "calm piano"}));
    search(
        app,
        json!({"text": "piano", "filters": {"genres": ["no-such-genre-anywhere"]}}),
    );
    let (status, _) = call(
        "POST",
        &format!("{}/search", app.base),
        Some(READER),
        Some(json!({"text_query": "upbeat dance music for a summer party night"})),
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        "POST",
        &format!("{}/v1/ask", app.base),
        Some(READER),
        Some(json!({"text": "what calm piano pieces are there?"})),
    );
    assert_eq!(status, 200);
}

fn log_file(data: &Path) -> std::path::PathBuf {
    data.join("query-log.json")
}

#[test]
fn the_query_log_keeps_what_its_setting_allows_and_nothing_when_off() {
    let (_tmp, data) = fresh_copy();

    // Off: nothing counted, exported or written.
    let app = spawn_on(&data, &[("MUSIC_RAG_QUERY_LOG", "off")]);
    run_queries(&app);
    let r = report(&app);
    assert_eq!(
        (r["mode"].as_str(), r["total"].as_u64()),
        (Some("off"), Some(0)),
        "{r}"
    );
    let (_, m) = call("GET", &format!("{}/metrics", app.base), Some(ADMIN), None);
    let metrics = m.into_string().unwrap();
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("music_rag_queries_total{")),
        "{metrics}"
    );
    stop(app);
    assert!(!log_file(&data).exists(), "off writes no file");

    // Texts: the normalised texts, by kind; admin only; bad parameters named.
    let app = spawn_on(&data, &[("MUSIC_RAG_QUERY_LOG", "texts")]);
    run_queries(&app);
    let r = report(&app);
    assert_eq!(r["mode"], "texts");
    assert_eq!(r["total"].as_u64(), Some(5), "{r}");
    assert_eq!(r["by_route"]["ask"].as_u64(), Some(1), "{r}");
    let routes: u64 = r["by_route"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(routes, 5, "{r}");
    assert_eq!(
        r["top"][0],
        json!({"text": "calm piano", "count": 2}),
        "{r}"
    );
    assert!(r["zero_results"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["zero_result_top"][0]["text"], "piano", "{r}");
    let (_, m) = call("GET", &format!("{}/metrics", app.base), Some(ADMIN), None);
    let metrics = m.into_string().unwrap();
    assert!(
        metrics.contains("music_rag_queries_total{route=\"keywords\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("music_rag_zero_result_queries_total"),
        "{metrics}"
    );
    let (status, _) = call(
        "GET",
        &format!("{}/v1/stats/queries", app.base),
        Some(READER),
        None,
    );
    assert_eq!(status, 403, "the texts are what users typed: admin only");
    for (query, field) in [
        ("days=9", "days"),
        ("limit=0", "limit"),
        ("since=1", "since"),
    ] {
        let (status, r) = call(
            "GET",
            &format!("{}/v1/stats/queries?{query}", app.base),
            Some(ADMIN),
            None,
        );
        assert!(status == 422 || status == 400, "{query}: {status}");
        let body = r.into_string().unwrap();
        assert!(body.contains(field), "{query}: {body}");
    }
    stop(app);
    let saved = std::fs::read_to_string(log_file(&data)).unwrap();
    assert!(saved.contains("calm piano"));
    for secret in [ADMIN, READER, "127.0.0.1", "X-API-Key"] {
        assert!(!saved.contains(secret), "the log holds {secret}");
    }

    // A restart keeps the counts; under `counts` the texts are no longer shown nor kept.
    let app = spawn_on(&data, &[("MUSIC_RAG_QUERY_LOG", "texts")]);
    assert_eq!(report(&app)["total"].as_u64(), Some(5));
    stop(app);
    let app = spawn_on(&data, &[("MUSIC_RAG_QUERY_LOG", "counts")]);
    search(&app, json!({"text": "violin"}));
    let r = report(&app);
    assert_eq!(r["total"].as_u64(), Some(6), "{r}");
    assert!(r["top"].as_array().unwrap().is_empty(), "{r}");
    stop(app);
    assert!(!std::fs::read_to_string(log_file(&data))
        .unwrap()
        .contains("calm piano"));

    // Turned off: what was kept is deleted.
    let app = spawn_on(&data, &[("MUSIC_RAG_QUERY_LOG", "off")]);
    assert_eq!(report(&app)["total"].as_u64(), Some(0));
    assert!(!log_file(&data).exists());
    drop(app);

    // A setting that is not one of the three stops the server with the rule.
    let out = common::bin()
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--port", "0"])
        .env("MUSIC_RAG_QUERY_LOG", "verbose")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MUSIC_RAG_QUERY_LOG") && err.contains("off, counts or texts"),
        "{err}"
    );
}
