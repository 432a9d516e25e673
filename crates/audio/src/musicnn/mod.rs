//! Hearing what plays: MusiCNN (the MagnaTagATune and Million Song Dataset models of the
//! `musicnn` package) run in Rust.
//!
//! - `checkpoint`: reads TensorFlow's tensor bundle format, so the published checkpoint is used
//!   as it is, converted once at fetch time (`fetch`) to safetensors.
//! - `mel`: the model's input spectrogram, as the package computes it with librosa.
//! - `network`: the network itself, one 3-second patch at a time.
//! - `labels`: each model's 50 tags and what they mean to the catalog (instrument, genre, mood).
//!
//! `SoundModel::listen` hears a recording as its samples arrive: the 16 kHz resampling and the
//! spectrogram run on the stream, and only the spectrogram is kept until the patches are heard.
//!
//! A song is heard as the mean over its patches of each model's tag probabilities and of the
//! MagnaTagATune model's penultimate layer (the sound embedding), as the package's own
//! `top_tags` averages its taggram.

pub mod checkpoint;
pub mod fetch;
pub mod labels;
pub mod mel;
pub mod network;

use std::path::Path;

pub use fetch::{default_sound_model_dir, fetch_sound_model, sound_model_present};
pub use network::{Precision, EMBEDDING_DIM, PATCH_FRAMES, TAG_COUNT};

use mel::{MelFrontEnd, MEL_BANDS, SAMPLE_RATE};
use network::{Network, Scratch};

/// The two trained models of the package: same network, different training tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagger {
    /// MagnaTagATune: instruments, voices, genres, moods; its penultimate layer is the embedding.
    Mtt,
    /// Million Song Dataset: genres, eras and moods from Last.fm tags.
    Msd,
}

/// The loaded models: weights and the spectrogram plan they share.
pub struct SoundModel {
    mtt: Network,
    msd: Network,
    front: MelFrontEnd,
}

/// What the models heard in one recording.
#[derive(Debug, Clone)]
pub struct Hearing {
    /// Mean probability of each tag of `labels::TAGS` (MagnaTagATune).
    pub tags: Vec<f32>,
    /// Mean probability of each tag of `labels::MSD_TAGS` (Million Song Dataset).
    pub msd_tags: Vec<f32>,
    /// Mean of the penultimate layer over the patches heard.
    pub embedding: Vec<f32>,
    /// Patches run through the network.
    pub patches: usize,
}

/// How much of a recording to hear.
#[derive(Debug, Clone, Copy)]
pub struct HearingOptions {
    /// At most this many 3-second patches, spread evenly over the recording (None: every one).
    pub max_patches: Option<usize>,
}

impl Default for HearingOptions {
    fn default() -> Self {
        Self {
            max_patches: Some(DEFAULT_MAX_PATCHES),
        }
    }
}

/// Patches heard per song by default: 32 × 3 s spread over the song (every patch of a song up
/// to 96 s). On the Singularity soundtrack (16 files, 64 minutes) the mean over them differs from
/// the mean over every patch by 0.012 per tag at the median (0.037 at worst) with embedding
/// cosine ≥ 0.997, at 2.7× less work (`examples/analysis_speed.rs`).
pub const DEFAULT_MAX_PATCHES: usize = 32;

impl SoundModel {
    /// Loads both converted checkpoints from the folder, int8 where the processor has it
    /// natively (`Precision::Int8WhereNative`).
    pub fn load(dir: &Path) -> Result<Self, String> {
        Self::load_with(dir, Precision::default())
    }

