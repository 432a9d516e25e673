//! The one report an import returns, whether of a catalog file or of an audio folder: counts,
//! each row or file that failed and why, timings, and for audio what was measured.

use std::time::Instant;

use music_rag_core::IngestReport;
use serde::Serialize;

/// What an import of a catalog file or an audio folder did, item by item: the one report both
/// kinds of import return (an audio folder adds its [`AudioTally`]).
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// The file or folder imported.
    pub source: String,
    /// Rows read (a catalog file) or files to import (an audio folder, unchanged ones included).
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    /// Written before and unchanged (rows), or unchanged files not read again (audio).
    pub unchanged: usize,
    /// Rows replaced by a later row with the same id.
    pub superseded: usize,
    /// Each row or file that was not imported, and why.
    pub failed: Vec<ImportFailure>,
    pub embedded: usize,
    pub embed_seconds: f64,
    pub write_seconds: f64,
    pub seconds: f64,
    pub tracks_per_second: f64,
    pub dry_run: bool,
    /// For an audio folder: files, audio measured and the analysis' speed.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioTally>,
}

/// A row or file that was not imported.
#[derive(Debug, Clone, Serialize)]
pub struct ImportFailure {
    /// The row's line in a catalog file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The file in an audio folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub id: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl ImportReport {
    /// Adds one written batch's tallies (its failures are attached by the caller, which knows
    /// each result's line or file).
    pub fn absorb(&mut self, batch: &IngestReport) {
        self.created += batch.created;
        self.updated += batch.updated;
        self.unchanged += batch.unchanged;
        self.superseded += batch.superseded;
        self.embedded += batch.embedded;
        self.embed_seconds += batch.embed_ms / 1000.0;
        self.write_seconds += batch.write_ms / 1000.0;
    }

    /// Whether every row or file was imported.
    pub fn complete(&self) -> bool {
        self.failed.is_empty()
    }

    pub(crate) fn finish(&mut self, started: Instant) {
        self.seconds = started.elapsed().as_secs_f64();
        self.tracks_per_second = self.rows as f64 / self.seconds.max(1e-9);
    }
}

/// What an audio folder import measured, beside the counts every import reports.
#[derive(Debug, Default, Serialize)]
pub struct AudioTally {
    /// Audio files found under the folder.
    pub files: usize,
    /// Unchanged since the last run (size and modification time): not decoded again.
    pub skipped_unchanged: usize,
    /// Files whose title came from the file name because they carry no tags.
    pub untagged: usize,
    pub audio_seconds: f64,
    /// CPU time spent decoding and analysing, summed over threads.
    pub analysis_cpu_seconds: f64,
    /// Seconds of audio analysed per CPU-second.
    pub audio_seconds_per_cpu_second: f64,
}
