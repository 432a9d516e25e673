//! Keeping a catalog safe: backup, restore, verify, repair, reindex and export (each one call
//! to the operations layer; `backup --server` is a client of a running server's admin API).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use std::sync::Arc;

use music_rag_core::app::catalog::Catalog;
use music_rag_ops::maintenance;
use music_rag_ops::offsite::{self, OffsiteSnapshot, OffsiteSnapshots};
use music_rag_ops::snapshots::SnapshotFolder;
use music_rag_store::maintenance::Check;
use music_rag_store::Access;
use serde_json::json;

use crate::Global;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Snapshot file to write (default: a new file in the data directory's snapshots/); with
    /// --server, a folder (or file) to download the snapshot into (default: snapshots/). Or
    /// object storage, s3://BUCKET/PREFIX/: the snapshot is uploaded there (credentials and
    /// endpoint from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL…)
    /// and not kept on this disk.
    #[arg(long, value_name = "PATH|S3_URL")]
    pub to: Option<PathBuf>,
    /// Back up a running server over its admin API instead of a local data directory: take a
    /// snapshot there, download it, then delete it there. The admin key comes from --api-key,
    /// API_KEY or the file in API_KEY_FILE.
    #[arg(long, value_name = "URL", env = "MUSIC_RAG_SERVER")]
    pub server: Option<String>,
    /// Admin key for --server.
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Keep only the newest N snapshots at the destination (the folder, or the bucket's prefix);
    /// older `snapshot-*` ones are deleted.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
    /// With an https:// --server: trust the certificates in this PEM file (a private CA, or a
    /// self-signed certificate) instead of the built-in public roots, as `curl --cacert`
    /// does. `SSL_CERT_FILE` is read when this is not given.
    #[arg(
        long,
        value_name = "PEM",
        env = "MUSIC_RAG_CA_CERT_FILE",
        requires = "server"
    )]
    pub cacert: Option<PathBuf>,
}

