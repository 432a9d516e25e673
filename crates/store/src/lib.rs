//! The embedded store: SQLite is the source of truth (tracks, vectors, a write sequence
//! number); the keyword index is derived and caught up at open when it lags; the in-memory
//! catalog serves reads and filtered dense search (exact, or through an inverted-file index
//! from [`ANN_MIN_TRACKS`] tracks on).

mod bodies;
mod codes;
mod copy;
mod index_file;
mod ivf;
mod kernels;
mod keyword;
pub mod library_db;
mod load;
mod lock;
pub mod maintenance;
mod memory;
pub mod partial;
#[cfg(test)]
mod restore_tests;
mod sqlite;
mod state_file;

pub use library_db::LibraryDb;
pub use lock::WriterLock;
pub use memory::ANN_MIN_TRACKS;
pub use sqlite::SCHEMA_VERSION;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bodies::Bodies;
pub use bodies::DEFAULT_CACHED_TRACKS;
use keyword::KeywordIndex;
use memory::{Catalog, Dense, Entry, IndexPlan};
use music_rag_core::{
    Candidate, CoreError, Filter, Known, Page, Selected, Selection, SnapshotManifest, Store,
    StoreStats, StoredTrack, Track, Vocabulary,
};
use sqlite::{Db, Stamps};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("keyword index: {0}")]
    Keyword(#[from] tantivy::TantivyError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Incompatible(String),
    #[error("{0}")]
    Busy(String),
    /// Another process holds the data directory's writer lock.
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    ReadOnly(String),
}

impl StoreError {
    /// Whether the failure was a full disk (or quota): the write can succeed once space is
    /// freed, and the caller should be told so rather than shown an internal error.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            StoreError::Io(e) => e.kind() == std::io::ErrorKind::StorageFull,
            // tantivy wraps the OS error in several variants; ENOSPC is "os error 28" on Linux.
            StoreError::Keyword(e) => {
                let text = e.to_string();
                text.contains("os error 28") || text.contains("No space left")
            }
            _ => false,
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        if e.is_disk_full() {
            return CoreError::StorageFull(
                "the disk holding the data directory is full; nothing of this write was \
                 committed; free space and retry"
                    .into(),
            );
        }
        match e {
            StoreError::Incompatible(m)
            | StoreError::Busy(m)
            | StoreError::Locked(m)
            | StoreError::ReadOnly(m) => CoreError::Unavailable(m),
            other => CoreError::Internal(other.to_string()),
        }
    }
}

fn lock_err<T>(_: T) -> CoreError {
    CoreError::Internal("store lock poisoned".into())
}

/// The vector size of the default model, assumed for a new store opened without a model.
const DEFAULT_DIM: usize = 384;

/// Whether a process opens a data directory to write it or only to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Takes the directory's writer lock (refused at once if another process holds it),
    /// migrates an older store and brings the keyword index up to date.
    ReadWrite,
    /// Writes nothing and takes no lock, so it works beside a running writer.
    ReadOnly,
}

pub struct EmbeddedStore {
    dir: PathBuf,
    db: Mutex<Db>,
    keyword: KeywordIndex,
    catalog: RwLock<Catalog>,
    /// Whole tracks, read from the database when asked for.
    bodies: Bodies,
    dim: usize,
    model_id: String,
    /// The database's sequence number, mirrored for lock-free reads.
    sequence: AtomicU64,
    /// Held while the store is open for writing.
    writer_lock: Option<WriterLock>,
    /// The write sequence the vector index file on disk reflects, if this process knows one.
    index_saved_at: AtomicU64,
    /// The same for the catalog state file.
    state_saved_at: AtomicU64,
    /// Whether the open read the catalog from its state file (else from the database).
    from_state_file: bool,
    /// Set when a failed write left the keyword index out of step and putting it back failed
    /// too; the next write rebuilds it first.
    keyword_dirty: AtomicBool,
    /// Why writes fail now (a full disk); cleared by the next write that succeeds.
    write_failure: Mutex<Option<String>>,
}

pub(crate) const DB_FILE: &str = "catalog.sqlite";
pub(crate) const KEYWORD_DIR: &str = "keyword";
/// `index_saved_at` before any save this process knows of.
const NOT_SAVED: u64 = u64::MAX;

