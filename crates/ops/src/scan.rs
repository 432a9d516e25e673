//! Scanning music folders into the library: every audio file under each folder becomes a song
//! (its tags, and with analysis its sound), referenced in place (a user's folder is never
//! written to). Incremental: a file whose size and modification time match what the scan
//! recorded is not read again; a file that failed is remembered with its error and tried again
//! only when it changes; files that vanished are removed from the catalog and reported.
//!
//! Resumable: each batch is written to the catalog (durably) before the scan records it, so a
//! killed scan loses nothing and, run again, reads at most the one batch it was writing (which
//! the catalog then finds unchanged: nothing is embedded twice).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use music_rag_audio::library::{cover_of, track_id};
use music_rag_audio::{analyse_file, find_audio_files, fingerprint, tag_file, AnalysedFile};
use music_rag_core::domain::catalog::file::CoverSource;
use music_rag_core::{Engine, Track, UpsertOutcome};
use music_rag_store::library_db::ScannedFile;
use music_rag_store::LibraryDb;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{OpsError, Result};
use crate::progress::Progress;
use crate::report::ImportFailure;

/// Files read between durable writes.
const SCAN_BATCH: usize = 64;

/// How a scan reads files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    /// Decode and analyse the sound too (tempo, key, heard instruments and genres, the sound
    /// embedding); without it only tags are read, which is many times faster, and a later scan
    /// with analysis analyses what was only tagged.
    pub analyse: bool,
    /// Read every file again, changed or not.
    pub force: bool,
}

/// What one scan did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    pub folders: Vec<String>,
    /// Audio files found.
    pub files: usize,
    /// Files not read again: unchanged since the last scan.
    pub unchanged: usize,
    /// Files that failed before and have not changed since (not tried again).
    pub failed_unchanged: usize,
    /// Files read this time.
    pub read: usize,
    pub added: usize,
    pub updated: usize,
    /// Files whose sound was analysed.
    pub analysed: usize,
    pub failed: Vec<ImportFailure>,
    /// Files the last scan saw that are gone; their songs were removed.
    pub vanished: Vec<String>,
    pub seconds: f64,
    pub files_per_second: f64,
}

/// A scan in progress (or the last one), for `getScanStatus` and `/v1/stats`.
#[derive(Debug, Default)]
pub struct ScanStatus {
    scanning: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
    last: Mutex<Option<ScanReport>>,
}

/// What [`ScanStatus::snapshot`] tells.
#[derive(Debug, Clone, Serialize)]
pub struct ScanProgress {
    pub scanning: bool,
    /// Files read so far in this scan.
    pub done: u64,
    /// Files this scan will read.
    pub total: u64,
    /// The last finished scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<ScanReport>,
}

impl ScanStatus {
    pub fn snapshot(&self) -> ScanProgress {
        ScanProgress {
            scanning: self.scanning.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            last: self.last.lock().ok().and_then(|l| l.clone()),
        }
    }

    /// Marks a scan as started; `false` when one already runs.
    pub fn try_start(&self) -> bool {
        !self.scanning.swap(true, Ordering::AcqRel)
    }

    fn finish(&self, report: Option<ScanReport>) {
        if let (Some(r), Ok(mut last)) = (report, self.last.lock()) {
            *last = Some(r);
        }
        self.scanning.store(false, Ordering::Release);
    }
}

/// A file seen on disk now.
struct Seen {
    path: PathBuf,
    key: String,
    size: u64,
    mtime_ns: i64,
}

fn stat(path: PathBuf) -> Option<Seen> {
    let meta = std::fs::metadata(&path).ok()?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    Some(Seen {
        key: path.to_string_lossy().into_owned(),
        size: meta.len(),
        mtime_ns,
        path,
    })
}

fn failure(path: &str, message: String) -> ImportFailure {
    ImportFailure {
        line: None,
        path: Some(path.to_string()),
        id: None,
        field: None,
        message,
    }
}

/// Scans `folders` into the catalog and records what it read in `db`. `status` (when given)
/// shows the scan's progress to other threads; a scan already running makes this one refuse.
pub fn scan(
    engine: &Engine,
    db: &LibraryDb,
    folders: &[PathBuf],
    options: ScanOptions,
    progress: &dyn Progress,
    status: Option<&ScanStatus>,
) -> Result<ScanReport> {
    if let Some(s) = status {
        if !s.try_start() {
            return Err(OpsError::Input {
                what: "scan".into(),
                message: "a scan is already running".into(),
            });
        }
    }
    let result = scan_all(engine, db, folders, options, progress, status);
    if let Some(s) = status {
        s.finish(result.as_ref().ok().cloned());
    }
    result
}

