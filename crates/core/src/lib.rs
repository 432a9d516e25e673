//! Music RAG's domain: tracks, filters, plain-words query parsing, fusion and the
//! search/ingest pipelines. No I/O: models and stores come in through the traits in
//! [`traits`].

pub mod ask;
pub mod audio;
pub mod citations;
pub mod engine;
pub mod enhance;
pub mod error;
pub mod eval;
pub mod extractive;
pub mod filter;
pub mod fusion;
pub mod hash;
pub mod key;
pub mod listen;
pub mod names;
pub mod parse;
pub mod playlist;
pub mod query;
pub mod recommend;
pub mod rerank;
pub mod summary;
pub mod track;
pub mod traits;

pub use ask::{AnswerEvent, AskRequest, AskResponse};
pub use engine::{Engine, IngestTimings, UpsertOutcome};
pub use error::{CoreError, FieldError, Result};
pub use filter::{Filter, Range};
pub use key::{Key, Mode};
pub use parse::ParsedQuery;
pub use query::{Hit, RetrievalType, SearchRequest, SearchResponse};
pub use track::{Metadata, Track};
pub use traits::{
    Candidate, Embedder, Generation, Generator, Known, Page, Store, StoreStats, StoredTrack,
    TokenUsage, Vocabulary,
};
