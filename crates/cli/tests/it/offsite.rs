//! Backups off the machine, against a real S3-compatible server (moto's, from PyPI, installed by
//! scripts/test.sh into target/s3-server): `backup --to s3://…` from a data directory and from
//! a running server, retention in the bucket, `restore s3://…`, restoring at start from a
//! bucket, scheduled snapshots copied to a bucket, and the errors a wrong location gives.

use crate::common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{call, json_of, spawn_on, ADMIN, READER};
use common::{fresh_copy, ok_json};

const BUCKET: &str = "music-backups";

/// A local S3-compatible server with one bucket, stopped when dropped.
struct S3Server {
    endpoint: String,
    child: Child,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    std::env::var_os("S3_TEST_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/s3-server/bin/moto_server")
        })
}

fn start_s3() -> S3Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(moto_server())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server runs (scripts/test.sh installs it into target/s3-server)");
    let server = S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
    };
    let started = Instant::now();
    // moto accepts unsigned requests: the bucket is made with a plain PUT.
    loop {
        match ureq::put(&format!("{}/{BUCKET}", server.endpoint)).call() {
            Ok(_) => break,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("the S3 server did not start: {e}"),
        }
    }
    server
}

impl S3Server {
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test-access-key".into()),
            ("AWS_SECRET_ACCESS_KEY", "test-secret-key".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// The keys under `prefix`, sorted.
    fn keys(&self, prefix: &str) -> Vec<String> {
        let body = ureq::get(&format!(
            "{}/{BUCKET}?list-type=2&prefix={prefix}",
            self.endpoint
        ))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }

    fn music_rag(&self, data: &Path, args: &[&str]) -> std::process::Output {
        common::bin()
            .arg("--data-dir")
            .arg(data)
            .args(args)
            .envs(self.env())
            .output()
            .unwrap()
    }

    fn ok_json(&self, data: &Path, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.music_rag(data, &all);
        assert!(
            out.status.success(),
            "music-rag {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn tracks_in(data: &Path) -> u64 {
    ok_json(data, &["stats"])["tracks"].as_u64().unwrap()
}

#[test]
fn backups_go_to_object_storage_and_restore_from_it() {
    let s3 = start_s3();
    let (_tmp, data) = fresh_copy();
    let tracks = tracks_in(&data);
    // An object someone put there by hand is never pruned: only snapshot-* names are.
    ureq::put(&format!("{}/{BUCKET}/nightly/manual.mrsnap", s3.endpoint))
        .send_bytes(b"not ours")
        .unwrap();

    let mut urls = Vec::new();
    for _ in 0..3 {
        let out = s3.ok_json(
            &data,
            &[
                "backup",
                "--to",
                "s3://music-backups/nightly/",
                "--keep",
                "2",
            ],
        );
        let url = out["url"].as_str().unwrap().to_string();
        assert!(
            url.starts_with("s3://music-backups/nightly/snapshot-"),
            "{out}"
        );
        assert_eq!(out["manifest"]["tracks"].as_u64(), Some(tracks), "{out}");
        assert!(out["bytes"].as_u64().unwrap() > 10_000, "{out}");
        urls.push(url);
    }
    let keys = s3.keys("nightly/");
    assert_eq!(
        keys.len(),
        3,
        "two snapshots kept and the hand-put object: {keys:?}"
    );
    assert!(keys.contains(&"nightly/manual.mrsnap".to_string()));
    assert!(
        !keys.iter().any(|k| urls[0].ends_with(k.as_str())),
        "the oldest was pruned: {keys:?}"
    );
    // The local copy was only the way there.
    let left: Vec<_> = std::fs::read_dir(data.join("snapshots"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().ends_with(".mrsnap")),
        "{left:?}"
    );

    // Restored elsewhere from the newest under the prefix, and from one named object.
    let elsewhere = tempfile::tempdir().unwrap();
    let into = elsewhere.path().join("restored");
    let restored = s3.ok_json(&into, &["restore", "s3://music-backups/nightly/"]);
    assert_eq!(restored["tracks"].as_u64(), Some(tracks), "{restored}");
    assert_eq!(restored["source"], "s3://music-backups/nightly/");
    assert!(restored["restored"]
        .as_str()
        .unwrap()
        .ends_with(urls[2].rsplit('/').next().unwrap()));
    assert_eq!(tracks_in(&into), tracks);
    let named = elsewhere.path().join("named");
    s3.ok_json(&named, &["restore", &urls[1]]);
    assert_eq!(tracks_in(&named), tracks);
    // A directory holding a catalog is refused before anything is downloaded.
    let out = s3.music_rag(&named, &["restore", &urls[1]]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));

    // A server on an empty volume restores the newest snapshot at start.
    let volume = elsewhere.path().join("volume");
    let env = s3.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("MUSIC_RAG_RESTORE_FROM", "s3://music-backups/nightly/"));
    let app = spawn_on(&volume, &env);
    let (status, r) = call("GET", &format!("{}/v1/stats", app.base), Some(READER), None);
    assert_eq!(status, 200);
    assert_eq!(json_of(r)["tracks"].as_u64(), Some(tracks));
    drop(app);

    // Wrong locations and missing buckets: a non-zero exit naming the location and the rule.
    for (to, says) in [
        ("s3://Bad_Bucket/x/", "bucket must be 3-63 lower-case"),
        ("s3://no-such-bucket/x/", "s3://no-such-bucket/x/snapshot-"),
        (
            "s3://music-backups/x/one.mrsnap",
            "name a bucket and prefix",
        ),
    ] {
        let out = s3.music_rag(&data, &["backup", "--to", to]);
        assert!(!out.status.success(), "{to}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{to}: {err}");
    }
    let out = s3.music_rag(
        &elsewhere.path().join("none"),
        &["restore", "s3://music-backups/empty/"],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no snapshot under s3://music-backups/empty/"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_server_is_backed_up_to_object_storage_remotely_and_on_its_schedule() {
    let s3 = start_s3();
    let (_tmp, data) = fresh_copy();
    let tracks = tracks_in(&data);
    let env = s3.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([
        ("MUSIC_RAG_SNAPSHOT_EVERY", "1s"),
        ("MUSIC_RAG_SNAPSHOT_KEEP", "2"),
        ("MUSIC_RAG_SNAPSHOT_UPLOAD", "s3://music-backups/scheduled/"),
    ]);
    let app = spawn_on(&data, &env);

    // The schedule copies each snapshot to the bucket and keeps the newest two there.
    let started = Instant::now();
    loop {
        let (_, r) = call("GET", &format!("{}/metrics", app.base), Some(ADMIN), None);
        let metrics = r.into_string().unwrap();
        let uploaded = metrics
            .lines()
            .find(|l| l.starts_with("music_rag_snapshot_uploads_total{outcome=\"success\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        if uploaded >= 3.0 {
            assert!(metrics.contains("music_rag_snapshot_upload_last_success_timestamp_seconds"));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "three scheduled uploads within a minute: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        s3.keys("scheduled/").len(),
        2,
        "{:?}",
        s3.keys("scheduled/")
    );

    // A backup job elsewhere: through the admin API into the bucket; the server's own copy
    // is deleted once the bucket holds it. (On a server without a one-second schedule, whose
    // pruning could take the job's snapshot away mid-download.)
    drop(app);
    let env = s3.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_on(&data, &env);
    let job = tempfile::tempdir().unwrap();
    let before = {
        let (_, r) = call(
            "GET",
            &format!("{}/v1/admin/snapshots", app.base),
            Some(ADMIN),
            None,
        );
        json_of(r)["snapshots"].as_array().unwrap().len()
    };
    let out = common::bin()
        .current_dir(job.path())
        .env("TMPDIR", job.path())
        .envs(s3.env())
        .args(["backup", "--server", &app.base, "--api-key", ADMIN])
        .args([
            "--to",
            "s3://music-backups/remote/",
            "--keep",
            "3",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(answer["url"]
        .as_str()
        .unwrap()
        .starts_with("s3://music-backups/remote/snapshot-"));
    assert_eq!(answer["manifest"]["tracks"].as_u64(), Some(tracks));
    assert_eq!(s3.keys("remote/").len(), 1);
    let after = {
        let (_, r) = call(
            "GET",
            &format!("{}/v1/admin/snapshots", app.base),
            Some(ADMIN),
            None,
        );
        json_of(r)["snapshots"].as_array().unwrap().len()
    };
    assert_eq!(after, before);
    let staged: Vec<_> = walk(job.path());
    assert!(
        staged.is_empty(),
        "nothing left in the temporary folder: {staged:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