fn scan_all(
    engine: &Engine,
    db: &LibraryDb,
    folders: &[PathBuf],
    options: ScanOptions,
    progress: &dyn Progress,
    status: Option<&ScanStatus>,
) -> Result<ScanReport> {
    let started = Instant::now();
    let mut report = ScanReport::default();
    let mut plans = Vec::new();
    for folder in folders {
        if !folder.is_dir() {
            return Err(OpsError::Input {
                what: folder.display().to_string(),
                message: "is not a folder (music folders must exist and be readable)".into(),
            });
        }
        let root = folder
            .canonicalize()
            .map_err(OpsError::io(folder.display().to_string()))?
            .to_string_lossy()
            .into_owned();
        let seen: Vec<Seen> = find_audio_files(folder)
            .into_par_iter()
            .filter_map(stat)
            .collect();
        let mut known = db.scanned(&root).map_err(store_error)?;
        let mut todo = Vec::new();
        for file in seen {
            let before = known.remove(&file.key);
            let same_file = before
                .as_ref()
                .is_some_and(|b| b.size == file.size && b.mtime_ns == file.mtime_ns);
            match before {
                Some(b) if same_file && !options.force && b.error.is_some() => {
                    report.failed_unchanged += 1;
                }
                Some(b) if same_file && !options.force && (b.analysed || !options.analyse) => {
                    report.unchanged += 1;
                }
                _ => todo.push(file),
            }
            report.files += 1;
        }
        // What the last scan saw and this one did not: gone from the folder.
        let vanished: Vec<ScannedFile> = known.into_values().collect();
        report.folders.push(root.clone());
        plans.push((root, todo, vanished));
    }
    let total: usize = plans.iter().map(|(_, todo, _)| todo.len()).sum();
    if let Some(s) = status {
        s.total.store(total as u64, Ordering::Relaxed);
        s.done.store(0, Ordering::Relaxed);
    }
    progress.begin(
        total as u64,
        if options.analyse {
            "analysing"
        } else {
            "reading tags"
        },
    );
    for (root, todo, vanished) in plans {
        for chunk in todo.chunks(SCAN_BATCH) {
            scan_batch(engine, db, &root, chunk, options, &mut report, progress)?;
            if let Some(s) = status {
                s.done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        }
        remove_vanished(engine, db, vanished, &mut report)?;
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    report.files_per_second = if report.seconds > 0.0 {
        report.read as f64 / report.seconds
    } else {
        0.0
    };
    Ok(report)
}

fn store_error(e: music_rag_store::StoreError) -> OpsError {
    OpsError::store("library records")(e)
}

/// The stored track of `path` when its analysis came from these very bytes (from
/// `ingest-audio`, or an earlier scan with analysis): looked up before anything is read, so
/// such a file is never decoded again and its tags are read once.
fn stored_analysis(engine: &Engine, path: &Path) -> Option<Arc<Track>> {
    let print = fingerprint(path).ok()?;
    let stored = engine.catalog().find(&track_id(path)).ok()??;
    let same = stored
        .audio
        .as_ref()
        .is_some_and(|a| a.file_fingerprint.as_deref() == Some(print.as_str()));
    same.then_some(stored)
}

/// A tags-only reading keeps what the stored analysis measured.
fn keep_analysis(track: &mut Track, stored: &Track) {
    track.audio = stored.audio.clone();
    track.tags = stored.tags.clone();
    track.metadata.tempo = stored.metadata.tempo;
    track.metadata.key = stored.metadata.key.clone();
    if track.metadata.duration.is_none() {
        track.metadata.duration = stored.metadata.duration;
    }
}

/// What the scan records of a file it read.
fn record(
    root: &str,
    file: &Seen,
    track_id: Option<String>,
    analysed: bool,
    error: Option<String>,
) -> ScannedFile {
    ScannedFile {
        path: file.key.clone(),
        folder: root.to_string(),
        size: file.size,
        mtime_ns: file.mtime_ns,
        track_id,
        analysed,
        error,
    }
}

/// A file read: its track and whether its sound is analysed, or why it failed.
type FileOutcome = std::result::Result<(AnalysedFile, bool), String>;

fn scan_batch(
    engine: &Engine,
    db: &LibraryDb,
    root: &str,
    chunk: &[Seen],
    options: ScanOptions,
    report: &mut ScanReport,
    progress: &dyn Progress,
) -> Result<()> {
    // One look per folder for a cover image, not one per file.
    let covers: Mutex<HashMap<PathBuf, Option<CoverSource>>> = Mutex::default();
    let results: Vec<(&Seen, FileOutcome)> = chunk
        .par_iter()
        .map(|file| {
            // A file whose sound the catalog already analysed from these very bytes gets its
            // tags read, not its sound again.
            let stored = stored_analysis(engine, &file.path);
            let result = if options.analyse && stored.is_none() {
                analyse_file(&file.path).map(|a| (a, true))
            } else {
                let cover = |path: &Path, tags: &music_rag_audio::FileTags| {
                    let dir = path.parent().filter(|_| !tags.has_picture);
                    let Some(dir) = dir else {
                        return cover_of(path, tags);
                    };
                    if let Some(c) = covers.lock().ok().and_then(|c| c.get(dir).cloned()) {
                        return c;
                    }
                    let c = cover_of(path, tags);
                    if let Ok(mut m) = covers.lock() {
                        m.insert(dir.to_path_buf(), c.clone());
                    }
                    c
                };
                tag_file(&file.path, cover).map(|mut a| {
                    if let Some(s) = &stored {
                        keep_analysis(&mut a.track, s);
                    }
                    (a, stored.is_some())
                })
            };
            progress.advance(1);
            (file, result.map_err(|e| e.to_string()))
        })
        .collect();
    let mut tracks = Vec::new();
    let mut written: Vec<(&Seen, String, bool)> = Vec::new();
    let mut records = Vec::new();
    for (file, result) in results {
        report.read += 1;
        match result {
            Ok((mut a, analysed)) => {
                if let Some(f) = &mut a.track.file {
                    f.folder = Some(root.to_string());
                }
                report.analysed += usize::from(options.analyse && analysed);
                written.push((file, a.track.id.clone(), analysed));
                tracks.push(a.track);
            }
            Err(message) => {
                progress.note(&format!("skipped {}: {message}", file.key));
                records.push(record(root, file, None, false, Some(message.clone())));
                report.failed.push(failure(&file.key, message));
            }
        }
    }
    let batch = engine.upsert(tracks)?;
    report.added += batch.created;
    report.updated += batch.updated + batch.superseded;
    for ((file, id, analysed), outcome) in written.into_iter().zip(&batch.results) {
        let error = match outcome {
            UpsertOutcome::Invalid { field, message, .. } => {
                let m = format!("{field}: {message}");
                report.failed.push(ImportFailure {
                    id: Some(id.clone()),
                    field: Some(field.clone()),
                    ..failure(&file.key, message.clone())
                });
                Some(m)
            }
            _ => None,
        };
        records.push(record(
            root,
            file,
            error.is_none().then_some(id),
            analysed,
            error,
        ));
    }
    // Only after the catalog holds the batch: a kill in between re-reads this batch, no more.
    db.record_scanned(&records).map_err(store_error)?;
    Ok(())
}

fn remove_vanished(
    engine: &Engine,
    db: &LibraryDb,
    vanished: Vec<ScannedFile>,
    report: &mut ScanReport,
) -> Result<()> {
    if vanished.is_empty() {
        return Ok(());
    }
    let catalog = engine.catalog();
    for file in &vanished {
        if let Some(id) = &file.track_id {
            // Another path may still hold the same file (a second folder, a link): the id is
            // the file's real path, so only a track whose file is gone is removed.
            let still_there = catalog
                .find(id)?
                .and_then(|t| t.audio_path.clone())
                .is_some_and(|p| Path::new(&p).exists());
            if !still_there {
                match catalog.delete(id) {
                    Ok(()) | Err(music_rag_core::CoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        report.vanished.push(file.path.clone());
    }
    let paths: Vec<String> = vanished.into_iter().map(|f| f.path).collect();
    db.forget_scanned(&paths).map_err(store_error)?;
    Ok(())
}
