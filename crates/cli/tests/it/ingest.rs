//! Imports through the real binary: idempotence, bad rows, dry runs, deletes, and a crash.

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{bin, fresh_copy, ids, ok_json, run};

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn reingesting_changes_nothing_and_updates_replace() {
    let (tmp, data) = fresh_copy();
    let before = ok_json(&data, &["stats"])["tracks"].as_u64().unwrap();
    let file = write(
        tmp.path(),
        "again.jsonl",
        include_str!("../fixtures/extra.jsonl"),
    );
    let r = ok_json(&data, &["ingest", &file]);
    assert_eq!(r["unchanged"], 5, "{r}");
    assert_eq!(r["embedded"], 0);
    let seq = ok_json(&data, &["stats"])["sequence"].as_u64().unwrap();
    // Same id, new facts: replaced, never duplicated; the text did not change so the vector is reused.
    let updated = include_str!("../fixtures/extra.jsonl")
        .lines()
        .next()
        .unwrap()
        .replace("\"tempo\":132", "\"tempo\":133");
    let file = write(tmp.path(), "update.jsonl", &updated);
    let r = ok_json(&data, &["ingest", &file]);
    assert_eq!(r["updated"], 1, "{r}");
    assert_eq!(r["embedded"], 0, "{r}");
    let s = ok_json(&data, &["stats"]);
    assert_eq!(s["tracks"].as_u64().unwrap(), before);
    assert!(s["sequence"].as_u64().unwrap() > seq);
    assert_eq!(
        ok_json(&data, &["item", "extra:highlife"])["metadata"]["tempo"],
        133.0
    );
}

