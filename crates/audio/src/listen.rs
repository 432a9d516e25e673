//! The use case "hear a recording while it decodes": the decoder hands each packet's mono
//! samples to the measured analysis and to the sound model, so a file is analysed and heard in
//! one pass over it without being held whole. Ingest, uploads and `reanalyse` come here.

use std::path::Path;

use music_rag_core::domain::catalog::audio::AudioFeatures;
use symphonia::core::io::MediaSource;

use crate::analysis::Analyser;
use crate::decode::{guarded, stream_source, StreamInfo};
use crate::musicnn::{self, Hearing, HearingOptions, Listening, SoundModel};
use crate::AudioError;

/// Decodes and analyses any media source (an uploaded clip), panics included as errors.
pub fn analyse_source(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
) -> Result<AudioFeatures, AudioError> {
    guarded(|| Ok(analyse_and_hear_source(source, extension)?.0))
}

/// Decodes and analyses a source while it decodes: the measured analysis and, with the
/// installed sound model, what the model hears. Memory is a few frames, the spectrogram the
/// model reads (about 24 KB a second) and one packet, not the recording.
pub fn analyse_and_hear_source(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
) -> Result<(AudioFeatures, StreamInfo), AudioError> {
    let model = musicnn::installed();
    let mut analyser: Option<Analyser> = None;
    let mut listening: Option<Listening<'_>> = None;
    let info = stream_source(source, extension, &mut |rate, chunk| {
        analyser
            .get_or_insert_with(|| Analyser::new(rate))
            .push(chunk);
        if let Some(model) = model {
            listening
                .get_or_insert_with(|| model.listen(rate))
                .push(chunk);
        }
    })?;
    let analyser =
        analyser.ok_or_else(|| AudioError::Corrupt("no audio could be decoded".into()))?;
    let mut features = analyser.finish().0;
    if let (Some(model), Some(listening)) = (model, listening) {
        model.fill_heard(&mut features, listening.finish(HearingOptions::default()));
    }
    Ok((features, info))
}

/// Hears a file while it decodes, with `model` (see `analyse_and_hear_source`).
pub fn hear_file(model: &SoundModel, path: &Path) -> Result<Hearing, AudioError> {
    let extension = path.extension().and_then(|e| e.to_str());
    let file = std::fs::File::open(path)?;
    let mut listening: Option<Listening<'_>> = None;
    stream_source(Box::new(file), extension, &mut |rate, chunk| {
        listening
            .get_or_insert_with(|| model.listen(rate))
            .push(chunk);
    })?;
    let listening =
        listening.ok_or_else(|| AudioError::Corrupt("no audio could be decoded".into()))?;
    Ok(listening.finish(HearingOptions::default()))
}
