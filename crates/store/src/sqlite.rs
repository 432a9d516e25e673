//! The source of truth: one SQLite database in WAL mode with `synchronous=FULL`, so a
//! committed transaction survives a crash of the process or the machine.

use std::path::Path;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::StoreError;
use music_rag_core::{StoredTrack, Track};

/// The schema this build writes. Each entry of `MIGRATIONS` brings a store from the version
/// before it to its own; a store older than this is migrated forward at open (after a
/// snapshot), a newer one is refused.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const MIGRATIONS: &[&str] = &[
    // 1: tracks with their vectors, tombstones for the keyword index, and settings.
    "CREATE TABLE IF NOT EXISTS tracks(
        slot INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL,
        embedding BLOB NOT NULL,
        content_hash TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        seq INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL);
     CREATE INDEX IF NOT EXISTS tracks_seq ON tracks(seq);
     CREATE TABLE IF NOT EXISTS tombstones(slot INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
     CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
];

/// A row as loaded at open.
pub struct Row {
    pub slot: u64,
    pub track: Track,
    pub embedding: Vec<f32>,
    pub content_hash: String,
    pub text_hash: String,
}

/// Rows read before they are parsed, where the caller does not choose.
const PARSE_CHUNK: usize = 1024;

/// A row as the database holds it, before its track is parsed.
pub struct RawRow {
    slot: i64,
    doc: String,
    embedding: Vec<u8>,
    content_hash: String,
    text_hash: String,
    created_at: String,
    updated_at: String,
}

impl RawRow {
    pub fn parse(self) -> Result<Row, StoreError> {
        let slot = self.slot;
        let track = parse_document(slot, &self.doc, self.created_at, self.updated_at)?;
        Ok(Row {
            slot: slot as u64,
            track,
            embedding: decode_vector(&self.embedding),
            content_hash: self.content_hash,
            text_hash: self.text_hash,
        })
    }
}

/// A stored track from its document and timestamps.
pub fn parse_document(
    slot: i64,
    doc: &str,
    created_at: String,
    updated_at: String,
) -> Result<Track, StoreError> {
    let mut track: Track = serde_json::from_str(doc)
        .map_err(|e| StoreError::Corrupt(format!("track at slot {slot}: {e}")))?;
    track.created_at = Some(created_at);
    track.updated_at = Some(updated_at);
    Ok(track)
}

/// Which timestamps a write gives its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamps {
    /// Now for a write, kept from the first write for creation.
    Now,
    /// The tracks' own, where they have them (a copy of another store's catalog keeps its
    /// times).
    Kept,
}