#[test]
fn bad_rows_are_reported_by_line_and_good_rows_kept() {
    let (tmp, data) = fresh_copy();
    let csv = "id,title,artist,tempo,mood,genre\n\
               csv:ok1,First Good,Someone,100,happy;calm,folk\n\
               csv:bad-tempo,Bad Tempo,Someone,999,,folk\n\
               ,No Id,Someone,100,,folk\n\
               csv:no-title,,Someone,100,,folk\n\
               csv:ok2,Second Good,Someone,fast,,folk\n\
               csv:ok3,Third Good,Someone,90,sad|tender,folk\n";
    let file = write(tmp.path(), "rows.csv", csv);
    let out = run(&data, &["ingest", &file, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a failed row means a non-zero exit"
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["created"], 2, "{r}");
    let failed = r["failed"].as_array().unwrap();
    let lines: Vec<u64> = failed.iter().map(|f| f["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3, 4, 5, 6]);
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap()
            .contains("metadata.tempo"),
        "{r}"
    );
    assert!(failed[1]["message"].as_str().unwrap().contains("id"), "{r}");
    assert!(
        failed[2]["message"].as_str().unwrap().contains("title"),
        "{r}"
    );
    assert!(
        failed[3]["message"]
            .as_str()
            .unwrap()
            .contains("tempo must be a number"),
        "{r}"
    );
    assert_eq!(
        ok_json(&data, &["item", "csv:ok3"])["metadata"]["mood"],
        serde_json::json!(["sad", "tender"])
    );
    // People see the same report on stderr.
    let out = run(&data, &["ingest", &file]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3"));
}

#[test]
fn type_errors_name_the_field_path() {
    let (tmp, data) = fresh_copy();
    let rows = "{\"id\":\"j:ok\",\"title\":\"Fine\",\"artist\":\"A\"}\n\
                {\"id\":\"j:bad\",\"title\":\"T\",\"artist\":\"A\",\"metadata\":{\"tempo\":\"fast\"}}\n\
                {\"id\":\"j:year\",\"title\":\"T\",\"artist\":\"A\",\"year\":\"nineteen\"}\n";
    let file = write(tmp.path(), "rows.jsonl", rows);
    let out = run(&data, &["ingest", &file, "--json", "--dry-run"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{r}");
    assert_eq!(failed[0]["line"], 2);
    let first = failed[0]["message"].as_str().unwrap();
    assert!(first.starts_with("metadata.tempo: invalid type"), "{first}");
    let second = failed[1]["message"].as_str().unwrap();
    assert!(
        second.starts_with("year: invalid type: string \"nineteen\""),
        "{second}"
    );
    assert!(!second.contains("column"), "{second}");
}

#[test]
fn dry_run_validates_without_writing() {
    let (tmp, data) = fresh_copy();
    let before = ok_json(&data, &["stats"]);
    let text = "[{\"id\":\"dry:1\",\"title\":\"T\",\"artist\":\"A\"},{\"id\":\"dry:2\",\"title\":\"T\",\"artist\":\"A\",\"year\":3000}]";
    let file = write(tmp.path(), "dry.json", text);
    let out = run(&data, &["ingest", &file, "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["failed"][0]["line"], 2);
    assert_eq!(r["failed"][0]["field"], "year");
    let after = ok_json(&data, &["stats"]);
    assert_eq!(before["sequence"], after["sequence"]);
    assert!(!run(&data, &["item", "dry:1"]).status.success());
}

#[test]
fn delete_removes_from_every_index() {
    let (_tmp, data) = fresh_copy();
    let v = ok_json(&data, &["search", "jakson five abc", "-k", "1"]);
    assert_eq!(ids(&v), vec!["harmonix:0004_abc"]);
    ok_json(&data, &["delete", "harmonix:0004_abc"]);
    let v = ok_json(&data, &["search", "jakson five abc", "-k", "10"]);
    assert!(!ids(&v).contains(&"harmonix:0004_abc".to_string()));
    let out = run(&data, &["delete", "harmonix:0004_abc"]);
    assert!(!out.status.success(), "deleting twice is an error");
}

#[test]
fn kill_during_ingest_loses_no_acknowledged_track_and_reopens() {
    let (tmp, data) = fresh_copy();
    // New tracks (distinct ids and texts) so the import has to embed and write many batches.
    let rows: Vec<String> = include_str!("../../../../catalog/musiccaps.jsonl")
        .lines()
        .take(1200)
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let id = format!("crash:{}", v["id"].as_str().unwrap());
            v["id"] = id.into();
            v.to_string()
        })
        .collect();
    let file = write(tmp.path(), "big.jsonl", &(rows.join("\n") + "\n"));
    let before = ok_json(&data, &["stats"])["tracks"].as_u64().unwrap();
    let mut child = bin()
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", &file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until at least one batch is durable, then kill -9 in the middle of the run.
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let n = ok_json(&data, &["stats"])["tracks"].as_u64().unwrap();
        if n > before || start.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    // The store opens; every stored track is whole; a re-run finishes the job.
    let after = ok_json(&data, &["stats"])["tracks"].as_u64().unwrap();
    assert!(after > before, "no batch was durable before the kill");
    assert!(
        after < before + 1200,
        "the kill came too late to test anything"
    );
    let page = ok_json(&data, &["search", "crash", "--top-k", "100", "--no-parse"]);
    for h in page["hits"].as_array().unwrap() {
        let id = h["id"].as_str().unwrap();
        if !id.starts_with("crash:") {
            continue;
        }
        let t = ok_json(&data, &["item", id]);
        assert!(
            t["title"].as_str().is_some() && t["description"].as_str().is_some(),
            "{t}"
        );
    }
    let r = ok_json(&data, &["ingest", &file]);
    assert_eq!(r["failed"].as_array().unwrap().len(), 0);
    assert_eq!(
        r["unchanged"].as_u64().unwrap() + r["created"].as_u64().unwrap(),
        1200,
        "{r}"
    );
    assert_eq!(
        ok_json(&data, &["stats"])["tracks"].as_u64().unwrap(),
        before + 1200
    );
    // The keyword index agrees with the source of truth after the crash.
    let v = ok_json(&data, &["search", "jakson five abc", "-k", "1"]);
    assert_eq!(ids(&v), vec!["harmonix:0004_abc"]);
}