/// A store closed after writes leaves its vector index on disk as of its last write, so the
/// next open fills it instead of training it.
impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        if self.catalog.read().is_ok_and(|c| c.index_lists().is_some()) {
            self.save_vector_index();
            self.save_catalog_state();
        }
    }
}

impl EmbeddedStore {
    /// Opens (or, for writing, creates) the store in `dir` for vectors of `dim` floats from
    /// `model_id`. Without a model (commands that only read or delete), the stored model is
    /// assumed.
    pub fn open(
        dir: &Path,
        model: Option<(&str, usize)>,
        access: Access,
    ) -> Result<Self, StoreError> {
        Self::open_with_vector_index_from(dir, model, access, ANN_MIN_TRACKS)
    }

    /// Opens for writing after throwing away the derived indexes (the keyword index and the
    /// saved vector index), so they are rebuilt from the source of truth whatever state
    /// their files are in: what `music-rag repair` does. The writer lock is taken first, so
    /// a running writer's files are never touched.
    pub fn repair(dir: &Path, model: Option<(&str, usize)>) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let lock = WriterLock::acquire(dir)?;
        let keyword = dir.join(KEYWORD_DIR);
        if keyword.exists() {
            std::fs::remove_dir_all(&keyword)?;
        }
        for derived in [crate::index_file::INDEX_FILE, state_file::STATE_FILE] {
            match std::fs::remove_file(dir.join(derived)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Self::open_locked(dir, model, lock, ANN_MIN_TRACKS)
    }

    /// [`Self::open`] with the vector index used from `min_tracks` tracks on instead of
    /// [`ANN_MIN_TRACKS`]: for measuring and testing it on smaller catalogs.
    pub fn open_with_vector_index_from(
        dir: &Path,
        model: Option<(&str, usize)>,
        access: Access,
        min_tracks: usize,
    ) -> Result<Self, StoreError> {
        match access {
            Access::ReadWrite => {
                std::fs::create_dir_all(dir)?;
                let lock = WriterLock::acquire(dir)?;
                Self::open_locked(dir, model, lock, min_tracks)
            }
            Access::ReadOnly => Self::open_read_only(dir, model, min_tracks),
        }
    }

    /// Opens for writing with the directory's lock already held.
    fn open_locked(
        dir: &Path,
        model: Option<(&str, usize)>,
        lock: WriterLock,
        index_from: usize,
    ) -> Result<Self, StoreError> {
        maintenance::refuse_interrupted_restore(dir)?;
        let db = Db::open(&dir.join(DB_FILE), |db, from| {
            let to = maintenance::pre_upgrade_snapshot_path(dir, from);
            tracing::info!(from, to = %to.display(), "snapshot before the schema upgrade");
            maintenance::write_snapshot(db, &dir.join(DB_FILE), &to).map(|_| ())
        })?;
        let (model_id, dim) = Self::check_model(dir, &db, model, true)?;
        let keyword = KeywordIndex::open(&dir.join(KEYWORD_DIR))?;
        let file = Some(dir.join(DB_FILE));
        let store = Self::assemble(
            dir,
            db,
            file,
            keyword,
            (model_id, dim),
            Some(lock),
            index_from,
        )?;
        store.catch_up_keyword()?;
        Ok(store)
    }

    fn open_read_only(
        dir: &Path,
        model: Option<(&str, usize)>,
        index_from: usize,
    ) -> Result<Self, StoreError> {
        maintenance::refuse_interrupted_restore(dir)?;
        let path = dir.join(DB_FILE);
        let (db, file) = if path.exists() {
            (Db::open_read_only(&path)?, Some(path))
        } else {
            (Db::empty()?, None)
        };
        let (model_id, dim) = Self::check_model(dir, &db, model, false)?;
        let keyword = KeywordIndex::open_read_only(&dir.join(KEYWORD_DIR))?;
        let store = Self::assemble(dir, db, file, keyword, (model_id, dim), None, index_from)?;
        let (index_seq, db_seq) = (
            store.keyword.sequence(),
            store.sequence.load(Ordering::Acquire),
        );
        if index_seq != db_seq {
            tracing::warn!(
                index_seq,
                db_seq,
                "the keyword index is behind the catalog; keyword results may lag until a \
                 writing command (serve, ingest, repair) catches it up"
            );
        }
        Ok(store)
    }

    /// The model the store holds vectors of, checked against the one given; records it in a
    /// new store opened for writing.
    fn check_model(
        dir: &Path,
        db: &Db,
        model: Option<(&str, usize)>,
        record: bool,
    ) -> Result<(String, usize), StoreError> {
        let stored = (db.meta("model_id")?, db.meta("dim")?);
        let Some((model_id, dim)) = model else {
            let dim = stored
                .1
                .and_then(|d| d.parse::<usize>().ok())
                .unwrap_or(DEFAULT_DIM);
            return Ok((stored.0.unwrap_or_default(), dim));
        };
        match stored {
            (Some(m), Some(d)) if m != model_id || d != dim.to_string() => {
                return Err(StoreError::Incompatible(format!(
                    "{} holds vectors from model {m} ({d} dimensions), not {model_id} ({dim}); \
                     vectors of two models are never mixed: use the model that wrote it, \
                     another data directory, or `music-rag reindex` to re-embed it",
                    dir.display()
                )))
            }
            (Some(_), Some(_)) => {}
            _ if record => {
                db.set_meta("model_id", model_id)?;
                db.set_meta("dim", &dim.to_string())?;
            }
            _ => {}
        }
        Ok((model_id.to_string(), dim))
    }

    /// Loads the catalog from the source of truth into memory.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        dir: &Path,
        db: Db,
        db_file: Option<PathBuf>,
        keyword: KeywordIndex,
        (model_id, dim): (String, usize),
        writer_lock: Option<WriterLock>,
        index_from: usize,
    ) -> Result<Self, StoreError> {
        let bodies = Bodies::new(db_file.as_deref(), bodies::DEFAULT_CACHED_TRACKS);
        let db_seq = db.sequence()?;
        let restored = Self::restore_catalog(dir, &db, dim, db_seq, index_from)?;
        let state_saved_at = restored.as_ref().map(|(_, seq)| *seq);
        let mut catalog = match restored {
            Some((catalog, _)) => catalog,
            None => load::load_catalog(&db, dim, &bodies, index_from)?,
        };
        let mut index_saved_at = Self::restore_vector_index(dir, &db, &mut catalog, dim, db_seq);
        // Trained now (no usable file, or the catalog outgrew it): saved at once, as training
        // again would cost the next open seconds.
        let trained = matches!(catalog.index_plan(), IndexPlan::Build);
        catalog.refresh_index();
        if trained {
            index_saved_at = None;
        }
        let store = Self {
            dir: dir.to_path_buf(),
            db: Mutex::new(db),
            keyword,
            catalog: RwLock::new(catalog),
            bodies,
            dim,
            model_id,
            sequence: AtomicU64::new(db_seq),
            writer_lock,
            index_saved_at: AtomicU64::new(index_saved_at.unwrap_or(NOT_SAVED)),
            state_saved_at: AtomicU64::new(state_saved_at.unwrap_or(NOT_SAVED)),
            from_state_file: state_saved_at.is_some(),
            keyword_dirty: AtomicBool::new(false),
            write_failure: Mutex::new(None),
        };
        if trained {
            store.save_vector_index();
        }
        // A large catalog loaded from the database: its state saved now, so the next open
        // reads it instead.
        if state_saved_at != Some(db_seq) {
            store.save_catalog_state();
        }
        Ok(store)
    }