/// A row written by `upsert`, with its slot and timestamps.
pub struct Written {
    pub slot: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// A write that failed, and whether the derived index had already taken it (so the caller
/// must bring the index back to the source of truth).
pub struct WriteFailure {
    pub error: StoreError,
    pub index_applied: bool,
}

impl From<rusqlite::Error> for WriteFailure {
    fn from(e: rusqlite::Error) -> Self {
        Self {
            error: e.into(),
            index_applied: false,
        }
    }
}

pub struct Db {
    conn: Connection,
}

pub fn encode_vector(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn decode_vector(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Db {
    /// Opens the database for writing, creating it or migrating it forward as needed.
    /// `before_migration` runs before an older store is changed (to snapshot it).
    pub fn open(
        path: &Path,
        before_migration: impl FnOnce(&Db, i64) -> Result<(), StoreError>,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let db = Self { conn };
        let version = db.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(newer_schema(version));
        }
        if version > 0 && version < SCHEMA_VERSION {
            before_migration(&db, version)?;
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let to = i as i64 + 1;
            let tx = db.conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES('schema_version', ?1)
                 ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [to.to_string()],
            )?;
            tx.commit()?;
            if version > 0 {
                tracing::info!(from = version, to, "store schema migrated");
            }
        }
        Ok(db)
    }

    /// Opens an existing database without writing to it (a writer may hold it meanwhile).
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let read_only = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(StoreError::from)
        .and_then(|conn| {
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            let db = Self { conn };
            db.schema_version()?;
            Ok(db)
        });
        let db = match read_only {
            Ok(db) => db,
            // A writer killed mid-write leaves a WAL that only a read-write connection can
            // recover (SQLite does it on open, safely beside any other connection); this one
            // still issues no writes of its own.
            Err(e) => {
                tracing::debug!(error = %e, "read-only open failed; opening read-write to recover the WAL");
                let conn = Connection::open(path)?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                Self { conn }
            }
        };
        let version = db.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(newer_schema(version));
        }
        if version < SCHEMA_VERSION {
            return Err(StoreError::Incompatible(format!(
                "the store has schema version {version}, older than this build's \
                 {SCHEMA_VERSION}; open it once with a writing command (serve, ingest) to \
                 migrate it"
            )));
        }
        Ok(db)
    }

    /// An empty database in memory, for reading a data directory that has none yet.
    pub fn empty() -> Result<Self, StoreError> {
        Self::open(Path::new(":memory:"), |_, _| Ok(()))
    }

    /// The schema version recorded in the database (0 for a new one).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let has_meta: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type='table' AND name='meta'",
            [],
            |r| r.get(0),
        )?;
        if !has_meta {
            return Ok(0);
        }
        self.meta("schema_version")?
            .map(|v| {
                v.parse().map_err(|_| {
                    StoreError::Corrupt(format!("schema version {v:?} is not a number"))
                })
            })
            .unwrap_or(Ok(0))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn sequence(&self) -> Result<u64, StoreError> {
        Ok(self.meta("seq")?.and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// Upserts every item in one transaction under a new sequence number. `before_commit`
    /// gets the sequence number and the written rows while the transaction is still open: if
    /// it fails, nothing is committed.
    pub fn upsert(
        &mut self,
        items: &[StoredTrack],
        stamps: Stamps,
        before_commit: impl FnOnce(u64, &[Written]) -> Result<(), StoreError>,
    ) -> Result<(u64, Vec<Written>), WriteFailure> {
        let tx = self.conn.transaction()?;
        let seq: u64 = tx
            .query_row("SELECT value FROM meta WHERE key='seq'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
            + 1;
        let now: String = tx.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ','now')", [], |r| {
            r.get(0)
        })?;
        let mut written = Vec::with_capacity(items.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO tracks(id, doc, embedding, content_hash, text_hash, seq, created_at, updated_at)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, coalesce(?8, ?7), coalesce(?9, ?7))
                 ON CONFLICT(id) DO UPDATE SET doc=excluded.doc, embedding=excluded.embedding,
                   content_hash=excluded.content_hash, text_hash=excluded.text_hash,
                   seq=excluded.seq, created_at=coalesce(?8, created_at),
                   updated_at=excluded.updated_at
                 RETURNING slot, created_at, updated_at",
            )?;
            for item in items {
                let mut doc = item.track.clone();
                doc.created_at = None;
                doc.updated_at = None;
                let doc = serde_json::to_string(&doc).map_err(|e| WriteFailure {
                    error: StoreError::Corrupt(e.to_string()),
                    index_applied: false,
                })?;
                let (created_at, updated_at) = match stamps {
                    Stamps::Now => (None, None),
                    Stamps::Kept => (
                        item.track.created_at.as_deref(),
                        item.track.updated_at.as_deref(),
                    ),
                };
                let (slot, created_at, updated_at): (i64, String, String) = stmt.query_row(
                    params![
                        item.track.id,
                        doc,
                        encode_vector(&item.embedding),
                        item.content_hash,
                        item.text_hash,
                        seq as i64,
                        now,
                        created_at,
                        updated_at
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                written.push(Written {
                    slot: slot as u64,
                    created_at,
                    updated_at,
                });
            }
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES('seq', ?1) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [seq.to_string()],
        )?;
        before_commit(seq, &written).map_err(|error| WriteFailure {
            error,
            index_applied: false,
        })?;
        tx.commit().map_err(|e| WriteFailure {
            error: e.into(),
            index_applied: true,
        })?;
        Ok((seq, written))
    }

    /// Deletes tracks in one transaction; returns the slots of those that existed and the new
    /// sequence number, or none when no id was stored (nothing changes then). `before_commit`
    /// is called as for `upsert`, with the slots and the sequence number.
    pub fn delete(
        &mut self,
        ids: &[&str],
        before_commit: impl FnOnce(&[u64], u64) -> Result<(), StoreError>,
    ) -> Result<Option<(Vec<u64>, u64)>, WriteFailure> {
        let tx = self.conn.transaction()?;
        let mut slots = Vec::new();
        {
            let mut stmt = tx.prepare_cached("DELETE FROM tracks WHERE id=?1 RETURNING slot")?;
            for id in ids {
                if let Some(slot) = stmt.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                    slots.push(slot as u64);
                }
            }
        }
        if slots.is_empty() {
            return Ok(None);
        }
        let seq: u64 = tx
            .query_row("SELECT value FROM meta WHERE key='seq'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
            + 1;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO tombstones(slot, seq) VALUES(?1, ?2) ON CONFLICT(slot) DO UPDATE SET seq=excluded.seq",
            )?;
            for slot in &slots {
                stmt.execute(params![*slot as i64, seq as i64])?;
            }
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES('seq', ?1) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [seq.to_string()],
        )?;
        before_commit(&slots, seq).map_err(|error| WriteFailure {
            error,
            index_applied: false,
        })?;
        tx.commit().map_err(|e| WriteFailure {
            error: e.into(),
            index_applied: true,
        })?;
        Ok(Some((slots, seq)))
    }

    /// Every track changed after `since` (all of them for 0), in slot order.
    pub fn rows_since(&self, since: u64) -> Result<Vec<Row>, StoreError> {
        self.rows_where("seq > ?1", since as i64)
    }

    /// The track at `slot`, if it is stored.
    pub fn row_at(&self, slot: u64) -> Result<Option<Row>, StoreError> {
        Ok(self.rows_where("slot = ?1", slot as i64)?.pop())
    }

    fn rows_where(&self, condition: &str, value: i64) -> Result<Vec<Row>, StoreError> {
        let mut out = Vec::new();
        // Parsed chunk by chunk, so the unparsed rows are never all held beside the parsed.
        self.raw_rows_where(condition, value, PARSE_CHUNK, |raw| {
            for r in raw {
                out.push(r.parse()?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every stored track in slot order, unparsed, in chunks of `chunk` rows (a catalog is
    /// loaded without holding all its rows at once, and parsed on other threads).
    pub fn raw_rows(
        &self,
        chunk: usize,
        f: impl FnMut(Vec<RawRow>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.raw_rows_where("seq > ?1", 0, chunk, f)
    }

    /// The slots of every stored track (read from the sequence index, not the rows).
    pub fn slots(&self) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT slot FROM tracks")?;
        let slots = stmt
            .query_map([], |r| r.get::<_, i64>(0))?
            .map(|s| s.map(|s| s as u64))
            .collect::<Result<_, _>>()?;
        Ok(slots)
    }

    /// How many tracks are stored.
    pub fn track_count(&self) -> Result<usize, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM tracks", [], |r| r.get(0))?;
        Ok(n as usize)
    }

    fn raw_rows_where(
        &self,
        condition: &str,
        value: i64,
        chunk: usize,
        mut f: impl FnMut(Vec<RawRow>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT slot, doc, embedding, content_hash, text_hash, created_at, updated_at
             FROM tracks WHERE {condition} ORDER BY slot"
        ))?;
        let mut rows = stmt.query([value])?;
        let mut batch = Vec::new();
        while let Some(r) = rows.next()? {
            batch.push(RawRow {
                slot: r.get(0)?,
                doc: r.get(1)?,
                embedding: r.get(2)?,
                content_hash: r.get(3)?,
                text_hash: r.get(4)?,
                created_at: r.get(5)?,
                updated_at: r.get(6)?,
            });
            if batch.len() >= chunk {
                f(std::mem::take(&mut batch))?;
            }
        }
        if !batch.is_empty() {
            f(batch)?;
        }
        Ok(())
    }

    /// Slots deleted after `since`.
    pub fn tombstones_since(&self, since: u64) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT slot FROM tombstones WHERE seq > ?1")?;
        let rows = stmt.query_map([since as i64], |r| r.get::<_, i64>(0))?;
        Ok(rows
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|s| s as u64)
            .collect())
    }

    /// Tombstones the keyword index has already applied are no longer needed.
    pub fn prune_tombstones(&self, upto: u64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM tombstones WHERE seq <= ?1", [upto as i64])?;
        Ok(())
    }
}

impl Db {
    /// The database's clock, as RFC 3339 UTC.
    pub fn now(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ','now')", [], |r| {
                r.get(0)
            })?)
    }

    /// Tracks that carry an audio analysis (and so an audio vector).
    pub fn audio_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM tracks WHERE json_extract(doc, '$.audio') IS NOT NULL",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Slots of the tracks written after write `seq` (by the index on `seq`).
    pub fn slots_written_after(
        &self,
        seq: u64,
    ) -> Result<std::collections::HashSet<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT slot FROM tracks WHERE seq > ?1")?;
        let slots = stmt.query_map(params![seq as i64], |r| r.get::<_, i64>(0))?;
        slots
            .map(|s| Ok(s? as u64))
            .collect::<Result<_, rusqlite::Error>>()
            .map_err(StoreError::from)
    }

    /// The highest slot ever handed out (slots are never reused).
    pub fn max_slot_ever(&self) -> Result<u64, StoreError> {
        let top: Option<i64> = self
            .conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name='tracks'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(top.unwrap_or(0) as u64)
    }

    /// SQLite's own integrity check: the problems it finds, none when the file is sound.
    pub fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let found = rows.collect::<Result<Vec<_>, _>>()?;
        Ok(found.into_iter().filter(|m| m != "ok").collect())
    }

    /// Tracks stored, and how many of their vectors have `dim` floats.
    pub fn vector_counts(&self, dim: usize) -> Result<(u64, u64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(embedding) = ?1), 0) FROM tracks",
            [(dim * 4) as i64],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// Writes a consistent, compacted copy of the database to `to`. `VACUUM INTO` reads in
    /// one transaction, so writes may go on meanwhile and none is copied half-done.
    /// Every track's audio file path, as stored.
    pub fn audio_paths(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT json_extract(doc, '$.audio_path') FROM tracks \
             WHERE json_extract(doc, '$.audio_path') IS NOT NULL ORDER BY slot",
        )?;
        let paths = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(paths)
    }

    pub fn copy_to(&self, to: &Path) -> Result<(), StoreError> {
        self.conn
            .execute("VACUUM INTO ?1", [to.to_string_lossy()])?;
        Ok(())
    }
}

