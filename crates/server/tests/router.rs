//! The HTTP application in process: the real router, middleware, store and use cases, called
//! through `tower::ServiceExt::oneshot` without a socket, with a deterministic hashing embedder
//! (tests of meaning over real HTTP and the real model are in the CLI crate's `http` suite).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use music_rag_core::testing::HashingEmbedder;
use music_rag_core::Engine;
use music_rag_server::config::ServerConfig;
use music_rag_server::error::ErrorCode;
use music_rag_server::state::AppState;
use music_rag_store::{Access, EmbeddedStore};
use serde_json::{json, Value};
use tower::ServiceExt;

const READER: &str = "reader-key-0001";
const WRITER: &str = "writer-key-0001";

struct TestApp {
    _dir: tempfile::TempDir,
    router: axum::Router,
}

fn test_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(
        dir.path(),
        Some(("hashing-test-embedder", 64)),
        Access::ReadWrite,
    )
    .unwrap();
    let engine = Arc::new(Engine::new(
        Arc::new(HashingEmbedder::new(64)),
        Arc::new(store),
    ));
    let settings = ServerConfig {
        api_keys: Some(format!("{READER}:read,{WRITER}:write").as_str().into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let state = AppState::new(engine, settings, dir.path().join("uploads"));
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
    let cases: [Case; 7] = [
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
