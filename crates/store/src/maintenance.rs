//! Snapshots, restore and verification of a data directory.
//!
//! A snapshot is one tar file: `catalog.sqlite` (a compacted copy of the source of truth made
//! by `VACUUM INTO`, which reads in one transaction, so writes go on meanwhile and none is
//! copied half-done), the audio files its tracks keep inside the data directory (uploads and
//! copies, under `files/` at their path there), and `manifest.json` (what it holds, with
//! checksums; last, so the files' checksums are taken as they stream in). Audio that tracks
//! reference in place elsewhere (a user's music folder) is counted, not copied. The keyword
//! index is derived data and is rebuilt on restore. Files are written under a
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
        data_dir: None,
        audio_files_elsewhere: 0,
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
    // What killed snapshots left here goes first, so leftovers never pile up.
    for path in sweep_partial_snapshots(parent) {
        tracing::info!(path = %path.display(), "removed an unfinished snapshot file left by an interrupted snapshot");
    }
    let copy_path = parent.join(format!(".{name}.sqlite.partial"));
    let partial = parent.join(format!(".{name}.partial"));
    // Locked first and held to the end: while it is, `sweep_partial_snapshots` leaves this
    // snapshot's files alone; once this process dies, they are swept.
    let file = crate::partial::create_locked(&partial)?;
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
        let data_dir = source_path
            .parent()
            .and_then(|d| d.canonicalize().ok())
            .unwrap_or_default();
        let held = audio_files_held(&copy_path, &data_dir)?;
        manifest.data_dir = Some(data_dir.to_string_lossy().into_owned());
        manifest.audio_files_elsewhere = held.elsewhere;
        let mut tar = tar::Builder::new(&file);
        tar.append_path_with_name(&copy_path, DB_FILE)?;
        // Audio files are read once, hashed as they stream into the archive; the manifest,
        // which lists their checksums, comes last.
        for (relative, path) in &held.inside {
            match append_hashed(&mut tar, path, &format!("{FILES_DIR}/{relative}")) {
                Ok(entry) => manifest.files.push(entry),
                // Deleted since the copy was read: the track's file is gone either way.
                Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(path = %path.display(), "audio file vanished while the snapshot was taken");
                }
                Err(e) => return Err(e),
            }
        }
        let json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, json.as_slice())?;
        tar.into_inner()?.sync_all()?;
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

/// Audio files live in a snapshot under this folder, at their path in the data directory.
const FILES_DIR: &str = "files";

/// The audio files a catalog's tracks reference: those inside the data directory (uploads,
/// copies), which a snapshot holds, by their path relative to it; and how many lie elsewhere.
struct HeldAudio {
    inside: Vec<(String, PathBuf)>,
    elsewhere: u64,
}

fn audio_files_held(db: &Path, data_dir: &Path) -> Result<HeldAudio, StoreError> {
    let copy = Db::open_read_only(db)?;
    let mut held = HeldAudio {
        inside: Vec::new(),
        elsewhere: 0,
    };
    let mut seen = std::collections::HashSet::new();
    for stored in copy.audio_paths()? {
        let Ok(real) = Path::new(&stored).canonicalize() else {
            continue;
        };
        match real.strip_prefix(data_dir) {
            Ok(rel) if !data_dir.as_os_str().is_empty() && real.is_file() => {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if seen.insert(rel.clone()) {
                    held.inside.push((rel, real));
                }
            }
            Ok(_) => {}
            Err(_) => held.elsewhere += 1,
        }
    }
    Ok(held)
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Streams the file at `path` into the archive as `name`, returning its size and checksum.
fn append_hashed<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    name: &str,
) -> Result<SnapshotFile, StoreError> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    let mut reader = Hashing {
        inner: file.take(size),
        hasher: Sha256::new(),
        bytes: 0,
    };
    tar.append_data(&mut header, name, &mut reader)?;
    if reader.bytes != size {
        return Err(StoreError::Corrupt(format!(
            "{} changed size while the snapshot read it",
            path.display()
        )));
    }
    Ok(SnapshotFile {
        name: name.to_string(),
        bytes: size,
        sha256: hex(&reader.hasher.finalize()),
    })
}

