//! Snapshots, restore and verification of a data directory.
//!
//! A snapshot is one tar file: `manifest.json` (what it holds, with checksums) and
//! `catalog.sqlite` (a compacted copy of the source of truth made by `VACUUM INTO`, which
//! reads in one transaction, so writes go on meanwhile and none is copied half-done). The
//! keyword index is derived data and is rebuilt on restore. Files are written under a
//! `.partial` name and renamed when complete, so a crash never leaves a damaged snapshot
//! under a snapshot's name.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use music_rag_core::{SnapshotFile, SnapshotManifest};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::keyword::KeywordIndex;
use crate::lock::WriterLock;
use crate::sqlite::{Db, SCHEMA_VERSION};
use crate::{EmbeddedStore, StoreError, DB_FILE, KEYWORD_DIR};

pub const FORMAT: &str = "music-rag-snapshot";
pub const FORMAT_VERSION: u32 = 1;
/// The extension of complete snapshot files.
pub const EXTENSION: &str = "mrsnap";
const MANIFEST: &str = "manifest.json";
/// Present while a restore swaps files; a directory holding it is refused until a restore
/// completes.
const RESTORING: &str = "RESTORING";
const STAGING: &str = ".restore-staging";

fn damaged(file: &Path, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!(
        "the snapshot {} is damaged or incomplete: {why}",
        file.display()
    ))
}

