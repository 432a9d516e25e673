//! The embedded store as a copy of a catalog held elsewhere (a PostgreSQL replica's local
//! copy): changes are applied with the source's timestamps, and the store remembers what it
//! is a copy of and up to which point, in its own database, so a restart carries on from there.

use music_rag_core::StoredTrack;

use crate::sqlite::Stamps;
use crate::{EmbeddedStore, StoreError};

/// The database key holding what the store is a copy of.
const COPY_OF: &str = "copy_of";

impl EmbeddedStore {
    /// Applies a source's changes: `deleted` first (ids not held are skipped), then `written`
    /// as the source holds them, timestamps included. Applying the same changes twice leaves
    /// the same catalog, so a copy interrupted before it recorded its point applies them again.
    pub fn apply_copied(
        &self,
        deleted: &[String],
        written: Vec<StoredTrack>,
    ) -> Result<(), StoreError> {
        if let Some(message) = self.misfit_vector(&written) {
            return Err(StoreError::Incompatible(format!("the source's {message}")));
        }
        if !deleted.is_empty() {
            let ids: Vec<&str> = deleted.iter().map(String::as_str).collect();
            let result = self.delete_tracks(&ids);
            self.note_write(result)?;
        }
        if !written.is_empty() {
            let result = self.write_tracks(written, Stamps::Kept);
            self.note_write(result)?;
        }
        Ok(())
    }

    /// What this store is a copy of and up to where, as [`set_copy_of`](Self::set_copy_of)
    /// recorded it (none for a store that is no copy, or a new one).
    pub fn copy_of(&self) -> Result<Option<String>, StoreError> {
        self.db
            .lock()
            .map_err(|_| StoreError::Corrupt("lock".into()))?
            .meta(COPY_OF)
    }

    /// Records what this store is a copy of, once the changes up to that point are applied.
    pub fn set_copy_of(&self, mark: &str) -> Result<(), StoreError> {
        self.ready_to_write()?;
        self.db
            .lock()
            .map_err(|_| StoreError::Corrupt("lock".into()))?
            .set_meta(COPY_OF, mark)
    }
}
