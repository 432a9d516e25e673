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
        for (field, value) in [
            ("audio.key", &self.key),
            ("audio.file_fingerprint", &self.file_fingerprint),
        ] {
            if let Some(v) = value {
                crate::domain::catalog::limits::check_no_nul(field, v)?;
            }
        }
        Ok(())
    }
}
