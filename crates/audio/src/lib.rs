//! Audio for Music RAG: tags read with lofty, decoding with symphonia (MP3, FLAC, OGG Vorbis,
//! WAV, AAC/M4A; pure Rust), and an analysis into tempo, key, loudness, spectral shape, MFCC and
//! chroma summaries, onset density, plain words, and a normalised listen-alike vector.

pub mod analysis;
pub mod decode;
pub mod library;
pub mod listen;
pub mod musicnn;
pub mod tags;

pub use analysis::analyse;
pub use decode::{decode_file, Decoded};
pub use library::{analyse_file, find_audio_files, fingerprint, tag_file, AnalysedFile};
pub use tags::{read_tags, FileTags};

/// Why a file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported format: {0}")]
    Unsupported(String),
    #[error("corrupt or truncated audio: {0}")]
    Corrupt(String),
}

impl From<AudioError> for music_rag_core::CoreError {
    fn from(e: AudioError) -> Self {
        match e {
            AudioError::Io(e) => music_rag_core::CoreError::Unavailable(e.to_string()),
            other => music_rag_core::CoreError::invalid("file", other.to_string()),
        }
    }
}
