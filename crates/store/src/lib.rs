//! The embedded store: SQLite is the source of truth (tracks, vectors, a write sequence
//! number); the keyword index is derived and caught up at open when it lags; the in-memory
//! catalog serves reads and exact filtered dense search.

mod keyword;
mod memory;
mod sqlite;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use keyword::KeywordIndex;
use memory::{Catalog, Entry};
use music_rag_core::domain::filter::TrackFacets;
use music_rag_core::{
    Candidate, CoreError, Filter, Known, Page, Store, StoreStats, StoredTrack, Track, Vocabulary,
};
use sqlite::Db;

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
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Incompatible(m) | StoreError::Busy(m) => CoreError::Unavailable(m),
            other => CoreError::Internal(other.to_string()),
        }
    }
}

fn lock_err<T>(_: T) -> CoreError {
    CoreError::Internal("store lock poisoned".into())
}

/// The vector size of the default model, assumed for a new store opened without a model.
const DEFAULT_DIM: usize = 384;

pub struct EmbeddedStore {
    dir: PathBuf,
    db: Mutex<Db>,
    keyword: KeywordIndex,
    catalog: RwLock<Catalog>,
    dim: usize,
    /// The database's sequence number, mirrored for lock-free reads.
    sequence: AtomicU64,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir` for vectors of `dim` floats from `model_id`.
    /// Without a model (commands that only read or delete), the stored model is assumed.
    pub fn open(dir: &Path, model: Option<(&str, usize)>) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Db::open(&dir.join("catalog.sqlite"))?;
        let stored_dim = db.meta("dim")?.and_then(|d| d.parse::<usize>().ok());
        let (model_id, dim) = match model {
            Some((m, d)) => (m.to_string(), d),
            None => (
                db.meta("model_id")?.unwrap_or_default(),
                stored_dim.unwrap_or(DEFAULT_DIM),
            ),
        };
        let model_id = model_id.as_str();
        match (db.meta("model_id")?, db.meta("dim")?) {
            _ if model.is_none() => {}
            (Some(m), Some(d)) if m != model_id || d != dim.to_string() => {
                return Err(StoreError::Incompatible(format!(
                    "{} holds vectors from model {m} ({d} dimensions), not {model_id} ({dim}); \
                     use another data directory or re-create this one",
                    dir.display()
                )))
            }
            (Some(_), Some(_)) => {}
            _ => {
                db.set_meta("model_id", model_id)?;
                db.set_meta("dim", &dim.to_string())?;
            }
        }
        let mut catalog = Catalog::new(dim);
        for r in db.rows_since(0)? {
            if r.embedding.len() != dim {
                return Err(StoreError::Corrupt(format!(
                    "track {} has a vector of {} floats",
                    r.track.id,
                    r.embedding.len()
                )));
            }
            let entry = Entry {
                slot: r.slot,
                facets: TrackFacets::of(&r.track),
                track: Arc::new(r.track),
                content_hash: r.content_hash,
                text_hash: r.text_hash,
            };
            catalog.insert(entry, &r.embedding);
        }
        let keyword = KeywordIndex::open(&dir.join("keyword"))?;
        let db_seq = db.sequence()?;
        let store = Self {
            dir: dir.to_path_buf(),
            db: Mutex::new(db),
            keyword,
            catalog: RwLock::new(catalog),
            dim,
            sequence: AtomicU64::new(db_seq),
        };
        store.catch_up_keyword(db_seq)?;
        Ok(store)
    }

    /// Brings the keyword index up to the source of truth's sequence number.
    fn catch_up_keyword(&self, db_seq: u64) -> Result<(), StoreError> {
        let index_seq = self.keyword.sequence();
        if index_seq == db_seq {
            return Ok(());
        }
        let db = self
            .db
            .lock()
            .map_err(|_| StoreError::Corrupt("lock".into()))?;
        // An index ahead of the database belongs to another history: rebuild it whole.
        let since = if index_seq > db_seq { 0 } else { index_seq };
        let rows = db.rows_since(since)?;
        let mut deleted = db.tombstones_since(since)?;
        if since == 0 {
            deleted.clear();
        }
        let upserted: Vec<(u64, &Track)> = rows.iter().map(|r| (r.slot, &r.track)).collect();
        tracing::info!(
            index_seq,
            db_seq,
            changed = upserted.len(),
            deleted = deleted.len(),
            "catching up the keyword index"
        );
        match self.keyword.apply(&deleted, &upserted, db_seq) {
            Ok(()) => db.prune_tombstones(db_seq),
            // Another process holds the writer: it keeps the index current; serve as is.
            Err(StoreError::Busy(m)) => {
                tracing::warn!("{m}; keyword results may lag until it is caught up");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Store for EmbeddedStore {
    fn upsert(&self, items: Vec<StoredTrack>) -> music_rag_core::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        if let Some(bad) = items.iter().find(|i| i.embedding.len() != self.dim) {
            return Err(CoreError::Internal(format!(
                "vector for {} has {} floats, expected {}",
                bad.track.id,
                bad.embedding.len(),
                self.dim
            )));
        }
        let mut db = self.db.lock().map_err(lock_err)?;
        let (seq, written) = db.upsert(&items)?;
        let mut tracks = Vec::with_capacity(items.len());
        {
            let mut catalog = self.catalog.write().map_err(lock_err)?;
            for (item, w) in items.into_iter().zip(written) {
                let mut track = item.track;
                track.created_at = Some(w.created_at);
                track.updated_at = Some(w.updated_at);
                let track = Arc::new(track);
                catalog.insert(
                    Entry {
                        slot: w.slot,
                        facets: TrackFacets::of(&track),
                        track: track.clone(),
                        content_hash: item.content_hash,
                        text_hash: item.text_hash,
                    },
                    &item.embedding,
                );
                tracks.push((w.slot, track));
            }
        }
        let refs: Vec<(u64, &Track)> = tracks.iter().map(|(s, t)| (*s, t.as_ref())).collect();
        let indexed = self.keyword.apply(&[], &refs, seq);
        // Published last (even if indexing failed, since the catalog changed): a reader that
        // sees this number also sees the data behind it, so no cached response is stale.
        self.sequence.store(seq, Ordering::Release);
        indexed?;
        db.prune_tombstones(seq)?;
        Ok(())
    }

    fn get(&self, id: &str) -> music_rag_core::Result<Option<Arc<Track>>> {
        Ok(self
            .catalog
            .read()
            .map_err(lock_err)?
            .get(id)
            .map(|e| e.track.clone()))
    }

    fn get_embedding(&self, id: &str) -> music_rag_core::Result<Option<Vec<f32>>> {
        Ok(self
            .catalog
            .read()
            .map_err(lock_err)?
            .vector(id)
            .map(<[f32]>::to_vec))
    }

    fn delete(&self, id: &str) -> music_rag_core::Result<bool> {
        let mut db = self.db.lock().map_err(lock_err)?;
        let Some((slot, seq)) = db.delete(id)? else {
            return Ok(false);
        };
        self.catalog.write().map_err(lock_err)?.remove(id);
        let indexed = self.keyword.apply(&[slot], &[], seq);
        self.sequence.store(seq, Ordering::Release);
        indexed?;
        db.prune_tombstones(seq)?;
        Ok(true)
    }

    fn list(&self, cursor: Option<&str>, limit: usize) -> music_rag_core::Result<Page> {
        let (tracks, next_cursor) = self.catalog.read().map_err(lock_err)?.page(cursor, limit);
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
                            content_hash: e.content_hash.clone(),
                            text_hash: e.text_hash.clone(),
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
        Ok(self
            .dense_search_many(query, std::slice::from_ref(filter), k)?
            .pop()
            .unwrap_or_default())
    }

    fn dense_search_many(
        &self,
        query: &[f32],
        filters: &[Filter],
        k: usize,
    ) -> music_rag_core::Result<Vec<Vec<Candidate>>> {
        if query.len() != self.dim {
            return Err(CoreError::Internal(format!(
                "query vector has {} floats, expected {}",
                query.len(),
                self.dim
            )));
        }
        let compiled: Vec<_> = filters.iter().map(Filter::compile).collect();
        Ok(self
            .catalog
            .read()
            .map_err(lock_err)?
            .dense_many(query, &compiled, k))
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
            .filter_map(|(slot, score)| {
                catalog.by_slot(slot).map(|e| Candidate {
                    id: e.track.id.clone(),
                    score,
                })
            })
            .collect())
    }

    fn vocabulary(&self) -> music_rag_core::Result<Arc<Vocabulary>> {
        Ok(self.catalog.read().map_err(lock_err)?.vocabulary())
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
}