    /// Loads both converted checkpoints, multiplying as `precision` says.
    pub fn load_with(dir: &Path, precision: Precision) -> Result<Self, String> {
        let network = |file: &str| -> Result<Network, String> {
            let path = dir.join(file);
            let bytes = std::fs::read(&path).map_err(|e| {
                format!(
                    "sound model not found at {}: {e}. Run `music-rag model fetch` (or set SOUND_MODEL_DIR)",
                    path.display()
                )
            })?;
            let tensors = fetch::read_safetensors(&bytes)?;
            Network::from_tensors(&tensors, precision)
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        Ok(Self {
            mtt: network(fetch::MTT_WEIGHTS)?,
            msd: network(fetch::MSD_WEIGHTS)?,
            front: MelFrontEnd::new(),
        })
    }

    fn network(&self, tagger: Tagger) -> &Network {
        match tagger {
            Tagger::Mtt => &self.mtt,
            Tagger::Msd => &self.msd,
        }
    }

    /// Hears mono samples at any rate (resampled to 16 kHz first).
    pub fn hear(&self, samples: &[f32], rate: u32, options: HearingOptions) -> Hearing {
        let mut listening = self.listen(rate);
        listening.push(samples);
        listening.finish(options)
    }

    /// Hears a recording as its mono samples arrive at `rate`: they are resampled and turned
    /// into spectrogram frames on the way, so only the frames are kept (about 24 KB a
    /// second), not the samples.
    pub fn listen(&self, rate: u32) -> Listening<'_> {
        Listening {
            model: self,
            resampler: (rate != SAMPLE_RATE).then(|| Resampling::new(rate, SAMPLE_RATE)),
            mel: self.front.stream(),
        }
    }

    /// Hears a spectrogram: patches of `PATCH_FRAMES` frames without overlap, as the package
    /// cuts them (a recording shorter than one patch is repeated to fill it).
    pub fn hear_frames(&self, frames: &[[f32; MEL_BANDS]], options: HearingOptions) -> Hearing {
        let mut filled;
        let frames = if frames.len() < PATCH_FRAMES && !frames.is_empty() {
            filled = frames.to_vec();
            while filled.len() < PATCH_FRAMES {
                filled.push(frames[filled.len() % frames.len()]);
            }
            &filled[..]
        } else {
            frames
        };
        let starts = patch_starts(frames.len(), options.max_patches);
        let mut scratch = Scratch::default();
        let mut tags = vec![0f64; TAG_COUNT];
        let mut msd_tags = vec![0f64; TAG_COUNT];
        let mut embedding = vec![0f64; EMBEDDING_DIM];
        // The genre model hears every other patch once there are more than it needs: a genre
        // holds for the whole song, and this keeps a song's hearing under 2 s of one core.
        let msd_every = if starts.len() > MSD_MAX_PATCHES { 2 } else { 1 };
        let mut msd_patches = 0usize;
        for (i, &start) in starts.iter().enumerate() {
            let patch = &frames[start..start + PATCH_FRAMES];
            let out = self.mtt.forward(patch, &mut scratch);
            for (sum, v) in tags.iter_mut().zip(out.tags) {
                *sum += f64::from(v);
            }
            for (sum, v) in embedding.iter_mut().zip(out.embedding) {
                *sum += f64::from(v);
            }
            if i % msd_every == 0 {
                let out = self.msd.forward(patch, &mut scratch);
                for (sum, v) in msd_tags.iter_mut().zip(out.tags) {
                    *sum += f64::from(v);
                }
                msd_patches += 1;
            }
        }
        let mean = |sums: Vec<f64>, n: usize| {
            let n = n.max(1) as f64;
            sums.iter().map(|s| (s / n) as f32).collect()
        };
        Hearing {
            tags: mean(tags, starts.len()),
            msd_tags: mean(msd_tags, msd_patches),
            embedding: mean(embedding, starts.len()),
            patches: starts.len(),
        }
    }

    /// One model's outputs for every patch, as the package's taggram (the reference test).
    pub fn taggram(
        &self,
        tagger: Tagger,
        frames: &[[f32; MEL_BANDS]],
    ) -> Vec<network::PatchOutput> {
        let mut scratch = Scratch::default();
        let network = self.network(tagger);
        patch_starts(frames.len(), None)
            .into_iter()
            .map(|s| network.forward(&frames[s..s + PATCH_FRAMES], &mut scratch))
            .collect()
    }

