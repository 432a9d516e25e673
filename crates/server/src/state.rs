//! What every handler shares: the engine, the settings, and bounded blocking work.

use std::sync::Arc;

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use music_rag_core::Engine;
use tokio::sync::Semaphore;

use crate::config::Settings;
use crate::error::{ApiError, ApiResult};
use crate::snapshots::SnapshotFolder;

pub type KeyedLimiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

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
}

impl AppState {
    pub fn new(engine: Arc<Engine>, settings: Settings, upload_dir: std::path::PathBuf) -> Self {
        let c = &settings.config;
        let per_second =
            std::num::NonZeroU32::new(c.rate_limit_per_second).unwrap_or(std::num::NonZeroU32::MIN);
        let burst = std::num::NonZeroU32::new(c.rate_limit_burst).unwrap_or(per_second);
        let limiter = RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst));
        Self {
            engine,
            blocking: Arc::new(Semaphore::new(c.max_concurrent_searches)),
            limiter: Arc::new(limiter),
            settings: Arc::new(settings),
            metrics: crate::metrics::handle(),
            snapshots: SnapshotFolder::new(upload_dir.with_file_name("snapshots")),
            upload_dir,
        }
    }

    /// Snapshots go to `dir` (default: `snapshots` beside the upload folder).
    pub fn with_snapshot_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.snapshots = SnapshotFolder::new(dir);
        self
    }

    /// Runs CPU-bound engine work on a blocking thread once a slot is free.
    pub async fn run_blocking<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, music_rag_core::CoreError> + Send + 'static,
    {
        let _permit = self.blocking.clone().acquire_owned().await.map_err(|_| {
            ApiError::from(music_rag_core::CoreError::Unavailable(
                "shutting down".into(),
            ))
        })?;
        let engine = self.engine.clone();
        match tokio::task::spawn_blocking(move || f(&engine)).await {
            Ok(r) => r.map_err(ApiError::from),
            Err(e) => {
                tracing::error!(error = %e, "engine task failed");
                Err(ApiError::from(music_rag_core::CoreError::Internal(
                    format!("engine task failed: {e}"),
                )))
            }
        }
    }
}