    /// Fills the vector index from its file when the catalog needs one and the file holds it
    /// (tracks written since the file are placed again); returns the sequence the file
    /// reflects. Without a usable file the caller trains the index.
    fn restore_vector_index(
        dir: &Path,
        db: &Db,
        catalog: &mut Catalog,
        dim: usize,
        db_seq: u64,
    ) -> Option<u64> {
        if !matches!(catalog.index_plan(), IndexPlan::Build) {
            return None;
        }
        // A file ahead of the database is from another history (a restored snapshot).
        let (seq, saved) = index_file::read(&dir.join(index_file::INDEX_FILE), dim)
            .filter(|(s, _)| *s <= db_seq)?;
        let rewritten = db
            .slots_written_after(seq)
            .inspect_err(|e| tracing::warn!(error = %e, "tracks written since the saved vector index unreadable; training again"))
            .ok()?;
        let ivf = catalog.restore_index(saved, &rewritten)?;
        catalog.install_index(Some(ivf));
        Some(seq)
    }

    /// A large catalog from its state file (see `state_file`), brought up to the database:
    /// the tracks written since the file's sequence loaded on top, the ones deleted since
    /// removed; with the sequence the file reflects. `None` (load from the database) for a catalog below the vector index's size
    /// (it keeps its f32 vectors, which the file does not hold), without a usable file, or
    /// when the file and the database disagree.
    fn restore_catalog(
        dir: &Path,
        db: &Db,
        dim: usize,
        db_seq: u64,
        index_from: usize,
    ) -> Result<Option<(Catalog, u64)>, StoreError> {
        let tracks = db.track_count()?;
        if tracks == 0 || tracks < index_from {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        // A file ahead of the database is from another history (a restored snapshot).
        let Some(saved) = state_file::read(&dir.join(state_file::STATE_FILE), dim)
            .filter(|s| s.sequence <= db_seq)
        else {
            return Ok(None);
        };
        let seq = saved.sequence;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "catalog state file read"
        );
        let mut catalog = Catalog::from_saved(dim, saved.catalog, index_from);
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "catalog state in place"
        );
        let rows = if seq < db_seq {
            db.rows_since(seq)?
        } else {
            Vec::new()
        };
        let written = rows.len();
        for row in rows {
            catalog.insert(
                Entry::of(row.slot, &row.track, row.content_hash, row.text_hash),
                &row.embedding,
            );
        }
        if catalog.len() != tracks {
            let live: HashSet<u64> = db.slots()?.into_iter().collect();
            for slot in catalog.slots() {
                if !live.contains(&slot) {
                    catalog.remove_slot(slot);
                }
            }
        }
        if catalog.len() != tracks {
            tracing::warn!(
                file = catalog.len(),
                database = tracks,
                "the catalog state file disagrees with the database; loading from the database"
            );
            return Ok(None);
        }
        tracing::info!(
            tracks,
            written_since = written,
            ms = started.elapsed().as_millis() as u64,
            "catalog loaded from its state file"
        );
        Ok(Some((catalog, seq)))
    }

    /// Writes the catalog's state file as reflecting the current sequence (a large catalog
    /// only; a smaller one's file is removed). Writers only, with no write in flight (at
    /// open, or when closing). A failure is logged, not returned: the file is derived.
    fn save_catalog_state(&self) {
        let seq = self.sequence.load(Ordering::Acquire);
        if self.writer_lock.is_none() || self.state_saved_at.load(Ordering::Acquire) == seq {
            return;
        }
        let Ok(catalog) = self.catalog.read() else {
            return;
        };
        let path = self.dir.join(state_file::STATE_FILE);
        let written = if catalog.keeps_vectors() {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        } else {
            let started = std::time::Instant::now();
            let written = state_file::write(&path, self.dim, seq, catalog.saved_values(), || {
                catalog.saved_entries()
            });
            tracing::info!(
                tracks = catalog.len(),
                ms = started.elapsed().as_millis() as u64,
                "catalog state saved"
            );
            written
        };
        match written {
            Ok(()) => self.state_saved_at.store(seq, Ordering::Release),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "catalog state not saved"),
        }
    }

    /// Writes the vector index to its file as reflecting the current sequence, or removes the
    /// file when there is no index. Writers only, with no write in flight (at open, under the
    /// database lock, or when closing). A failure is logged, not returned: the file is
    /// derived, and without it the next open trains the index again.
    fn save_vector_index(&self) {
        let seq = self.sequence.load(Ordering::Acquire);
        if self.writer_lock.is_none() || self.index_saved_at.load(Ordering::Acquire) == seq {
            return;
        }
        let Ok(saved) = self.catalog.read().map(|c| c.saved_index()) else {
            return;
        };
        let path = self.dir.join(index_file::INDEX_FILE);
        let written = match saved {
            Some(saved) => index_file::write(&path, self.dim, seq, &saved),
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        };
        match written {
            Ok(()) => self.index_saved_at.store(seq, Ordering::Release),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "vector index not saved"),
        }
    }

    /// Brings the keyword index up to the source of truth: the changes since the sequence it
    /// reflects, or all of it when it is ahead (another history) or holds another number of
    /// tracks than the catalog (drift).
    fn catch_up_keyword(&self) -> Result<(), StoreError> {
        let db = self
            .db
            .lock()
            .map_err(|_| StoreError::Corrupt("lock".into()))?;
        let db_seq = db.sequence()?;
        let index_seq = self.keyword.sequence();
        let tracks = self.catalog.read().map(|c| c.len()).unwrap_or(0) as u64;
        let drifted = index_seq == db_seq && self.keyword.num_docs() != tracks;
        if index_seq == db_seq && !drifted && !self.keyword_dirty.load(Ordering::Acquire) {
            return Ok(());
        }
        let rebuild = index_seq > db_seq || drifted || self.keyword_dirty.load(Ordering::Acquire);
        let since = if rebuild { 0 } else { index_seq };
        let rows = db.rows_since(since)?;
        let deleted = if rebuild {
            Vec::new()
        } else {
            db.tombstones_since(since)?
        };
        let upserted: Vec<(u64, &Track)> = rows.iter().map(|r| (r.slot, &r.track)).collect();
        tracing::info!(
            index_seq,
            db_seq,
            rebuild,
            changed = upserted.len(),
            deleted = deleted.len(),
            "catching up the keyword index"
        );
        if rebuild {
            self.keyword.rebuild(&upserted, db_seq)?;
        } else {
            self.keyword.apply(&deleted, &upserted, db_seq)?;
        }
        self.keyword_dirty.store(false, Ordering::Release);
        db.prune_tombstones(db_seq)
    }

    /// After a write whose database commit failed once the keyword index had taken it: puts
    /// the index back to the source of truth for `slots`, or marks it for a rebuild.
    fn restore_keyword(&self, db: &Db, slots: &[u64]) {
        let put_back = (|| {
            let rows: Vec<_> = slots
                .iter()
                .map(|s| db.row_at(*s))
                .collect::<Result<Vec<_>, _>>()?;
            let rows: Vec<_> = rows.into_iter().flatten().collect();
            let upserted: Vec<(u64, &Track)> = rows.iter().map(|r| (r.slot, &r.track)).collect();
            self.keyword.apply(slots, &upserted, db.sequence()?)
        })();
        if let Err(e) = put_back {
            tracing::error!(error = %e, "the keyword index could not be put back after a failed write; it is rebuilt before the next write");
            self.keyword_dirty.store(true, Ordering::Release);
        }
    }

    /// Records the outcome of a write for readiness: a full disk degrades the store until a
    /// write succeeds again.
    fn note_write<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let result = result.map_err(|e| self.classify(e));
        if let Ok(mut failure) = self.write_failure.lock() {
            match &result {
                Ok(_) => *failure = None,
                Err(e) if e.is_disk_full() => {
                    *failure =
                        Some("writes fail: the disk holding the data directory is full".into())
                }
                Err(_) => {}
            }
        }
        result
    }

    /// Some libraries report a full disk only as a generic failure (tantivy's "index writer
    /// was killed"): when a write fails for a reason not known, a small probe file tells
    /// whether the disk has room left.
    fn classify(&self, e: StoreError) -> StoreError {
        if e.is_disk_full() || matches!(e, StoreError::Locked(_) | StoreError::ReadOnly(_)) {
            return e;
        }
        let probe = self.dir.join(".space-probe");
        let written = std::fs::write(&probe, vec![0u8; 256 * 1024]);
        let _ = std::fs::remove_file(&probe);
        match written {
            Err(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                tracing::warn!(error = %e, "write failed on a full disk");
                StoreError::Io(io)
            }
            _ => e,
        }
    }

    /// Brings a keyword index left out of step by an earlier failure back before writing.
    fn ready_to_write(&self) -> Result<(), StoreError> {
        let Some(lock) = &self.writer_lock else {
            return Err(StoreError::ReadOnly(
                "this command opened the store read-only; writes need a writing command".into(),
            ));
        };
        lock.recheck()?;
        if self.keyword_dirty.load(Ordering::Acquire) {
            self.catch_up_keyword()?;
        }
        Ok(())
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether this open read the catalog from its state file (a large catalog closed by a
    /// writer) rather than from every row of the database.
    pub fn opened_from_state_file(&self) -> bool {
        self.from_state_file
    }

    /// Keeps at most `tracks` whole tracks in memory from now on (default
    /// [`DEFAULT_CACHED_TRACKS`]); the rest are read from the database when a result needs
    /// them.
    pub fn set_cached_tracks(&self, tracks: usize) {
        self.bodies.resize(tracks);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What is wrong with the first track whose vector is not of the store's size, if one is.
    fn misfit_vector(&self, items: &[StoredTrack]) -> Option<String> {
        items
            .iter()
            .find(|i| i.embedding.len() != self.dim)
            .map(|bad| {
                format!(
                    "vector for {} has {} floats, expected {}",
                    bad.track.id,
                    bad.embedding.len(),
                    self.dim
                )
            })
    }
}

impl Store for EmbeddedStore {
    fn upsert(&self, items: Vec<StoredTrack>) -> music_rag_core::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        if let Some(message) = self.misfit_vector(&items) {
            return Err(CoreError::Internal(message));
        }
        let result = self.write_tracks(items, Stamps::Now);
        Ok(self.note_write(result)?)
    }

    fn get(&self, id: &str) -> music_rag_core::Result<Option<Arc<Track>>> {
        Ok(self.get_many(&[id])?.pop().flatten())
    }

    fn get_many(&self, ids: &[&str]) -> music_rag_core::Result<Vec<Option<Arc<Track>>>> {
        // Under the catalog's read lock (see `Bodies::get_many`).
        let catalog = self.catalog.read().map_err(lock_err)?;
        let slots: Vec<Option<u64>> = ids
            .iter()
            .map(|id| catalog.get(id).map(|e| e.slot))
            .collect();
        let known: Vec<u64> = slots.iter().flatten().copied().collect();
        let mut found = self.bodies.get_many(&known)?.into_iter();
        Ok(slots
            .into_iter()
            .map(|s| s.and_then(|_| found.next().flatten()))
            .collect())
    }

    fn get_embedding(&self, id: &str) -> music_rag_core::Result<Option<Vec<f32>>> {
        let catalog = self.catalog.read().map_err(lock_err)?;
        if catalog.keeps_vectors() {
            return Ok(catalog.vector(id).map(<[f32]>::to_vec));
        }
        let Some(slot) = catalog.get(id).map(|e| e.slot) else {
            return Ok(None);
        };
        Ok(self.bodies.vectors(&[slot])?.remove(&slot))
    }

    fn delete(&self, id: &str) -> music_rag_core::Result<bool> {
        let result = self.delete_tracks(&[id]);
        Ok(self.note_write(result)?)
    }

    fn list(&self, cursor: Option<&str>, limit: usize) -> music_rag_core::Result<Page> {
        let catalog = self.catalog.read().map_err(lock_err)?;
        let (slots, next_cursor) = catalog.page(cursor, limit);
        let tracks = self
            .bodies
            .get_many(&slots)?
            .into_iter()
            .flatten()
            .collect();
        Ok(Page {
            tracks,
            next_cursor,
        })
    }

    fn count(&self) -> music_rag_core::Result<usize> {
        Ok(self.catalog.read().map_err(lock_err)?.len())
    }

    fn known(&self, ids: &[&str]) -> music_rag_core::Result<HashMap<String, Known>> {
        let catalog = self.catalog.read().map_err(lock_err)?;
        Ok(ids
            .iter()
            .filter_map(|id| {
                catalog.get(id).map(|e| {
                    (
                        id.to_string(),
                        Known {
                            content_hash: e.content_hash.to_string(),
                            text_hash: e.text_hash.to_string(),
                        },
                    )
                })
            })
            .collect())
    }

    fn dense_search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        self.dense_one(query, filter, k, false)
    }

    fn dense_search_many(
        &self,
        query: &[f32],
        filters: &[Filter],
        k: usize,
    ) -> music_rag_core::Result<Vec<Vec<Candidate>>> {
        self.dense(query, filters, k, false)
    }

    fn audio_search(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        Ok(self
            .catalog
            .read()
            .map_err(lock_err)?
            .audio_search(query, &filter.compile(), k))
    }

    fn keyword_search(
        &self,
        text: &str,
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        let compiled = filter.compile();
        let catalog = self.catalog.read().map_err(lock_err)?;
        if text.trim().is_empty() {
            return Ok(catalog.filtered(&compiled, k));
        }
        let allowed = (!compiled.is_empty()).then(|| catalog.allowed_slots(&compiled));
        let hits = self.keyword.search(text, k, allowed)?;
        Ok(hits
            .into_iter()
            .filter_map(|hit| {
                catalog.by_slot(hit.slot).map(|e| Candidate {
                    id: e.id.to_string(),
                    score: hit.score,
                    matched: hit.matched,
                })
            })
            .collect())
    }

    fn vocabulary(&self) -> music_rag_core::Result<Arc<Vocabulary>> {
        Ok(self.catalog.read().map_err(lock_err)?.vocabulary())
    }

    fn select(&self, selection: &Selection) -> music_rag_core::Result<Selected> {
        let filter = selection.filter.compile();
        let catalog = self.catalog.read().map_err(lock_err)?;
        let selected = catalog.selected(&filter, &selection.artists, selection.order);
        // Only the page asked for is read whole.
        let page: Vec<u64> = selected
            .iter()
            .skip(selection.offset)
            .take(selection.limit)
            .map(|e| e.slot)
            .collect();
        Ok(Selected {
            total: selected.len(),
            tracks: self.bodies.get_many(&page)?.into_iter().flatten().collect(),
        })
    }

    fn sequence(&self) -> music_rag_core::Result<u64> {
        Ok(self.sequence.load(Ordering::Acquire))
    }

    fn stats(&self) -> music_rag_core::Result<StoreStats> {
        let n = self.count()?;
        let sequence = self.sequence()?;
        let audio = self.catalog.read().map_err(lock_err)?.audio_count();
        Ok(StoreStats {
            tracks: n,
            text_embeddings: n,
            audio_embeddings: audio,
            sequence,
            backend: "embedded".into(),
        })
    }

    fn write_failure(&self) -> Option<String> {
        self.write_failure.lock().ok().and_then(|f| f.clone())
    }

    fn schema_version(&self) -> Option<i64> {
        // Opening migrates an older store, and refuses a newer one.
        Some(SCHEMA_VERSION)
    }

    fn snapshot(&self, to: &Path) -> music_rag_core::Result<SnapshotManifest> {
        Ok(self.snapshot_to(to)?)
    }
}

