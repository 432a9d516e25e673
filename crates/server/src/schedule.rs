//! Scheduled snapshots while serving: the operations layer's snapshot-and-prune, every
//! `every`, on a blocking thread so queries are never held back; each copied to object storage
//! when `snapshot_upload` names a bucket.

use std::sync::Arc;
use std::time::Duration;

use music_rag_core::Engine;
use music_rag_ops::offsite::OffsiteSnapshots;
use music_rag_ops::snapshots::{take_and_prune, SnapshotFolder};

/// Takes a snapshot every `every` and keeps the newest `keep`, until the process ends; with
/// `upload`, copies each to the bucket and keeps the newest `keep` there too.
pub fn spawn_snapshots(
    engine: Arc<Engine>,
    folder: SnapshotFolder,
    every: Duration,
    keep: usize,
    upload: Option<OffsiteSnapshots>,
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
            let taken = match done {
                Ok(Ok((taken, pruned))) => {
                    tracing::info!(
                        name = %taken.name,
                        bytes = taken.bytes,
                        seconds = taken.seconds,
                        tracks = taken.manifest.tracks,
                        pruned = pruned.len(),
                        "scheduled snapshot written"
                    );
                    taken
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "scheduled snapshot failed");
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "scheduled snapshot task failed");
                    continue;
                }
            };
            if let Some(remote) = &upload {
                let started = std::time::Instant::now();
                match remote
                    .upload_and_prune(&taken.path, &taken.name, Some(keep))
                    .await
                {
                    Ok((copy, pruned)) => tracing::info!(
                        url = %copy.url,
                        bytes = copy.bytes,
                        seconds = started.elapsed().as_secs_f64(),
                        pruned = pruned.len(),
                        "scheduled snapshot copied to object storage"
                    ),
                    // The local snapshot stands; the next schedule uploads its own.
                    Err(e) => {
                        tracing::error!(error = %e, "copying the snapshot to object storage failed")
                    }
                }
            }
        }
    })
}
