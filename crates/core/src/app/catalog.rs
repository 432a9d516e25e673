//! Catalog administration: read one track, page through all, delete, count. It needs no model,
//! so commands that only administer the catalog start without loading one; front ends reach
//! the store only through this, so every store backend serves them the same way.

use std::sync::Arc;

use crate::app::Engine;
use crate::domain::overview::{CatalogOverview, OverviewTally};
use crate::domain::track::Track;
use crate::domain::vocabulary::Vocabulary;
use crate::error::{CoreError, Result};
use crate::ports::{Page, Store, StoreStats};

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
        let mut cursor: Option<String> = None;
        loop {
            let page = self.store.list(cursor.as_deref(), PAGE_MAX)?;
            for t in &page.tracks {
                tally.add(t);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
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
