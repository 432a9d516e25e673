//! Scale-out on PostgreSQL, end to end with the real binary: a catalog moved from the embedded
//! store without re-embedding and back, two `serve` replicas over one database, a replica
//! killed during writes, PostgreSQL restarted under load, and a load balancer in front.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::{call, json_of, spawn_on, App, READER, WRITER};
use music_rag_store_postgres::test_database::{postgres_script, TestSchema};
use serde_json::{json, Value};

/// The environment that points a process at one schema of the database.
fn pg_env(db: &TestSchema) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", db.url.clone()),
        ("MUSIC_RAG_DATABASE_SCHEMA", db.name.clone()),
        ("MUSIC_RAG_RATE_LIMIT_PER_SECOND", "100000".into()),
        ("MUSIC_RAG_RATE_LIMIT_BURST", "100000".into()),
    ]
}

fn replica(db: &TestSchema, dir: &Path) -> App {
    let env = pg_env(db);
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_on(dir, &refs)
}

/// Runs the binary over the database, returning its JSON report.
fn run_pg(db: &TestSchema, args: &[&str]) -> Value {
    let mut cmd = common::bin();
    for (k, v) in pg_env(db) {
        cmd.env(k, v);
    }
    let out = cmd.args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "music-rag {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).unwrap_or(Value::Null)
}

/// The sample catalog exported with its vectors and imported into the schema.
fn loaded_schema(prefix: &str) -> (TestSchema, tempfile::TempDir, usize) {
    let db = TestSchema::new(prefix);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("catalog.ndjson");
    let out = common::run(
        common::shared_store(),
        &["export", "--with-vectors", "-o", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = run_pg(&db, &["ingest", file.to_str().unwrap()]);
    let created = report["created"].as_u64().unwrap() as usize;
    assert!(created > 100, "{report}");
    // Moving a catalog costs no embedding: every vector came with it.
    assert_eq!(report["embedded"], 0, "{report}");
    (db, tmp, created)
}

fn search(base: &str, text: &str) -> (u16, Value) {
    let (s, r) = call(
        "POST",
        &format!("{base}/v1/search"),
        Some(READER),
        Some(json!({"text": text, "top_k": 5})),
    );
    (s, json_of(r))
}

/// The ids of an HTTP search response's hits.
fn top_ids(v: &Value) -> Vec<String> {
    common::hits(v)
        .iter()
        .filter_map(|h| h["track"]["id"].as_str().map(str::to_string))
        .collect()
}

fn new_track(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "artist": "Replica Band",
           "description": "a bright marimba tune for testing replicas",
           "metadata": {"genre": "exotica", "tempo": 101}})
}

