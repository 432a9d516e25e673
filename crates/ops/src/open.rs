//! Opening the configured engine once, for every front end: which store holds the catalog
//! (PostgreSQL when a database URL is configured, else the embedded store in the data
//! directory), which embedding model, and which model provider for answers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use music_rag_core::app::catalog::Catalog;
use music_rag_core::{Embedder, Engine, Store};
use music_rag_embed::{default_model_dir, Backend, TextEmbedder};
use music_rag_llm::{OpenAiGenerator, ProviderConfig};
use music_rag_store::{Access, EmbeddedStore};
use music_rag_store_postgres::{PgOptions, PgStore};

use crate::error::{OpsError, Result};
use crate::replica::ReplicaStore;

/// Where the catalog lives and which embedding model reads it.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The embedded store's data directory (used when no database URL is set).
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: PostgreSQL (with pgvector) instead of the data directory.
    pub database_url: Option<String>,
    /// `DATABASE_URL_FILE`: a file holding the URL (a mounted secret).
    pub database_url_file: Option<PathBuf>,
    pub database_schema: String,
    pub database_pool_size: u32,
    /// The embedding model's folder; the user cache folder when not set.
    pub model_dir: Option<PathBuf>,
    pub embed_backend: Backend,
    /// With PostgreSQL: search a local copy of the catalog in the data directory, kept up to
    /// date by write sequence (a serving replica), instead of asking PostgreSQL to search.
    pub replica_copy: bool,
}

