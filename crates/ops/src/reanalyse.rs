//! `music-rag reanalyse`: what the sound model hears (instruments, genres, moods and the sound
//! embedding) added to tracks already in the store that have an audio file, without ingesting
//! again. The measured analysis is kept; only the heard values are filled. Tracks are written
//! in small durable batches and a track already heard is skipped, so a killed run resumes where
//! it stopped; a file that is gone or cannot be decoded is that track's failure.

use std::path::Path;
use std::time::Instant;

use music_rag_audio::musicnn::{installed, SoundModel};
use music_rag_core::{Engine, Track};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{OpsError, Result};
use crate::progress::Progress;
use crate::report::ImportFailure;

/// Tracks heard between durable writes.
const BATCH: usize = 16;

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct Reanalysed {
    /// Tracks with an audio file.
    pub with_audio: usize,
    /// Heard now.
    pub heard: usize,
    /// Skipped: heard before (a previous or interrupted run), unless forced.
    pub already_heard: usize,
    pub failed: Vec<ImportFailure>,
    pub seconds: f64,
}

/// Hears every track with audio that has not been heard (every one when `force`).
pub fn reanalyse(engine: &Engine, force: bool, progress: &dyn Progress) -> Result<Reanalysed> {
    let model = installed().ok_or_else(|| OpsError::Setting {
        setting: "SOUND_MODEL_DIR",
        message: "the sound model is missing: run `music-rag model fetch`".into(),
    })?;
    let started = Instant::now();
    let mut done = Reanalysed::default();
    let mut todo: Vec<Track> = Vec::new();
    engine.catalog().for_each_page(256, |page| {
        for t in page {
            let Some(audio) = &t.audio else { continue };
            if t.audio_path.is_none() {
                continue;
            }
            done.with_audio += 1;
            if !force && audio.sound_embedding.is_some() {
                done.already_heard += 1;
            } else {
                todo.push((**t).clone());
            }
        }
        Ok(())
    })?;
    progress.begin(todo.len() as u64, "hearing");
    for batch in todo.chunks(BATCH) {
        let results: Vec<(Track, std::result::Result<Track, String>)> = batch
            .par_iter()
            .map(|t| (t.clone(), hear_track(model, t)))
            .collect();
        let mut heard = Vec::new();
        for (track, result) in results {
            match result {
                Ok(t) => heard.push(t),
                Err(message) => {
                    progress.note(&format!("{}: {message}", track.id));
                    done.failed.push(ImportFailure {
                        line: None,
                        path: track.audio_path.clone(),
                        id: Some(track.id.clone()),
                        field: None,
                        message,
                    });
                }
            }
        }
        let n = heard.len();
        engine.upsert(heard)?;
        done.heard += n;
        progress.advance(batch.len() as u64);
    }
    progress.finish();
    done.seconds = started.elapsed().as_secs_f64();
    Ok(done)
}

/// The track with what the model hears in its file.
fn hear_track(model: &SoundModel, track: &Track) -> std::result::Result<Track, String> {
    let path = track.audio_path.as_deref().unwrap_or_default();
    let hearing = music_rag_audio::decode::guarded(|| {
        music_rag_audio::listen::hear_file(model, Path::new(path))
    })
    .map_err(|e| format!("{path}: {e}"))?;
    let mut t = track.clone();
    let audio = t.audio.get_or_insert_with(Default::default);
    model.fill_heard(audio, hearing);
    if audio.sound_embedding.is_none() {
        return Err(format!("{path}: too short to hear"));
    }
    Ok(t)
}