fn sha256_of(path: &Path) -> Result<(u64, String), StoreError> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((bytes, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

fn remove_db_files(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Where the snapshot taken before migrating a store of schema `from` goes.
pub fn pre_upgrade_snapshot_path(dir: &Path, from: i64) -> PathBuf {
    dir.join("snapshots").join(format!(
        "pre-upgrade-schema{from}-to{SCHEMA_VERSION}-{}.{EXTENSION}",
        std::process::id()
    ))
}

pub fn refuse_interrupted_restore(dir: &Path) -> Result<(), StoreError> {
    if dir.join(RESTORING).exists() {
        return Err(StoreError::Corrupt(format!(
            "a restore into {} was interrupted; run `music-rag restore FILE --force` again",
            dir.display()
        )));
    }
    Ok(())
}

/// Describes the database copy at `db_path` (closed before returning).
fn describe(db_path: &Path, created_at: String) -> Result<SnapshotManifest, StoreError> {
    let copy = Db::open_read_only(db_path)?;
    let dim: usize = copy.meta("dim")?.and_then(|d| d.parse().ok()).unwrap_or(0);
    let (tracks, vectors) = copy.vector_counts(dim)?;
    let manifest = SnapshotManifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        written_by: env!("CARGO_PKG_VERSION").into(),
        created_at,
        schema_version: copy.schema_version()?,
        model_id: copy.meta("model_id")?.unwrap_or_default(),
        dim,
        sequence: copy.sequence()?,
        tracks,
        vectors,
        audio_vectors: copy.audio_count()?,
        files: Vec::new(),
    };
    drop(copy);
    Ok(manifest)
}

/// Writes a snapshot of `source` (a connection to the database at `source_path`) to `to`.
pub(crate) fn write_snapshot(
    source: &Db,
    source_path: &Path,
    to: &Path,
) -> Result<SnapshotManifest, StoreError> {
    let parent = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    let copy_path = parent.join(format!(".{name}.sqlite.partial"));
    let partial = parent.join(format!(".{name}.partial"));
    remove_db_files(&copy_path);
    let result = (|| {
        let created_at = source.now()?;
        source.copy_to(&copy_path)?;
        let mut manifest = describe(&copy_path, created_at)?;
        let (bytes, sha256) = sha256_of(&copy_path)?;
        manifest.files.push(SnapshotFile {
            name: DB_FILE.into(),
            bytes,
            sha256,
        });
        let json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let file = File::create(&partial)?;
        let mut tar = tar::Builder::new(file);
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, json.as_slice())?;
        tar.append_path_with_name(&copy_path, DB_FILE)?;
        let file = tar.into_inner()?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&partial, to)?;
        sync_dir(parent)?;
        tracing::debug!(from = %source_path.display(), to = %to.display(), "snapshot written");
        Ok(manifest)
    })();
    remove_db_files(&copy_path);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Reads a snapshot's manifest and extracts its database to `db_out`, checking sizes and
/// checksums; anything missing, truncated or altered is an error naming the file.
fn unpack(file: &Path, db_out: &Path) -> Result<SnapshotManifest, StoreError> {
    let reader = File::open(file).map_err(|e| {
        StoreError::Corrupt(format!("cannot read the snapshot {}: {e}", file.display()))
    })?;
    let mut archive = tar::Archive::new(reader);
    let mut manifest: Option<SnapshotManifest> = None;
    let mut extracted: Option<(u64, String)> = None;
    for entry in archive.entries().map_err(|e| damaged(file, e))? {
        let mut entry = entry.map_err(|e| damaged(file, e))?;
        let path = entry.path().map_err(|e| damaged(file, e))?.into_owned();
        match path.to_str() {
            Some(MANIFEST) => {
                let mut text = String::new();
                entry
                    .read_to_string(&mut text)
                    .map_err(|e| damaged(file, e))?;
                manifest = Some(
                    serde_json::from_str(&text)
                        .map_err(|e| damaged(file, format!("manifest: {e}")))?,
                );
            }
            Some(DB_FILE) => {
                let mut out = File::create(db_out)?;
                let mut hasher = Sha256::new();
                let mut buf = vec![0u8; 1 << 16];
                let mut bytes = 0u64;
                loop {
                    let n = entry.read(&mut buf).map_err(|e| damaged(file, e))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    out.write_all(&buf[..n])?;
                    bytes += n as u64;
                }
                out.sync_all()?;
                extracted = Some((bytes, hex(&hasher.finalize())));
            }
            _ => {}
        }
    }
    let manifest = manifest.ok_or_else(|| damaged(file, "it has no manifest"))?;
    if manifest.format != FORMAT || manifest.format_version > FORMAT_VERSION {
        return Err(StoreError::Incompatible(format!(
            "{} is a {} version {} file; this build reads {FORMAT} version {FORMAT_VERSION}",
            file.display(),
            manifest.format,
            manifest.format_version
        )));
    }
    let expected = manifest
        .files
        .iter()
        .find(|f| f.name == DB_FILE)
        .ok_or_else(|| damaged(file, "the manifest lists no database"))?;
    let (bytes, sha256) = extracted.ok_or_else(|| damaged(file, "it holds no database"))?;
    if bytes != expected.bytes || sha256 != expected.sha256 {
        return Err(damaged(
            file,
            format!(
                "the database has {bytes} bytes with sha256 {sha256}, the manifest says {} \
                 bytes with sha256 {}",
                expected.bytes, expected.sha256
            ),
        ));
    }
    Ok(manifest)
}

/// Checks an unpacked database against its manifest.
fn check_unpacked(file: &Path, db: &Path, manifest: &SnapshotManifest) -> Result<(), StoreError> {
    let copy = Db::open_read_only(db)?;
    let problems = copy.integrity_problems()?;
    if !problems.is_empty() {
        return Err(damaged(file, problems.join("; ")));
    }
    drop(copy);
    let found = describe(db, manifest.created_at.clone())?;
    if (found.sequence, found.tracks, found.vectors)
        != (manifest.sequence, manifest.tracks, manifest.vectors)
    {
        return Err(damaged(
            file,
            format!(
                "it holds {} tracks and {} vectors at sequence {}, the manifest says {} and {} at {}",
                found.tracks,
                found.vectors,
                found.sequence,
                manifest.tracks,
                manifest.vectors,
                manifest.sequence
            ),
        ));
    }
    Ok(())
}

impl EmbeddedStore {
    /// Writes a snapshot of the store to `to` while reads and writes go on. The copy is read
    /// through its own connection, so writers wait for nothing.
    pub fn snapshot_to(&self, to: &Path) -> Result<SnapshotManifest, StoreError> {
        let path = self.dir.join(DB_FILE);
        let reader = Db::open_read_only(&path)?;
        write_snapshot(&reader, &path, to)
    }

    /// Restores the snapshot `file` into `dir` and opens it for writing (the keyword index is
    /// rebuilt). A directory that holds a catalog is refused unless `force`. The snapshot is
    /// checked in full before anything in `dir` changes.
    pub fn restore(
        file: &Path,
        dir: &Path,
        force: bool,
        model: Option<(&str, usize)>,
    ) -> Result<(Self, SnapshotManifest), StoreError> {
        std::fs::create_dir_all(dir)?;
        let lock = WriterLock::acquire(dir)?;
        let target = dir.join(DB_FILE);
        if target.exists() && !force && !dir.join(RESTORING).exists() {
            return Err(StoreError::Incompatible(format!(
                "{} already holds a catalog; restore into an empty directory, or pass --force \
                 to replace it",
                dir.display()
            )));
        }
        let staging = dir.join(STAGING);
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging)?;
        let staged = staging.join(DB_FILE);
        let checked = unpack(file, &staged).and_then(|m| {
            check_unpacked(file, &staged, &m)?;
            Ok(m)
        });
        let manifest = match checked {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        std::fs::write(dir.join(RESTORING), file.display().to_string())?;
        sync_dir(dir)?;
        remove_db_files(&target);
        let _ = std::fs::remove_dir_all(dir.join(KEYWORD_DIR));
        let _ = std::fs::remove_file(dir.join(crate::index_file::INDEX_FILE));
        std::fs::rename(&staged, &target)?;
        sync_dir(dir)?;
        std::fs::remove_file(dir.join(RESTORING))?;
        sync_dir(dir)?;
        let _ = std::fs::remove_dir_all(&staging);
        let store = Self::open_locked(dir, model, lock, crate::memory::ANN_MIN_TRACKS)?;
        Ok((store, manifest))
    }
}

/// One check of `verify`.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            name,
            ok,
            detail: detail.into(),
        }
    }
}