impl EmbeddedStore {
    fn dense(
        &self,
        query: &[f32],
        filters: &[Filter],
        k: usize,
        exact: bool,
    ) -> music_rag_core::Result<Vec<Vec<Candidate>>> {
        if query.len() != self.dim {
            return Err(CoreError::Internal(format!(
                "query vector has {} floats, expected {}",
                query.len(),
                self.dim
            )));
        }
        let compiled: Vec<_> = filters.iter().map(Filter::compile).collect();
        let catalog = self.catalog.read().map_err(lock_err)?;
        let shortlists = match catalog.dense_many(query, &compiled, k, exact) {
            Dense::Ranked(ranked) => return Ok(ranked),
            Dense::Shortlisted(lists) => lists,
        };
        // Every shortlisted vector read once (filters' shortlists overlap), in one read
        // transaction under the catalog's read lock.
        let mut slots: Vec<u64> = shortlists.iter().flatten().map(|&(_, s)| s).collect();
        slots.sort_unstable();
        slots.dedup();
        let vectors = self.bodies.vectors(&slots)?;
        let dot = kernels::kernels().f32;
        Ok(shortlists
            .into_iter()
            .map(|list| {
                let scored = list
                    .into_iter()
                    .filter_map(|(p, slot)| vectors.get(&slot).map(|v| (dot(query, v), p)));
                catalog.best(scored, k)
            })
            .collect())
    }

