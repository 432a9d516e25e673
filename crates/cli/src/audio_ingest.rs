//! `music-rag ingest-audio DIR`: every audio file under a folder becomes a track with its tags
//! and its measured sound. Files are analysed on all cores; unchanged files are skipped; a file
//! that cannot be read is reported and the run goes on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use music_rag_audio::library::track_id;
use music_rag_audio::{analyse_file, find_audio_files, fingerprint, AnalysedFile};
use music_rag_core::{Engine, UpsertOutcome};
use rayon::prelude::*;
use serde::Serialize;

use crate::Global;

/// Files analysed between durable writes.
const AUDIO_BATCH: usize = 16;

#[derive(Args, Debug)]
pub struct IngestAudioArgs {
    /// Folder to scan recursively (MP3, FLAC, OGG Vorbis, WAV, AAC/M4A).
    pub dir: PathBuf,
    /// Analyse every file again, even unchanged ones.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Serialize)]
pub struct FileError {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Default, Serialize)]
pub struct AudioReport {
    pub dir: String,
    pub files: usize,
    pub created: usize,
    pub updated: usize,
    /// Unchanged since the last run (size and modification time): not decoded again.
    pub skipped_unchanged: usize,
    /// Files whose title came from the file name because they carry no tags.
    pub untagged: usize,
    pub failed: Vec<FileError>,
    pub audio_seconds: f64,
    /// CPU time spent decoding and analysing, summed over threads.
    pub analysis_cpu_seconds: f64,
    /// Seconds of audio analysed per CPU-second.
    pub audio_seconds_per_cpu_second: f64,
    pub seconds: f64,
}

fn thread_cpu_seconds() -> f64 {
    cpu_time::ThreadTime::now().as_duration().as_secs_f64()
}

/// Decodes and analyses one file, measuring the CPU time it took on this thread.
fn analyse_timed(path: &Path) -> (PathBuf, Result<AnalysedFile, String>, f64) {
    let start = thread_cpu_seconds();
    let result = analyse_file(path).map_err(|e| e.to_string());
    (path.to_path_buf(), result, thread_cpu_seconds() - start)
}

/// Files whose stored analysis came from the same bytes, by size and modification time.
fn unchanged(engine: &Engine, path: &Path) -> bool {
    let Ok(print) = fingerprint(path) else {
        return false;
    };
    matches!(
        engine.store().get(&track_id(path)),
        Ok(Some(t)) if t.audio.as_ref().and_then(|a| a.file_fingerprint.as_deref()) == Some(print.as_str())
    )
}

pub fn run(g: &Global, args: &IngestAudioArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.dir.is_dir(), "{} is not a folder", args.dir.display());
    let start = Instant::now();
    let engine = crate::commands::open_engine(g, music_rag_store::Access::ReadWrite)?;
    let files = find_audio_files(&args.dir);
    let mut report = AudioReport {
        dir: args.dir.display().to_string(),
        files: files.len(),
        ..Default::default()
    };
    let todo: Vec<&PathBuf> = files
        .iter()
        .filter(|p| args.force || !unchanged(&engine, p))
        .collect();
    report.skipped_unchanged = files.len() - todo.len();
    let bar = if g.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(todo.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} analysing [{bar:30}] {pos}/{len} files, eta {eta} {msg}",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    for chunk in todo.chunks(AUDIO_BATCH) {
        let results: Vec<_> = chunk
            .par_iter()
            .map(|p| {
                let r = analyse_timed(p);
                bar.inc(1);
                r
            })
            .collect();
        let mut tracks = Vec::new();
        let mut paths = Vec::new();
        for (path, result, cpu) in results {
            report.analysis_cpu_seconds += cpu;
            match result {
                Ok(a) => {
                    report.audio_seconds += a.audio_seconds;
                    report.untagged += usize::from(!a.tagged);
                    bar.set_message(a.track.title.clone());
                    paths.push(path);
                    tracks.push(a.track);
                }
                Err(message) => {
                    bar.println(format!("skipped {}: {message}", path.display()));
                    report.failed.push(FileError {
                        path: path.display().to_string(),
                        message,
                    });
                }
            }
        }
        let batch = engine.upsert(tracks)?;
        report.created += batch.created;
        // A changed file whose track comes out identical still counts as updated: it was read.
        report.updated += batch.updated + batch.unchanged + batch.superseded;
        for (path, outcome) in paths.iter().zip(&batch.results) {
            if let UpsertOutcome::Invalid { message, .. } = outcome {
                report.failed.push(FileError {
                    path: path.display().to_string(),
                    message: message.clone(),
                });
            }
        }
    }
    bar.finish_and_clear();
    report.seconds = start.elapsed().as_secs_f64();
    report.audio_seconds_per_cpu_second = if report.analysis_cpu_seconds > 0.0 {
        report.audio_seconds / report.analysis_cpu_seconds
    } else {
        0.0
    };
    if g.json {
        outln!("{}", serde_json::to_string(&report)?);
    } else {
        outln!(
            "{}: {} files: {} created, {} updated, {} unchanged, {} failed ({} untagged) in {:.1}s; \
             {:.0} s of audio at {:.0} s of audio per CPU-second",
            report.dir,
            report.files,
            report.created,
            report.updated,
            report.skipped_unchanged,
            report.failed.len(),
            report.untagged,
            report.seconds,
            report.audio_seconds,
            report.audio_seconds_per_cpu_second
        );
        for f in &report.failed {
            eprintln!("  failed {}: {}", f.path, f.message);
        }
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