/// The TLS an https:// `--server` is checked with: trusting the PEM file named by `--cacert`
/// (or `SSL_CERT_FILE`) when there is one, else ureq's built-in public roots.
fn server_tls(args: &BackupArgs) -> Result<Option<Arc<rustls::ClientConfig>>> {
    let Some(file) = args
        .cacert
        .clone()
        .or_else(|| std::env::var_os("SSL_CERT_FILE").map(PathBuf::from))
    else {
        return Ok(None);
    };
    crate::tls_client::trusting(&file)
        .map(Some)
        .context("--cacert (or SSL_CERT_FILE)")
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot file written by `backup` or the admin API; or one in object storage,
    /// s3://BUCKET/KEY.mrsnap, or s3://BUCKET/PREFIX/ for the newest snapshot there.
    #[arg(value_name = "FILE|S3_URL")]
    pub file: String,
    /// Replace the catalog the data directory already holds.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Include each track's vector (and the model that computed it), so `ingest` of the
    /// export needs no re-embedding.
    #[arg(long)]
    pub with_vectors: bool,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

pub fn backup(g: &Global, args: &BackupArgs) -> Result<ExitCode> {
    if let Some(server) = &args.server {
        return backup_server(g, server, args);
    }
    let offsite = offsite_destination(args)?;
    let settings = g.engine_settings();
    let store = settings.open_embedded(None, Access::ReadOnly)?;
    let folder = SnapshotFolder::new(g.data_dir.join("snapshots"));
    let to = if offsite.is_some() {
        None
    } else {
        args.to.as_deref()
    };
    let taken = folder.take(&Catalog::new(Arc::new(store)), to)?;
    if let Some(remote) = offsite {
        let uploaded = upload(
            &remote,
            &taken.path,
            &taken.name,
            args.keep.map(|k| k as usize),
        );
        // The local copy was only the way there; it stays when the upload failed.
        if uploaded.is_ok() {
            let _ = std::fs::remove_file(&taken.path);
        }
        let (copy, pruned) = uploaded?;
        if g.json {
            outln!(
                "{}",
                json!({"url": copy.url, "bytes": copy.bytes, "seconds": taken.seconds, "manifest": taken.manifest, "pruned": pruned})
            );
        } else {
            outln!(
                "uploaded {} ({} tracks, write {}, {:.1} MB){}",
                copy.url,
                taken.manifest.tracks,
                taken.manifest.sequence,
                copy.bytes as f64 / 1e6,
                pruned_note(&pruned)
            );
            outln!("{}", what_a_snapshot_holds(&taken.manifest));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let pruned = match (args.keep.map(|k| k as usize), to) {
        (Some(keep), None) => folder.prune(keep)?,
        _ => Vec::new(),
    };
    if g.json {
        let mut out = serde_json::to_value(&taken)?;
        out["pruned"] = json!(pruned);
        outln!("{out}");
    } else {
        outln!(
            "wrote {} ({} tracks, write {}, {:.1} MB) in {:.2} s",
            taken.path.display(),
            taken.manifest.tracks,
            taken.manifest.sequence,
            taken.bytes as f64 / 1e6,
            taken.seconds
        );
        if !pruned.is_empty() {
            outln!("removed {} older", pruned.len());
        }
        outln!("{}", what_a_snapshot_holds(&taken.manifest));
    }
    Ok(ExitCode::SUCCESS)
}

/// The bucket `--to s3://…` names, if it does.
fn offsite_destination(args: &BackupArgs) -> Result<Option<OffsiteSnapshots>> {
    let Some(to) = args.to.as_deref().and_then(|t| t.to_str()) else {
        return Ok(None);
    };
    if !offsite::is_offsite(to) {
        return Ok(None);
    }
    let remote = OffsiteSnapshots::open(to).context("--to")?;
    anyhow::ensure!(
        remote.location().object.is_none(),
        "--to {to}: name a bucket and prefix (s3://BUCKET/PREFIX/); the snapshot keeps its own name"
    );
    Ok(Some(remote))
}

fn upload(
    remote: &OffsiteSnapshots,
    file: &std::path::Path,
    name: &str,
    keep: Option<usize>,
) -> Result<(OffsiteSnapshot, Vec<String>)> {
    Ok(offsite::blocking(
        remote.upload_and_prune(file, name, keep),
    )?)
}

fn pruned_note(pruned: &[String]) -> String {
    if pruned.is_empty() {
        String::new()
    } else {
        format!("; removed {} older", pruned.len())
    }
}

/// `backup --server`: snapshot, download (to a temporary name, renamed when complete), delete
/// on the server, prune the destination folder. With `--to s3://…` the download goes to the
/// temporary folder (TMPDIR) and on to the bucket; the server's copy is deleted only once the
/// bucket holds it.
fn backup_server(g: &Global, server: &str, args: &BackupArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let offsite = offsite_destination(args)?;
    let base = server.trim_end_matches('/');
    let key = match (&args.api_key, std::env::var_os("API_KEY_FILE")) {
        (Some(k), _) => k.clone(),
        (None, Some(file)) => std::fs::read_to_string(&file)
            .with_context(|| {
                format!(
                    "API_KEY_FILE: cannot read {}",
                    PathBuf::from(&file).display()
                )
            })?
            .trim()
            .to_string(),
        (None, None) => {
            anyhow::bail!("--server needs an admin key: --api-key, API_KEY or API_KEY_FILE")
        }
    };
    let mut agent = ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(10));
    if let Some(tls) = server_tls(args)? {
        agent = agent.tls_config(tls);
    }
    let agent = agent.build();
    let refused = |what: &str, e: ureq::Error| match e {
        ureq::Error::Status(code, r) => anyhow::anyhow!(
            "{what}: the server answered {code}: {}",
            r.into_string().unwrap_or_default()
        ),
        other => anyhow::anyhow!("{what}: cannot reach {base}: {other}"),
    };
    let taken: serde_json::Value = agent
        .post(&format!("{base}/v1/admin/snapshots"))
        .set("X-API-Key", &key)
        .call()
        .map_err(|e| refused("taking a snapshot", e))?
        .into_json()?;
    let name = taken["name"]
        .as_str()
        .context("the server's snapshot answer has no name")?
        .to_string();
    let to = match &offsite {
        Some(_) => std::env::temp_dir().join("music-rag-backup"),
        None => args
            .to
            .clone()
            .unwrap_or_else(|| PathBuf::from("snapshots")),
    };
    let (dir, file) = if to.extension().is_some_and(|e| e == "mrsnap") {
        (
            to.parent().map(PathBuf::from).unwrap_or_default(),
            to.clone(),
        )
    } else {
        (to.clone(), to.join(&name))
    };
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let part = file.with_extension("mrsnap.part");
    // Downloads that a killed run left behind (a running download holds its file's lock).
    let swept = music_rag_store::partial::sweep(
        if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            &dir
        },
        |n| n.ends_with(".mrsnap.part"),
    );
    for path in &swept {
        tracing::info!(path = %path.display(), "removed an unfinished download left by an interrupted backup");
    }
    let response = agent
        .get(&format!("{base}/v1/admin/snapshots/{name}"))
        .set("X-API-Key", &key)
        .call()
        .map_err(|e| refused("downloading the snapshot", e))?;
    let mut out = music_rag_store::partial::create_locked(&part)
        .with_context(|| format!("cannot write {}", part.display()))?;
    let bytes = std::io::copy(&mut response.into_reader(), &mut out)
        .with_context(|| format!("downloading into {}", part.display()))?;
    out.sync_all()?;
    anyhow::ensure!(
        Some(bytes) == taken["bytes"].as_u64(),
        "the download of {name} stopped after {bytes} bytes of {}",
        taken["bytes"]
    );
    std::fs::rename(&part, &file)?;
    let uploaded = match &offsite {
        Some(remote) => {
            let uploaded = upload(remote, &file, &name, args.keep.map(|k| k as usize));
            let _ = std::fs::remove_file(&file);
            Some(uploaded?)
        }
        None => None,
    };
    agent
        .delete(&format!("{base}/v1/admin/snapshots/{name}"))
        .set("X-API-Key", &key)
        .call()
        .map_err(|e| refused("deleting the snapshot on the server", e))?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some((copy, pruned)) = uploaded {
        if g.json {
            outln!(
                "{}",
                json!({"server": base, "url": copy.url, "bytes": copy.bytes, "seconds": seconds, "manifest": taken["manifest"], "pruned": pruned})
            );
        } else {
            outln!(
                "uploaded {} ({} tracks, {:.1} MB) from {base} in {seconds:.2} s{}",
                copy.url,
                taken["manifest"]["tracks"],
                copy.bytes as f64 / 1e6,
                pruned_note(&pruned)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let pruned = match args.keep.map(|k| k as usize) {
        Some(keep) => SnapshotFolder::new(dir.clone()).prune(keep)?,
        None => Vec::new(),
    };
    if g.json {
        outln!(
            "{}",
            json!({"server": base, "path": file, "bytes": bytes, "seconds": seconds, "manifest": taken["manifest"], "pruned": pruned})
        );
    } else {
        outln!(
            "wrote {} ({} tracks, {:.1} MB) from {base} in {seconds:.2} s{}",
            file.display(),
            taken["manifest"]["tracks"],
            bytes as f64 / 1e6,
            pruned_note(&pruned)
        );
        if let Ok(manifest) =
            serde_json::from_value::<music_rag_core::SnapshotManifest>(taken["manifest"].clone())
        {
            outln!("{}", what_a_snapshot_holds(&manifest));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Says plainly what a snapshot holds and what it leaves to the user's own backups.
fn what_a_snapshot_holds(manifest: &music_rag_core::SnapshotManifest) -> String {
    let held: Vec<_> = manifest
        .files
        .iter()
        .filter(|f| f.name.starts_with("files/"))
        .collect();
    let bytes: u64 = held.iter().map(|f| f.bytes).sum();
    let mut line = format!(
        "it holds the catalog and {} audio file{} kept in the data directory ({:.1} MB)",
        held.len(),
        if held.len() == 1 { "" } else { "s" },
        bytes as f64 / 1e6
    );
    if manifest.audio_files_elsewhere > 0 {
        line.push_str(&format!(
            "; {} audio file{} that tracks reference in place (music folders) are not copied: \
             back those folders up yourself",
            manifest.audio_files_elsewhere,
            if manifest.audio_files_elsewhere == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    line
}

pub fn restore(g: &Global, args: &RestoreArgs) -> Result<ExitCode> {
    let restored = maintenance::restore_from(&g.engine_settings(), &args.file, args.force)?;
    if g.json {
        outln!("{}", serde_json::to_string(&restored)?);
    } else {
        outln!(
            "restored {} tracks (write {}, model {}) from {} into {} in {:.2} s; the keyword index was rebuilt",
            restored.tracks,
            restored.manifest.sequence,
            restored.manifest.model_id,
            restored.source,
            restored.data_dir.display(),
            restored.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_checks(checks: &[Check], json_out: bool) -> ExitCode {
    let ok = checks.iter().all(|c| c.ok);
    if json_out {
        outln!("{}", json!({"ok": ok, "checks": checks}));
    } else {
        for c in checks {
            outln!(
                "{} {}: {}",
                if c.ok { "ok     " } else { "PROBLEM" },
                c.name,
                c.detail
            );
        }
        outln!(
            "{}",
            if ok {
                "all checks passed"
            } else {
                "problems found"
            }
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub fn verify(g: &Global) -> Result<ExitCode> {
    Ok(print_checks(
        &maintenance::verify(&g.engine_settings())?,
        g.json,
    ))
}

/// Rebuilds the derived indexes from the source of truth (whatever their files' state), then
/// verifies.
pub fn repair(g: &Global) -> Result<ExitCode> {
    Ok(print_checks(
        &maintenance::repair(&g.engine_settings())?,
        g.json,
    ))
}

pub fn export(g: &Global, args: &ExportArgs) -> Result<ExitCode> {
    let (store, model_id) = g.engine_settings().open_store(None, Access::ReadOnly)?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written =
        maintenance::export(&Catalog::new(store), &model_id, args.with_vectors, &mut out)?;
    if let Some(p) = &args.out {
        eprintln!("exported {written} tracks to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn reindex(g: &Global) -> Result<ExitCode> {
    let settings = g.engine_settings();
    let bar = crate::progress::Bar::new("tracks", g.json);
    let done = maintenance::reindex(&settings, &bar)?;
    if done.already_current {
        outln!(
            "{} already holds vectors from {} ({} dimensions); nothing to do",
            g.data_dir.display(),
            done.model_id,
            done.dim
        );
        return Ok(ExitCode::SUCCESS);
    }
    if g.json {
        outln!("{}", serde_json::to_string(&done)?);
    } else {
        outln!(
            "re-embedded {} of {} tracks with {} in {:.1} s ({} were already done)",
            done.embedded,
            done.tracks,
            done.model_id,
            done.seconds,
            done.unchanged
        );
        match (&done.previous, &done.ready_in) {
            (Some(prev), _) => outln!(
                "{} now uses the new vectors; the old store is kept in {}",
                g.data_dir.display(),
                prev.display()
            ),
            (None, Some(next)) => outln!(
                "the new vectors are ready in {}; stop the server and run `music-rag reindex` again to switch",
                next.display()
            ),
            (None, None) => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}