fn newer_schema(version: i64) -> StoreError {
    StoreError::Incompatible(format!(
        "the store has schema version {version}, newer than this build of music-rag {} \
         reads ({SCHEMA_VERSION}); run the newer music-rag that wrote it, or go back by \
         restoring the snapshot taken before the upgrade (music-rag restore FILE, from the data \
         directory's snapshots/ folder)",
        env!("CARGO_PKG_VERSION")
    ))
}

/// In the database at `path` (not open elsewhere), moves tracks' audio paths that start with
/// the folder `from` to the same place under `to`; returns how many moved. Used when a
/// snapshot is restored into another data directory than the one it was taken from.
pub fn move_audio_paths(path: &Path, from: &str, to: &str) -> Result<usize, StoreError> {
    let conn = Connection::open(path)?;
    let from = format!("{}/", from.trim_end_matches('/'));
    let to = format!("{}/", to.trim_end_matches('/'));
    let moved = conn.execute(
        "UPDATE tracks SET doc = json_set(doc, '$.audio_path', \
             ?2 || substr(json_extract(doc, '$.audio_path'), length(?1) + 1)) \
         WHERE substr(json_extract(doc, '$.audio_path'), 1, length(?1)) = ?1",
        params![from, to],
    )?;
    Ok(moved)
}
