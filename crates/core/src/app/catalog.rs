//! Catalog administration: read one track, page through all, delete, count, snapshot. It needs
//! no model, so commands that only administer the catalog start without loading one; front ends
//! and the operations layer reach the store only through this (the store port itself is private
//! to the application layer), so every store backend serves them the same way.

use std::sync::Arc;

use crate::app::Engine;
use crate::domain::catalog::overview::{CatalogOverview, OverviewTally};
use crate::domain::catalog::track::Track;
use crate::domain::catalog::vocabulary::Vocabulary;
use crate::error::{CoreError, Result};
use crate::ports::{Page, SnapshotManifest, Store, StoreStats};

/// The most tracks one page may hold.
pub const PAGE_MAX: usize = 1000;

/// The catalog administration use cases over one store.
#[derive(Clone)]
pub struct Catalog {
    store: Arc<dyn Store>,
}

impl Catalog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// One track, or a not-found error naming the id.
    pub fn track(&self, id: &str) -> Result<Arc<Track>> {
        self.store
            .get(id)?
            .ok_or_else(|| CoreError::NotFound(format!("no track with id {id:?}")))
    }

    /// Tracks in id order after `cursor`, at most `limit` (1 to [`PAGE_MAX`]).
    pub fn tracks(&self, cursor: Option<&str>, limit: usize) -> Result<Page> {
        crate::error::check_count("limit", limit, PAGE_MAX)?;
        self.store.list(cursor, limit)
    }

    /// One track when the catalog holds it (no error when it does not).
    pub fn find(&self, id: &str) -> Result<Option<Arc<Track>>> {
        self.store.get(id)
    }

    /// A track's stored text vector, when it has one.
    pub fn embedding(&self, id: &str) -> Result<Option<Vec<f32>>> {
        self.store.get_embedding(id)
    }

    /// Every track in id order, one page at a time, handed to `each` (which may stop the walk
    /// by returning an error); the one page loop for exports, re-embedding and tallies.
    pub fn for_each_page(
        &self,
        page_size: usize,
        mut each: impl FnMut(&[Arc<Track>]) -> Result<()>,
    ) -> Result<()> {
        let mut cursor: Option<String> = None;
        loop {
            let page = self.tracks(cursor.as_deref(), page_size)?;
            each(&page.tracks)?;
            match page.next_cursor {
                Some(next) if !page.tracks.is_empty() => cursor = Some(next),
                _ => return Ok(()),
            }
        }
    }

    /// How many tracks the catalog holds.
    pub fn count(&self) -> Result<usize> {
        self.store.count()
    }

    /// The store's write sequence: it changes with every write.
    pub fn sequence(&self) -> Result<u64> {
        self.store.sequence()
    }

    /// The store layout version, when the store has one.
    pub fn schema_version(&self) -> Option<i64> {
        self.store.schema_version()
    }

    /// Why writes are refused, when a failed write left the store read-only.
    pub fn write_failure(&self) -> Option<String> {
        self.store.write_failure()
    }

    /// Writes a snapshot of the catalog to `to` (stores that cannot say so).
    pub fn snapshot(&self, to: &std::path::Path) -> Result<SnapshotManifest> {
        self.store.snapshot(to)
    }

    /// Deletes a track; a not-found error when there was none.
    pub fn delete(&self, id: &str) -> Result<()> {
        if self.store.delete(id)? {
            Ok(())
        } else {
            Err(CoreError::NotFound(format!("no track with id {id:?}")))
        }
    }

    /// Counts of tracks and vectors, and the write sequence.
    pub fn stats(&self) -> Result<StoreStats> {
        self.store.stats()
    }

    /// The catalog at a glance for filter controls and charts: terms with counts, tempo
    /// histogram, keys, decades, live and studio, playable tracks. One pass over the tracks.
    pub fn overview(&self) -> Result<CatalogOverview> {
        let mut tally = OverviewTally::default();
        self.for_each_page(PAGE_MAX, |tracks| {
            tracks.iter().for_each(|t| tally.add(t));
            Ok(())
        })?;
        let vocabulary = self.store.vocabulary()?;
        Ok(tally.finish(&vocabulary))
    }

    /// The genres, moods, instruments, origins and tags filters match, with their counts.
    pub fn vocabulary(&self) -> Result<Arc<Vocabulary>> {
        self.store.vocabulary()
    }
}

impl Engine {
    /// The catalog administration use cases over this engine's store.
    pub fn catalog(&self) -> Catalog {
        Catalog::new(self.store.clone())
    }
}
