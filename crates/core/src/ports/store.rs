//! The store port: the catalog's durable home and its retrieval indexes.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::catalog::measure::{order_by, Measure};
use crate::domain::catalog::track::Track;
use crate::domain::catalog::vocabulary::Vocabulary;
use crate::domain::query::names::credits_exactly;
use crate::domain::retrieval::filter::Filter;
use crate::domain::retrieval::filter::TrackFacets;
use crate::domain::retrieval::hit::Candidate;
use crate::error::Result;

/// A track as handed to the store, with what it was embedded from.
#[derive(Debug, Clone)]
pub struct StoredTrack {
    pub track: Track,
    pub embedding: Vec<f32>,
    /// Hash of the whole track: equal means nothing changed.
    pub content_hash: String,
    /// Hash of the embedded text and model: equal means the vector can be reused.
    pub text_hash: String,
}

/// What the store knows of a track already, to skip needless work.
#[derive(Debug, Clone)]
pub struct Known {
    pub content_hash: String,
    pub text_hash: String,
}

/// A page of tracks in id order.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub tracks: Vec<Arc<Track>>,
    /// Pass back as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    pub tracks: usize,
    pub text_embeddings: usize,
    pub audio_embeddings: usize,
    /// Monotonic write sequence number of the source of truth.
    pub sequence: u64,
    pub backend: String,
}

/// What a snapshot file holds, written beside the data in it and checked on restore.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SnapshotManifest {
    /// Always `music-rag-snapshot`.
    pub format: String,
    pub format_version: u32,
    /// The music-rag version that wrote it.
    pub written_by: String,
    pub created_at: String,
    pub schema_version: i64,
    pub model_id: String,
    pub dim: usize,
    /// The write sequence number the snapshot holds: every write up to it, none after.
    pub sequence: u64,
    pub tracks: u64,
    pub vectors: u64,
    pub audio_vectors: u64,
    /// The database and the audio files held in the data directory (`files/…`, uploads and
    /// copied audio), each with its size and SHA-256.
    pub files: Vec<SnapshotFile>,
    /// The data directory the snapshot was taken from: tracks' audio paths under it are moved
    /// to the directory a snapshot is restored into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// Audio files that tracks reference in place outside the data directory (a user's music
    /// folder): not copied into the snapshot; back those folders up as they are.
    #[serde(default)]
    pub audio_files_elsewhere: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SnapshotFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a planned question reads ([`Store::select`]): the tracks that pass a filter and credit
/// one of the named artists, ordered by a numeric fact when asked, one page of them.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filter: Filter,
    /// Artists as the catalog's names give them (`CatalogNames::artist_named`); a track
    /// passes when its credit names any of them word for word. Empty: any artist.
    pub artists: Vec<String>,
    /// Sort by this fact, highest first when `true`; tracks without it come last.
    pub order: Option<(Measure, bool)>,
    pub offset: usize,
    pub limit: usize,
}

/// One page of a [`Selection`] and how many tracks pass in all.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub total: usize,
    pub tracks: Vec<Arc<Track>>,
}

