//! A PostgreSQL replica that searches a local copy of the catalog.
//!
//! PostgreSQL stays the one source of truth: every write goes to it, and any number of
//! replicas share it. What a search reads (the vectors, the keyword index, facets, names,
//! the tracks themselves) a replica reads from an embedded store in its data directory, which
//! follows the catalog by write sequence: before each read the replica asks PostgreSQL for its
//! sequence (one small statement) and, when the catalog moved, applies the changes since its
//! own (`PgStore::changes_since`, one snapshot). So a write through any replica is seen by
//! every replica's next read, as without the copy, while a search costs the embedded store's
//! time plus that one round trip instead of PostgreSQL's HNSW and `ts_rank` statements.
//!
//! The copy is derived and disposable: it records which catalog it copies and up to which
//! sequence; a copy of another catalog (dropped and made again), one ahead of the catalog (a
//! restored backup) or one that does not open is deleted and copied again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use music_rag_core::{
    Candidate, CoreError, Filter, Known, Page, Selected, Selection, SnapshotManifest, Store,
    StoreStats, StoredTrack, Track, Vocabulary,
};
use music_rag_store::{Access, EmbeddedStore, StoreError};
use music_rag_store_postgres::{Change, PgError, PgStore};

use crate::error::{OpsError, Result};

/// Prometheus: how long applying the catalog's changes to the copy took, per catch-up.
pub const CATCH_UP_SECONDS: &str = "music_rag_replica_catch_up_duration_seconds";
/// Prometheus: the write sequence the copy holds (PostgreSQL's own is in `/v1/stats`).
pub const COPIED_SEQUENCE: &str = "music_rag_replica_copied_sequence";

/// The mark of a copy given up (see `catch_up`): not a catalog's, so the next open copies again.
const ABANDONED: &str = "abandoned";

/// After the copy failed to follow the catalog, PostgreSQL answers for this long before the
/// copy is tried again.
const RETRY_COPY_AFTER: Duration = Duration::from_secs(30);

/// Tracks applied to the copy at once while catching up.
const CATCH_UP_BATCH: usize = 2000;

pub struct ReplicaStore {
    source: PgStore,
    copy: EmbeddedStore,
    catalog_id: String,
    /// The source's write sequence the copy holds.
    copied: AtomicU64,
    /// One catch-up at a time; readers that find the copy behind wait for it.
    catching_up: Mutex<()>,
    /// When the copy last failed to follow the catalog (PostgreSQL answers for a while).
    copy_failed_at: Mutex<Option<Instant>>,
    /// Set when the catalog went back behind the copy: PostgreSQL answers until a restart.
    abandoned: AtomicBool,
}

