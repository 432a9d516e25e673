//! The catalog's changes after a write sequence, read in one snapshot: what a replica's local
//! copy applies to follow the catalog (see `music-rag-ops`'s `replica`).
//!
//! Every write transaction takes the next sequence number first, so writes commit in sequence
//! order and a snapshot that reads the sequence `S` holds every write up to `S` and none after.
//! Written rows carry the sequence of their last write; deleted tracks leave their id and the
//! sequence of the deletion in `deleted_tracks`.

use pgvector::Vector;
use postgres::types::Json;
use postgres::IsolationLevel;

use music_rag_core::{StoredTrack, Track};

use crate::{PgError, PgStore};

/// One part of what changed, in the order a copy applies them: deletions first, then the
/// tracks written (a track deleted and written again is in both, and ends up present).
pub enum Change {
    /// Ids of tracks deleted (some may have been written again since).
    Deleted(Vec<String>),
    /// Tracks as they are now, with their timestamps, in write order.
    Written {
        tracks: Vec<StoredTrack>,
        /// Once these are applied (and the deletions before them), every change up to this
        /// sequence is: a copy interrupted later may resume from here.
        complete_through: u64,
    },
}

impl PgStore {
    /// The catalog's identity, made when its schema was created: a copy that followed another
    /// catalog (dropped and created again under the same name) starts over.
    pub fn catalog_id(&self) -> Result<String, PgError> {
        self.read(|c| {
            Ok(
                c.query_one("SELECT value FROM store_meta WHERE key = 'catalog_id'", &[])?
                    .try_get(0)?,
            )
        })
    }

    /// Hands `apply` what changed after `since`, written tracks `batch` at a time, and returns
    /// the sequence the changes bring a copy to. One read-only snapshot, so the changes are
    /// exactly those up to that sequence, whatever is written meanwhile.
    pub fn changes_since<E: From<PgError>>(
        &self,
        since: u64,
        batch: usize,
        mut apply: impl FnMut(Change) -> Result<(), E>,
    ) -> Result<u64, E> {
        let mut conn = self.pool.get().map_err(PgError::from)?;
        let mut tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(PgError::from)?;
        let since = since as i64;
        let sequence: i64 = tx
            .query_one("SELECT sequence FROM store_state", &[])
            .map_err(PgError::from)?
            .get(0);
        if sequence <= since {
            return Ok(sequence.max(0) as u64);
        }
        let deleted: Vec<String> = tx
            .query(
                "SELECT id FROM deleted_tracks WHERE sequence > $1",
                &[&since],
            )
            .map_err(PgError::from)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(PgError::from)?;
        if !deleted.is_empty() {
            apply(Change::Deleted(deleted))?;
        }
        let portal = tx
            .bind(
                // In write order (an index), so a long first copy can record how far it got.
                "SELECT doc, created_at, updated_at, content_hash, text_hash, embedding, sequence
                 FROM tracks WHERE sequence > $1 ORDER BY sequence",
                &[&since],
            )
            .map_err(PgError::from)?;
        loop {
            let rows = tx
                .query_portal(&portal, batch.max(1) as i32)
                .map_err(PgError::from)?;
            if rows.is_empty() {
                break;
            }
            let tracks = rows
                .iter()
                .map(stored_of)
                .collect::<Result<Vec<_>, PgError>>()?;
            // Rows of the last write in this batch may go on in the next one.
            let last: i64 = rows
                .last()
                .map(|r| r.try_get(6))
                .transpose()
                .map_err(PgError::from)?
                .unwrap_or(since);
            apply(Change::Written {
                tracks,
                complete_through: (last - 1).max(since) as u64,
            })?;
        }
        tx.commit().map_err(PgError::from)?;
        Ok(sequence as u64)
    }
}

fn stored_of(row: &postgres::Row) -> Result<StoredTrack, PgError> {
    let Json(mut track): Json<Track> = row.try_get(0)?;
    track.created_at = Some(row.try_get(1)?);
    track.updated_at = Some(row.try_get(2)?);
    Ok(StoredTrack {
        track,
        content_hash: row.try_get(3)?,
        text_hash: row.try_get(4)?,
        embedding: row.try_get::<_, Vector>(5)?.to_vec(),
    })
}
