//! The snapshot folder: snapshots taken on demand (`music-rag backup`, the admin API) or on
//! a schedule, listed, downloaded, deleted, and pruned to a retention count. Taking one records
//! the Prometheus metrics named here (the server describes and exports them).

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use music_rag_core::app::catalog::Catalog;
use music_rag_core::{CoreError, SnapshotManifest};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Snapshots taken, by outcome.
pub const SNAPSHOTS: &str = "music_rag_snapshots_total";
/// When the last snapshot succeeded (Unix seconds).
pub const SNAPSHOT_LAST_SUCCESS: &str = "music_rag_snapshot_last_success_timestamp_seconds";
/// How long the last snapshot took.
pub const SNAPSHOT_SECONDS: &str = "music_rag_snapshot_duration_seconds";
/// Size of the last snapshot file.
pub const SNAPSHOT_BYTES: &str = "music_rag_snapshot_size_bytes";

pub(crate) const EXTENSION: &str = ".mrsnap";
/// When the last snapshot succeeded (Unix seconds), kept in the folder so the time outlives
/// the process and the snapshot itself (`backup --server` deletes it once downloaded).
const LAST_SUCCESS_FILE: &str = ".last-success";
/// Scheduled and on-demand snapshots start with this; other files (pre-upgrade snapshots)
/// are listed but never pruned.
pub(crate) const PREFIX: &str = "snapshot-";

/// One snapshot file in the folder.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SnapshotEntry {
    /// File name: pass it to download or delete the snapshot.
    pub name: String,
    pub bytes: u64,
    /// When the file was completed (RFC 3339, UTC).
    pub created_at: String,
}

/// A snapshot just written.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SnapshotTaken {
    pub name: String,
    /// Where the file was written.
    #[schema(value_type = String)]
    pub path: PathBuf,
    pub bytes: u64,
    pub seconds: f64,
    pub manifest: SnapshotManifest,
}

#[derive(Debug, Clone)]
pub struct SnapshotFolder {
    dir: PathBuf,
}

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn io(e: std::io::Error) -> CoreError {
    CoreError::Internal(format!("snapshot folder: {e}"))
}