    /// The spectrogram the network reads, for 16 kHz samples.
    pub fn spectrogram(&self, samples_16k: &[f32]) -> Vec<[f32; MEL_BANDS]> {
        self.front.log_mel(samples_16k)
    }
}

/// A recording being heard: see `SoundModel::listen`.
pub struct Listening<'a> {
    model: &'a SoundModel,
    resampler: Option<Resampling>,
    mel: mel::MelStream<'a>,
}

impl Listening<'_> {
    /// Adds the next mono samples.
    pub fn push(&mut self, samples: &[f32]) {
        let mel = &mut self.mel;
        match &mut self.resampler {
            Some(r) => r.push(samples, |at_16k| mel.push(at_16k)),
            None => mel.push(samples),
        }
    }

    /// What the models heard in the whole recording.
    pub fn finish(mut self, options: HearingOptions) -> Hearing {
        if let Some(mut r) = self.resampler.take() {
            let mel = &mut self.mel;
            r.finish(|at_16k| mel.push(at_16k));
        }
        let frames = self.mel.finish();
        self.model.hear_frames(&frames, options)
    }
}

/// Patches the genre (Million Song Dataset) model hears at most per song, about.
const MSD_MAX_PATCHES: usize = DEFAULT_MAX_PATCHES / 2;

/// The sound model of this process, loaded once from `SOUND_MODEL_DIR` (or the cache); None,
/// with one warning, when it has not been fetched: analysis then measures without hearing, and
/// `music-rag reanalyse` adds what the model hears later.
pub fn installed() -> Option<&'static SoundModel> {
    static MODEL: std::sync::OnceLock<Option<SoundModel>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| match SoundModel::load(&default_sound_model_dir()) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(error = %e, "no sound model: audio is measured but not heard");
                None
            }
        })
        .as_ref()
}

impl SoundModel {
    /// Fills `heard` and `sound_embedding` of measured features with what was heard.
    pub fn fill_heard(
        &self,
        features: &mut music_rag_core::domain::catalog::audio::AudioFeatures,
        hearing: Hearing,
    ) {
        use music_rag_core::domain::catalog::audio::{Heard, HeardAspect};
        if hearing.patches == 0 {
            return;
        }
        features.heard = labels::heard_words(&hearing.tags, &hearing.msd_tags)
            .into_iter()
            .map(|w| Heard {
                word: w.word.to_string(),
                aspect: match w.aspect {
                    labels::Aspect::Instrument => HeardAspect::Instrument,
                    labels::Aspect::Genre => HeardAspect::Genre,
                    labels::Aspect::Mood => HeardAspect::Mood,
                },
                confidence: (w.confidence * 100.0).round() / 100.0,
            })
            .collect();
        features.sound_embedding = Some(hearing.embedding);
    }
}

/// Where the patches start: every `PATCH_FRAMES` frames while a whole patch fits, then, if there
/// are more than `max`, `max` of them spread evenly from first to last.
fn patch_starts(frames: usize, max: Option<usize>) -> Vec<usize> {
    if frames < PATCH_FRAMES {
        return Vec::new();
    }
    let all: Vec<usize> = (0..=frames - PATCH_FRAMES).step_by(PATCH_FRAMES).collect();
    match max {
        Some(max) if max > 0 && all.len() > max => (0..max)
            .map(|i| all[i * (all.len() - 1) / (max - 1).max(1)])
            .collect(),
        _ => all,
    }
}

/// Band-limited resampling (rubato's FFT resampler), whole buffer at once.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    let mut out = Vec::with_capacity(
        (samples.len() as u64 * u64::from(to) / u64::from(from.max(1))) as usize,
    );
    let mut r = Resampling::new(from, to);
    r.push(samples, |o| out.extend_from_slice(o));
    r.finish(|o| out.extend_from_slice(o));
    out
}

