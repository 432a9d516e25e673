//! Keeping a catalog whole: restore a snapshot, verify and repair the data directory, export
//! every track in the import format, and re-embed every track with another model beside the
//! serving store. The embedded store's file operations refuse a PostgreSQL catalog (its own
//! tools back it up).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use music_rag_core::app::catalog::{Catalog, PAGE_MAX};
use music_rag_core::{Embedder, Engine, SnapshotManifest, Track};
use music_rag_store::maintenance::Check;
use music_rag_store::{Access, EmbeddedStore, WriterLock};
use serde::Serialize;
use serde_json::json;

use crate::error::{OpsError, Result};
use crate::open::EngineSettings;
use crate::progress::Progress;

/// A snapshot restored into the data directory.
#[derive(Debug, Serialize)]
pub struct Restored {
    /// The snapshot file restored (downloaded first when the source is object storage).
    pub restored: PathBuf,
    /// What was asked for: the file, or the `s3://` location.
    pub source: String,
    pub data_dir: PathBuf,
    pub tracks: usize,
    pub seconds: f64,
    pub manifest: SnapshotManifest,
}

/// Restores the snapshot `file` into the data directory (checked in full first; a directory
/// holding a catalog only with `force`), then rebuilds the keyword index.
pub fn restore(settings: &EngineSettings, file: &Path, force: bool) -> Result<Restored> {
    settings.require_embedded()?;
    let started = Instant::now();
    let dir = &settings.data_dir;
    let (store, manifest) =
        EmbeddedStore::restore(file, dir, force, None).map_err(OpsError::store(format!(
            "cannot restore {} into {}",
            file.display(),
            dir.display()
        )))?;
    let tracks = music_rag_core::Store::count(&store)?;
    Ok(Restored {
        restored: file.to_path_buf(),
        source: file.display().to_string(),
        data_dir: dir.clone(),
        tracks,
        seconds: started.elapsed().as_secs_f64(),
        manifest,
    })
}

/// Restores `file` into the data directory when it holds no catalog yet (a new volume, or a
/// restore a crash interrupted) and does nothing when it does: a server started with
/// `--restore-from` on every start restores once, and a restart never replaces what was
/// written since. Kubernetes' restore path (like Qdrant's snapshot recovery at start).
pub fn restore_at_start(settings: &EngineSettings, source: &str) -> Result<Option<Restored>> {
    settings.require_embedded()?;
    if EmbeddedStore::holds_catalog(&settings.data_dir) {
        return Ok(None);
    }
    restore_from(settings, source, false).map(Some)
}

/// [`restore`] from a file or from object storage (`s3://BUCKET/KEY.mrsnap`, or
/// `s3://BUCKET/PREFIX/` for the newest snapshot there), downloaded first into the data
/// directory's `snapshots/` folder and checked there like any snapshot.
pub fn restore_from(settings: &EngineSettings, source: &str, force: bool) -> Result<Restored> {
    if !crate::offsite::is_offsite(source) {
        return restore(settings, Path::new(source), force);
    }
    settings.require_embedded()?;
    if !force && EmbeddedStore::holds_catalog(&settings.data_dir) {
        // Refused before downloading anything, with the store's own message.
        return restore(settings, Path::new(source), force);
    }
    let remote = crate::offsite::OffsiteSnapshots::open(source)?;
    let file = crate::offsite::blocking(remote.download(&settings.data_dir.join("snapshots")))?;
    let mut restored = restore(settings, &file, force)?;
    restored.source = source.to_string();
    Ok(restored)
}

/// Every check of the data directory: database integrity, schema, model, vectors, keyword
/// index; each problem named.
pub fn verify(settings: &EngineSettings) -> Result<Vec<Check>> {
    settings.require_embedded()?;
    Ok(music_rag_store::maintenance::verify(
        &settings.data_dir,
        None,
    ))
}

/// Rebuilds the derived indexes from the source of truth (whatever their files' state), then
/// verifies.
pub fn repair(settings: &EngineSettings) -> Result<Vec<Check>> {
    settings.require_embedded()?;
    drop(
        EmbeddedStore::repair(&settings.data_dir, None).map_err(OpsError::store(format!(
            "cannot repair the store in {}",
            settings.data_dir.display()
        )))?,
    );
    verify(settings)
}

/// Writes every track as JSON lines in the import format (`ingest` reads it back), with each
/// track's vector and model when `with_vectors`. Returns how many were written.
pub fn export(
    catalog: &Catalog,
    model_id: &str,
    with_vectors: bool,
    out: &mut dyn Write,
) -> Result<usize> {
    let mut written = 0usize;
    let mut failed: Option<OpsError> = None;
    catalog
        .for_each_page(PAGE_MAX, |tracks| {
            for track in tracks {
                if let Err(e) = export_one(catalog, track, model_id, with_vectors, out) {
                    failed = Some(e);
                    return Err(music_rag_core::CoreError::Unavailable(
                        "export stopped".into(),
                    ));
                }
                written += 1;
            }
            Ok(())
        })
        .or_else(|e| failed.take().map_or(Err(e.into()), Err))?;
    out.flush().map_err(OpsError::io("writing the export"))?;
    Ok(written)
}

