//! The source of truth: one SQLite database in WAL mode with `synchronous=FULL`, so a
//! committed transaction survives a crash of the process or the machine.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;
use music_rag_core::{StoredTrack, Track};

const SCHEMA_VERSION: i64 = 1;

/// A row as loaded at open.
pub struct Row {
    pub slot: u64,
    pub track: Track,
    pub embedding: Vec<f32>,
    pub content_hash: String,
    pub text_hash: String,
}

/// A row written by `upsert`, with its slot and timestamps.
pub struct Written {
    pub slot: u64,
    pub created_at: String,
    pub updated_at: String,
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
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
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
        )?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )?;
            }
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) => {
                return Err(StoreError::Incompatible(format!(
                    "the store has schema version {v}; this build reads version {SCHEMA_VERSION}"
                )))
            }
        }
        Ok(Self { conn })
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

    /// Upserts every item in one transaction under a new sequence number.
    pub fn upsert(&mut self, items: &[StoredTrack]) -> Result<(u64, Vec<Written>), StoreError> {
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
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT(id) DO UPDATE SET doc=excluded.doc, embedding=excluded.embedding,
                   content_hash=excluded.content_hash, text_hash=excluded.text_hash,
                   seq=excluded.seq, updated_at=excluded.updated_at
                 RETURNING slot, created_at",
            )?;
            for item in items {
                let mut doc = item.track.clone();
                doc.created_at = None;
                doc.updated_at = None;
                let doc =
                    serde_json::to_string(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let (slot, created_at): (i64, String) = stmt.query_row(
                    params![
                        item.track.id,
                        doc,
                        encode_vector(&item.embedding),
                        item.content_hash,
                        item.text_hash,
                        seq as i64,
                        now
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                written.push(Written {
                    slot: slot as u64,
                    created_at,
                    updated_at: now.clone(),
                });
            }
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES('seq', ?1) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [seq.to_string()],
        )?;
        tx.commit()?;
        Ok((seq, written))
    }

    /// Deletes a track; returns its slot and the new sequence number if it existed.
    pub fn delete(&mut self, id: &str) -> Result<Option<(u64, u64)>, StoreError> {
        let tx = self.conn.transaction()?;
        let slot: Option<i64> = tx
            .query_row("DELETE FROM tracks WHERE id=?1 RETURNING slot", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(slot) = slot else { return Ok(None) };
        let seq: u64 = tx
            .query_row("SELECT value FROM meta WHERE key='seq'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
            + 1;
        tx.execute(
            "INSERT INTO tombstones(slot, seq) VALUES(?1, ?2) ON CONFLICT(slot) DO UPDATE SET seq=excluded.seq",
            params![slot, seq as i64],
        )?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES('seq', ?1) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [seq.to_string()],
        )?;
        tx.commit()?;
        Ok(Some((slot as u64, seq)))
    }

    /// Every track changed after `since` (all of them for 0), in slot order.
    pub fn rows_since(&self, since: u64) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT slot, doc, embedding, content_hash, text_hash, created_at, updated_at
             FROM tracks WHERE seq > ?1 ORDER BY slot",
        )?;
        let mut rows = stmt.query([since as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let slot: i64 = r.get(0)?;
            let doc: String = r.get(1)?;
            let mut track: Track = serde_json::from_str(&doc)
                .map_err(|e| StoreError::Corrupt(format!("track at slot {slot}: {e}")))?;
            track.created_at = Some(r.get(5)?);
            track.updated_at = Some(r.get(6)?);
            out.push(Row {
                slot: slot as u64,
                track,
                embedding: decode_vector(&r.get::<_, Vec<u8>>(2)?),
                content_hash: r.get(3)?,
                text_hash: r.get(4)?,
            });
        }
        Ok(out)
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
