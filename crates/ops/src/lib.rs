//! The operations layer: what both front ends (the HTTP server and the CLI) do to a catalog
//! beyond searching it, written once. Opening the configured engine (store, model, provider;
//! [`open`]), importing a catalog file or an audio folder with one report ([`import`],
//! [`audio_import`]), snapshots ([`snapshots`]) and their copies in object storage ([`offsite`]), restore, verify, repair, re-embedding and
//! export ([`maintenance`]), statistics ([`stats`]), a PostgreSQL replica's local copy of the catalog ([`replica`]), scanning music folders into the library
//! ([`scan`]), the library's users ([`users`]) and saved playlists ([`saved_playlists`]).
//!
//! Front ends parse their input, make one call here (or one call to the application layer in
//! `music_rag_core::app`), and render the result; this crate knows nothing of HTTP or of
//! terminals (progress is reported through [`Progress`]).

pub mod audio_import;
pub mod covers;
pub mod error;
pub mod import;
pub mod maintenance;
pub mod offsite;
pub mod open;
pub mod progress;
pub mod query_log;
pub mod reanalyse;
pub mod replica;
pub mod report;
pub mod saved_playlists;
pub mod scan;
pub mod snapshots;
pub mod stats;
pub mod users;

pub use error::{OpsError, Result};
pub use open::{EngineSettings, ProviderSettings};
pub use progress::Progress;
pub use report::{AudioTally, ImportFailure, ImportReport};