fn export_one(
    catalog: &Catalog,
    track: &Track,
    model_id: &str,
    with_vectors: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut value = serde_json::to_value(track)
        .map_err(|e| music_rag_core::CoreError::Internal(e.to_string()))?;
    if let Some(obj) = value.as_object_mut() {
        // The store sets these; an import sets its own.
        obj.remove("created_at");
        obj.remove("updated_at");
        if with_vectors {
            if let Some(v) = catalog.embedding(&track.id)? {
                obj.insert("embedding".into(), json!(v));
                obj.insert("embedding_model".into(), json!(model_id));
            }
        }
    }
    let line = serde_json::to_vec(&value)
        .map_err(|e| music_rag_core::CoreError::Internal(e.to_string()))?;
    out.write_all(&line)
        .and_then(|_| out.write_all(b"\n"))
        .map_err(OpsError::io("writing the export"))
}

/// What a re-embedding did.
#[derive(Debug, Serialize)]
pub struct Reindexed {
    pub model_id: String,
    pub dim: usize,
    pub tracks: usize,
    pub embedded: usize,
    /// Re-embedded by an earlier, interrupted run.
    pub unchanged: usize,
    /// Tracks deleted from the serving store since an interrupted run, removed from the new.
    pub removed: usize,
    pub seconds: f64,
    /// Whether the new store replaced the old one (it could not while a server holds it).
    pub switched: bool,
    /// Where the old store was kept, when switched.
    pub previous: Option<PathBuf>,
    /// Where the new store waits, when not switched.
    pub ready_in: Option<PathBuf>,
    /// Nothing to do: the store already holds vectors from this model.
    pub already_current: bool,
}

/// `DATA_DIR` with a suffix on its last component, beside it.
fn beside(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    dir.with_file_name(format!("{name}{suffix}"))
}

/// Re-embeds every track with the configured model into `DATA_DIR.reindex` while the old store
/// keeps serving (it is only read); a crash loses nothing and a re-run resumes. When complete
/// and no server holds the data directory, the new store replaces the old one, which is kept
/// as `DATA_DIR.before-reindex`.
pub fn reindex(settings: &EngineSettings, progress: &dyn Progress) -> Result<Reindexed> {
    let embedder = settings.load_model()?;
    let (model_id, dim) = (embedder.model_id().to_string(), embedder.dim());
    let data_dir = &settings.data_dir;
    let next_dir = beside(data_dir, ".reindex");
    let old = settings.open_embedded(None, Access::ReadOnly)?;
    let mut done = Reindexed {
        model_id: model_id.clone(),
        dim,
        tracks: 0,
        embedded: 0,
        unchanged: 0,
        removed: 0,
        seconds: 0.0,
        switched: false,
        previous: None,
        ready_in: None,
        already_current: false,
    };
    if old.model_id() == model_id && old.dim() == dim && !next_dir.exists() {
        done.already_current = true;
        return Ok(done);
    }
    let next =
        EmbeddedStore::open(&next_dir, Some((model_id.as_str(), dim)), Access::ReadWrite).map_err(
            OpsError::store(format!("cannot open {}", next_dir.display())),
        )?;
    let old = Catalog::new(Arc::new(old));
    let engine = Engine::new(Arc::new(embedder), Arc::new(next));
    done.tracks = old.count()?;
    progress.begin(done.tracks as u64, "re-embedding");
    let started = Instant::now();
    let mut kept = HashSet::new();
    old.for_each_page(64, |page| {
        let tracks: Vec<Track> = page
            .iter()
            .map(|t| {
                let mut t = (**t).clone();
                t.created_at = None;
                t.updated_at = None;
                kept.insert(t.id.clone());
                t
            })
            .collect();
        // Each batch is durable before the next: a re-run skips it as unchanged.
        let batch = engine.upsert(tracks)?;
        done.embedded += batch.embedded;
        done.unchanged += batch.unchanged;
        progress.advance(page.len() as u64);
        Ok(())
    })?;
    // Tracks deleted from the old store since an interrupted run.
    let new = engine.catalog();
    let mut gone = Vec::new();
    new.for_each_page(PAGE_MAX, |page| {
        gone.extend(
            page.iter()
                .filter(|t| !kept.contains(&t.id))
                .map(|t| t.id.clone()),
        );
        Ok(())
    })?;
    for id in &gone {
        new.delete(id)?;
    }
    done.removed = gone.len();
    progress.finish();
    done.seconds = started.elapsed().as_secs_f64();
    drop((engine, new, old));
    match WriterLock::acquire(data_dir) {
        Ok(lock) => {
            let kept_as = beside(data_dir, ".before-reindex");
            if kept_as.exists() {
                return Err(OpsError::Input {
                    what: kept_as.display().to_string(),
                    message: "exists from an earlier reindex; move it away and run reindex again"
                        .into(),
                });
            }
            std::fs::rename(data_dir, &kept_as)
                .map_err(OpsError::io(format!("cannot move {}", data_dir.display())))?;
            std::fs::rename(&next_dir, data_dir)
                .map_err(OpsError::io(format!("cannot move {}", next_dir.display())))?;
            drop(lock);
            done.switched = true;
            done.previous = Some(kept_as);
        }
        Err(e) => {
            progress.note(&e.to_string());
            done.ready_in = Some(next_dir);
        }
    }
    Ok(done)
}