/// The catalog's durable home plus its derived indexes.
pub trait Store: Send + Sync {
    /// Upserts a batch in one atomic, durable write; returns after it is durable and every
    /// index reflects it. On error nothing of the batch is committed.
    fn upsert(&self, items: Vec<StoredTrack>) -> Result<()>;
    /// An import of about `rows` tracks is starting: a store may defer index upkeep to
    /// [`Store::end_bulk_load`] when that is faster. Searches stay correct meanwhile.
    fn begin_bulk_load(&self, _rows: usize) -> Result<()> {
        Ok(())
    }
    /// The import ended (or failed): deferred indexes are built now.
    fn end_bulk_load(&self) -> Result<()> {
        Ok(())
    }
    fn get(&self, id: &str) -> Result<Option<Arc<Track>>>;
    fn get_embedding(&self, id: &str) -> Result<Option<Vec<f32>>>;
    /// The tracks with these ids, in their order (`None` for an id the store does not hold):
    /// what ranking and hits read, fetched once per search. A database store answers it in one
    /// statement instead of a round trip per track.
    fn get_many(&self, ids: &[&str]) -> Result<Vec<Option<Arc<Track>>>> {
        ids.iter().map(|id| self.get(id)).collect()
    }
    /// How many tracks pass `filter`. By default the keyword index lists them (an empty query
    /// passes every track the filter passes); a database store counts instead.
    fn count_matching(&self, filter: &Filter) -> Result<usize> {
        let all = self.count()?;
        if filter.is_empty() || all == 0 {
            return Ok(all);
        }
        Ok(self.keyword_search("", filter, all)?.len())
    }
    /// Returns whether the track existed.
    fn delete(&self, id: &str) -> Result<bool>;
    fn list(&self, cursor: Option<&str>, limit: usize) -> Result<Page>;
    fn count(&self) -> Result<usize>;
    fn known(&self, ids: &[&str]) -> Result<HashMap<String, Known>>;
    /// Top `k` by cosine similarity among tracks that pass `filter`.
    fn dense_search(&self, query: &[f32], filter: &Filter, k: usize) -> Result<Vec<Candidate>>;
    /// Top `k` for each filter; stores may share one pass over the vectors.
    fn dense_search_many(
        &self,
        query: &[f32],
        filters: &[Filter],
        k: usize,
    ) -> Result<Vec<Vec<Candidate>>> {
        filters
            .iter()
            .map(|f| self.dense_search(query, f, k))
            .collect()
    }
    /// Top `k` by cosine similarity of audio vectors among tracks with audio that pass
    /// `filter`.
    fn audio_search(&self, query: &[f32], filter: &Filter, k: usize) -> Result<Vec<Candidate>>;
    /// Top `k` by BM25 (typo tolerant on titles and artists) among tracks that pass `filter`.
    fn keyword_search(&self, text: &str, filter: &Filter, k: usize) -> Result<Vec<Candidate>>;
    fn vocabulary(&self) -> Result<Arc<Vocabulary>>;
    /// The write sequence number: it changes with every acknowledged write.
    fn sequence(&self) -> Result<u64>;
    fn stats(&self) -> Result<StoreStats>;
    /// The exact set a planned question reads (counts, lists, superlatives): every track that
    /// passes, counted, ordered and paged. This reading pages through the catalog once; a store
    /// may answer it from its indexes instead, with the same result.
    fn select(&self, selection: &Selection) -> Result<Selected> {
        let filter = selection.filter.compile();
        let mut passing: Vec<Arc<Track>> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list(cursor.as_deref(), 1000)?;
            passing.extend(
                page.tracks
                    .iter()
                    .filter(|t| {
                        filter.matches(&TrackFacets::of(t))
                            && (selection.artists.is_empty()
                                || selection
                                    .artists
                                    .iter()
                                    .any(|a| credits_exactly(&t.artist, a)))
                    })
                    .cloned(),
            );
            match page.next_cursor {
                Some(next) if !page.tracks.is_empty() => cursor = Some(next),
                _ => break,
            }
        }
        if let Some((measure, highest_first)) = selection.order {
            order_by(&mut passing, measure, highest_first);
        }
        Ok(Selected {
            total: passing.len(),
            tracks: passing
                .into_iter()
                .skip(selection.offset)
                .take(selection.limit)
                .collect(),
        })
    }
    /// Why writes fail right now (for example a full disk), while reads still work.
    fn write_failure(&self) -> Option<String> {
        None
    }
    /// The version of the stored data's layout, for operators (health, rollbacks).
    fn schema_version(&self) -> Option<i64> {
        None
    }
    /// Writes one consistent snapshot file of the source of truth to `to`, while reads and
    /// writes go on.
    fn snapshot(&self, _to: &std::path::Path) -> Result<SnapshotManifest> {
        Err(crate::error::CoreError::Unavailable(
            "this store takes no snapshots; use the database's own backup tools".into(),
        ))
    }
}