/// A `files/…` entry's path inside the data directory, refusing anything that could land
/// outside it (`..`, absolute paths).
fn held_file_path(name: &str) -> Option<&str> {
    let rel = name.strip_prefix(FILES_DIR)?.strip_prefix('/')?;
    let plain = !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    plain.then_some(rel)
}

/// Removes what killed snapshot writers left in `dir` (`.NAME.partial` and the database copy
/// `.NAME.sqlite.partial` beside it), leaving snapshots still being written alone. Returns the
/// files removed.
pub fn sweep_partial_snapshots(dir: &Path) -> Vec<PathBuf> {
    // The tar file carries the writer's lock; the database copy belongs to it.
    let abandoned = |name: &str| -> bool {
        let Some(stem) = name
            .strip_prefix('.')
            .and_then(|n| n.split(".sqlite.partial").next())
            .filter(|_| name.contains(".sqlite.partial"))
        else {
            return false;
        };
        !crate::partial::is_being_written(&dir.join(format!(".{stem}.partial")))
    };
    let mut removed = crate::partial::sweep(dir, |n| {
        n.starts_with('.') && n.ends_with(".partial") && !n.contains(".sqlite.partial")
    });
    removed.extend(crate::partial::sweep(dir, abandoned));
    removed.sort();
    removed
}

