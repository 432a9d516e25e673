//! Shared helpers: run the real `music-rag` binary against real data directories.

#![allow(dead_code)]

pub mod server;
pub mod sound;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_music-rag"));
    c.env_remove("MUSIC_RAG_DATA_DIR").env("LOG_LEVEL", "warn");
    c
}

pub fn run(data: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("music-rag runs")
}

pub fn ok_json(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = run(data, &all);
    assert!(
        out.status.success(),
        "music-rag {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A real sample of the demo catalog (all Harmonix tracks, every 20th MusicCaps clip, some
/// MusicNet recordings) plus hand-written tracks with years, keys, origins and live flags.
pub fn sample_catalog() -> String {
    let c = repo().join("catalog");
    let read = |f: &str| std::fs::read_to_string(c.join(f)).unwrap();
    let mut lines: Vec<String> = read("harmonix.jsonl").lines().map(str::to_string).collect();
    lines.extend(read("musicnet.jsonl").lines().take(60).map(str::to_string));
    lines.extend(
        read("musiccaps.jsonl")
            .lines()
            .step_by(20)
            .map(str::to_string),
    );
    lines.extend(
        include_str!("../../fixtures/extra.jsonl")
            .lines()
            .map(str::to_string),
    );
    lines.join("\n") + "\n"
}

/// One data directory per test binary with the sample catalog ingested (embedding is the
/// slow part, so it is done once). Tests that write use `fresh_copy`.
pub fn shared_store() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("sample.jsonl");
        std::fs::write(&file, sample_catalog()).unwrap();
        let data = tmp.path().join("data");
        let out = run(&data, &["ingest", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "sample ingest failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (tmp, data)
    });
    path
}

/// A private copy of the shared store for a test that writes.
pub fn fresh_copy() -> (tempfile::TempDir, PathBuf) {
    let src = shared_store();
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("data");
    copy_dir(src, &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

pub fn hits(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["hits"].as_array().cloned().unwrap_or_default()
}

pub fn ids(v: &serde_json::Value) -> Vec<String> {
    hits(v)
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}
