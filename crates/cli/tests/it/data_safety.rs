//! Data safety through the real binary and server: one writer per data directory, snapshots
//! while serving (CLI and admin API), restore and verify, export and re-import without
//! re-embedding, and a full disk.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::server::{call, json_of, spawn_app, spawn_on, ADMIN, READER, WRITER};
use common::{fresh_copy, ok_json, run};
use serde_json::json;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `export --with-vectors` of the catalog in `data` into `file`.
fn export_with_vectors(data: &Path, file: &Path) {
    let out = run(
        data,
        &["export", "--with-vectors", "--out", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The catalog in `data` exported again is byte for byte the export in `file`.
fn assert_exports_as(data: &Path, file: &Path) {
    let again = file.with_extension("again.jsonl");
    export_with_vectors(data, &again);
    assert_eq!(std::fs::read(file).unwrap(), std::fs::read(&again).unwrap());
}

fn track(id: &str, title: &str) -> serde_json::Value {
    json!({"id": id, "title": title, "artist": "Safety Test", "description": "a calm test track"})
}

#[test]
fn a_second_writer_beside_a_server_is_refused_and_readers_work() {
    let app = spawn_app(&[]);
    let pid = app.child.id();
    let before = ok_json(&app.data, &["stats"])["tracks"].as_u64().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("more.jsonl");
    std::fs::write(
        &file,
        format!("{}\n", track("beside-1", "Beside The Server")),
    )
    .unwrap();
    for args in [
        vec!["ingest", file.to_str().unwrap()],
        vec!["delete", "beside-1"],
        vec!["serve", "--port", "0"],
    ] {
        let out = run(&app.data, &args);
        assert!(!out.status.success(), "{args:?} must be refused");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("pid {pid}")) && err.contains("in use"),
            "{args:?}: {err}"
        );
    }
    // Nothing of the refused ingest was written; read-only commands work beside the server.
    assert_eq!(
        ok_json(&app.data, &["stats"])["tracks"].as_u64().unwrap(),
        before
    );
    let found = ok_json(&app.data, &["search", "calm piano", "-k", "3"]);
    assert_eq!(found["hits"].as_array().unwrap().len(), 3);
    assert!(run(&app.data, &["verify"]).status.success());
    // The server still takes writes and they reach every index.
    let (status, _) = call(
        "PUT",
        &format!("{}/v1/tracks/beside-2", app.base),
        Some(WRITER),
        Some(track("beside-2", "Zanzibar Lighthouse")),
    );
    assert_eq!(status, 200);
    let (_, r) = call(
        "POST",
        &format!("{}/v1/search", app.base),
        Some(READER),
        Some(json!({"text": "zanzibar lighthouse", "top_k": 1})),
    );
    let found = json_of(r);
    assert_eq!(found["hits"][0]["track"]["id"], "beside-2", "{found}");
}

#[test]
fn backup_while_serving_then_restore_verify_and_the_same_results() {
    let app = spawn_app(&[]);
    let base = app.base.clone();
    // Writes go on through the server while snapshots are taken.
    let writer = std::thread::spawn(move || {
        for i in 0..20 {
            let (status, _) = call(
                "PUT",
                &format!("{base}/v1/tracks/during-{i}"),
                Some(WRITER),
                Some(track(&format!("during-{i}"), &format!("During Backup {i}"))),
            );
            assert_eq!(status, 200);
        }
    });
    let (status, r) = call(
        "POST",
        &format!("{}/v1/admin/snapshots", app.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 201);
    let taken = json_of(r);
    let name = taken["name"].as_str().unwrap().to_string();
    let (status, _) = call(
        "POST",
        &format!("{}/v1/admin/snapshots", app.base),
        Some(WRITER),
        None,
    );
    assert_eq!(status, 403, "snapshots need the admin scope");
    let cli_snapshot = app.data.parent().unwrap().join("cli.mrsnap");
    let cli = ok_json(
        &app.data,
        &["backup", "--to", cli_snapshot.to_str().unwrap()],
    );
    writer.join().unwrap();

    // Listed, downloadable byte for byte, deletable.
    let (_, r) = call(
        "GET",
        &format!("{}/v1/admin/snapshots", app.base),
        Some(ADMIN),
        None,
    );
    let listed = json_of(r);
    assert!(listed["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == name.as_str()));
    let (status, r) = call(
        "GET",
        &format!("{}/v1/admin/snapshots/{name}", app.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 200);
    let mut downloaded = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut downloaded).unwrap();
    assert_eq!(
        downloaded,
        std::fs::read(taken["path"].as_str().unwrap()).unwrap()
    );
    let (status, _) = call(
        "GET",
        &format!("{}/v1/admin/snapshots/..%2Fcatalog.sqlite", app.base),
        Some(ADMIN),
        None,
    );
    assert!(status == 404 || status == 422, "{status}");

    // Restore the API snapshot into a fresh directory: exactly its tracks, verified.
    let tmp = tempfile::tempdir().unwrap();
    let restored = tmp.path().join("restored");
    let out = ok_json(&restored, &["restore", taken["path"].as_str().unwrap()]);
    assert_eq!(out["tracks"], taken["manifest"]["tracks"]);
    assert!(run(&restored, &["verify"]).status.success());
    // The CLI snapshot restores too, and a second restore needs --force.
    let again = run(&restored, &["restore", cli_snapshot.to_str().unwrap()]);
    assert!(
        !again.status.success() && stderr(&again).contains("--force"),
        "{}",
        stderr(&again)
    );
    let forced = ok_json(
        &restored,
        &["restore", cli_snapshot.to_str().unwrap(), "--force"],
    );
    assert_eq!(forced["tracks"], cli["manifest"]["tracks"]);

    // A backup of the running server over its admin API, kept to the newest one, restores;
    // the server keeps no copy.
    let remote = tmp.path().join("remote");
    let before = std::fs::read_dir(app.data.join("snapshots"))
        .unwrap()
        .count();
    let mut last_backup = serde_json::Value::Null;
    for _ in 0..2 {
        let out = common::bin()
            .args([
                "backup", "--json", "--keep", "1", "--server", &app.base, "--to",
            ])
            .arg(&remote)
            .env("API_KEY", ADMIN)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        last_backup = serde_json::from_slice(&out.stdout).unwrap();
    }
    let kept: Vec<_> = std::fs::read_dir(&remote)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::read_dir(app.data.join("snapshots"))
            .unwrap()
            .count(),
        before
    );
    let from_remote = tmp.path().join("from-remote");
    let out = ok_json(&from_remote, &["restore", kept[0].to_str().unwrap()]);
    assert_eq!(out["tracks"], last_backup["manifest"]["tracks"]);
    assert!(out["tracks"].as_u64().unwrap() > 20);
    let out = common::bin()
        .args(["backup", "--server", &app.base, "--to"])
        .arg(&remote)
        .env("API_KEY", WRITER)
        .output()
        .unwrap();
    assert!(
        !out.status.success() && stderr(&out).contains("403"),
        "{}",
        stderr(&out)
    );

    // With writes stopped, a snapshot restores to the same catalog and the same searches.
    let (_, r) = call(
        "POST",
        &format!("{}/v1/admin/snapshots", app.base),
        Some(ADMIN),
        None,
    );
    let last = json_of(r);
    let same = tmp.path().join("same");
    ok_json(&same, &["restore", last["path"].as_str().unwrap()]);
    let export = |dir: &Path| {
        let out = run(dir, &["export", "--with-vectors"]);
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    assert_eq!(export(&same), export(&app.data), "tracks and vectors equal");
    // The same hits; near-ties may swap because BM25 statistics of a freshly built index do
    // not count the deleted documents an older one still carries until it merges.
    for q in ["calm piano", "energetic rock with drums"] {
        let mut a = common::ids(&ok_json(&same, &["search", q, "-k", "5"]));
        let mut b = common::ids(&ok_json(&app.data, &["search", q, "-k", "5"]));
        assert_eq!(a[0], b[0], "{q}");
        a.sort();
        b.sort();
        assert_eq!(a, b, "{q}");
    }
    // The tracks written during the backup tie with each other on this query but for one:
    // that one comes first in both, the tied rest may differ.
    for dir in [&same, &app.data] {
        let hits = common::ids(&ok_json(dir, &["search", "during backup 7", "-k", "5"]));
        assert_eq!(hits[0], "during-7", "{hits:?}");
    }
    let (status, _) = call(
        "DELETE",
        &format!("{}/v1/admin/snapshots/{name}", app.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = call(
        "GET",
        &format!("{}/v1/admin/snapshots/{name}", app.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 404);
}

#[test]
fn an_export_with_vectors_imports_without_re_embedding() {
    let (tmp, data) = fresh_copy();
    let file = tmp.path().join("export.jsonl");
    export_with_vectors(&data, &file);
    let moved = tmp.path().join("moved");
    let report = ok_json(&moved, &["ingest", file.to_str().unwrap()]);
    assert_eq!(report["embedded"], 0, "{report}");
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");
    assert_exports_as(&moved, &file);
    // A vector from another model is refused by name, and the rest of the file still loads.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<String> = text.lines().take(2).map(str::to_string).collect();
    lines[0] = lines[0].replace("\"embedding_model\":\"", "\"embedding_model\":\"other-");
    let mixed = tmp.path().join("mixed.jsonl");
    std::fs::write(&mixed, lines.join("\n")).unwrap();
    let out = run(
        &tmp.path().join("mixed"),
        &["ingest", mixed.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(report["failed"][0]["field"], "embedding", "{report}");
    assert_eq!(report["created"], 1);
}

/// Vectors computed elsewhere come in a file of their own, paired by id: nothing is embedded
/// again and the catalog is the same; a broken vectors file is refused before any write.
#[test]
fn a_vectors_file_pairs_with_the_catalog_by_id() {
    let (tmp, data) = fresh_copy();
    let export = tmp.path().join("export.jsonl");
    let out = run(
        &data,
        &[
            "export",
            "--with-vectors",
            "--out",
            export.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (mut catalog, mut vectors) = (String::new(), String::new());
    for line in std::fs::read_to_string(&export).unwrap().lines() {
        let mut row: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = row.as_object_mut().unwrap();
        let vector = json!({
            "id": obj["id"],
            "embedding": obj.remove("embedding").unwrap(),
            "embedding_model": obj.remove("embedding_model").unwrap(),
        });
        catalog += &format!("{row}\n");
        vectors += &format!("{vector}\n");
    }
    let (catalog_file, vectors_file) = (tmp.path().join("c.jsonl"), tmp.path().join("v.jsonl"));
    std::fs::write(&catalog_file, &catalog).unwrap();
    std::fs::write(&vectors_file, &vectors).unwrap();
    let paired = tmp.path().join("paired");
    let args = |file: &Path| {
        vec![
            "ingest".to_string(),
            catalog_file.to_str().unwrap().to_string(),
            "--vectors".to_string(),
            file.to_str().unwrap().to_string(),
        ]
    };
    let report = ok_json(
        &paired,
        &args(&vectors_file)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(report["embedded"], 0, "{report}");
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");
    assert_exports_as(&paired, &export);

    // Broken vectors files: refused by line or by the ids they name, nothing written.
    let mut lines: Vec<String> = vectors.lines().map(str::to_string).collect();
    let mut bad_line = lines.clone();
    bad_line[1] = bad_line[1].replace("\"embedding_model\"", "\"model\"");
    lines[0] = lines[0].replacen("\"id\":\"", "\"id\":\"not-in-the-catalog-", 1);
    for (name, text, says) in [
        ("bad.jsonl", bad_line.join("\n"), "line 2"),
        ("unmatched.jsonl", lines.join("\n"), "not-in-the-catalog-"),
    ] {
        let file = tmp.path().join(name);
        std::fs::write(&file, text).unwrap();
        let target = tmp.path().join(format!("refused-{name}"));
        let out = run(
            &target,
            &args(&file).iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(!out.status.success(), "{name} must be refused");
        assert!(stderr(&out).contains(says), "{name}: {}", stderr(&out));
        assert!(
            !target.join("catalog.sqlite").exists(),
            "{name}: nothing written"
        );
    }
}

/// A small tmpfs as the data directory: a write that does not fit fails with 507 and commits
/// nothing, reads go on, /ready says degraded, and writes work again once space is freed.
#[test]
fn a_full_disk_refuses_writes_clearly_and_recovers_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "tmpfs"])
        .arg(&mount)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        // CI runs as root; a developer's unprivileged run cannot mount.
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mount);
    let data = mount.join("data");
    let app = spawn_on(&data, &[]);
    let url = |p: &str| format!("{}{p}", app.base);
    let (status, _) = call(
        "PUT",
        &url("/v1/tracks/first"),
        Some(WRITER),
        Some(track("first", "First Light")),
    );
    assert_eq!(status, 200);
    // Leave about 400 KB free.
    let reserve = mount.join("reserve");
    std::fs::write(&reserve, vec![1u8; 400 * 1024]).unwrap();
    let filler = mount.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
    }
    std::fs::remove_file(&reserve).unwrap();

    let mut acknowledged = vec!["first".to_string()];
    let mut refused = None;
    for i in 0..400 {
        let id = format!("fill-{i}");
        let body = json!({"id": id, "title": format!("Filling Track {i}"), "artist": "Disk",
            "description": "x".repeat(4000)});
        let (status, r) = call(
            "PUT",
            &url(&format!("/v1/tracks/{id}")),
            Some(WRITER),
            Some(body),
        );
        match status {
            200 => acknowledged.push(id),
            507 => {
                refused = Some((id, json_of(r)));
                break;
            }
            other => panic!("write {i}: unexpected status {other}: {}", json_of(r)),
        }
    }
    let (refused_id, body) = refused.expect("the disk fills up");
    assert_eq!(body["error"]["code"], "insufficient_storage", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("full"),
        "{body}"
    );
    let (_, r) = call("GET", &url("/ready"), None, None);
    let ready = json_of(r);
    assert_eq!(ready["status"], "degraded", "{ready}");
    // Reads go on, and the refused write is nowhere.
    let (status, _) = call(
        "POST",
        &url("/v1/search"),
        Some(READER),
        Some(json!({"text": "filling track", "top_k": 3})),
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        "GET",
        &url(&format!("/v1/tracks/{refused_id}")),
        Some(READER),
        None,
    );
    assert_eq!(status, 404);
    let out = run(&data, &["stats", "--json"]);
    assert!(
        out.status.success(),
        "stats on a full disk: {}",
        stderr(&out)
    );

    // Space freed: the same write now works, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let (status, _) = call(
        "PUT",
        &url(&format!("/v1/tracks/{refused_id}")),
        Some(WRITER),
        Some(track(&refused_id, "After The Flood")),
    );
    assert_eq!(status, 200);
    acknowledged.push(refused_id);
    let (_, r) = call("GET", &url("/ready"), None, None);
    assert_eq!(json_of(r)["status"], "ready");
    drop(app);
    // Every acknowledged write survived, and the store verifies.
    let app = spawn_on(&data, &[]);
    for id in &acknowledged {
        let (status, _) = call(
            "GET",
            &format!("{}/v1/tracks/{id}", app.base),
            Some(READER),
            None,
        );
        assert_eq!(status, 200, "{id} was acknowledged");
    }
    drop(app);
    let out = run(&data, &["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A store whose vectors came from another model is refused by name; `reindex` re-embeds it
/// beside the old one, survives being killed half-way (the re-run resumes), then switches.
#[test]
fn reindex_replaces_another_models_vectors_and_resumes_after_a_kill() {
    let (tmp, data) = fresh_copy();
    let db = rusqlite::Connection::open(data.join("catalog.sqlite")).unwrap();
    db.execute("UPDATE meta SET value='old-model' WHERE key='model_id'", [])
        .unwrap();
    drop(db);
    let refused = run(&data, &["search", "calm piano"]);
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert!(
        err.contains("old-model") && err.contains("reindex"),
        "{err}"
    );
    let tracks = ok_json(&data, &["stats"])["tracks"].as_u64().unwrap();

    let mut first = common::bin()
        .arg("--data-dir")
        .arg(&data)
        .arg("reindex")
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = first.kill();
    let _ = first.wait();
    let out = run(&data, &["reindex", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // On a machine fast enough to finish before the kill, the first run already switched.
    if !text.contains("nothing to do") {
        let done: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(done["switched"], true, "{done}");
        assert_eq!(done["tracks"].as_u64().unwrap(), tracks, "{done}");
        assert_eq!(
            done["embedded"].as_u64().unwrap() + done["unchanged"].as_u64().unwrap(),
            tracks,
            "{done}"
        );
    }
    let stats = ok_json(&data, &["stats"]);
    assert_eq!(stats["tracks"].as_u64().unwrap(), tracks);
    let found = ok_json(&data, &["search", "calm piano", "-k", "3"]);
    assert_eq!(found["hits"].as_array().unwrap().len(), 3);
    assert!(run(&data, &["verify"]).status.success());
    let previous = tmp.path().join("data.before-reindex");
    assert!(previous.join("catalog.sqlite").exists());
    // Nothing left to do now.
    let again = run(&data, &["reindex"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
}

fn killed_after(data: &Path, args: &[&str], delay_ms: u64) {
    let mut child = common::bin()
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(delay_ms));
    // SIGKILL: no cleanup runs.
    let _ = child.kill();
    let _ = child.wait();
}

/// `kill -9` during a snapshot never leaves a damaged file under a snapshot's name; during a
/// restore, the target is either a whole store or refused (by verify and by every command)
/// until the restore is run again.
#[test]
fn kill_9_during_a_snapshot_or_a_restore_leaves_nothing_damaged() {
    let (tmp, data) = fresh_copy();
    for delay in [10, 60, 150, 400] {
        let snap = tmp.path().join(format!("killed-{delay}.mrsnap"));
        killed_after(&data, &["backup", "--to", snap.to_str().unwrap()], delay);
        if snap.exists() {
            let target = tmp.path().join(format!("from-killed-{delay}"));
            ok_json(&target, &["restore", snap.to_str().unwrap()]);
            assert!(run(&target, &["verify"]).status.success(), "{delay} ms");
        }
    }
    let good = tmp.path().join("good.mrsnap");
    ok_json(&data, &["backup", "--to", good.to_str().unwrap()]);
    let target = tmp.path().join("target");
    ok_json(&target, &["restore", good.to_str().unwrap()]);
    for delay in [10, 60, 150, 400, 900] {
        killed_after(
            &target,
            &["restore", good.to_str().unwrap(), "--force"],
            delay,
        );
        let verified = run(&target, &["verify", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
        if !verified.status.success() {
            let failed: Vec<&str> = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["ok"] == false)
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            if failed.contains(&"restore") {
                // Killed while swapping files: refused until the restore is run again.
                let refused = run(&target, &["stats"]);
                assert!(!refused.status.success() && stderr(&refused).contains("interrupted"));
                ok_json(&target, &["restore", good.to_str().unwrap(), "--force"]);
            } else {
                // Killed while rebuilding the derived index: the database is whole, and the
                // index is named as behind until a writer (repair, serve) rebuilds it.
                assert_eq!(failed, vec!["keyword index"], "{delay} ms: {report}");
                assert!(run(&target, &["repair"]).status.success());
            }
        }
        assert!(run(&target, &["verify"]).status.success(), "{delay} ms");
    }
}

/// The stale-backup alert reads `music_rag_snapshot_last_success_timestamp_seconds`: after a
/// restart it comes from the snapshot folder (so the alert still works), and it outlives the
/// snapshot itself, which `backup --server` deletes once downloaded.
#[test]
fn the_last_snapshot_time_survives_a_restart_and_the_snapshot() {
    let gauge = |base: &str| -> Option<f64> {
        let (_, r) = call("GET", &format!("{base}/metrics"), Some(ADMIN), None);
        r.into_string()
            .unwrap()
            .lines()
            .find(|l| l.starts_with("music_rag_snapshot_last_success_timestamp_seconds "))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
    };
    let (_tmp, data) = fresh_copy();
    let app = spawn_on(&data, &[]);
    assert_eq!(
        gauge(&app.base),
        Some(0.0),
        "never a snapshot: the alert must be able to fire"
    );
    let (status, r) = call(
        "POST",
        &format!("{}/v1/admin/snapshots", app.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 201);
    let name = json_of(r)["name"].as_str().unwrap().to_string();
    let taken = gauge(&app.base).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - taken).abs() < 60.0, "{taken} vs {now}");
    let (status, _) = call(
        "DELETE",
        &format!("{}/v1/admin/snapshots/{name}", app.base),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 204);
    drop(app);
    let app = spawn_on(&data, &[]);
    let after = gauge(&app.base).unwrap();
    assert!(
        (after - taken).abs() < 1.0,
        "after a restart {after}, taken at {taken}"
    );
}

/// Tracks the server counts, through its API.
fn served_tracks(base: &str) -> u64 {
    let (status, r) = call("GET", &format!("{base}/v1/stats"), Some(READER), None);
    assert_eq!(status, 200);
    json_of(r)["tracks"].as_u64().unwrap()
}

#[test]
fn a_server_restores_a_snapshot_into_an_empty_volume_once() {
    let tmp = tempfile::tempdir().unwrap();
    // A catalog of three tracks, and its snapshot.
    let source = tmp.path().join("source");
    {
        let app = spawn_on(&source, &[]);
        for i in 0..3 {
            let (status, _) = call(
                "PUT",
                &format!("{}/v1/tracks/restore-{i}", app.base),
                Some(WRITER),
                Some(track(&format!("restore-{i}"), &format!("Restored {i}"))),
            );
            assert_eq!(status, 200);
        }
    }
    let snapshot = tmp.path().join("catalog.mrsnap");
    ok_json(&source, &["backup", "--to", snapshot.to_str().unwrap()]);

    // A new volume: the server restores the snapshot before it serves.
    let data = tmp.path().join("volume");
    let restore = [("MUSIC_RAG_RESTORE_FROM", snapshot.to_str().unwrap())];
    {
        let app = spawn_on(&data, &restore);
        assert_eq!(served_tracks(&app.base), 3);
        let (status, _) = call(
            "PUT",
            &format!("{}/v1/tracks/written-after", app.base),
            Some(WRITER),
            Some(track("written-after", "Written After The Restore")),
        );
        assert_eq!(status, 200);
    }
    // Restarted with the same setting: the volume holds a catalog, nothing is restored over
    // the write made since.
    let app = spawn_on(&data, &restore);
    assert_eq!(served_tracks(&app.base), 4);
    drop(app);

    // A snapshot that is not there, on an empty volume: the server does not start, and says
    // which setting and file.
    let out = common::bin()
        .arg("--data-dir")
        .arg(tmp.path().join("empty"))
        .args(["serve", "--port", "0"])
        .env("MUSIC_RAG_API_KEYS", format!("{ADMIN}:admin"))
        .env("MUSIC_RAG_RESTORE_FROM", tmp.path().join("missing.mrsnap"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--restore-from") && err.contains("missing.mrsnap"),
        "{err}"
    );
}