impl EngineSettings {
    /// The embedded store in `data_dir` with the default model folder and backend.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            database_url_file: None,
            database_schema: "public".into(),
            database_pool_size: 16,
            model_dir: None,
            embed_backend: Backend::default(),
            replica_copy: false,
        }
    }

    /// The database URL from `DATABASE_URL` or the file named by `DATABASE_URL_FILE`; none
    /// means the embedded store.
    pub fn database_url(&self) -> Result<Option<String>> {
        match (&self.database_url, &self.database_url_file) {
            (Some(_), Some(_)) => Err(OpsError::Setting {
                setting: "DATABASE_URL",
                message: "DATABASE_URL and DATABASE_URL_FILE are both set; keep one (the file \
                          for secrets)"
                    .into(),
            }),
            (Some(url), None) => Ok(Some(url.clone())),
            (None, Some(file)) => {
                let url = std::fs::read_to_string(file)
                    .map_err(|e| OpsError::Setting {
                        setting: "DATABASE_URL_FILE",
                        message: format!("cannot read {}: {e}", file.display()),
                    })?
                    .trim()
                    .to_string();
                if url.is_empty() {
                    return Err(OpsError::Setting {
                        setting: "DATABASE_URL_FILE",
                        message: format!("{} is empty", file.display()),
                    });
                }
                Ok(Some(url))
            }
            (None, None) => Ok(None),
        }
    }

    /// Whether the catalog lives in the data directory (not in PostgreSQL).
    pub fn is_embedded(&self) -> Result<bool> {
        Ok(self.database_url()?.is_none())
    }

    /// The folder the embedding model is read from.
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(default_model_dir)
    }

    /// Loads the embedding model.
    pub fn load_model(&self) -> Result<TextEmbedder> {
        Ok(TextEmbedder::load_with(
            &self.model_dir(),
            self.embed_backend,
        )?)
    }

    /// The configured store, opened: its port and the model its vectors come from. `model`
    /// (id, dimension) is what a new store is created for and an existing one is checked
    /// against.
    pub fn open_store(
        &self,
        model: Option<(&str, usize)>,
        access: Access,
    ) -> Result<(Arc<dyn Store>, String)> {
        if let Some(url) = self.database_url()? {
            let mut options = PgOptions::new(url);
            options.schema = self.database_schema.clone();
            options.pool_size = self.database_pool_size;
            // The URL may hold a password: the error names the setting, not its value.
            let open =
                || PgStore::open(&options, model).map_err(|e| OpsError::Database(e.to_string()));
            let store = open()?;
            let model_id = store.model_id().to_string();
            if !self.replica_copy {
                return Ok((Arc::new(store), model_id));
            }
            let dir = ReplicaStore::dir_for(&self.data_dir, &options.schema);
            return match ReplicaStore::open(store, &dir) {
                Ok(replica) => Ok((Arc::new(replica), model_id)),
                Err(e) => {
                    // Searching in PostgreSQL is slower but serves the same catalog.
                    tracing::warn!(error = %e, "no local copy of the catalog: PostgreSQL searches");
                    Ok((Arc::new(open()?), model_id))
                }
            };
        }
        let store = self.open_embedded(model, access)?;
        let model_id = store.model_id().to_string();
        Ok((Arc::new(store), model_id))
    }

    /// The embedded store in the data directory, for operations on its files (snapshots,
    /// restore, verify, repair, reindex); refused when the catalog lives in PostgreSQL.
    pub fn open_embedded(
        &self,
        model: Option<(&str, usize)>,
        access: Access,
    ) -> Result<EmbeddedStore> {
        self.require_embedded()?;
        EmbeddedStore::open(&self.data_dir, model, access).map_err(OpsError::store(format!(
            "cannot open the store in {}",
            self.data_dir.display()
        )))
    }

    /// Refuses operations on the data directory's files when the catalog lives in PostgreSQL.
    pub fn require_embedded(&self) -> Result<()> {
        if !self.is_embedded()? {
            return Err(OpsError::NeedsEmbeddedStore(
                "this command works on the embedded store's data directory, and DATABASE_URL \
                 points at PostgreSQL: back it up and restore it with PostgreSQL's tools \
                 (pg_dump, pg_restore), or move a catalog with `music-rag export \
                 --with-vectors` and `ingest`"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The engine: the model loaded and the store opened for it.
    pub fn open_engine(&self, access: Access) -> Result<Engine> {
        // The model's identity is in its configuration, so the store opens (seconds at a
        // million tracks) while the weights load and are packed on another thread.
        let (model_id, dim) = TextEmbedder::identity(&self.model_dir())?;
        let (embedder, store) = std::thread::scope(|scope| {
            let loading = scope.spawn(|| self.load_model());
            let store = self.open_store(Some((&model_id, dim)), access);
            let embedder = loading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (embedder, store)
        });
        let (embedder, (store, _)) = (embedder?, store?);
        debug_assert_eq!(
            (embedder.model_id(), embedder.dim()),
            (model_id.as_str(), dim)
        );
        Ok(Engine::new(Arc::new(embedder), store))
    }

    /// The catalog administration use cases, without loading a model.
    pub fn open_catalog(&self, access: Access) -> Result<Catalog> {
        Ok(Catalog::new(self.open_store(None, access)?.0))
    }
}

/// The model provider for answers, query enhancement and summaries (`OPENAI_BASE_URL`,
/// `OPENAI_MODEL`, `OPENAI_API_KEY`); offline when no base URL is set.
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub max_retries: u32,
}

impl ProviderSettings {
    /// Checks the settings as a provider would need them, naming the setting at fault.
    pub fn validate(&self) -> Result<()> {
        let Some(url) = self.base_url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(());
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(OpsError::Setting {
                setting: "llm_base_url (OPENAI_BASE_URL)",
                message: format!("{url:?} must be a URL like http://localhost:11434/v1"),
            });
        }
        if self.model.as_deref().unwrap_or("").trim().is_empty() {
            return Err(OpsError::Setting {
                setting: "llm_model (OPENAI_MODEL)",
                message: "must name the model when llm_base_url is set".into(),
            });
        }
        if self.timeout.is_zero() {
            return Err(OpsError::Setting {
                setting: "llm_timeout_seconds",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// `engine` with the configured provider, or unchanged when none is configured.
    pub fn attach(&self, engine: Engine) -> Result<Engine> {
        let Some(base_url) = self.base_url.clone().filter(|u| !u.is_empty()) else {
            return Ok(engine);
        };
        let mut provider = ProviderConfig::new(base_url, self.model.clone().unwrap_or_default());
        provider.api_key = self.api_key.clone();
        provider.timeout = self.timeout.max(Duration::from_secs(1));
        provider.max_retries = self.max_retries;
        let generator = OpenAiGenerator::new(provider)?;
        tracing::info!(model = ?self.model, "answers, enhancement and summaries use the configured model");
        Ok(engine.with_provider(Arc::new(generator)))
    }
}
