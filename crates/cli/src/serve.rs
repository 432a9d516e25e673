//! `music-rag serve` and `music-rag config`: layered configuration and the HTTP server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use figment::providers::Serialized;
use music_rag_server::{AppState, ServerConfig, Settings};

use crate::Global;

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// TOML configuration file (default: music-rag.toml when it exists).
    #[arg(long, env = "MUSIC_RAG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to bind (API_HOST).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to bind (API_PORT); 0 picks a free one.
    #[arg(long)]
    pub port: Option<u16>,
    /// Allow serving a non-loopback address without API keys.
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// Take a snapshot this often while serving, e.g. 24h or 30m (MUSIC_RAG_SNAPSHOT_EVERY).
    #[arg(long)]
    pub snapshot_every: Option<String>,
    /// Scheduled snapshots to keep (MUSIC_RAG_SNAPSHOT_KEEP, default 7).
    #[arg(long)]
    pub snapshot_keep: Option<usize>,
    /// Copy each scheduled snapshot to object storage, s3://BUCKET/PREFIX/, keeping the newest
    /// --snapshot-keep there (MUSIC_RAG_SNAPSHOT_UPLOAD; credentials from the AWS_* variables).
    #[arg(long, value_name = "S3_URL")]
    pub snapshot_upload: Option<String>,
    /// A folder whose audio files the web page and `/v1/tracks/{id}/audio` may stream
    /// (repeatable; MUSIC_RAG_AUDIO_DIRS, comma-separated). The upload folder and DATA_DIR/audio
    /// always may.
    #[arg(long = "audio-dir", value_name = "DIR")]
    pub audio_dirs: Vec<PathBuf>,
    /// A music folder served as the library through the Subsonic API at /rest (repeatable;
    /// MUSIC_RAG_MUSIC_FOLDERS, comma-separated): scanned at start (tags, cover art, sound)
    /// and on `startScan`, read in place.
    #[arg(long = "music-folder", value_name = "DIR")]
    pub music_folders: Vec<PathBuf>,
    /// Watch the music folders and scan again when files change (MUSIC_RAG_WATCH_FOLDERS).
    #[arg(long)]
    pub watch: bool,
    /// PEM certificate chain: serve HTTPS with it (MUSIC_RAG_TLS_CERT_FILE); reloaded on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key (MUSIC_RAG_TLS_KEY_FILE).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Restore this snapshot before serving when the data directory holds no catalog yet (a
    /// new volume; an interrupted restore is finished); skipped when it does, so it can stay
    /// set across restarts (MUSIC_RAG_RESTORE_FROM; the embedded store only). A file, or
    /// s3://BUCKET/KEY.mrsnap, or s3://BUCKET/PREFIX/ for the newest snapshot there.
    #[arg(long, value_name = "FILE|S3_URL", env = "MUSIC_RAG_RESTORE_FROM")]
    pub restore_from: Option<String>,
}

/// The original service's environment variable names and the settings they set.
const ORIGINAL_ENV: &[(&str, &str)] = &[
    ("API_HOST", "host"),
    ("API_PORT", "port"),
    ("API_KEY", "api_key"),
    ("LOG_LEVEL", "log_level"),
    ("LOG_FORMAT", "log_format"),
    ("MAX_BATCH_SIZE", "max_batch_size"),
    ("ENVIRONMENT", "environment"),
    ("CORS_ORIGINS", "cors_origins"),
    ("OPENAI_BASE_URL", "llm_base_url"),
    ("OPENAI_MODEL", "llm_model"),
    ("OPENAI_API_KEY", "llm_api_key"),
];

/// Settings a `MUSIC_RAG_*` variable may set: every field of [`ServerConfig`], read off its
/// structure so a new setting gets its variable without a list to keep (others, like
/// MUSIC_RAG_DATA_DIR, are not server settings).
fn prefixed_settings() -> Vec<String> {
    serde_json::to_value(ServerConfig::default())
        .ok()
        .and_then(|v| v.as_object().map(|fields| fields.keys().cloned().collect()))
        .unwrap_or_default()
}

