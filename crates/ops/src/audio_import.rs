//! Importing audio: every file under a folder becomes a track with its tags and its measured
//! sound (analysed on all cores; unchanged files, by size and modification time, skipped; a
//! file that cannot be read is that file's failure and the rest go on), and a single uploaded
//! file becomes a track. The CLI's `ingest-audio` and `POST /v1/tracks/audio` call this.

use std::path::{Path, PathBuf};
use std::time::Instant;

use music_rag_audio::library::track_id;
use music_rag_audio::{analyse_file, find_audio_files, fingerprint, AnalysedFile};
use music_rag_core::app::listen::{ListenRequest, ListenResponse};
use music_rag_core::{Engine, Track, UpsertOutcome};
use rayon::prelude::*;

use crate::error::{OpsError, Result};
use crate::progress::Progress;
use crate::report::{AudioTally, ImportFailure, ImportReport};

/// Files analysed between durable writes.
const AUDIO_BATCH: usize = 16;

fn thread_cpu_seconds() -> f64 {
    cpu_time::ThreadTime::now().as_duration().as_secs_f64()
}

/// Decodes and analyses one file, measuring the CPU time it took on this thread.
fn analyse_timed(path: &Path) -> (PathBuf, Result<AnalysedFile, String>, f64) {
    let start = thread_cpu_seconds();
    let result = analyse_file(path).map_err(|e| e.to_string());
    (path.to_path_buf(), result, thread_cpu_seconds() - start)
}

/// Whether the stored analysis of `path` came from the same bytes (size and modification time).
fn unchanged(engine: &Engine, path: &Path) -> bool {
    let Ok(print) = fingerprint(path) else {
        return false;
    };
    matches!(
        engine.catalog().find(&track_id(path)),
        Ok(Some(t)) if t.audio.as_ref().and_then(|a| a.file_fingerprint.as_deref()) == Some(print.as_str())
    )
}

fn failure(path: &Path, message: String) -> ImportFailure {
    ImportFailure {
        line: None,
        path: Some(path.display().to_string()),
        id: None,
        field: None,
        message,
    }
}

/// Imports every audio file under `dir` (recursively), analysing again unchanged files only
/// when `force`.
pub fn import_audio_folder(
    engine: &Engine,
    dir: &Path,
    force: bool,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    if !dir.is_dir() {
        return Err(OpsError::Input {
            what: dir.display().to_string(),
            message: "is not a folder".into(),
        });
    }
    let started = Instant::now();
    let files = find_audio_files(dir);
    let todo: Vec<&PathBuf> = files
        .iter()
        .filter(|p| force || !unchanged(engine, p))
        .collect();
    let mut tally = AudioTally {
        files: files.len(),
        skipped_unchanged: files.len() - todo.len(),
        ..Default::default()
    };
    let mut report = ImportReport {
        source: dir.display().to_string(),
        rows: files.len(),
        unchanged: tally.skipped_unchanged,
        ..Default::default()
    };
    progress.begin(todo.len() as u64, "analysing");
    for chunk in todo.chunks(AUDIO_BATCH) {
        let results: Vec<_> = chunk
            .par_iter()
            .map(|p| {
                let r = analyse_timed(p);
                progress.advance(1);
                r
            })
            .collect();
        let mut tracks = Vec::new();
        let mut paths = Vec::new();
        for (path, result, cpu) in results {
            tally.analysis_cpu_seconds += cpu;
            match result {
                Ok(a) => {
                    tally.audio_seconds += a.audio_seconds;
                    tally.untagged += usize::from(!a.tagged);
                    progress.working_on(&a.track.title);
                    paths.push(path);
                    tracks.push(a.track);
                }
                Err(message) => {
                    progress.note(&format!("skipped {}: {message}", path.display()));
                    report.failed.push(failure(&path, message));
                }
            }
        }
        let batch = engine.upsert(tracks)?;
        report.created += batch.created;
        // A changed file whose track comes out identical still counts as updated: it was read.
        report.updated += batch.updated + batch.unchanged + batch.superseded;
        report.embedded += batch.embedded;
        report.embed_seconds += batch.embed_ms / 1000.0;
        report.write_seconds += batch.write_ms / 1000.0;
        for (path, outcome) in paths.iter().zip(&batch.results) {
            if let UpsertOutcome::Invalid { id, field, message } = outcome {
                report.failed.push(ImportFailure {
                    id: id.clone(),
                    field: Some(field.clone()),
                    ..failure(path, message.clone())
                });
            }
        }
    }
    progress.finish();
    tally.audio_seconds_per_cpu_second = if tally.analysis_cpu_seconds > 0.0 {
        tally.audio_seconds / tally.analysis_cpu_seconds
    } else {
        0.0
    };
    report.audio = Some(tally);
    report.finish(started);
    Ok(report)
}

/// One uploaded file, already saved at `saved`, analysed and written as a track. The file is
/// removed again when it cannot be analysed or its track is refused, so nothing is left that
/// no track refers to.
pub fn import_upload(engine: &Engine, saved: &Path) -> Result<(UpsertOutcome, Track)> {
    let analysed = match analyse_file(saved) {
        Ok(a) => a,
        Err(e) => {
            let _ = std::fs::remove_file(saved);
            return Err(OpsError::Core(e.into()));
        }
    };
    let track = analysed.track;
    let outcome = match engine.upsert_one(track.clone()) {
        Ok(o) => o,
        Err(e) => {
            let _ = std::fs::remove_file(saved);
            return Err(e.into());
        }
    };
    if matches!(outcome, UpsertOutcome::Invalid { .. }) {
        let _ = std::fs::remove_file(saved);
    }
    Ok((outcome, track))
}

/// Tracks that sound like an audio clip (read from `file`, its format hinted by `extension`).
pub fn listen_to_clip(
    engine: &Engine,
    file: std::fs::File,
    extension: Option<&str>,
    request: &ListenRequest,
) -> Result<ListenResponse> {
    let features = music_rag_audio::listen::analyse_source(Box::new(file), extension)
        .map_err(music_rag_core::CoreError::from)?;
    Ok(engine.listen(request, Some(features))?)
}
