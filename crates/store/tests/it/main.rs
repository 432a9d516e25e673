//! The embedded store's integration tests in one binary: the engine over the real store,
//! recovery after crashes, damaged files, and the vector index.

mod app;
mod common;
mod recovery;
mod safety;
mod state_file;
mod vector_index;
