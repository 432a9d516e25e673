//! What every handler shares: the engine, the settings, and bounded blocking work.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use music_rag_core::Engine;
use tokio::sync::Semaphore;

use crate::auth::ApiKeys;
use crate::config::Settings;
use crate::error::{ApiError, ApiResult};
use music_rag_ops::scan::ScanStatus;
use music_rag_ops::snapshots::SnapshotFolder;
use music_rag_ops::users::Users;

pub type KeyedLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;
type AddrLimiter = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>;

/// Cover pictures kept in memory, at most this many bytes.
const COVER_CACHE_BYTES: usize = 32 << 20;

/// The music library a server serves (the Subsonic API, scans).
pub struct LibraryState {
    pub users: Users,
    pub scan: Arc<ScanStatus>,
    /// The music folders scanned and streamed from.
    pub folders: Vec<std::path::PathBuf>,
    /// What each listener plays now: track, client name, since when.
    now_playing: Mutex<HashMap<String, (String, String, std::time::Instant)>>,
    pub covers: crate::covers::CoverCache,
}

impl LibraryState {
    pub fn now_playing(&self, user: &str, track: &str, client: &str) {
        if let Ok(mut m) = self.now_playing.lock() {
            m.insert(
                user.to_string(),
                (
                    track.to_string(),
                    client.to_string(),
                    std::time::Instant::now(),
                ),
            );
        }
    }

    /// Who plays what, started within `within`: (user, track, client, minutes ago).
    pub fn playing_now(&self, within: std::time::Duration) -> Vec<(String, String, String, u64)> {
        let Ok(mut m) = self.now_playing.lock() else {
            return Vec::new();
        };
        m.retain(|_, (_, _, at)| at.elapsed() < within);
        let mut out: Vec<_> = m
            .iter()
            .map(|(u, (t, c, at))| (u.clone(), t.clone(), c.clone(), at.elapsed().as_secs() / 60))
            .collect();
        out.sort();
        out
    }
}

/// Scans the library's folders on a blocking thread, unless a scan already runs; progress is
/// in the library's scan status.
pub fn spawn_scan(state: &AppState) {
    let Some(library) = state.library.clone() else {
        return;
    };
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || run_scan(&engine, &library));
}

/// Scans the library's folders now; `false` when another scan was running.
fn run_scan(engine: &Engine, library: &LibraryState) -> bool {
    let options = music_rag_ops::scan::ScanOptions {
        analyse: true,
        force: false,
    };
    match music_rag_ops::scan::scan(
        engine,
        library.users.db(),
        &library.folders,
        options,
        &music_rag_ops::progress::NoProgress,
        Some(&library.scan),
    ) {
        Ok(r) => {
            tracing::info!(
                files = r.files,
                read = r.read,
                added = r.added,
                updated = r.updated,
                failed = r.failed.len(),
                vanished = r.vanished.len(),
                seconds = r.seconds,
                "library scan finished"
            );
            true
        }
        Err(music_rag_ops::OpsError::Input { what, .. }) if what == "scan" => false,
        Err(e) => {
            tracing::warn!(error = %e, "library scan failed");
            true
        }
    }
}

/// How long the folders must stay quiet after a change before the scan starts (a copy of an
/// album is many events).
const WATCH_QUIET: std::time::Duration = std::time::Duration::from_secs(2);