#[test]
fn a_catalog_moves_in_without_reembedding_and_replicas_share_every_write() {
    let (db, tmp, created) = loaded_schema("move");
    // The same answers as the embedded store the catalog came from.
    let embedded = common::ok_json(
        common::shared_store(),
        &["search", "ABC by the Jackson 5", "--top-k", "3"],
    );
    let one = replica(&db, &tmp.path().join("one"));
    let two = replica(&db, &tmp.path().join("two"));
    let (s, from_pg) = search(&two.base, "ABC by the Jackson 5");
    assert_eq!(s, 200, "{from_pg}");
    assert_eq!(top_ids(&from_pg)[0], common::ids(&embedded)[0]);
    let (_, stats) = call("GET", &format!("{}/v1/stats", one.base), Some(READER), None);
    let stats = json_of(stats);
    assert_eq!(
        stats["tracks"].as_u64().unwrap() as usize,
        created,
        "{stats}"
    );

    // Written through one replica, found through the other at once.
    let (s, r) = call(
        "POST",
        &format!("{}/v1/tracks", one.base),
        Some(WRITER),
        Some(json!({"tracks": [new_track("pg:fresh", "Marimba Replica Song")]})),
    );
    assert_eq!(s, 200, "{}", json_of(r));
    let (s, found) = search(&two.base, "Marimba Replica Song");
    assert_eq!(s, 200);
    assert_eq!(top_ids(&found)[0], "pg:fresh", "{found}");
    let (s, r) = call(
        "GET",
        &format!("{}/v1/tracks/pg:fresh", two.base),
        Some(READER),
        None,
    );
    assert_eq!(
        (s, json_of(r)["title"].clone()),
        (200, json!("Marimba Replica Song"))
    );
    // Deleted through the other, gone from the first.
    let (s, _) = call(
        "DELETE",
        &format!("{}/v1/tracks/pg:fresh", two.base),
        Some(WRITER),
        None,
    );
    assert!(s == 200 || s == 204, "{s}");
    let (s, _) = call(
        "GET",
        &format!("{}/v1/tracks/pg:fresh", one.base),
        Some(READER),
        None,
    );
    assert_eq!(s, 404);
    let (_, after) = search(&one.base, "Marimba Replica Song");
    assert!(!top_ids(&after).contains(&"pg:fresh".to_string()));

    // Each replica searches a copy in its data directory; stopped as an orchestrator stops it,
    // it exits cleanly, and restarted it carries on from its copy with what was written
    // meanwhile.
    let copy = tmp.path().join("one").join("replica").join(&db.name);
    assert!(copy.join("catalog.sqlite").is_file(), "{}", copy.display());
    let mut one = one;
    assert_eq!(
        one.terminate().code(),
        Some(0),
        "SIGTERM must drain and exit 0 over PostgreSQL too"
    );
    let (s, _) = call(
        "POST",
        &format!("{}/v1/tracks", two.base),
        Some(WRITER),
        Some(json!({"tracks": [new_track("pg:meanwhile", "Theremin While Away")]})),
    );
    assert_eq!(s, 200);
    let one = replica(&db, &tmp.path().join("one"));
    let (_, found) = search(&one.base, "Theremin While Away");
    assert_eq!(top_ids(&found)[0], "pg:meanwhile", "{found}");
    // Its catch-ups and the sequence it holds are metrics.
    let (s, _) = call(
        "DELETE",
        &format!("{}/v1/tracks/pg:meanwhile", two.base),
        Some(WRITER),
        None,
    );
    assert!(s == 200 || s == 204, "{s}");
    let (_, gone) = search(&one.base, "Theremin While Away");
    assert!(!top_ids(&gone).contains(&"pg:meanwhile".to_string()));
    let sequence = run_pg(&db, &["stats"])["sequence"].as_u64().unwrap();
    let (_, metrics) = call("GET", &format!("{}/metrics", one.base), Some(READER), None);
    let metrics = metrics.into_string().unwrap();
    assert!(
        metrics.contains("music_rag_replica_catch_up_duration_seconds_count"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("music_rag_replica_copied_sequence {sequence}")),
        "sequence {sequence}: {metrics}"
    );

    // And back out: PostgreSQL's export loads into a new embedded store without embedding.
    let back = tmp.path().join("back.ndjson");
    run_pg(
        &db,
        &["export", "--with-vectors", "-o", back.to_str().unwrap()],
    );
    let data = tmp.path().join("embedded-again");
    let report = common::ok_json(&data, &["ingest", back.to_str().unwrap()]);
    assert_eq!(
        report["created"].as_u64().unwrap() as usize,
        created,
        "{report}"
    );
    assert_eq!(report["embedded"], 0);
    let again = common::ok_json(&data, &["search", "ABC by the Jackson 5", "--top-k", "3"]);
    assert_eq!(common::ids(&again), common::ids(&embedded));
}

/// A replica killed with SIGKILL in the middle of a stream of batches: every batch it
/// acknowledged is in the database, the one in flight is there whole or not at all.
#[test]
fn a_replica_killed_during_writes_loses_no_acknowledged_track() {
    let db = TestSchema::new("kill");
    let tmp = tempfile::tempdir().unwrap();
    // An empty catalog made by the model's own process, then two replicas.
    let mut victim = replica(&db, &tmp.path().join("a"));
    let survivor = replica(&db, &tmp.path().join("b"));
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let attempted = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let writer = {
        let (base, acknowledged, attempted) =
            (victim.base.clone(), acknowledged.clone(), attempted.clone());
        std::thread::spawn(move || {
            for batch in 0.. {
                let ids: Vec<String> = (0..20).map(|i| format!("k{batch}-{i}")).collect();
                attempted.lock().unwrap().push(ids.clone());
                let tracks: Vec<Value> = ids
                    .iter()
                    .map(|id| new_track(id, &format!("Song {id}")))
                    .collect();
                let sent = common::server::agent()
                    .post(&format!("{base}/v1/tracks"))
                    .set("X-API-Key", WRITER)
                    .send_json(json!({ "tracks": tracks }));
                match sent {
                    Ok(r) if r.status() == 200 => acknowledged.lock().unwrap().extend(ids),
                    _ => return,
                }
            }
        })
    };
    // Let a few batches land, then kill mid-stream.
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 60 && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(137));
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    writer.join().unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 60,
        "{} acknowledged",
        acknowledged.len()
    );
    let stored = |id: &str| {
        call(
            "GET",
            &format!("{}/v1/tracks/{id}", survivor.base),
            Some(READER),
            None,
        )
        .0 == 200
    };
    for id in &acknowledged {
        assert!(stored(id), "acknowledged {id} is lost");
    }
    // The batch in flight when the replica died: all or nothing.
    let last = attempted.lock().unwrap().last().cloned().unwrap();
    let present = last.iter().filter(|id| stored(id)).count();
    assert!(
        present == 0 || present == last.len(),
        "{present} of {} landed",
        last.len()
    );
}