/// Checks a data directory without writing to it (a writer may be running): SQLite's
/// integrity, the schema version, the model, every vector's size, every stored document,
/// and the keyword index in step with the source of truth. `model`, when given, must be the
/// store's.
pub fn verify(dir: &Path, model: Option<(&str, usize)>) -> Vec<Check> {
    let mut checks = Vec::new();
    let restoring = dir.join(RESTORING).exists();
    checks.push(Check::new(
        "restore",
        !restoring,
        if restoring {
            "a restore was interrupted; run it again with --force"
        } else {
            "no interrupted restore"
        },
    ));
    let path = dir.join(DB_FILE);
    if !path.exists() {
        checks.push(Check::new(
            "database",
            false,
            format!("{} does not exist", path.display()),
        ));
        return checks;
    }
    let db = match Db::open_read_only(&path) {
        Ok(db) => db,
        Err(e) => {
            checks.push(Check::new("database", false, e.to_string()));
            return checks;
        }
    };
    match db.integrity_problems() {
        Ok(p) if p.is_empty() => checks.push(Check::new("database", true, "integrity check ok")),
        Ok(p) => checks.push(Check::new("database", false, p.join("; "))),
        Err(e) => checks.push(Check::new("database", false, e.to_string())),
    }
    let (model_id, dim) = match (db.meta("model_id"), db.meta("dim")) {
        (Ok(m), Ok(d)) => (m, d.and_then(|d| d.parse::<usize>().ok())),
        _ => (None, None),
    };
    let model_ok = match (&model_id, dim, model) {
        (Some(m), Some(d), Some((want, want_dim))) => m == want && d == want_dim,
        (Some(_), Some(_), None) => true,
        _ => false,
    };
    checks.push(Check::new(
        "model",
        model_ok,
        match (&model_id, dim, model) {
            (Some(m), Some(d), Some((want, want_dim))) if !model_ok => {
                format!("vectors are from {m} ({d} dimensions), not {want} ({want_dim})")
            }
            (Some(m), Some(d), _) => format!("{m}, {d} dimensions"),
            _ => "no embedding model is recorded".into(),
        },
    ));
    let tracks = match db.rows_since(0) {
        Ok(rows) => {
            let dim = dim.unwrap_or(0);
            let bad: Vec<&str> = rows
                .iter()
                .filter(|r| r.embedding.len() != dim)
                .map(|r| r.track.id.as_str())
                .take(5)
                .collect();
            checks.push(Check::new(
                "vectors",
                bad.is_empty(),
                if bad.is_empty() {
                    format!("{} vectors of {dim} floats", rows.len())
                } else {
                    format!("vectors of the wrong size, e.g. tracks {}", bad.join(", "))
                },
            ));
            checks.push(Check::new(
                "tracks",
                true,
                format!("{} tracks readable", rows.len()),
            ));
            Some(rows.len() as u64)
        }
        Err(e) => {
            checks.push(Check::new("tracks", false, e.to_string()));
            None
        }
    };
    let version = db.schema_version().unwrap_or(-1);
    checks.push(Check::new(
        "schema",
        version == SCHEMA_VERSION,
        format!("schema version {version}; this build reads {SCHEMA_VERSION}"),
    ));
    let seq = db.sequence().unwrap_or(0);
    let keyword_dir = dir.join(KEYWORD_DIR);
    match KeywordIndex::open_read_only(&keyword_dir) {
        Ok(index) if keyword_dir.join("meta.json").exists() => {
            let (index_seq, docs) = (index.sequence(), index.num_docs());
            let ok = index_seq == seq && Some(docs) == tracks;
            checks.push(Check::new(
                "keyword index",
                ok,
                format!(
                    "reflects write {index_seq} with {docs} documents; the catalog is at write \
                     {seq} with {} tracks{}",
                    tracks.unwrap_or(0),
                    if ok { "" } else { " (run `music-rag repair`)" }
                ),
            ));
        }
        Ok(_) => checks.push(Check::new(
            "keyword index",
            false,
            "missing (run `music-rag repair`)",
        )),
        Err(e) => checks.push(Check::new("keyword index", false, e.to_string())),
    }
    checks
}