impl SnapshotFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new file name that sorts by time: `snapshot-20261202T101500.123Z.mrsnap`.
    fn new_name() -> String {
        let stamp: String = rfc3339_millis(SystemTime::now())
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        format!("{PREFIX}{stamp}{EXTENSION}")
    }

    /// Writes a snapshot of the catalog into the folder (or to `to`), recording metrics.
    pub fn take(&self, catalog: &Catalog, to: Option<&Path>) -> Result<SnapshotTaken, CoreError> {
        let path = match to {
            Some(p) => p.to_path_buf(),
            None => self.dir.join(Self::new_name()),
        };
        let started = Instant::now();
        let result = catalog.snapshot(&path);
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(manifest) => {
                let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                metrics::counter!(SNAPSHOTS, "outcome" => "success").increment(1);
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                metrics::gauge!(SNAPSHOT_LAST_SUCCESS).set(now);
                self.remember_success(now);
                metrics::gauge!(SNAPSHOT_SECONDS).set(seconds);
                metrics::gauge!(SNAPSHOT_BYTES).set(bytes as f64);
                Ok(SnapshotTaken {
                    name: path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    path,
                    bytes,
                    seconds,
                    manifest,
                })
            }
            Err(e) => {
                metrics::counter!(SNAPSHOTS, "outcome" => "failure").increment(1);
                Err(e)
            }
        }
    }

    /// Writes the time of a successful snapshot into the folder (atomically); a failure to
    /// is logged, since the snapshot itself succeeded.
    fn remember_success(&self, unix_seconds: f64) {
        let tmp = self.dir.join(format!("{LAST_SUCCESS_FILE}.tmp"));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|_| std::fs::write(&tmp, format!("{unix_seconds:.3}\n")))
            .and_then(|_| std::fs::rename(&tmp, self.dir.join(LAST_SUCCESS_FILE)));
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not record the snapshot's time in the folder");
        }
    }

    /// When the last snapshot succeeded, from the folder: the recorded time, or the newest
    /// snapshot file's, whichever is later; `None` when the folder shows none.
    pub fn last_success(&self) -> Option<f64> {
        let recorded = std::fs::read_to_string(self.dir.join(LAST_SUCCESS_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok());
        let newest_file = std::fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.ends_with(EXTENSION) && !n.starts_with('.')
            })
            .filter_map(|e| e.metadata().ok()?.modified().ok())
            .filter_map(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64())
            .fold(None, |best: Option<f64>, t| {
                Some(best.map_or(t, |b| b.max(t)))
            });
        match (recorded, newest_file) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Exports the snapshot gauges from what the folder holds, at start: the stale-backup
    /// alert then works after a restart, and fires for a store that never had a snapshot
    /// (the time is 0 then).
    pub fn export_state(&self) {
        metrics::gauge!(SNAPSHOT_LAST_SUCCESS).set(self.last_success().unwrap_or(0.0));
        if let Some(newest) = self.list().ok().and_then(|l| l.into_iter().last()) {
            metrics::gauge!(SNAPSHOT_BYTES).set(newest.bytes as f64);
        }
    }

    /// Complete snapshots, oldest first (unfinished ones have another name).
    pub fn list(&self) -> Result<Vec<SnapshotEntry>, CoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(EXTENSION) || name.starts_with('.') {
                continue;
            }
            let meta = entry.metadata().map_err(io)?;
            out.push(SnapshotEntry {
                name,
                bytes: meta.len(),
                created_at: meta.modified().map(rfc3339).unwrap_or_default(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The path of the snapshot called `name`, refusing anything that is not a plain
    /// snapshot file name in this folder.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, CoreError> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name.ends_with(EXTENSION)
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain {
            return Err(CoreError::invalid(
                "name",
                format!("must be a snapshot file name ending in {EXTENSION}"),
            ));
        }
        let path = self.dir.join(name);
        if !path.is_file() {
            return Err(CoreError::NotFound(format!("no snapshot named {name}")));
        }
        Ok(path)
    }

    pub fn delete(&self, name: &str) -> Result<(), CoreError> {
        std::fs::remove_file(self.path_of(name)?).map_err(io)
    }

    /// Deletes the oldest snapshots beyond the newest `keep` (pre-upgrade snapshots stay).
    pub fn prune(&self, keep: usize) -> Result<Vec<String>, CoreError> {
        let ours: Vec<SnapshotEntry> = self
            .list()?
            .into_iter()
            .filter(|e| e.name.starts_with(PREFIX))
            .collect();
        let excess = ours.len().saturating_sub(keep);
        let mut removed = Vec::new();
        for e in ours.into_iter().take(excess) {
            self.delete(&e.name)?;
            removed.push(e.name);
        }
        Ok(removed)
    }
}

fn rfc3339_millis(t: SystemTime) -> String {
    let millis = OffsetDateTime::from(t).millisecond();
    let base = rfc3339(t);
    // 2026-12-02T10:15:00Z -> 2026-12-02T10:15:00.123Z, so names taken in one second differ.
    match base.strip_suffix('Z') {
        Some(b) => format!("{b}.{millis:03}Z"),
        None => base,
    }
}

/// A snapshot into the folder, then the folder pruned to the newest `keep`: what the admin
/// API and the schedule do.
pub fn take_and_prune(
    folder: &SnapshotFolder,
    catalog: &Catalog,
    keep: usize,
) -> Result<(SnapshotTaken, Vec<String>), CoreError> {
    let taken = folder.take(catalog, None)?;
    let pruned = folder.prune(keep.max(1))?;
    if !pruned.is_empty() {
        tracing::info!(pruned = pruned.len(), keep, "older snapshots deleted");
    }
    Ok((taken, pruned))
}
