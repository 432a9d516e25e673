//! Scheduled snapshots while serving: the operations layer's snapshot-and-prune, every
//! `every`, on a blocking thread so queries are never held back.

use std::sync::Arc;
use std::time::Duration;

use music_rag_core::Engine;
use music_rag_ops::snapshots::{take_and_prune, SnapshotFolder};

/// Takes a snapshot every `every` and keeps the newest `keep`, until the process ends.
pub fn spawn_snapshots(
    engine: Arc<Engine>,
    folder: SnapshotFolder,
    every: Duration,
    keep: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let (engine, folder) = (engine.clone(), folder.clone());
            let done = tokio::task::spawn_blocking(move || {
                take_and_prune(&folder, &engine.catalog(), keep)
            })
            .await;
            match done {
                Ok(Ok((taken, pruned))) => tracing::info!(
                    name = %taken.name,
                    bytes = taken.bytes,
                    seconds = taken.seconds,
                    tracks = taken.manifest.tracks,
                    pruned = pruned.len(),
                    "scheduled snapshot written"
                ),
                Ok(Err(e)) => tracing::error!(error = %e, "scheduled snapshot failed"),
                Err(e) => tracing::error!(error = %e, "scheduled snapshot task failed"),
            }
        }
    })
}
