//! Prints MusiCNN's per-patch tags and embeddings for audio files as JSON lines, the same shape
//! `bench/audio/musicnn_reference.py` writes from the Python package, so the two can be compared.
//!
//! `cargo run --release -p music-rag-audio --example musicnn_taggram -- [--msd] FILE...`
//! (`--msd`: the Million Song Dataset model; the MagnaTagATune one otherwise)
//! (the model folder from `SOUND_MODEL_DIR` or the cache; `music-rag model fetch` fills it).

use music_rag_audio::musicnn::{default_sound_model_dir, resample, SoundModel, Tagger};

fn main() {
    let model = SoundModel::load(&default_sound_model_dir()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let tagger = if std::env::args().any(|a| a == "--msd") {
        Tagger::Msd
    } else {
        Tagger::Mtt
    };
    for path in std::env::args().skip(1).filter(|a| !a.starts_with("--")) {
        let decoded = match music_rag_audio::decode_file(std::path::Path::new(&path)) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let samples = if decoded.sample_rate == 16_000 {
            decoded.samples
        } else {
            resample(&decoded.samples, decoded.sample_rate, 16_000)
        };
        let frames = model.spectrogram(&samples);
        let patches = model.taggram(tagger, &frames);
        let taggram: Vec<Vec<f32>> = patches.iter().map(|p| p.tags.to_vec()).collect();
        let penultimate: Vec<Vec<f32>> = patches.iter().map(|p| p.embedding.to_vec()).collect();
        println!(
            "{{\"file\":{:?},\"taggram\":{:?},\"penultimate\":{:?}}}",
            path, taggram, penultimate
        );
    }
}
