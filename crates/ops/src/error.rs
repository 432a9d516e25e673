//! The operations layer's errors, by meaning. The server maps them to HTTP in one place
//! (`music_rag_server::error`), the CLI prints them.

use music_rag_core::CoreError;

pub type Result<T, E = OpsError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A setting is missing, contradicts another, or cannot be read; names the setting.
    #[error("{setting}: {message}")]
    Setting {
        setting: &'static str,
        message: String,
    },
    /// The command works on the embedded store's files and the catalog lives elsewhere.
    #[error("{0}")]
    NeedsEmbeddedStore(String),
    /// A catalog file that cannot be read as a whole (a bad row is a row's failure instead).
    #[error("{what}: {message}")]
    Input { what: String, message: String },
    /// A request holds more than a limit allows (413 over HTTP); names the field.
    #[error("{field}: {message}")]
    TooLarge {
        field: &'static str,
        message: String,
    },
    /// A file or folder the operation needs could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The embedded store refused or failed (locked, damaged, incompatible).
    #[error("{what}: {source}")]
    Store {
        what: String,
        #[source]
        source: music_rag_store::StoreError,
    },
    /// Object storage (an S3-compatible bucket) refused or failed a request; names the object.
    #[error("{what}: {message}")]
    Offsite { what: String, message: String },
    /// PostgreSQL could not be opened.
    #[error("cannot open the catalog in PostgreSQL (DATABASE_URL): {0}")]
    Database(String),
    /// The embedding model could not be loaded or fetched.
    #[error(transparent)]
    Model(#[from] music_rag_embed::EmbedError),
    /// What the application layer refused or failed at.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl OpsError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| OpsError::Io { what, source }
    }

    pub(crate) fn store(
        what: impl Into<String>,
    ) -> impl FnOnce(music_rag_store::StoreError) -> Self {
        let what = what.into();
        move |source| OpsError::Store { what, source }
    }
}