impl ReplicaStore {
    /// Opens (or makes) the copy of `source`'s catalog in `dir` and brings it up to date.
    /// Fails when the folder cannot hold a copy (another process uses it, the disk refuses).
    pub fn open(source: PgStore, dir: &Path) -> Result<Self> {
        let started = Instant::now();
        let catalog_id = source
            .catalog_id()
            .map_err(|e| OpsError::Database(e.to_string()))?;
        let now = Store::sequence(&source)?;
        let (copy, copied) = match open_copy(&source, dir) {
            Ok(copy) => match copied_point(&copy, &catalog_id)? {
                Some(at) if at <= now => (copy, at),
                point => {
                    tracing::warn!(
                        dir = %dir.display(),
                        copied = ?point,
                        catalog = now,
                        "the local copy is of another catalog or ahead of it: copying again"
                    );
                    drop(copy);
                    (fresh_copy(&source, dir)?, 0)
                }
            },
            // Another process's copy: not ours to delete.
            Err(
                e @ OpsError::Store {
                    source: StoreError::Locked(_),
                    ..
                },
            ) => return Err(e),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "the local copy does not open: copying again");
                (fresh_copy(&source, dir)?, 0)
            }
        };
        let replica = Self {
            source,
            copy,
            catalog_id,
            copied: AtomicU64::new(copied),
            catching_up: Mutex::new(()),
            copy_failed_at: Mutex::new(None),
            abandoned: AtomicBool::new(false),
        };
        replica.catch_up().map_err(|e| match e {
            CatchUpError::Source(e) | CatchUpError::Copy(e) => OpsError::Core(e),
        })?;
        tracing::info!(
            dir = %dir.display(),
            from = copied,
            to = replica.copied.load(Ordering::Acquire),
            tracks = replica.copy.count()?,
            ms = started.elapsed().as_millis() as u64,
            "the local copy of the catalog is up to date"
        );
        Ok(replica)
    }

    /// The folder a replica keeps its copy of `schema` in, under its data directory.
    pub fn dir_for(data_dir: &Path, schema: &str) -> PathBuf {
        data_dir.join("replica").join(schema)
    }

    /// The write sequence the copy holds.
    pub fn copied_sequence(&self) -> u64 {
        self.copied.load(Ordering::Acquire)
    }

    /// Which store answers a read: the copy, brought to the catalog's sequence first when the
    /// catalog moved (the check every read makes), or PostgreSQL while the copy cannot follow.
    fn reader(&self) -> music_rag_core::Result<&dyn Store> {
        let now = Store::sequence(&self.source)?;
        if self.abandoned.load(Ordering::Acquire) {
            return Ok(&self.source);
        }
        if now == self.copied.load(Ordering::Acquire) {
            return Ok(&self.copy);
        }
        if let Ok(failed) = self.copy_failed_at.lock() {
            if failed.is_some_and(|at| at.elapsed() < RETRY_COPY_AFTER) {
                return Ok(&self.source);
            }
        }
        match self.catch_up() {
            Ok(()) => {
                if let Ok(mut failed) = self.copy_failed_at.lock() {
                    if failed.take().is_some() {
                        tracing::info!("the local copy follows the catalog again");
                    }
                }
                Ok(&self.copy)
            }
            Err(CatchUpError::Source(e)) => Err(e),
            // The catalog is fine, the copy is not (a full disk, a damaged file, a catalog
            // restored to an earlier state): PostgreSQL answers, slower, and the copy is tried
            // again later.
            Err(CatchUpError::Copy(e)) => {
                tracing::error!(error = %e, retry_after = ?RETRY_COPY_AFTER, "the local copy cannot follow the catalog: PostgreSQL searches meanwhile");
                if let Ok(mut failed) = self.copy_failed_at.lock() {
                    *failed = Some(Instant::now());
                }
                Ok(&self.source)
            }
        }
    }

    /// Applies the changes after the copy's sequence, and records the new one.
    fn catch_up(&self) -> Result<(), CatchUpError> {
        let _one = self
            .catching_up
            .lock()
            .map_err(|_| CatchUpError::Copy(CoreError::Internal("replica lock poisoned".into())))?;
        let from = self.copied.load(Ordering::Acquire);
        let started = Instant::now();
        let copy_err = |e: StoreError| CatchUpError::Copy(e.into());
        let to = self.source.changes_since(
            from,
            CATCH_UP_BATCH,
            |change| -> Result<(), CatchUpError> {
                match change {
                    Change::Deleted(ids) => {
                        self.copy.apply_copied(&ids, Vec::new()).map_err(copy_err)?
                    }
                    Change::Written {
                        tracks,
                        complete_through,
                    } => {
                        self.copy.apply_copied(&[], tracks).map_err(copy_err)?;
                        // A first copy of a large catalog takes minutes: one interrupted
                        // (a pod restarted) resumes from here, not from the start.
                        if complete_through > from {
                            self.copy
                                .set_copy_of(&mark(&self.catalog_id, complete_through))
                                .map_err(copy_err)?;
                        }
                    }
                }
                Ok(())
            },
        )?;
        if to < from {
            // Restored from a backup: the copy holds writes the catalog no longer has, and
            // later writes would reuse its sequence numbers. It is given up for good: the next
            // start copies again.
            self.abandoned.store(true, Ordering::Release);
            self.copy.set_copy_of(ABANDONED).map_err(copy_err)?;
            return Err(CatchUpError::Copy(CoreError::Unavailable(format!(
                "the catalog in PostgreSQL went back from write {from} to {to} (restored from a \
                 backup?): PostgreSQL searches until this replica restarts and copies it again"
            ))));
        }
        if to != from {
            self.copy
                .set_copy_of(&mark(&self.catalog_id, to))
                .map_err(copy_err)?;
            self.copied.store(to, Ordering::Release);
            metrics::histogram!(CATCH_UP_SECONDS).record(started.elapsed().as_secs_f64());
            metrics::gauge!(COPIED_SEQUENCE).set(to as f64);
            tracing::debug!(
                from,
                to,
                ms = started.elapsed().as_secs_f64() * 1e3,
                "the local copy caught up"
            );
        }
        Ok(())
    }
}

/// A catch-up that failed, by whose fault: PostgreSQL's (the read fails, as it would without a
/// copy) or the copy's (PostgreSQL answers instead).
enum CatchUpError {
    Source(CoreError),
    Copy(CoreError),
}

impl From<PgError> for CatchUpError {
    fn from(e: PgError) -> Self {
        CatchUpError::Source(e.into())
    }
}

