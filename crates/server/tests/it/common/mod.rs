//! The application state the server's in-process suites run on: the real embedded store in a
//! temporary directory behind a deterministic hashing embedder.

use std::sync::Arc;

use music_rag_core::testing::HashingEmbedder;
use music_rag_core::Engine;
use music_rag_server::config::ServerConfig;
use music_rag_server::state::AppState;
use music_rag_store::{Access, EmbeddedStore};

/// The state for `config` over a fresh store; the directory lives as long as the guard.
pub fn hashing_state(config: ServerConfig) -> (tempfile::TempDir, AppState) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(
        dir.path(),
        Some(("hashing-test-embedder", 64)),
        Access::ReadWrite,
    )
    .unwrap();
    let engine = Arc::new(Engine::new(
        Arc::new(HashingEmbedder::new(64)),
        Arc::new(store),
    ));
    let state = AppState::new(
        engine,
        config.validate().unwrap(),
        dir.path().join("uploads"),
    );
    (dir, state)
}
