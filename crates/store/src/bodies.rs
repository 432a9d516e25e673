//! Whole tracks (their documents) are read from the database when a result needs them; the
//! in-memory catalog keeps only what searching, filtering and ordering read. A bounded cache
//! keeps the tracks asked for recently, and a catalog no larger than the cache is kept whole
//! from its open on, so a small catalog never reads a track from disk.
//!
//! Readers have connections of their own (SQLite in WAL mode lets them read beside the
//! writer), taken from a small pool so a search never waits for a write.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use rusqlite::{Connection, OpenFlags};

use music_rag_core::Track;

use crate::sqlite::{decode_vector, parse_document};
use crate::StoreError;

/// Tracks the cache holds by default: every track of a catalog up to this size (the whole of
/// a 55k-track catalog stays in memory, as it did when every track was), a working set of a
/// larger one. About 2-4 KB each.
pub const DEFAULT_CACHED_TRACKS: usize = 100_000;

/// Reader connections kept between reads; more are opened while more read at once.
const IDLE_READERS: usize = 4;

pub(crate) struct Bodies {
    /// The database file; `None` when the store has no file to read (an empty read-only one).
    path: Option<PathBuf>,
    readers: Mutex<Vec<Connection>>,
    cache: Mutex<LruCache<u64, Arc<Track>>>,
    capacity: AtomicUsize,
}

impl Bodies {
    pub(crate) fn new(path: Option<&Path>, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            path: path.map(Path::to_path_buf),
            readers: Mutex::new(Vec::new()),
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            capacity: AtomicUsize::new(capacity),
        }
    }

    /// How many tracks the cache holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Holds at most `n` tracks from now on (dropping the least recently used).
    pub(crate) fn resize(&self, n: usize) {
        let n = n.max(1);
        self.capacity.store(n, Ordering::Relaxed);
        self.cache()
            .resize(NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN));
    }

    /// Keeps a track just written or loaded (replacing an older version of it).
    pub(crate) fn put(&self, slot: u64, track: Arc<Track>) {
        self.cache().put(slot, track);
    }

    /// Forgets a deleted track.
    pub(crate) fn forget(&self, slot: u64) {
        self.cache().pop(&slot);
    }

    /// The tracks at `slots` (`None` for a slot the database no longer holds), the cached ones
    /// from memory and the rest in one read transaction.
    ///
    /// Callers hold the catalog's read lock, and writers update the cache under its write lock
    /// after their commit: so a track read here is never older than the catalog's, and a
    /// version read here can never replace a newer one a writer put.
    pub(crate) fn get_many(&self, slots: &[u64]) -> Result<Vec<Option<Arc<Track>>>, StoreError> {
        let mut out: Vec<Option<Arc<Track>>> = {
            let mut cache = self.cache();
            slots.iter().map(|s| cache.get(s).cloned()).collect()
        };
        let missing: Vec<usize> = (0..slots.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let read = self.with_reader(|conn| {
            let tx = conn.unchecked_transaction()?;
            let mut found = Vec::with_capacity(missing.len());
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT doc, created_at, updated_at FROM tracks WHERE slot = ?1",
                )?;
                for &i in &missing {
                    let slot = slots[i];
                    let row = stmt.query_row([slot as i64], |r| {
                        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
                    });
                    match row {
                        Ok((doc, created, updated)) => {
                            let track = parse_document(slot as i64, &doc, created, updated)?;
                            found.push((i, Arc::new(track)));
                        }
                        Err(rusqlite::Error::QueryReturnedNoRows) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            tx.finish()?;
            Ok(found)
        })?;
        let mut cache = self.cache();
        for (i, track) in read {
            cache.put(slots[i], track.clone());
            out[i] = Some(track);
        }
        Ok(out)
    }

    /// The f32 vectors stored at `slots` (a slot the database no longer holds is left out),
    /// in one read transaction, for re-scoring a shortlist.
    pub(crate) fn vectors(&self, slots: &[u64]) -> Result<HashMap<u64, Vec<f32>>, StoreError> {
        if slots.is_empty() {
            return Ok(HashMap::new());
        }
        self.with_reader(|conn| {
            let tx = conn.unchecked_transaction()?;
            let mut found = HashMap::with_capacity(slots.len());
            {
                let mut stmt = tx.prepare_cached("SELECT embedding FROM tracks WHERE slot = ?1")?;
                for &slot in slots {
                    let row = stmt.query_row([slot as i64], |r| {
                        let blob = r.get_ref(0)?.as_blob()?;
                        Ok(decode_vector(blob))
                    });
                    match row {
                        Ok(v) => {
                            found.insert(slot, v);
                        }
                        Err(rusqlite::Error::QueryReturnedNoRows) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            tx.finish()?;
            Ok(found)
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<u64, Arc<Track>>> {
        // A panic elsewhere cannot leave the cache half-changed: every change is one call.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_reader<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(path) = &self.path else {
            return Err(StoreError::Corrupt(
                "a track the catalog lists is not in the database".into(),
            ));
        };
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c
            }
        };
        let result = read(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}