/// PostgreSQL on its own port, so stopping it does not disturb the other tests.
struct OwnCluster {
    dir: PathBuf,
    url: String,
}

impl OwnCluster {
    fn start(dir: &Path, port: u16) -> Self {
        let url = postgres_script(&["start", dir.to_str().unwrap(), &port.to_string()]);
        Self {
            dir: dir.to_path_buf(),
            url,
        }
    }
    fn stop(&self) {
        postgres_script(&["stop", self.dir.to_str().unwrap()]);
    }
    fn restart(&self, port: u16) {
        postgres_script(&["start", self.dir.to_str().unwrap(), &port.to_string()]);
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// PostgreSQL stopped and started again under load: while it is away every request is
/// answered quickly (503 with Retry-After, readiness false), never hangs; the replica
/// recovers by itself; no acknowledged write is lost.
#[test]
fn postgres_restarted_under_load_brings_503s_not_hangs_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // The cluster's own user (not root) must reach its data directory inside.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // Below the ephemeral range (32768-60999): a port in it can be held by any outgoing
    // connection of the other tests at the moment the cluster starts or restarts.
    let port = 29490;
    let cluster = OwnCluster::start(&tmp.path().join("pg"), port);
    let db = TestSchema {
        url: cluster.url.clone(),
        name: "restart".into(),
    };
    let app = replica(&db, &tmp.path().join("data"));
    let (s, r) = call(
        "POST",
        &format!("{}/v1/tracks", app.base),
        Some(WRITER),
        Some(json!({"tracks": [new_track("r:before", "Before The Restart")]})),
    );
    assert_eq!(s, 200, "{}", json_of(r));

    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(Vec::<(Instant, u16, Duration)>::new()));
    let load: Vec<_> = (0..2)
        .map(|t| {
            let (base, stop, statuses) = (app.base.clone(), stop.clone(), statuses.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let (s, _) = call(
                        "POST",
                        &format!("{base}/v1/search"),
                        Some(READER),
                        Some(json!({"text": format!("marimba tune {t} {i}"), "top_k": 3})),
                    );
                    statuses.lock().unwrap().push((sent, s, sent.elapsed()));
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let stopped_at = Instant::now();
    cluster.stop();
    std::thread::sleep(Duration::from_secs(4));
    let (ready, r) = call("GET", &format!("{}/ready", app.base), None, None);
    assert_eq!(ready, 503, "readiness while the database is away");
    assert!(r.header("retry-after").is_some());
    let (s, r) = call(
        "POST",
        &format!("{}/v1/tracks", app.base),
        Some(WRITER),
        Some(json!({"tracks": [new_track("r:during", "During The Restart")]})),
    );
    assert_eq!(s, 503, "a write while the database is away: {}", json_of(r));
    let restarted_at = Instant::now();
    cluster.restart(port);
    // Recovers by itself: searches succeed again within seconds.
    let recovered = loop {
        let (s, _) = search(&app.base, "marimba");
        if s == 200 {
            break restarted_at.elapsed();
        }
        assert!(
            restarted_at.elapsed() < Duration::from_secs(30),
            "no recovery: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    let statuses = statuses.lock().unwrap();
    let away: Vec<_> = statuses
        .iter()
        .filter(|(at, _, _)| *at > stopped_at && *at < restarted_at)
        .collect();
    assert!(!away.is_empty());
    let slowest = away.iter().map(|(_, _, took)| *took).max().unwrap();
    let errors = statuses.iter().filter(|(_, s, _)| *s != 200).count();
    assert!(
        statuses.iter().all(|(_, s, _)| *s == 200 || *s == 503),
        "only 200 or 503"
    );
    assert!(
        slowest < Duration::from_secs(5),
        "a request hung for {slowest:?}"
    );
    eprintln!(
        "restart: {} requests, {errors} answered 503, slowest while away {slowest:?}, \
         recovered {recovered:?} after the restart",
        statuses.len()
    );
    assert_eq!(
        (call("GET", &format!("{}/ready", app.base), None, None)).0,
        200
    );
    let (s, _) = call(
        "GET",
        &format!("{}/v1/tracks/r:before", app.base),
        Some(READER),
        None,
    );
    assert_eq!(s, 200, "the write acknowledged before the restart");
}

/// Two replicas behind nginx; one is killed with SIGKILL under load. The balancer retries
/// the requests that met the dead replica on the other, so no request fails.
#[test]
fn a_replica_killed_behind_the_load_balancer_costs_no_request() {
    let (db, tmp, _) = loaded_schema("lb");
    let mut one = replica(&db, &tmp.path().join("one"));
    let two = replica(&db, &tmp.path().join("two"));
    let (mut lb, base) = balancer(tmp.path(), &[&one, &two]);
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (base, done, failed) = (base.clone(), done.clone(), failed.clone());
            std::thread::spawn(move || {
                for i in 0..150 {
                    let r = common::server::agent()
                        .post(&format!("{base}/v1/search"))
                        .set("X-API-Key", READER)
                        .send_json(
                            json!({"text": format!("calm piano {t} {}", i % 7), "top_k": 3}),
                        );
                    match r {
                        Ok(r) if r.status() == 200 => {}
                        Ok(r) => failed
                            .lock()
                            .unwrap()
                            .push(format!("status {}", r.status())),
                        Err(e) => failed.lock().unwrap().push(e.to_string()),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    while done.load(Ordering::Relaxed) < 150 {
        std::thread::sleep(Duration::from_millis(20));
    }
    one.child.kill().unwrap();
    one.child.wait().unwrap();
    for t in load {
        t.join().unwrap();
    }
    let _ = lb.kill();
    let _ = lb.wait();
    let failed = failed.lock().unwrap();
    eprintln!(
        "load balancer: {} requests, {} failed",
        done.load(Ordering::Relaxed),
        failed.len()
    );
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    drop(two);
}

/// nginx with `deploy/nginx/music-rag.conf` in front of `replicas`: the process and its URL.
fn balancer(dir: &Path, replicas: &[&App]) -> (std::process::Child, String) {
    let Some(nginx) = which("nginx") else {
        panic!("nginx is needed (Debian package nginx; .ci/run installs it)");
    };
    let conf_dir = dir.join("nginx");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let listen = free_port();
    let upstream = |base: &str| base.trim_start_matches("http://").to_string();
    let mut conf = include_str!("../../../../deploy/nginx/music-rag.conf")
        .replace("listen 8080", &format!("listen 127.0.0.1:{listen}"));
    for (i, r) in replicas.iter().enumerate() {
        conf = conf.replace(
            &format!("server music-rag-{}:8000", i + 1),
            &format!("server {}", upstream(&r.base)),
        );
    }
    let main = format!(
        "pid {dir}/nginx.pid;\nerror_log {dir}/error.log;\nevents {{}}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {dir}/body;\nproxy_temp_path {dir}/proxy;\n\
         {conf}\n}}\n",
        dir = conf_dir.display()
    );
    std::fs::write(conf_dir.join("nginx.conf"), main).unwrap();
    let lb = Command::new(nginx)
        .args(["-g", "daemon off;", "-e"])
        .arg(conf_dir.join("error.log"))
        .arg("-c")
        .arg(conf_dir.join("nginx.conf"))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{listen}");
    let started = Instant::now();
    while call_ok(&format!("{base}/health")).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (lb, base)
}

/// A replica's own 503 (the database down, or load shed) reaches the client through the
/// balancer with its Retry-After; it never marks every replica down into 502s.
#[test]
fn a_replicas_503_passes_through_the_balancer_with_retry_after() {
    let (db, tmp, _) = loaded_schema("lb503");
    let mut env = pg_env(&db);
    // One request at a time per replica: concurrent ones are shed with 503.
    env.push(("MUSIC_RAG_MAX_CONCURRENT_REQUESTS", "1".into()));
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let one = spawn_on(&tmp.path().join("one"), &refs);
    let two = spawn_on(&tmp.path().join("two"), &refs);
    let (mut lb, base) = balancer(tmp.path(), &[&one, &two]);
    let answers = Arc::new(Mutex::new(Vec::<(u16, bool)>::new()));
    let load: Vec<_> = (0..8)
        .map(|t| {
            let (base, answers) = (base.clone(), answers.clone());
            std::thread::spawn(move || {
                for i in 0..10 {
                    let r = common::server::agent()
                        .post(&format!("{base}/v1/search"))
                        .set("X-API-Key", READER)
                        .send_json(json!({"text": format!("slow sad piano {t} {i}"), "top_k": 5}));
                    let (status, retry) = match r {
                        Ok(r) => (r.status(), r.header("retry-after").is_some()),
                        Err(ureq::Error::Status(code, r)) => {
                            (code, r.header("retry-after").is_some())
                        }
                        Err(_) => (0, false),
                    };
                    answers.lock().unwrap().push((status, retry));
                }
            })
        })
        .collect();
    for t in load {
        t.join().unwrap();
    }
    let _ = lb.kill();
    let _ = lb.wait();
    let answers = answers.lock().unwrap();
    let count = |s: u16| answers.iter().filter(|(st, _)| *st == s).count();
    eprintln!(
        "through the balancer: {} × 200, {} × 503, {} other",
        count(200),
        count(503),
        answers.len() - count(200) - count(503)
    );
    assert!(
        count(503) > 0,
        "the test never overloaded a replica: {answers:?}"
    );
    assert_eq!(count(200) + count(503), answers.len(), "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s == 503)
            .all(|(_, retry)| *retry),
        "a 503 without Retry-After"
    );
    drop((one, two));
}

fn call_ok(url: &str) -> Option<u16> {
    common::server::agent()
        .get(url)
        .call()
        .ok()
        .map(|r| r.status())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn which(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// PostgreSQL cannot hold U+0000 in text; the rule is the embedded store's: a track holding
/// one is refused naming its field (its row only, in a batch or a migration), and a query,
/// filter, id or cursor holding one is a 422, never a 500 "database error".
#[test]
fn nul_characters_are_refused_by_name_and_a_migration_goes_on_past_them() {
    let db = TestSchema::new("nul");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("with-bad-rows.jsonl");
    let rows = [
        json!({"id": "ok-1", "title": "Harbour Lights", "artist": "Good Row"}),
        json!({"id": "bad-1", "title": "Null\u{0}Title", "artist": "Bad Row"}),
        json!({"id": "ok-2", "title": "Night Drive", "artist": "Good Row"}),
        json!({"id": "bad-2", "title": "Tagged", "artist": "Bad Row", "tags": ["fine", "n\u{0}l"]}),
        json!({"id": "ok-3", "title": "Morning Song", "artist": "Good Row"}),
    ];
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let mut cmd = common::bin();
    for (k, v) in pg_env(&db) {
        cmd.env(k, v);
    }
    let out = cmd
        .args(["ingest", file.to_str().unwrap()])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("title") && said.contains("tags[1]"), "{said}");
    assert_eq!(run_pg(&db, &["stats"])["tracks"], 3);

    let dir = tempfile::tempdir().unwrap();
    let app = replica(&db, dir.path());
    let b = &app.base;
    let (status, r) = call(
        "PUT",
        &format!("{b}/v1/tracks/bad-3"),
        Some(WRITER),
        Some(json!({"title": "A\u{0}B", "artist": "Someone"})),
    );
    let body = json_of(r);
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("title")),
        "{body}"
    );
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
            Some(json!({"text": "calm", "filters": {"moods": ["c\u{0}"]}})),
            "filters.moods[0]",
        ),
        ("GET", "/v1/tracks/ok%001", None, "path"),
        ("GET", "/v1/tracks?cursor=ok%00", None, "cursor"),
    ] {
        let (status, r) = call(method, &format!("{b}{path}"), Some(READER), body);
        let body = json_of(r);
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
}