/// Reads a snapshot's manifest and extracts its database to `db_out`, checking sizes and
/// checksums; anything missing, truncated or altered is an error naming the file.
fn unpack(file: &Path, db_out: &Path, files_out: &Path) -> Result<SnapshotManifest, StoreError> {
    let reader = File::open(file).map_err(|e| {
        StoreError::Corrupt(format!("cannot read the snapshot {}: {e}", file.display()))
    })?;
    let mut archive = tar::Archive::new(reader);
    let mut manifest: Option<SnapshotManifest> = None;
    let mut extracted: Option<(u64, String)> = None;
    let mut held: std::collections::HashMap<String, (u64, String)> = Default::default();
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
            Some(name) if name.starts_with(FILES_DIR) => {
                let rel = held_file_path(name)
                    .ok_or_else(|| damaged(file, format!("it holds a file at {name:?}")))?;
                let to = files_out.join(rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut reader = Hashing {
                    inner: &mut entry,
                    hasher: Sha256::new(),
                    bytes: 0,
                };
                let mut out = File::create(&to)?;
                std::io::copy(&mut reader, &mut out).map_err(|e| damaged(file, e))?;
                out.sync_all()?;
                let (bytes, sha) = (reader.bytes, hex(&reader.hasher.finalize()));
                held.insert(name.to_string(), (bytes, sha));
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
    for listed in manifest.files.iter().filter(|f| f.name != DB_FILE) {
        match held.get(&listed.name) {
            Some((bytes, sha)) if *bytes == listed.bytes && *sha == listed.sha256 => {}
            Some((bytes, sha)) => {
                return Err(damaged(
                    file,
                    format!(
                        "{} has {bytes} bytes with sha256 {sha}, the manifest says {} bytes \
                         with sha256 {}",
                        listed.name, listed.bytes, listed.sha256
                    ),
                ))
            }
            None => return Err(damaged(file, format!("{} is missing", listed.name))),
        }
    }
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

/// Moves the audio files unpacked under `staged` to their places in `dir`; returns how many.
fn place_held_files(
    staged: &Path,
    dir: &Path,
    manifest: &SnapshotManifest,
) -> Result<usize, StoreError> {
    let mut placed = 0;
    for listed in &manifest.files {
        let Some(rel) = held_file_path(&listed.name) else {
            continue;
        };
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(staged.join(rel), &to)?;
        if let Some(parent) = to.parent() {
            sync_dir(parent)?;
        }
        placed += 1;
    }
    Ok(placed)
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

    /// Whether `dir` holds a catalog (a restore that was interrupted does not count: running
    /// it again finishes it).
    pub fn holds_catalog(dir: &Path) -> bool {
        dir.join(DB_FILE).exists() && !dir.join(RESTORING).exists()
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
        let staged_files = staging.join(FILES_DIR);
        let checked = unpack(file, &staged, &staged_files).and_then(|m| {
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
        // Audio paths under the data directory the snapshot came from now point into this one.
        let here = dir.canonicalize()?.to_string_lossy().into_owned();
        if let Some(from) = manifest.data_dir.as_deref().filter(|from| *from != here) {
            let moved = crate::sqlite::move_audio_paths(&staged, from, &here)?;
            tracing::info!(moved, from, to = %here, "audio paths moved to the restored data directory");
        }
        std::fs::write(dir.join(RESTORING), file.display().to_string())?;
        sync_dir(dir)?;
        // The audio files the snapshot holds go back to their places (replacing what is
        // there); a repeated restore puts them again.
        let restored_files = place_held_files(&staged_files, dir, &manifest)?;
        if restored_files > 0 {
            tracing::info!(files = restored_files, "audio files restored");
        }
        remove_db_files(&target);
        let _ = std::fs::remove_dir_all(dir.join(KEYWORD_DIR));
        let _ = std::fs::remove_file(dir.join(crate::index_file::INDEX_FILE));
        let _ = std::fs::remove_file(dir.join(crate::state_file::STATE_FILE));
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
    if let Ok(paths) = db.audio_paths() {
        let missing: Vec<&String> = paths.iter().filter(|p| !Path::new(p).is_file()).collect();
        checks.push(Check::new(
            "audio files",
            missing.is_empty(),
            if missing.is_empty() {
                format!("all {} audio files tracks reference are there", paths.len())
            } else {
                format!(
                    "{} of {} audio files tracks reference are missing, e.g. {} (restore them, \
                     or delete or re-ingest those tracks)",
                    missing.len(),
                    paths.len(),
                    missing
                        .iter()
                        .take(3)
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        ));
    }
    let version = db.schema_version().unwrap_or(-1);
    checks.push(Check::new(
        "schema",
        version == SCHEMA_VERSION,
        format!("schema version {version}; this build reads {SCHEMA_VERSION}"),
    ));
    let seq = db.sequence().unwrap_or(0);
    let keyword_dir = dir.join(KEYWORD_DIR);
    if !keyword_dir.join("meta.json").exists() {
        checks.push(Check::new(
            "keyword index",
            false,
            "missing (run `music-rag repair`)",
        ));
        return checks;
    }
    match KeywordIndex::open_existing(&keyword_dir) {
        Ok(index) => {
            let damaged = index.damaged_files();
            let (index_seq, docs) = (index.sequence(), index.num_docs());
            let in_step = index_seq == seq && Some(docs) == tracks;
            let detail = format!(
                "reflects write {index_seq} with {docs} documents; the catalog is at write {seq} \
                 with {} tracks",
                tracks.unwrap_or(0)
            );
            checks.push(match damaged {
                Ok(d) if d.is_empty() && in_step => Check::new("keyword index", true, detail),
                Ok(d) if d.is_empty() => Check::new(
                    "keyword index",
                    false,
                    format!("{detail} (run `music-rag repair`)"),
                ),
                Ok(d) => Check::new(
                    "keyword index",
                    false,
                    format!(
                        "damaged files {} (run `music-rag repair`: it rebuilds the index from \
                         the catalog)",
                        d.join(", ")
                    ),
                ),
                Err(e) => Check::new(
                    "keyword index",
                    false,
                    format!("cannot be checked: {e} (run `music-rag repair`)"),
                ),
            });
        }
        Err(e) => checks.push(Check::new(
            "keyword index",
            false,
            format!(
                "unreadable: {e} (run `music-rag repair`: it rebuilds the index from the catalog)"
            ),
        )),
    }
    checks
}