/// Defaults, then the TOML file, then environment variables, then flags.
pub fn load_config(args: &ServeArgs) -> Result<ServerConfig> {
    let settings = prefixed_settings();
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut fig = crate::layers::layered(
        ServerConfig::default(),
        args.config.clone(),
        ORIGINAL_ENV,
        &settings,
    )?;
    if let Some(h) = &args.host {
        fig = fig.merge(Serialized::default("host", h));
    }
    if let Some(p) = args.port {
        fig = fig.merge(Serialized::default("port", p));
    }
    if args.allow_unauthenticated {
        fig = fig.merge(Serialized::default("allow_unauthenticated", true));
    }
    if let Some(e) = &args.snapshot_every {
        fig = fig.merge(Serialized::default("snapshot_every", e));
    }
    if let Some(k) = args.snapshot_keep {
        fig = fig.merge(Serialized::default("snapshot_keep", k));
    }
    if let Some(u) = &args.snapshot_upload {
        fig = fig.merge(Serialized::default("snapshot_upload", u));
    }
    if let Some(f) = &args.tls_cert {
        fig = fig.merge(Serialized::default(
            "tls_cert_file",
            f.display().to_string(),
        ));
    }
    if let Some(f) = &args.tls_key {
        fig = fig.merge(Serialized::default("tls_key_file", f.display().to_string()));
    }
    if !args.audio_dirs.is_empty() {
        let dirs: Vec<String> = args
            .audio_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        fig = fig.merge(Serialized::default("audio_dirs", dirs.join(",")));
    }
    if args.watch {
        fig = fig.merge(Serialized::default("watch_folders", true));
    }
    if !args.music_folders.is_empty() {
        let dirs: Vec<String> = args
            .music_folders
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        fig = fig.merge(Serialized::default("music_folders", dirs.join(",")));
    }
    let mut config: ServerConfig = fig
        .extract()
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    secrets_from_files(&mut config)?;
    // Cloud Run and similar platforms say which port to listen on in PORT.
    if args.port.is_none()
        && std::env::var_os("API_PORT").is_none()
        && std::env::var_os("MUSIC_RAG_PORT").is_none()
    {
        if let Some(port) = std::env::var("PORT").ok().filter(|p| !p.is_empty()) {
            config.port = port.parse().map_err(|_| {
                anyhow::anyhow!("invalid setting PORT: {port:?} is not a port number (0-65535)")
            })?;
        }
    }
    Ok(config)
}

/// Secrets as Docker and Kubernetes mount them: `NAME_FILE` names a file holding the value.
const SECRET_FILES: &[(&str, &[&str])] = &[
    ("API_KEY_FILE", &["API_KEY", "MUSIC_RAG_API_KEY"]),
    ("MUSIC_RAG_API_KEYS_FILE", &["MUSIC_RAG_API_KEYS"]),
    (
        "OPENAI_API_KEY_FILE",
        &["OPENAI_API_KEY", "MUSIC_RAG_LLM_API_KEY"],
    ),
];

/// The file a secret is read from, when one is configured.
pub fn keys_file() -> Option<PathBuf> {
    std::env::var_os("MUSIC_RAG_API_KEYS_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn secrets_from_files(config: &mut ServerConfig) -> Result<()> {
    for (file_var, direct) in SECRET_FILES {
        let Some(path) = std::env::var_os(file_var).filter(|v| !v.is_empty()) else {
            continue;
        };
        if let Some(both) = direct
            .iter()
            .find(|d| std::env::var_os(d).is_some_and(|v| !v.is_empty()))
        {
            anyhow::bail!("invalid setting {file_var}: {both} is set too; set one of them");
        }
        let value = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "invalid setting {file_var}: cannot read {}: {e}",
                std::path::Path::new(&path).display()
            )
        })?;
        let secret = Some(music_rag_server::config::Secret::new(value.trim()));
        match *file_var {
            "API_KEY_FILE" => config.api_key = secret,
            "MUSIC_RAG_API_KEYS_FILE" => config.api_keys = secret,
            _ => config.llm_api_key = secret,
        }
    }
    Ok(())
}

/// Reloads the API keys on SIGHUP and when the keys file changes (checked every 2 s), so an
/// old and a new key can both work during a rotation, then the old one is removed, all
/// without a restart; SIGHUP also reloads the TLS certificate (new handshakes get it, open
/// connections keep theirs). A configuration or certificate that no longer loads keeps the
/// old one in force.
fn spawn_reload(
    state: AppState,
    args: ServeArgs,
    tls: Option<Arc<music_rag_server::tls::Certificates>>,
) {
    let file = keys_file();
    let stamp = |f: &PathBuf| {
        std::fs::metadata(f)
            .ok()
            .map(|m| (m.modified().ok(), m.len()))
    };
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = file.as_ref().and_then(stamp);
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            #[cfg(unix)]
            let signalled = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await.is_some(),
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<bool>();
            let why = tokio::select! {
                true = signalled => {
                    if let Some(certificates) = &tls {
                        match certificates.reload() {
                            Ok(()) => tracing::info!("TLS certificate reloaded"),
                            Err(e) => tracing::warn!("TLS certificate not reloaded, the old one stays: {e}"),
                        }
                    }
                    "SIGHUP"
                }
                _ = tick.tick() => {
                    let now = file.as_ref().and_then(stamp);
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    "the keys file changed"
                }
            };
            match load_config(&args).and_then(|c| Ok(c.validate()?)) {
                Ok(settings) => match state.replace_keys(settings.keys) {
                    Ok(count) => tracing::info!(keys = count, reason = why, "API keys reloaded"),
                    Err(e) => tracing::warn!(reason = why, "API keys not reloaded: {e}"),
                },
                Err(e) => tracing::warn!(
                    reason = why,
                    "API keys not reloaded, the old keys stay: {e:#}"
                ),
            }
        }
    });
}