    /// Dense search by an exact scan whatever the catalog's size: the answer the vector
    /// index's recall is measured against.
    pub fn dense_search_exact(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        self.dense_one(query, filter, k, true)
    }

    fn dense_one(
        &self,
        query: &[f32],
        filter: &Filter,
        k: usize,
        exact: bool,
    ) -> music_rag_core::Result<Vec<Candidate>> {
        Ok(self
            .dense(query, std::slice::from_ref(filter), k, exact)?
            .pop()
            .unwrap_or_default())
    }

    /// How many lists the vector index has, or `None` while dense search is an exact scan.
    pub fn vector_index_lists(&self) -> Option<usize> {
        self.catalog.read().ok()?.index_lists()
    }

    /// Uses the vector index from `min_tracks` tracks on instead of [`ANN_MIN_TRACKS`]
    /// (building it now if the catalog is that large): for measuring it on smaller catalogs.
    pub fn set_vector_index_threshold(&self, min_tracks: usize) -> music_rag_core::Result<()> {
        self.catalog
            .write()
            .map_err(lock_err)?
            .set_index_threshold(min_tracks);
        Ok(())
    }

    /// One batch: the database transaction stays open while the keyword index takes the
    /// batch, so a failure of either commits nothing; only then does the in-memory catalog
    /// change and the new sequence number become visible.
    fn write_tracks(&self, items: Vec<StoredTrack>, stamps: Stamps) -> Result<(), StoreError> {
        self.ready_to_write()?;
        let mut db = self
            .db
            .lock()
            .map_err(|_| StoreError::Corrupt("lock".into()))?;
        let written = db.upsert(&items, stamps, |seq, written| {
            let refs: Vec<(u64, &Track)> = written
                .iter()
                .zip(&items)
                .map(|(w, i)| (w.slot, &i.track))
                .collect();
            self.keyword.apply(&[], &refs, seq)
        });
        let (seq, written) = match written {
            Ok(w) => w,
            Err(failure) => {
                if failure.index_applied {
                    let slots: Vec<u64> = self.slots_after_failure(&db, &items);
                    self.restore_keyword(&db, &slots);
                }
                return Err(failure.error);
            }
        };
        {
            let mut catalog = self
                .catalog
                .write()
                .map_err(|_| StoreError::Corrupt("lock".into()))?;
            for (item, w) in items.into_iter().zip(written) {
                let mut track = item.track;
                track.created_at = Some(w.created_at);
                track.updated_at = Some(w.updated_at);
                catalog.insert(
                    Entry::of(w.slot, &track, item.content_hash, item.text_hash),
                    &item.embedding,
                );
                // Under the catalog's write lock, as `Bodies::get_many` relies on.
                self.bodies.put(w.slot, Arc::new(track));
            }
        }
        // Published last: a reader that sees this number also sees the data behind it, so no
        // cached response is stale.
        self.sequence.store(seq, Ordering::Release);
        self.refresh_vector_index()?;
        db.prune_tombstones(seq)
    }