/// Watches the music folders (inotify on Linux, through `notify`) and scans them again once a
/// change has settled. Runs on its own thread for the life of the process; changes made while
/// a scan runs start another scan after it.
pub fn spawn_watch(state: &AppState) {
    use notify::{EventKind, RecursiveMode, Watcher};
    let Some(library) = state.library.clone() else {
        return;
    };
    let engine = state.engine.clone();
    std::thread::spawn(move || {
        let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = match notify::recommended_watcher(tx) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the music folders; scan with startScan");
                return;
            }
        };
        for folder in &library.folders {
            if let Err(e) = watcher.watch(folder, RecursiveMode::Recursive) {
                tracing::warn!(folder = %folder.display(), error = %e, "cannot watch a music folder");
            }
        }
        let is_change = |e: &notify::Result<notify::Event>| matches!(e, Ok(ev) if !matches!(ev.kind, EventKind::Access(_)));
        loop {
            match rx.recv() {
                Ok(e) if is_change(&e) => {}
                Ok(_) => continue,
                Err(_) => return,
            }
            while rx.recv_timeout(WATCH_QUIET).is_ok() {}
            tracing::info!("music folders changed: scanning");
            while !run_scan(&engine, &library) {
                std::thread::sleep(WATCH_QUIET);
            }
        }
    });
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub settings: Arc<Settings>,
    /// Bounds model inference and store scans running at once on blocking threads, so the
    /// async runtime never blocks and the CPU is not oversubscribed.
    pub blocking: Arc<Semaphore>,
    pub limiter: Arc<KeyedLimiter>,
    pub metrics: PrometheusHandle,
    /// Where uploaded audio files are kept.
    pub upload_dir: std::path::PathBuf,
    /// Where snapshots are written and listed.
    pub snapshots: SnapshotFolder,
    /// The catalog overview of `/v1/stats`, computed once per write sequence.
    pub overview: music_rag_ops::stats::OverviewCache,
    /// The API keys in force: set from the settings, swapped by a reload (SIGHUP, or a change
    /// of the keys file) so keys rotate without a restart.
    pub keys: Arc<std::sync::RwLock<ApiKeys>>,
    /// Folders whose files `/v1/tracks/{id}/audio` may stream (the upload folder always).
    pub audio_roots: Arc<Vec<std::path::PathBuf>>,
    /// Held while a snapshot is taken through the API: one at a time.
    pub snapshot_running: Arc<tokio::sync::Mutex<()>>,
    /// The music library: its users, scan and folders; none when the server runs without one.
    pub library: Option<Arc<LibraryState>>,
    /// What people search for (`MUSIC_RAG_QUERY_LOG`); in memory until `with_query_log`.
    pub query_log: Arc<music_rag_ops::query_log::QueryLog>,
    /// Failed authentications per client address (wrong or missing keys) ...
    auth_failures: Arc<AddrLimiter>,
    /// ... and the addresses refused until a time because they failed too often.
    auth_blocked: Arc<std::sync::Mutex<std::collections::HashMap<IpAddr, std::time::Instant>>>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, settings: Settings, upload_dir: std::path::PathBuf) -> Self {
        let c = &settings.config;
        let per_second =
            std::num::NonZeroU32::new(c.rate_limit_per_second).unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(c.rate_limit_burst).unwrap_or(per_second);
        let limiter = RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst));
        let keys = Arc::new(std::sync::RwLock::new(settings.keys.clone()));
        let auth_failures = std::num::NonZeroU32::new(c.auth_failures_per_minute)
            .unwrap_or(std::num::NonZeroU32::MIN);
        let query_log = Arc::new(music_rag_ops::query_log::QueryLog::open(
            c.query_log
                .parse()
                .unwrap_or(music_rag_ops::query_log::QueryLogMode::Counts),
            c.slow_query_ms,
            None,
        ));
        Self {
            engine,
            keys,
            blocking: Arc::new(Semaphore::new(c.max_concurrent_searches)),
            limiter: Arc::new(limiter),
            settings: Arc::new(settings),
            metrics: crate::metrics::handle(),
            snapshots: SnapshotFolder::new(upload_dir.with_file_name("snapshots")),
            audio_roots: Arc::new(vec![upload_dir.clone()]),
            overview: Default::default(),
            snapshot_running: Arc::default(),
            auth_failures: Arc::new(RateLimiter::keyed(
                Quota::per_minute(auth_failures).allow_burst(auth_failures),
            )),
            auth_blocked: Arc::default(),
            library: None,
            query_log,
            upload_dir,
        }
    }

    /// Keeps the query log in `data_dir` (loaded now, saved by [`spawn_query_log_saver`]).
    pub fn with_query_log(mut self, data_dir: &std::path::Path) -> Self {
        let c = &self.settings.config;
        self.query_log = Arc::new(music_rag_ops::query_log::QueryLog::open(
            c.query_log
                .parse()
                .unwrap_or(music_rag_ops::query_log::QueryLogMode::Counts),
            c.slow_query_ms,
            Some(data_dir),
        ));
        self
    }

    /// Counts a query the engine answered.
    pub fn record_query(&self, text: &str, route: &str, hits: usize, elapsed: std::time::Duration) {
        self.query_log
            .record(text, route, hits, elapsed.as_secs_f64() * 1e3);
    }

    /// Serves the music library with these users and music folders (whose files may then be
    /// streamed too).
    pub fn with_library(mut self, users: Users, folders: Vec<std::path::PathBuf>) -> Self {
        let mut roots: Vec<std::path::PathBuf> = self.audio_roots.as_ref().clone();
        roots.extend(folders.iter().cloned());
        self.audio_roots = Arc::new(roots);
        self.library = Some(Arc::new(LibraryState {
            users,
            scan: Arc::default(),
            folders,
            now_playing: Mutex::default(),
            covers: crate::covers::CoverCache::new(COVER_CACHE_BYTES),
        }));
        self
    }

    /// How long `ip` is still refused for failing authentication too often, if it is.
    pub fn auth_blocked_for(&self, ip: IpAddr) -> Option<std::time::Duration> {
        let blocked = self
            .auth_blocked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let until = *blocked.get(&ip)?;
        until.checked_duration_since(std::time::Instant::now())
    }

    /// Counts a failed authentication from `ip`; past the quota the address is refused for
    /// the returned time.
    pub fn note_auth_failure(&self, ip: IpAddr) -> Option<std::time::Duration> {
        use governor::clock::Clock;
        let not_until = self.auth_failures.check_key(&ip).err()?;
        let wait = not_until
            .wait_time_from(DefaultClock::default().now())
            .max(std::time::Duration::from_secs(1));
        let now = std::time::Instant::now();
        let mut blocked = self
            .auth_blocked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Bounded: expired entries go whenever one is added.
        blocked.retain(|_, until| *until > now);
        blocked.insert(ip, now + wait);
        Some(wait)
    }

    /// Snapshots go to `dir` (default: `snapshots` beside the upload folder).
    pub fn with_snapshot_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.snapshots = SnapshotFolder::new(dir);
        self
    }

    /// Puts new keys in force for every request from now on; refused (the old keys stay) when
    /// they would leave a non-loopback server without keys.
    pub fn replace_keys(&self, keys: ApiKeys) -> Result<usize, String> {
        let exposed =
            !self.settings.addr.ip().is_loopback() && !self.settings.config.allow_unauthenticated;
        if keys.is_empty() && exposed {
            return Err("the new configuration has no API keys on a non-loopback address; keeping the old keys".into());
        }
        let count = keys.len();
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = keys;
        Ok(count)
    }

    /// Audio files under these folders may be streamed too (the upload folder always may).
    pub fn with_audio_roots(mut self, roots: Vec<std::path::PathBuf>) -> Self {
        let mut all = vec![self.upload_dir.clone()];
        all.extend(roots);
        self.audio_roots = Arc::new(all);
        self
    }

    /// The real path of a track's audio file when it lies inside one of the audio folders;
    /// symbolic links and `..` are resolved first, so nothing outside them is ever served.
    pub fn playable_path(&self, audio_path: &str) -> Option<std::path::PathBuf> {
        let real = std::fs::canonicalize(audio_path).ok()?;
        let inside = self
            .audio_roots
            .iter()
            .filter_map(|root| std::fs::canonicalize(root).ok())
            .any(|root| real.starts_with(root));
        (inside && real.is_file()).then_some(real)
    }

    /// Reads the catalog on a blocking thread (a database store blocks on the network) without
    /// waiting for a search slot, so readiness and metrics answer while searches queue.
    pub async fn catalog_blocking<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&music_rag_core::app::catalog::Catalog) -> Result<T, music_rag_core::CoreError>
            + Send
            + 'static,
    {
        let catalog = self.engine.catalog();
        match tokio::task::spawn_blocking(move || f(&catalog)).await {
            Ok(r) => r.map_err(ApiError::from),
            Err(e) => Err(ApiError::from(music_rag_core::CoreError::Internal(
                format!("store task failed: {e}"),
            ))),
        }
    }

    /// Runs CPU-bound engine work on a blocking thread once a slot is free.
    pub async fn run_blocking<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, music_rag_core::CoreError> + Send + 'static,
    {
        self.run(f, false).await
    }

    /// [`Self::run_blocking`] for work that writes: from the moment it starts, the request
    /// timeout no longer cuts the request short, so a write is either answered with its
    /// outcome or, timed out before it started, not made at all (never written yet answered
    /// 408).
    pub async fn run_write<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, music_rag_core::CoreError> + Send + 'static,
    {
        self.run(f, true).await
    }

    /// [`Self::run_blocking`] (or, when it `writes`, [`Self::run_write`]) for a use case of
    /// the operations layer (`music_rag_ops`).
    pub async fn run_operation<T, F>(&self, writes: bool, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, music_rag_ops::OpsError> + Send + 'static,
    {
        self.run(f, writes).await
    }

    async fn run<T, E, F>(&self, f: F, writes: bool) -> ApiResult<T>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
        F: FnOnce(&Engine) -> Result<T, E> + Send + 'static,
    {
        let _permit = self.blocking.clone().acquire_owned().await.map_err(|_| {
            ApiError::from(music_rag_core::CoreError::Unavailable(
                "shutting down".into(),
            ))
        })?;
        if writes {
            crate::request::write_begins();
        }
        let engine = self.engine.clone();
        match tokio::task::spawn_blocking(move || f(&engine)).await {
            Ok(r) => r.map_err(Into::into),
            Err(e) => {
                tracing::error!(error = %e, "engine task failed");
                Err(ApiError::from(music_rag_core::CoreError::Internal(
                    format!("engine task failed: {e}"),
                )))
            }
        }
    }
}

/// Saves the query log every minute (and `save` once more at shutdown), off the runtime's
/// threads.
pub fn spawn_query_log_saver(state: &AppState) -> tokio::task::JoinHandle<()> {
    let log = state.query_log.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            let log = log.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || log.save()).await {
                tracing::warn!(error = %e, "cannot save the query log");
            }
        }
    })
}
