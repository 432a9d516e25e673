//! Music RAG's core, in three layers (dependencies point down):
//!
//! - [`app`]: the use cases (search, answer, ingest, recommend, listen, playlist, catalog
//!   administration), each once, run by an [`Engine`] against the ports;
//! - [`ports`]: the traits the edges implement (embedding model, store, language model);
//! - [`domain`]: tracks, keys, filters, parsing, fusion, rerank, answer rules, playlist
//!   ordering; pure rules over values.
//!
//! No I/O here: models, databases and servers come in through the ports.

pub mod app;
pub mod domain;
pub mod error;
pub mod ports;
pub mod testing;

pub use app::answer::{AnswerEvent, AskRequest, AskResponse};
pub use app::ingest::{GivenVector, IngestReport, UpsertOutcome};
pub use app::search::{SearchRequest, SearchResponse};
pub use app::Engine;
pub use domain::catalog::key::{Key, Mode};
pub use domain::catalog::track::{Metadata, Track, ValidTrack};
pub use domain::catalog::vocabulary::Vocabulary;
pub use domain::query::parse::ParsedQuery;
pub use domain::retrieval::filter::{Filter, Preferences, Range};
pub use domain::retrieval::hit::{Hit, RetrievalType};
pub use error::{CoreError, FieldError, Result};
pub use ports::{
    Candidate, Embedder, Generation, Generator, Known, Page, Selected, Selection, SnapshotFile,
    SnapshotManifest, Store, StoreStats, StoredTrack, TokenUsage,
};