    /// Builds, rebuilds or drops the vector index as the catalog's size asks. Called by a
    /// write with the database lock held, so no other write lands between the build (under
    /// the catalog's read lock: searches go on) and its install.
    fn refresh_vector_index(&self) -> Result<(), StoreError> {
        let index = {
            let catalog = self
                .catalog
                .read()
                .map_err(|_| StoreError::Corrupt("lock".into()))?;
            match catalog.index_plan() {
                IndexPlan::Keep => return Ok(()),
                IndexPlan::Drop => None,
                IndexPlan::Build => Some(catalog.build_index()),
            }
        };
        self.catalog
            .write()
            .map_err(|_| StoreError::Corrupt("lock".into()))?
            .install_index(index);
        self.save_vector_index();
        Ok(())
    }

    /// The keyword slots a failed batch may have touched: the stored slots of its ids, and
    /// the new slots the rolled-back transaction handed out (beyond the highest stored one).
    fn slots_after_failure(&self, db: &Db, items: &[StoredTrack]) -> Vec<u64> {
        let catalog = self.catalog.read();
        let mut slots: Vec<u64> = match &catalog {
            Ok(c) => items
                .iter()
                .filter_map(|i| c.get(&i.track.id).map(|e| e.slot))
                .collect(),
            Err(_) => Vec::new(),
        };
        let top = db.max_slot_ever().unwrap_or(0);
        slots.extend(top + 1..=top + items.len() as u64);
        slots
    }

