//! The edges the application talks to, as traits. Implementations live in other crates
//! (model, database, model server); the application sees only these.

mod embedder;
mod generator;
mod store;

pub use crate::domain::retrieval::hit::Candidate;
pub use embedder::Embedder;
pub use generator::{ChatMessage, ChatTurn, Generation, Generator, TokenUsage, ToolCall, ToolSpec};
pub use store::{
    Known, Page, Selected, Selection, SnapshotFile, SnapshotManifest, Store, StoreStats,
    StoredTrack,
};