fn init_logging(
    config: &ServerConfig,
    cli_level: &str,
) -> tracing_appender::non_blocking::WorkerGuard {
    // LOG_LEVEL set through the flag wins over the file; otherwise the configured level.
    let level = if cli_level != "warn" {
        cli_level
    } else {
        config.log_level.as_str()
    };
    crate::logging::init_server(level, config.json_logs())
}

pub fn print_config(g: &Global, args: &ServeArgs) -> Result<ExitCode> {
    crate::init_cli_logging(&g.log_level);
    let config = load_config(args)?;
    let checked = config.validate();
    // What `serve` checks before listening, beyond the settings themselves: one database URL,
    // and TLS files that load.
    let problem = match &checked {
        Err(e) => Some(e.to_string()),
        Ok(settings) => g
            .engine_settings()
            .database_url()
            .err()
            .map(|e| e.to_string())
            .or_else(|| {
                let (cert, key) = settings.config.tls_files()?;
                music_rag_server::tls::Certificates::load(&cert, &key)
                    .err()
                    .map(|e| format!("TLS: {e:#}"))
            }),
    };
    let masked = config.masked();
    if g.json {
        outln!(
            "{}",
            serde_json::json!({"config": masked, "valid": problem.is_none(), "problem": problem})
        );
    } else {
        outln!("{}", toml_text(&masked).trim_end());
        match (&checked, &problem) {
            (Ok(settings), None) => eprintln!(
                "this configuration would start, serving {}://{}",
                if settings.config.tls_files().is_some() {
                    "https"
                } else {
                    "http"
                },
                settings.addr
            ),
            (_, Some(p)) => eprintln!("this configuration will not start: {p}"),
            (Err(p), None) => eprintln!("this configuration will not start: {p}"),
        }
    }
    Ok(if problem.is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn toml_text(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for (k, v) in value.as_object().into_iter().flatten() {
        if !v.is_null() {
            out.push_str(&format!("{k} = {v}\n"));
        }
    }
    out
}

pub fn serve(g: &Global, args: &ServeArgs) -> Result<ExitCode> {
    let config = load_config(args)?;
    let _log_flush = init_logging(&config, &g.log_level);
    let settings: Settings = config.validate()?;
    let started = Instant::now();
    if let Some(file) = &args.restore_from {
        match music_rag_ops::maintenance::restore_at_start(&g.engine_settings(), file)
            .with_context(|| format!("--restore-from {file}"))?
        {
            Some(r) => tracing::info!(
                snapshot = %r.source,
                tracks = r.tracks,
                seconds = r.seconds,
                "restored the snapshot into the empty data directory"
            ),
            None => tracing::info!(
                snapshot = %file,
                "the data directory holds a catalog: not restoring"
            ),
        }
    }
    let engine = settings.config.provider().attach({
        let mut engine_settings = g.engine_settings();
        engine_settings.replica_copy = settings.config.replica_copy;
        engine_settings.open_engine(music_rag_store::Access::ReadWrite)?
    })?;
    // Build the vocabulary now so the first query does not pay for it.
    engine.parse("warm up")?;
    // Read here, not on the runtime's threads: a database store blocks on the network.
    let tracks = engine.catalog().count()?;
    let engine = Arc::new(engine);
    // Dropped after the runtime: the PostgreSQL client blocks on a runtime of its own when its
    // connections close, which panics on one of the server's threads (it did at every SIGTERM
    // once the tasks holding the last reference were dropped there).
    let engine_outlives_runtime = engine.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let tls = settings
        .config
        .tls_files()
        .map(|(cert, key)| music_rag_server::tls::Certificates::load(&cert, &key))
        .transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.addr))?;
        let addr = listener.local_addr()?;
        let upload_dir = settings
            .config
            .upload_dir
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(|| g.data_dir.join("uploads"));
        let snapshot_dir = settings
            .config
            .snapshot_dir
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(|| g.data_dir.join("snapshots"));
        let upload = settings
            .config
            .snapshot_upload
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(music_rag_ops::offsite::OffsiteSnapshots::open)
            .transpose()
            .context("snapshot_upload (MUSIC_RAG_SNAPSHOT_UPLOAD)")?;
        let schedule = settings
            .snapshot_every
            .map(|every| (every, settings.config.snapshot_keep));
        let mut audio_roots = vec![g.data_dir.join("audio")];
        audio_roots.extend(
            settings.config.audio_dirs.iter().flat_map(|d| d.split(',')).map(str::trim)
                .filter(|d| !d.is_empty()).map(PathBuf::from),
        );
        let music_folders = settings.config.music_folder_list();
        for folder in &music_folders {
            anyhow::ensure!(
                folder.is_dir(),
                "--music-folder / MUSIC_RAG_MUSIC_FOLDERS: {} is not a readable folder",
                folder.display()
            );
        }
        let users = music_rag_ops::users::open_users(
            &g.data_dir,
            g.engine_settings().is_embedded()?,
            settings.config.secret_key_file.as_ref().map(PathBuf::from).as_ref(),
        )?;
        let scan_on_start = settings.config.scan_on_start && !music_folders.is_empty();
        let watch = settings.config.watch_folders && !music_folders.is_empty();
        let state = AppState::new(engine, settings, upload_dir)
            .with_snapshot_dir(snapshot_dir)
            .with_audio_roots(audio_roots)
            .with_library(users, music_folders)
            .with_query_log(&g.data_dir);
        music_rag_server::state::spawn_query_log_saver(&state);
        if scan_on_start {
            music_rag_server::state::spawn_scan(&state);
        }
        if watch {
            music_rag_server::state::spawn_watch(&state);
        }
        sweep_unfinished(&state);
        // Snapshots are the embedded store's backups (PostgreSQL is backed up by its tools).
        if g.engine_settings().is_embedded()? {
            state.snapshots.export_state();
        }
        if let Some((every, keep)) = schedule {
            tracing::info!(?every, keep, dir = %state.snapshots.dir().display(), upload = ?upload.as_ref().map(|u| u.location().to_string()), "snapshots scheduled");
            if let Some(remote) = upload.clone() {
                tokio::spawn(async move { remote.export_state().await });
            }
            music_rag_server::schedule::spawn_snapshots(
                state.engine.clone(),
                state.snapshots.clone(),
                every,
                keep,
                upload,
            );
        }
        spawn_reload(state.clone(), args.clone(), tls.clone());
        tracing::info!(
            %addr,
            ready_ms = started.elapsed().as_millis() as u64,
            web_page = %format!("{scheme}://{addr}/ui"),
            version = env!("CARGO_PKG_VERSION"),
            store_schema = state.engine.catalog().schema_version(),
            tracks,
            settings = %state.settings.config.masked(),
            "music-rag listening"
        );
        // Scripts and tests read the bound address from this line.
        outln!("listening on {scheme}://{addr}");
        let query_log = state.query_log.clone();
        music_rag_server::serve(listener, state, tls, music_rag_server::shutdown_signal()).await?;
        if let Err(e) = query_log.save() {
            tracing::warn!(error = %e, "cannot save the query log");
        }
        tracing::info!("stopped cleanly");
        anyhow::Ok(())
    })?;
    // Work still running on blocking threads after the grace period (a long batch being
    // embedded) is not waited for: the process ends now. Such a write has not committed (a
    // batch commits in one transaction after its embedding), or commits atomically; a client
    // retrying it is safe, since upserts are idempotent.
    runtime.shutdown_timeout(Duration::from_millis(200));
    drop(engine_outlives_runtime);
    Ok(ExitCode::SUCCESS)
}

/// Removes what killed writers left in the server's folders: unfinished snapshots and uploads
/// (a file still being written holds its lock and is left alone).
fn sweep_unfinished(state: &AppState) {
    let mut removed = music_rag_store::maintenance::sweep_partial_snapshots(state.snapshots.dir());
    removed.extend(music_rag_store::partial::sweep(&state.upload_dir, |n| {
        n.starts_with(music_rag_server::api::audio_api::UPLOAD_TEMP_PREFIX)
    }));
    for path in &removed {
        tracing::info!(path = %path.display(), "removed an unfinished file left by an interrupted snapshot or upload");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_setting_has_a_prefixed_variable() {
        let settings = prefixed_settings();
        for name in [
            "host",
            "api_keys",
            "max_connections",
            "llm_api_key",
            "snapshot_dir",
            "tls_key_file",
        ] {
            assert!(settings.iter().any(|s| s == name), "{name}: {settings:?}");
        }
        // Every original variable names a setting the structure has.
        for (_, field) in ORIGINAL_ENV {
            assert!(settings.iter().any(|s| s == field), "{field}");
        }
    }
}
