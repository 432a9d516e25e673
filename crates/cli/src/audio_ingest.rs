//! `music-rag ingest-audio DIR`: every audio file under a folder becomes a track with its tags
//! and its measured sound (the operations layer's audio folder import, with a progress bar);
//! `music-rag reanalyse`: what the sound model hears, added to tracks already stored.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::Global;

#[derive(Args, Debug)]
pub struct IngestAudioArgs {
    /// Folder to scan recursively (MP3, FLAC, OGG Vorbis, WAV, AAC/M4A).
    pub dir: PathBuf,
    /// Analyse every file again, even unchanged ones.
    #[arg(long)]
    pub force: bool,
}

pub fn run(g: &Global, args: &IngestAudioArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.dir.is_dir(), "{} is not a folder", args.dir.display());
    let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadWrite)?;
    let bar = crate::progress::Bar::new("files", g.json);
    let report =
        music_rag_ops::audio_import::import_audio_folder(&engine, &args.dir, args.force, &bar)?;
    crate::output::import_report(&report, g.json);
    Ok(crate::output::import_exit_code(&report))
}

#[derive(Args, Debug)]
pub struct ReanalyseArgs {
    /// Hear every track again, even those heard before.
    #[arg(long)]
    pub force: bool,
}

pub fn reanalyse(g: &Global, args: &ReanalyseArgs) -> Result<ExitCode> {
    let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadWrite)?;
    let bar = crate::progress::Bar::new("tracks", g.json);
    let done = music_rag_ops::reanalyse::reanalyse(&engine, args.force, &bar)?;
    if g.json {
        outln!("{}", serde_json::to_string(&done)?);
    } else {
        outln!(
            "heard {} of {} tracks with audio in {:.1} s ({} heard before, {} failed)",
            done.heard,
            done.with_audio,
            done.seconds,
            done.already_heard,
            done.failed.len()
        );
        for f in &done.failed {
            outln!("  {}: {}", f.id.as_deref().unwrap_or("?"), f.message);
        }
    }
    Ok(if done.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