/// Band-limited resampling of a stream: rubato's FFT resampler fed in chunks of `CHUNK`
/// input samples, its delay dropped from the front and the output cut to the input's length
/// at the new rate, as if the whole buffer had been resampled at once.
pub struct Resampling {
    resampler: Option<rubato::FftFixedIn<f32>>,
    from: u32,
    to: u32,
    pending: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    to_skip: usize,
    received: u64,
    emitted: u64,
}

impl Resampling {
    const CHUNK: usize = 4096;

    pub fn new(from: u32, to: u32) -> Self {
        use rubato::Resampler;
        let resampler =
            rubato::FftFixedIn::<f32>::new(from as usize, to as usize, Self::CHUNK, 2, 1).ok();
        Self {
            to_skip: resampler.as_ref().map_or(0, |r| r.output_delay()),
            resampler,
            from,
            to,
            pending: Vec::with_capacity(Self::CHUNK),
            received: 0,
            emitted: 0,
        }
    }

    /// Adds samples at the old rate; hands out what they complete at the new one.
    pub fn push(&mut self, samples: &[f32], mut each: impl FnMut(&[f32])) {
        use rubato::Resampler;
        self.received += samples.len() as u64;
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (Self::CHUNK - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == Self::CHUNK {
                if let Some(Ok(o)) = self
                    .resampler
                    .as_mut()
                    .map(|r| r.process(&[&self.pending], None))
                {
                    self.hand_out(&o[0], &mut each);
                }
                self.pending.clear();
            }
        }
    }

    /// Hands out the rest: `received · to / from` samples in all.
    pub fn finish(&mut self, mut each: impl FnMut(&[f32])) {
        use rubato::Resampler;
        let Some(mut resampler) = self.resampler.take() else {
            return;
        };
        if !self.pending.is_empty() {
            if let Ok(o) = resampler.process_partial(Some(&[&self.pending]), None) {
                self.hand_out(&o[0], &mut each);
            }
        }
        while self.emitted < self.expected() {
            match resampler.process_partial::<&[f32]>(None, None) {
                Ok(o) if !o[0].is_empty() => self.hand_out(&o[0], &mut each),
                _ => break,
            }
        }
    }

    fn expected(&self) -> u64 {
        self.received * u64::from(self.to) / u64::from(self.from.max(1))
    }

    /// Drops the delay still owed, then hands out no more than the expected length.
    fn hand_out(&mut self, out: &[f32], each: &mut impl FnMut(&[f32])) {
        let skip = self.to_skip.min(out.len());
        self.to_skip -= skip;
        let out = &out[skip..];
        let room = self.expected().saturating_sub(self.emitted) as usize;
        let out = &out[..out.len().min(room)];
        if !out.is_empty() {
            self.emitted += out.len() as u64;
            each(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_tile_the_recording_and_a_cap_spreads_them() {
        assert_eq!(patch_starts(100, None), Vec::<usize>::new());
        assert_eq!(patch_starts(187, None), vec![0]);
        assert_eq!(patch_starts(187 * 3 + 10, None), vec![0, 187, 374]);
        let capped = patch_starts(187 * 100, Some(4));
        assert_eq!(capped, vec![0, 33 * 187, 66 * 187, 99 * 187]);
    }

    #[test]
    fn resampling_keeps_a_tone_and_the_length() {
        let tone: Vec<f32> = (0..44_100)
            .map(|n| (2.0 * std::f32::consts::PI * 440.0 * n as f32 / 44_100.0).sin())
            .collect();
        let out = resample(&tone, 44_100, 16_000);
        assert_eq!(out.len(), 16_000);
        // Same phase after the delay is removed: compare with the ideal tone mid-buffer.
        let err: f32 = (4000..12_000)
            .map(|n| {
                let ideal = (2.0 * std::f32::consts::PI * 440.0 * n as f32 / 16_000.0).sin();
                (out[n] - ideal).abs()
            })
            .fold(0.0, f32::max);
        // The resampler's delay is removed in whole samples; what is left is a fraction of a
        // sample (0.03 at 440 Hz is a 0.2-sample shift), not distortion.
        assert!(err < 0.05, "max error {err}");
    }
}