/// What the copy records of its source: the catalog's identity and the sequence copied.
fn mark(catalog_id: &str, sequence: u64) -> String {
    format!("{catalog_id} {sequence}")
}

/// The sequence the copy holds of `catalog_id` (0 for a new, empty copy), or none when it is a
/// copy of something else.
fn copied_point(copy: &EmbeddedStore, catalog_id: &str) -> Result<Option<u64>> {
    let recorded = copy.copy_of().map_err(OpsError::store("the local copy"))?;
    Ok(match recorded {
        None if copy.count()? == 0 => Some(0),
        None => None,
        Some(m) => m
            .split_once(' ')
            .filter(|(id, _)| *id == catalog_id)
            .and_then(|(_, seq)| seq.parse().ok()),
    })
}

fn open_copy(source: &PgStore, dir: &Path) -> Result<EmbeddedStore> {
    std::fs::create_dir_all(dir).map_err(OpsError::io(format!(
        "cannot make the local copy's folder {}",
        dir.display()
    )))?;
    EmbeddedStore::open(
        dir,
        Some((source.model_id(), source.dim())),
        Access::ReadWrite,
    )
    .map_err(OpsError::store(format!(
        "cannot open the local copy in {}",
        dir.display()
    )))
}

/// Deletes whatever is in `dir` (a copy is derived: PostgreSQL holds everything) and opens an
/// empty copy there.
fn fresh_copy(source: &PgStore, dir: &Path) -> Result<EmbeddedStore> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(OpsError::io(format!(
            "cannot delete the old local copy in {}",
            dir.display()
        )))?;
    }
    open_copy(source, dir)
}

impl Store for ReplicaStore {
    fn upsert(&self, items: Vec<StoredTrack>) -> music_rag_core::Result<()> {
        // The copy follows at the next read (of this replica or any other).
        self.source.upsert(items)
    }
    fn begin_bulk_load(&self, rows: usize) -> music_rag_core::Result<()> {
        self.source.begin_bulk_load(rows)
    }
    fn end_bulk_load(&self) -> music_rag_core::Result<()> {
        self.source.end_bulk_load()
    }
    fn get(&self, id: &str) -> music_rag_core::Result<Option<Arc<Track>>> {
        self.reader()?.get(id)
    }
    fn get_embedding(&self, id: &str) -> music_rag_core::Result<Option<Vec<f32>>> {
        self.reader()?.get_embedding(id)
    }
    fn get_many(&self, ids: &[&str]) -> music_rag_core::Result<Vec<Option<Arc<Track>>>> {
        self.reader()?.get_many(ids)
    }
    fn count_matching(&self, filter: &Filter) -> music_rag_core::Result<usize> {
        self.reader()?.count_matching(filter)
    }
    fn delete(&self, id: &str) -> music_rag_core::Result<bool> {
        self.source.delete(id)
    }
    fn list(&self, cursor: Option<&str>, limit: usize) -> music_rag_core::Result<Page> {
        self.reader()?.list(cursor, limit)
    }
    fn count(&self) -> music_rag_core::Result<usize> {
        self.reader()?.count()
    }
    fn known(&self, ids: &[&str]) -> music_rag_core::Result<HashMap<String, Known>> {
        self.reader()?.known(ids)
    }
    fn dense_search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        self.reader()?.dense_search(query, filter, k)
    }
    fn dense_search_many(
        &self,
        query: &[f32],
        filters: &[Filter],
        k: usize,
    ) -> music_rag_core::Result<Vec<Vec<Candidate>>> {
        self.reader()?.dense_search_many(query, filters, k)
    }
    fn audio_search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        self.reader()?.audio_search(query, filter, k)
    }
    fn keyword_search(
        &self,
        text: &str,
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        self.reader()?.keyword_search(text, filter, k)
    }
    fn vocabulary(&self) -> music_rag_core::Result<Arc<Vocabulary>> {
        self.reader()?.vocabulary()
    }
    fn select(&self, selection: &Selection) -> music_rag_core::Result<Selected> {
        self.reader()?.select(selection)
    }
    fn sequence(&self) -> music_rag_core::Result<u64> {
        self.source.sequence()
    }
    fn stats(&self) -> music_rag_core::Result<StoreStats> {
        self.source.stats()
    }
    fn write_failure(&self) -> Option<String> {
        self.source.write_failure()
    }
    fn schema_version(&self) -> Option<i64> {
        self.source.schema_version()
    }
    fn snapshot(&self, to: &Path) -> music_rag_core::Result<SnapshotManifest> {
        self.source.snapshot(to)
    }
}