    /// Deletes tracks in one write (a copy applies a source's deletions in one); returns
    /// whether any of them was stored.
    fn delete_tracks(&self, ids: &[&str]) -> Result<bool, StoreError> {
        self.ready_to_write()?;
        let mut db = self
            .db
            .lock()
            .map_err(|_| StoreError::Corrupt("lock".into()))?;
        let deleted = db.delete(ids, |slots, seq| self.keyword.apply(slots, &[], seq));
        let seq = match deleted {
            Ok(Some((_, seq))) => seq,
            Ok(None) => return Ok(false),
            Err(failure) => {
                if failure.index_applied {
                    let slots: Vec<u64> = match self.catalog.read() {
                        Ok(c) => ids
                            .iter()
                            .filter_map(|id| c.get(id).map(|e| e.slot))
                            .collect(),
                        Err(_) => Vec::new(),
                    };
                    self.restore_keyword(&db, &slots);
                }
                return Err(failure.error);
            }
        };
        {
            let mut catalog = self
                .catalog
                .write()
                .map_err(|_| StoreError::Corrupt("lock".into()))?;
            for id in ids {
                if let Some(slot) = catalog.get(id).map(|e| e.slot) {
                    self.bodies.forget(slot);
                }
                catalog.remove(id);
            }
        }
        self.sequence.store(seq, Ordering::Release);
        self.refresh_vector_index()?;
        db.prune_tombstones(seq)?;
        Ok(true)
    }
}
