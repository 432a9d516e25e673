//! What the audio analysis of a track holds: measurements, the plain words derived from them,
//! and the normalised vector listen-alike search compares.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Floats in an audio vector.
pub const AUDIO_VECTOR_DIM: usize = 48;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioFeatures {
    /// Measured tempo in BPM.
    pub tempo_bpm: Option<f32>,
    /// Half or double the tempo fits nearly as well.
    pub tempo_octave_ambiguous: bool,
    /// Measured key, e.g. `A minor`.
    pub key: Option<String>,
    /// RMS level in dBFS (a full-scale sine reads 0).
    pub loudness_dbfs: f32,
    pub spectral_centroid_hz: f32,
    /// Frequency below which 85 % of the spectral magnitude lies.
    pub spectral_rolloff_hz: f32,
    /// 0 (tonal) to 1 (noise-like).
    pub spectral_flatness: f32,
    /// Sign changes per sample.
    pub zero_crossing_rate: f32,
    /// Onsets per second.
    pub onset_density: f32,
    pub mfcc_mean: Vec<f32>,
    pub mfcc_std: Vec<f32>,
    /// Energy per pitch class, C first.
    pub chroma_mean: Vec<f32>,
    /// Seconds of audio analysed.
    pub analysed_seconds: f32,
    /// Plain words derived from the measurements ("slow", "dark", "minor key").
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub words: Vec<String>,
    /// The normalised vector compared in listen-alike search.
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, min_items = 48, max_items = 48)
    )]
    pub vector: Vec<f32>,
    /// Size and modification time of the analysed file, so re-runs skip unchanged files.
    pub file_fingerprint: Option<String>,
    /// Why no tempo was measured ("no steady pulse: speech, noise or free time", "silent").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_tempo_reason: Option<String>,
    /// Why no key was named ("a single pitch, not a key", "no pitched harmony").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_key_reason: Option<String>,
    /// What the sound model heard (instruments, genres, moods), each with its confidence; kept
    /// apart from what tags or catalog rows say, which it never overrides.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub heard: Vec<Heard>,
    /// The sound model's embedding of the recording (its penultimate layer), compared in
    /// sound-alike search; absent when the model has not heard the track.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 200, max_items = 200))]
    pub sound_embedding: Option<Vec<f32>>,
}

/// Floats in a sound-model embedding (MusiCNN's penultimate layer).
pub const SOUND_EMBEDDING_DIM: usize = 200;

/// What a heard word describes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeardAspect {
    Instrument,
    Genre,
    Mood,
}

/// One word the sound model heard in a recording.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heard {
    /// A catalog word: "piano", "female vocals", "classical", "slow".
    pub word: String,
    pub aspect: HeardAspect,
    /// The model's probability, 0 to 1.
    pub confidence: f32,
}

impl AudioFeatures {
    /// The heard words of one aspect.
    pub fn heard_words(&self, aspect: HeardAspect) -> impl Iterator<Item = &str> {
        self.heard
            .iter()
            .filter(move |h| h.aspect == aspect)
            .map(|h| h.word.as_str())
    }

    /// How a heard word is shown where a value's source matters: "heard: piano 0.91".
    pub fn heard_source(&self, word: &str) -> Option<String> {
        self.heard
            .iter()
            .find(|h| h.word == word)
            .map(|h| format!("heard: {} {:.2}", h.word, h.confidence))
    }
}

impl AudioFeatures {
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.vector.len() != AUDIO_VECTOR_DIM {
            return Err(FieldError::new(
                "audio.vector",
                format!(
                    "must hold {AUDIO_VECTOR_DIM} floats (got {})",
                    self.vector.len()
                ),
            ));
        }
        if self.vector.iter().any(|v| !v.is_finite()) {
            return Err(FieldError::new("audio.vector", "must hold finite numbers"));
        }
        if self.words.len() > crate::domain::catalog::limits::LIST_MAX_ITEMS {
            return Err(FieldError::new("audio.words", "has too many items"));
        }
        for (i, w) in self.words.iter().enumerate() {
            crate::domain::catalog::limits::check_no_nul(&format!("audio.words[{i}]"), w)?;
        }
        if self.heard.len() > crate::domain::catalog::limits::LIST_MAX_ITEMS {
            return Err(FieldError::new("audio.heard", "has too many items"));
        }
        for (i, h) in self.heard.iter().enumerate() {
            crate::domain::catalog::limits::check_no_nul(
                &format!("audio.heard[{i}].word"),
                &h.word,
            )?;
            if !(0.0..=1.0).contains(&h.confidence) {
                return Err(FieldError::new(
                    format!("audio.heard[{i}].confidence"),
                    "must be between 0 and 1",
                ));
            }
        }
        if let Some(embedding) = &self.sound_embedding {
            if embedding.len() != SOUND_EMBEDDING_DIM {
                return Err(FieldError::new(
                    "audio.sound_embedding",
                    format!(
                        "must hold {SOUND_EMBEDDING_DIM} floats (got {})",
                        embedding.len()
                    ),
                ));
            }
            if embedding.iter().any(|v| !v.is_finite()) {
                return Err(FieldError::new(
                    "audio.sound_embedding",
                    "must hold finite numbers",
                ));
            }
        }
        for (field, value) in [
            ("audio.key", &self.key),
            ("audio.file_fingerprint", &self.file_fingerprint),
            ("audio.no_tempo_reason", &self.no_tempo_reason),
            ("audio.no_key_reason", &self.no_key_reason),
        ] {
            if let Some(v) = value {
                crate::domain::catalog::limits::check_no_nul(field, v)?;
            }
        }
        Ok(())
    }
}
