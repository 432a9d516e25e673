//! Opening the configured engine for a command: the operations layer's opening, with the
//! settings from the global options, and the model provider from the configuration layers.

use anyhow::Result;
use music_rag_core::app::catalog::Catalog;
use music_rag_core::Engine;
use music_rag_store::Access;

use crate::Global;

/// The catalog administration use cases, for commands that neither embed nor search.
pub fn open_catalog(g: &Global, access: Access) -> Result<Catalog> {
    Ok(g.engine_settings().open_catalog(access)?)
}

/// Loads the model and opens the catalog's store (PostgreSQL or the data directory).
pub fn open_engine(g: &Global, access: Access) -> Result<Engine> {
    Ok(g.engine_settings().open_engine(access)?)
}

/// The engine with the model provider from the configuration layers (file, environment), for
/// commands that answer, enhance or summarise (not `serve`, which reads all its settings).
pub fn engine_with_configured_provider(g: &Global) -> Result<Engine> {
    let file = std::env::var_os("MUSIC_RAG_CONFIG").map(std::path::PathBuf::from);
    let provider = crate::provider::configured(file)?;
    Ok(provider.attach(open_engine(g, Access::ReadOnly)?)?)
}
