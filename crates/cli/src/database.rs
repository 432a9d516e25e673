//! Which store holds the catalog: PostgreSQL when a database URL is configured, else the
//! embedded store in the data directory.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use music_rag_core::Store;
use music_rag_store::{Access, EmbeddedStore};
use music_rag_store_postgres::{PgOptions, PgStore};

use crate::Global;

/// The database URL from `--database-url`/`DATABASE_URL` or the file named by
/// `--database-url-file`/`DATABASE_URL_FILE`; none means the embedded store.
pub fn database_url(g: &Global) -> Result<Option<String>> {
    match (&g.database_url, &g.database_url_file) {
        (Some(_), Some(_)) => bail!(
            "DATABASE_URL and DATABASE_URL_FILE are both set; keep one (the file for secrets)"
        ),
        (Some(url), None) => Ok(Some(url.clone())),
        (None, Some(file)) => {
            let url = std::fs::read_to_string(file)
                .with_context(|| format!("DATABASE_URL_FILE: cannot read {}", file.display()))?
                .trim()
                .to_string();
            if url.is_empty() {
                bail!("DATABASE_URL_FILE: {} is empty", file.display());
            }
            Ok(Some(url))
        }
        (None, None) => Ok(None),
    }
}

/// The configured store, opened: its port and the model its vectors come from.
pub fn open(
    g: &Global,
    model: Option<(&str, usize)>,
    access: Access,
) -> Result<(Arc<dyn Store>, String)> {
    if let Some(url) = database_url(g)? {
        let mut options = PgOptions::new(url);
        options.schema = g.database_schema.clone();
        options.pool_size = g.database_pool_size;
        let store = PgStore::open(&options, model).map_err(|e| {
            // The URL may hold a password: name the setting, not its value.
            anyhow::anyhow!("cannot open the catalog in PostgreSQL (DATABASE_URL): {e}")
        })?;
        let model_id = store.model_id().to_string();
        return Ok((Arc::new(store), model_id));
    }
    let store = embedded(g, model, access)?;
    let model_id = store.model_id().to_string();
    Ok((Arc::new(store), model_id))
}

/// The embedded store in the data directory, for commands that work on its files (backup,
/// restore, verify, repair, reindex); refused when the catalog lives in PostgreSQL.
pub fn embedded(g: &Global, model: Option<(&str, usize)>, access: Access) -> Result<EmbeddedStore> {
    require_embedded(g)?;
    EmbeddedStore::open(&g.data_dir, model, access)
        .with_context(|| format!("cannot open the store in {}", g.data_dir.display()))
}

/// Refuses commands on the data directory's files when the catalog lives in PostgreSQL.
pub fn require_embedded(g: &Global) -> Result<()> {
    if database_url(g)?.is_some() {
        bail!(
            "this command works on the embedded store's data directory, and DATABASE_URL points \
             at PostgreSQL: back it up and restore it with PostgreSQL's tools (pg_dump, \
             pg_restore), or move a catalog with `music-rag export --with-vectors` and `ingest`"
        );
    }
    Ok(())
}
