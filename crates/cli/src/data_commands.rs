//! Keeping a catalog safe: backup, restore, verify, repair and export.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use music_rag_core::app::catalog::PAGE_MAX;
use music_rag_core::Store;
use music_rag_server::snapshots::SnapshotFolder;
use music_rag_store::maintenance::{self, Check};
use music_rag_store::{Access, EmbeddedStore};
use serde_json::json;

use crate::commands::open_store;
use crate::Global;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Snapshot file to write (default: a new file in the data directory's snapshots/).
    #[arg(long)]
    pub to: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot file written by `backup` or the admin API.
    pub file: PathBuf,
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
    let store = open_store(g, None, Access::ReadOnly)?;
    let folder = SnapshotFolder::new(g.data_dir.join("snapshots"));
    let taken = folder.take(&store, args.to.as_deref())?;
    if g.json {
        outln!("{}", serde_json::to_string(&taken)?);
    } else {
        outln!(
            "wrote {} ({} tracks, write {}, {:.1} MB) in {:.2} s",
            taken.path.display(),
            taken.manifest.tracks,
            taken.manifest.sequence,
            taken.bytes as f64 / 1e6,
            taken.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restore(g: &Global, args: &RestoreArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let (store, manifest) = EmbeddedStore::restore(&args.file, &g.data_dir, args.force, None)
        .with_context(|| {
            format!(
                "cannot restore {} into {}",
                args.file.display(),
                g.data_dir.display()
            )
        })?;
    let tracks = store.count()?;
    let seconds = started.elapsed().as_secs_f64();
    if g.json {
        outln!(
            "{}",
            json!({"restored": args.file, "data_dir": g.data_dir, "tracks": tracks, "seconds": seconds, "manifest": manifest})
        );
    } else {
        outln!(
            "restored {} tracks (write {}, model {}) into {} in {seconds:.2} s; the keyword index was rebuilt",
            tracks,
            manifest.sequence,
            manifest.model_id,
            g.data_dir.display()
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
        &maintenance::verify(&g.data_dir, None),
        g.json,
    ))
}

/// Opening for writing brings the keyword index back to the source of truth; then verify.
pub fn repair(g: &Global) -> Result<ExitCode> {
    drop(open_store(g, None, Access::ReadWrite)?);
    Ok(print_checks(
        &maintenance::verify(&g.data_dir, None),
        g.json,
    ))
}

pub fn export(g: &Global, args: &ExportArgs) -> Result<ExitCode> {
    let store = open_store(g, None, Access::ReadOnly)?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut cursor: Option<String> = None;
    let mut written = 0usize;
    loop {
        let page = store.list(cursor.as_deref(), PAGE_MAX)?;
        for track in &page.tracks {
            let mut value = serde_json::to_value(track.as_ref())?;
            if let Some(obj) = value.as_object_mut() {
                // The store sets these; an import sets its own.
                obj.remove("created_at");
                obj.remove("updated_at");
                if args.with_vectors {
                    if let Some(v) = store.get_embedding(&track.id)? {
                        obj.insert("embedding".into(), json!(v));
                        obj.insert("embedding_model".into(), json!(store.model_id()));
                    }
                }
            }
            serde_json::to_writer(&mut out, &value)?;
            out.write_all(b"\n")?;
            written += 1;
        }
        match page.next_cursor {
            Some(c) if !page.tracks.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    out.flush()?;
    if let Some(p) = &args.out {
        eprintln!("exported {written} tracks to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
