//! The edges the application talks to, as traits. Implementations live in other crates
//! (model, database, model server); the application sees only these.

mod embedder;
mod generator;
mod store;

pub use crate::domain::retrieval::hit::Candidate;
pub use embedder::Embedder;
pub use generator::{Generation, Generator, TokenUsage};
pub use store::{
    Known, Page, Selected, Selection, SnapshotFile, SnapshotManifest, Store, StoreStats,
    StoredTrack,
};
